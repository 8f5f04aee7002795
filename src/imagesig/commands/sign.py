"""``imagesig sign``: make a simple-signing signature and store it through the API.

The blob is the one skopeo would write for the same digest and identity (made by
``trust.sign``); it is uploaded as ImageSignature ``<image>@<name>`` of type
``atomic`` and nothing else is created, so a missing image is the server's 404.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import pysequoia

from imagesig import __version__
from imagesig.commands import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common_arguments,
    fail,
    quiet,
)
from imagesig.trust import (
    TrustError,
    digest_of,
    make_payload,
    parse_digest,
    parse_reference,
    sign_payload,
)

SIGNATURE_TYPE = "atomic"
SHOWN_CONDITIONS = ("Trusted", "ForImage")


class UsageError(Exception):
    """Something on the command line or in a named file is wrong: exit 2."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sign",
        help="sign an image's manifest digest and upload the signature",
        description="Sign an image's manifest digest for a docker reference (as skopeo"
        " standalone-sign does) and upload it as ImageSignature <image>@<name>, type atomic."
        " Prints the signature's name and the Trusted/ForImage conditions the server set.",
    )
    add_common_arguments(p)
    p.add_argument(
        "--identity",
        required=True,
        metavar="REF",
        help="the signed docker reference, e.g. registry/ns/app:v1",
    )
    p.add_argument(
        "--key", required=True, metavar="FILE", help="OpenPGP secret key file (armored or binary)"
    )
    p.add_argument(
        "--passphrase-file", metavar="FILE", help="file holding the key's passphrase (first line)"
    )
    p.add_argument(
        "--manifest", metavar="FILE", help="the manifest file; its digest must equal --image"
    )
    p.add_argument(
        "--creator", metavar="TEXT", help=f'optional.creator (default: "imagesig {__version__}")'
    )
    p.add_argument("--name", help="signature name after '@' (default: 32 random hex digits)")
    p.add_argument("--output", metavar="FILE", help="also write the signature blob to this file")


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


def _passphrase(path: str | None) -> str | None:
    if path is None:
        return None
    lines = _read(path, "passphrase file").decode("utf-8", "replace").splitlines()
    return lines[0] if lines else ""


def _secret_key(path: str) -> Any:
    data = _read(path, "key")
    try:
        return pysequoia.Tsk.from_bytes(data)
    except Exception:
        raise UsageError(f"{path}: not an OpenPGP secret key") from None


def _sign(payload: bytes, key: Any, key_path: str, passphrase: str | None) -> bytes:
    # Unprotected keys refuse any passphrase, so try without one first.
    try:
        return sign_payload(payload, key)
    except TrustError as exc:
        first = str(exc).splitlines()[0]
    if passphrase is not None:
        try:
            return sign_payload(payload, key, password=passphrase)
        except TrustError as exc:
            detail = str(exc).splitlines()[0]
            raise UsageError(
                f"{key_path}: cannot sign with the passphrase given (wrong passphrase?): {detail}"
            ) from None
    if "encrypted" in first:
        raise UsageError(
            f"{key_path}: the key is protected by a passphrase: give --passphrase-file"
        )
    raise UsageError(
        f"{key_path}: {first} (a secret key is needed: gpg --export-secret-keys KEYID)"
    )


def _signature_blob(args: argparse.Namespace) -> bytes:
    try:
        parse_digest(args.image)
        identity = parse_reference(args.identity)
    except TrustError as exc:
        raise UsageError(str(exc)) from None
    if args.manifest is not None:
        actual = digest_of(_read(args.manifest, "manifest"))
        if actual != args.image:
            raise UsageError(
                f"manifest {args.manifest} has digest {actual}, not --image {args.image}"
            )
    if identity.is_name_only:
        print(
            f'imagesig sign: warning: identity "{args.identity}" has no tag or digest; the'
            " default identity rule (matchRepoDigestOrExact) never accepts such a signature",
            file=sys.stderr,
        )
    creator = args.creator if args.creator is not None else f"imagesig {__version__}"
    payload = make_payload(args.image, args.identity, creator=creator, timestamp=int(time.time()))
    return _sign(payload, _secret_key(args.key), args.key, _passphrase(args.passphrase_file))


def _describe(created: dict[str, Any]) -> list[str]:
    name = created.get("metadata", {}).get("name", "")
    lines = [f"imagesignature.image.openshift.io/{name} created"]
    conditions = {c.get("type"): c for c in created.get("conditions") or []}
    for type_ in SHOWN_CONDITIONS:
        c = conditions.get(type_)
        if c is None:
            lines.append(f"  {type_}: (not reported by the server)")
        else:
            status, reason, message = c.get("status"), c.get("reason"), c.get("message")
            lines.append(f"  {type_}: {status} ({reason}): {message}")
    return lines


def run(args: argparse.Namespace) -> int:
    quiet()
    from imagesig.client import Client, ClientError, KubeconfigError

    name = f"{args.image}@{args.name or secrets.token_hex(16)}"
    try:
        blob = _signature_blob(args)
        client = Client.from_kubeconfig(args.kubeconfig)
    except (UsageError, KubeconfigError) as exc:
        return fail("sign", str(exc), EXIT_USAGE)
    with client:
        try:
            created = client.create_signature(name, SIGNATURE_TYPE, blob)
        except ClientError as exc:
            return fail("sign", str(exc), EXIT_FAILED)
    print("\n".join(_describe(created)))
    if args.output:
        try:
            Path(args.output).write_bytes(blob)
        except OSError as exc:
            return fail(
                "sign", f"{name} was created, but {args.output}: {exc.strerror}", EXIT_FAILED
            )
    return EXIT_OK
