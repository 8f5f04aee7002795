"""The ``imagesig`` command: ``serve``, ``sign``, ``verify``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from imagesig import __version__
from imagesig.commands import sign, verify
from imagesig.server.auth import AuthConfigError
from imagesig.trust.errors import TrustError


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the API server (HTTPS)")
    p.add_argument("--data-dir", default="imagesig-data", help="state: database, TLS, tokens")
    p.add_argument("--bind-address", default="127.0.0.1", help="address to listen on")
    p.add_argument("--secure-port", type=int, default=8443, help="HTTPS port")
    p.add_argument("--tls-cert-file", default="", help="server certificate (PEM)")
    p.add_argument("--tls-private-key-file", default="", help="its private key (PEM)")
    p.add_argument(
        "--token-auth-file",
        action="append",
        default=[],
        help='CSV of bearer tokens: token,user,uid,"group1,group2" (repeatable)',
    )
    p.add_argument("--rbac-file", default="", help="YAML stream of ClusterRoleBindings")
    p.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="FULL survives power loss; NORMAL survives a crash of the process only",
    )
    p.add_argument(
        "--max-request-bytes", type=int, default=8 * 1024 * 1024, help="request body limit"
    )
    p.add_argument(
        "--etcd-servers",
        default="",
        help="comma-separated etcd URLs (http(s)://host:port); without it, the embedded SQLite",
    )
    p.add_argument("--etcd-prefix", default="/imagesig", help="key prefix in etcd")
    p.add_argument("--etcd-cafile", default="", help="CA of the etcd servers (PEM)")
    p.add_argument("--etcd-certfile", default="", help="client certificate for etcd (PEM)")
    p.add_argument("--etcd-keyfile", default="", help="its private key (PEM)")
    p.add_argument(
        "--trusted-keys",
        default="",
        help="OpenPGP certificates or keyrings (a file or a directory) signatures are "
        "verified against; changes are picked up without a restart",
    )
    p.add_argument(
        "--verify-workers", type=int, default=0, help="verification processes (0: one per core)"
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imagesig", description=__doc__)
    parser.add_argument("--version", action="version", version=f"imagesig {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    sign.add_parser(sub)
    verify.add_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    if args.command == "sign":
        return sign.run(args)
    if args.command == "verify":
        return verify.run(args)
    if args.command == "serve":
        from imagesig.server.serve import ServeConfig, serve

        if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
            parser.error("--tls-cert-file and --tls-private-key-file go together")
        config = ServeConfig(
            data_dir=args.data_dir,
            bind_address=args.bind_address,
            secure_port=args.secure_port,
            tls_cert_file=args.tls_cert_file,
            tls_private_key_file=args.tls_private_key_file,
            token_auth_files=args.token_auth_file,
            rbac_file=args.rbac_file,
            sqlite_synchronous=args.sqlite_synchronous,
            max_request_bytes=args.max_request_bytes,
            log_level=args.log_level,
            trusted_keys=args.trusted_keys,
            verify_workers=args.verify_workers,
            etcd_servers=[u.strip() for u in args.etcd_servers.split(",") if u.strip()],
            etcd_prefix=args.etcd_prefix,
            etcd_cafile=args.etcd_cafile,
            etcd_certfile=args.etcd_certfile,
            etcd_keyfile=args.etcd_keyfile,
        )
        try:
            serve(config)
        except (AuthConfigError, TrustError, OSError, ValueError) as exc:
            print(f"imagesig: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
