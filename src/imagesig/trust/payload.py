"""The simple-signing payload: what a signature actually claims (signatures.md §3).

Parsed strictly and only after the signature is known to be good: exactly the
critical members, a known type, a valid digest and reference. ``make_payload``
writes the byte layout containers/image writes (Go's ``json.Marshal`` of maps:
sorted keys, no spaces, HTML characters escaped), so our signatures look like
skopeo's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, cast

from imagesig.trust.errors import InvalidReference, MalformedPayload
from imagesig.trust.reference import Reference, parse_digest, parse_reference
from imagesig.trust.strictjson import (
    StrictJSONError,
    exact_members,
    expect_object,
    expect_string,
    loads,
    type_name,
)

SIGNATURE_TYPE = "atomic container signature"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Payload:
    """The claims of a simple-signing payload; trust them only from a trusted ``Verdict``."""

    docker_reference: str
    manifest_digest: str
    creator: str | None
    timestamp: int | None
    raw: dict[str, Any]

    @property
    def reference(self) -> Reference:
        """The signed identity, parsed and normalized."""
        return parse_reference(self.docker_reference)


def _timestamp(value: object, path: str) -> int:
    # Go decodes into a float64 and requires an integral value; so do we, but
    # booleans (a Python int subclass) and strings are not numbers at all.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StrictJSONError(path, f"expected an integer, got {type_name(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise StrictJSONError(path, f"expected an integer, got {value!r}")
        value = int(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise StrictJSONError(path, "integer out of range")
    return value


def _object(value: object, names: frozenset[str], path: str) -> dict[str, Any]:
    """``value`` as an object with exactly the members ``names``."""
    if type(value) is not dict or value.keys() != names:
        exact_members(expect_object(value, path), tuple(sorted(names)), path)
    return cast(dict[str, Any], value)


def _string(value: object, path: str) -> str:
    return value if type(value) is str else expect_string(value, path)


_TOP = frozenset(("critical", "optional"))
_CRITICAL = frozenset(("type", "image", "identity"))
_IMAGE = frozenset(("docker-manifest-digest",))
_IDENTITY = frozenset(("docker-reference",))


def _parse(data: bytes) -> Payload:
    top = _object(loads(data), _TOP, "")

    critical = _object(top["critical"], _CRITICAL, "critical")
    kind = _string(critical["type"], "critical.type")
    if kind != SIGNATURE_TYPE:
        hint = " (a cosign signature)" if kind == COSIGN_SIGNATURE_TYPE else ""
        raise StrictJSONError("critical.type", f'unsupported signature type "{kind}"{hint}')

    digest_path = "critical.image.docker-manifest-digest"
    image = _object(critical["image"], _IMAGE, "critical.image")
    digest = _string(image["docker-manifest-digest"], digest_path)
    try:
        parse_digest(digest)
    except InvalidReference as exc:
        raise StrictJSONError(digest_path, str(exc)) from None

    reference_path = "critical.identity.docker-reference"
    identity = _object(critical["identity"], _IDENTITY, "critical.identity")
    reference = _string(identity["docker-reference"], reference_path)
    try:
        parse_reference(reference)
    except InvalidReference as exc:
        raise StrictJSONError(reference_path, str(exc)) from None

    optional = top["optional"]
    if type(optional) is not dict:
        expect_object(optional, "optional")
    creator = optional.get("creator")
    if creator is not None or "creator" in optional:
        creator = _string(creator, "optional.creator")
    timestamp = optional.get("timestamp")
    if timestamp is not None or "timestamp" in optional:
        timestamp = _timestamp(timestamp, "optional.timestamp")

    return Payload(
        docker_reference=reference,
        manifest_digest=digest,
        creator=creator,
        timestamp=timestamp,
        raw=top,
    )


def parse_payload(data: bytes) -> Payload:
    """Parse a payload strictly; raise ``MalformedPayload`` saying where it is wrong."""
    try:
        return _parse(data)
    except StrictJSONError as exc:
        raise MalformedPayload(f"{exc.path or 'payload'}: {exc.detail}") from None


def make_payload(
    manifest_digest: str,
    docker_reference: str,
    creator: str | None = None,
    timestamp: int | None = None,
) -> bytes:
    """The payload bytes for a signature, laid out as containers/image lays them out.

    The reference is kept as given (skopeo signs what the user typed); both it
    and the digest must be valid.
    """
    parse_digest(manifest_digest)
    parse_reference(docker_reference)
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
        raise MalformedPayload("optional.timestamp: expected an integer")
    optional: dict[str, Any] = {}
    if creator is not None:
        optional["creator"] = creator
    if timestamp is not None:
        optional["timestamp"] = timestamp
    document = {
        "critical": {
            "type": SIGNATURE_TYPE,
            "image": {"docker-manifest-digest": manifest_digest},
            "identity": {"docker-reference": docker_reference},
        },
        "optional": optional,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Go's encoder escapes these even inside strings; they occur nowhere else in JSON.
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode("utf-8")
