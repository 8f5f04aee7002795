"""The client-side subcommands of ``imagesig``: one module each, registered by cli.py.

Each module has ``add_parser(sub)`` and ``run(args) -> exit code``. They import
the HTTP client only when run, so ``imagesig serve`` does not depend on it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1  # the server refused, or (verify) no signature was accepted
EXIT_USAGE = 2  # bad arguments, kubeconfig, keys or files: fix the command line


def fail(command: str, message: str, code: int) -> int:
    """Print ``message`` for the user and return ``code``."""
    print(f"imagesig {command}: {message}", file=sys.stderr)
    return code


def quiet() -> None:
    """Keep the output for people: no Rust backtraces in OpenPGP errors, no request logs."""
    os.environ.pop("RUST_BACKTRACE", None)
    os.environ.pop("RUST_LIB_BACKTRACE", None)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """``--image`` and ``--kubeconfig``, which every command that talks to the server takes."""
    p.add_argument(
        "--image",
        required=True,
        metavar="DIGEST",
        help="the image: its manifest digest, sha256:<hex>",
    )
    p.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="default: $KUBECONFIG, else ./imagesig-data/admin.kubeconfig",
    )
