"""``imagesig verify``: check an image's signatures here, against keys given here.

The pipeline form of ``oc adm verify-image-signature``: the image and its
signatures come from the server, but the server's conditions are not trusted:
each simple-signing signature is verified locally (signature, key, digest =
the image's name, identity under the rule). Exit 0 when at least one is
accepted, 1 when none is, 2 when the command itself is wrong.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from imagesig.commands import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common_arguments,
    fail,
    quiet,
)
from imagesig.registry.signature_rules import SIMPLE_SIGNING_TYPES
from imagesig.trust import (
    DEFAULT_IDENTITY_RULE,
    IdentityRule,
    Reference,
    TrustedKeys,
    TrustError,
    check_image,
    parse_digest,
    parse_identity_rule,
    parse_reference,
    verify_signature,
)


class UsageError(Exception):
    """Something on the command line is wrong: exit 2."""


@dataclass(frozen=True)
class Result:
    """The local verdict on one signature; ``-o json`` prints a list of these."""

    name: str
    accepted: bool
    reason: str | None  # trust.Reason's value when rejected
    message: str
    fingerprint: str | None  # the signer's primary fingerprint, when known
    identity: str | None  # the signed docker reference, when the signature was trusted

    def line(self) -> str:
        if self.accepted:
            return f"{self.name}: ACCEPTED by {self.fingerprint} for {self.identity}"
        return f"{self.name}: REJECTED: {self.message}"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="verify an image's signatures locally against trusted keys",
        description="Fetch an image and verify each of its simple-signing signatures here,"
        " against --keys, for --identity (the server's conditions are not used)."
        " Exit 0: at least one signature is accepted; 1: none is; 2: bad arguments.",
    )
    add_common_arguments(p)
    p.add_argument(
        "--keys", required=True, metavar="PATH", help="trusted OpenPGP keys: a file or a directory"
    )
    p.add_argument(
        "--identity",
        required=True,
        metavar="REF",
        help="the reference the image is used as, e.g. reg/ns/app:v1",
    )
    p.add_argument(
        "--identity-rule",
        metavar="RULE",
        default=DEFAULT_IDENTITY_RULE.name,
        help="matchRepoDigestOrExact (default), matchExact, matchRepository, or a rule with "
        "parameters as its policy JSON object, e.g. "
        '\'{"type":"remapIdentity","prefix":"a.example","signedPrefix":"b.example"}\'',
    )
    p.add_argument("-o", "--output", choices=["text", "json"], default="text", help="default: text")


def _rule(text: str) -> IdentityRule:
    value: object = {"type": text}
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--identity-rule: not valid JSON: {exc}") from None
    try:
        return parse_identity_rule(value, "--identity-rule")
    except TrustError as exc:
        raise UsageError(str(exc)) from None


def check(
    signature: dict[str, Any],
    keys: TrustedKeys,
    image_name: str,
    expected: Reference,
    rule: IdentityRule,
) -> Result:
    """Verify one ImageSignature object as the API returned it."""
    name = str(signature.get("metadata", {}).get("name", ""))
    try:
        content = base64.b64decode(signature.get("content") or "", validate=True)
    except (binascii.Error, TypeError):
        return Result(name, False, None, "content is not base64", None, None)
    verdict = verify_signature(content, keys)
    result = check_image(verdict, image_name, expected, rule)
    payload = verdict.payload
    return Result(
        name=name,
        accepted=result.accepted,
        reason=result.reason.value if result.reason is not None else None,
        message=result.message,
        fingerprint=verdict.signer_fingerprint,
        identity=payload.docker_reference if payload is not None else None,
    )


def run(args: argparse.Namespace) -> int:
    quiet()
    from imagesig.client import Client, ClientError, KubeconfigError

    try:
        parse_digest(args.image)
        expected = parse_reference(args.identity)
        rule = _rule(args.identity_rule)
        keys = TrustedKeys.from_path(args.keys)
        client = Client.from_kubeconfig(args.kubeconfig)
    except (TrustError, UsageError, KubeconfigError) as exc:
        return fail("verify", str(exc), EXIT_USAGE)
    with client:
        try:
            image = client.get_image(args.image)
        except ClientError as exc:
            return fail("verify", str(exc), EXIT_FAILED)

    signatures = image.get("signatures") or []
    ours = [s for s in signatures if s.get("type") in SIMPLE_SIGNING_TYPES]
    results = [check(s, keys, args.image, expected, rule) for s in ours]
    if args.output == "json":
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            print(r.line())
    if any(r.accepted for r in results):
        return EXIT_OK
    if not results:
        skipped = len(signatures) - len(ours)
        other = f" ({skipped} of other types skipped)" if skipped else ""
        return fail("verify", f"image {args.image} has no signatures{other}", EXIT_FAILED)
    print(
        f"imagesig verify: none of the {len(results)} signatures of {args.image} is accepted"
        f" for {args.identity}",
        file=sys.stderr,
    )
    return EXIT_FAILED
