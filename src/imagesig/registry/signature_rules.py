"""The rules of an ImageSignature: its name, its validation, its server-owned fields.

Shared by the imagesignatures resource and by Image writes, which carry
signatures inside them (paths ``signatures[i]...``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from imagesig.api.errors import FieldError, forbidden_field, invalid, required
from imagesig.api.types import ImageSignature, SignatureCondition
from imagesig.registry.validation import validate_object_meta

NAME_FORMAT = "name must be of format <imageName>@<signatureName>"
UNKNOWN_STATE = "must be unset for unknown signature state"
MANAGED_SIGNATURE_ANNOTATION = "image.openshift.io/managed-signature"

# The signature types that mean containers/image "simple signing".
SIMPLE_SIGNING_TYPES = frozenset({"atomic", "AtomicImageV1"})


def split_name(name: str) -> tuple[str, str] | None:
    """``<image>@<signature>`` into its parts, or None when the name has another form."""
    image, sep, signature = name.partition("@")
    if not sep or not image or not signature or "@" in signature:
        return None
    return image, signature


def _latest(conditions: list[SignatureCondition], type_: str) -> SignatureCondition | None:
    """The condition of ``type_`` with the latest probe time (unset counts as oldest)."""
    found: SignatureCondition | None = None
    for cond in conditions:
        if cond.type != type_:
            continue
        if found is None or _probe_key(cond) > _probe_key(found):
            found = cond
    return found


def _probe_key(cond: SignatureCondition) -> float:
    return cond.last_probe_time.timestamp() if cond.last_probe_time else float("-inf")


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


def validate_signature(sig: ImageSignature, path: str = "") -> list[FieldError]:
    """All errors of one signature, in OKD's order (api.md section 4)."""
    p = f"{path}." if path else ""
    errors = validate_object_meta(sig.metadata, f"{p}metadata")
    if sig.metadata.labels:
        errors.append(forbidden_field(f"{p}metadata.labels", "signature labels cannot be set"))
    if sig.metadata.annotations:
        errors.append(
            forbidden_field(f"{p}metadata.annotations", "signature annotations cannot be set")
        )
    if sig.metadata.name and split_name(sig.metadata.name) is None:
        errors.append(invalid(f"{p}metadata.name", sig.metadata.name, NAME_FORMAT))
    if not sig.type:
        errors.append(required(f"{p}type"))
    if not sig.content:
        errors.append(required(f"{p}content"))

    trusted = _latest(sig.conditions, "Trusted")
    for_image = _latest(sig.conditions, "ForImage")
    if trusted is not None and for_image is None:
        errors.append(
            invalid(
                f"{p}conditions", _builtins(sig.conditions), 'missing "ForImage" condition type'
            )
        )
    if for_image is not None and trusted is None:
        errors.append(
            invalid(f"{p}conditions", _builtins(sig.conditions), 'missing "Trusted" condition type')
        )
    if trusted is None or trusted.status == "Unknown":
        derived: list[tuple[str, Any]] = [
            ("imageIdentity", sig.image_identity),
            ("signedClaims", sig.signed_claims),
            ("issuedBy", sig.issued_by),
            ("issuedTo", sig.issued_to),
        ]
        errors.extend(
            invalid(f"{p}{field}", _builtins(value), UNKNOWN_STATE)
            for field, value in derived
            if value
        )
    return errors


def clear_server_owned(sig: ImageSignature) -> None:
    """Drop what only the server may say about a signature: a client cannot claim trust."""
    sig.conditions = []
    sig.image_identity = ""
    sig.signed_claims = {}
    sig.created = None
    sig.issued_by = None
    sig.issued_to = None


def same_content(a: ImageSignature, b: ImageSignature) -> bool:
    return a.type == b.type and a.content == b.content


def strip_for_storage(sig: ImageSignature) -> None:
    """A signature inside an Image carries no kind, apiVersion or per-object links."""
    sig.kind = ""
    sig.api_version = ""
    sig.metadata.self_link = ""
    sig.metadata.resource_version = ""
    sig.metadata.namespace = ""


def now_seconds() -> datetime:
    from datetime import UTC

    return datetime.now(UTC).replace(microsecond=0)
