"""Verification of simple-signing signatures, in the order of signatures.md §2.

``verify_signature`` answers "is this blob a good signature by a trusted key,
and what does it claim?" (steps 1-4); ``check_image`` answers "does that claim
cover this image?" (steps 5-6). The payload is parsed only after the signature
is known to be good. Neither function raises for any input: the result is a
picklable ``Verdict`` / ``ImageCheck``, because the server runs verification
in worker processes and stores its outcome.

Run with ``RUST_BACKTRACE`` unset (or ``RUST_LIB_BACKTRACE=0``) from process
start: Sequoia uses errors for ordinary control flow, and with backtraces on,
capturing them roughly doubles the cost of every verification.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pysequoia

from imagesig.trust.errors import InvalidReference, MalformedPayload
from imagesig.trust.identity import DEFAULT_IDENTITY_RULE, IdentityRule
from imagesig.trust.keys import TrustedCert, TrustedKeys
from imagesig.trust.packets import (
    HASH_NAMES,
    TAG_COMPRESSED,
    TAG_LITERAL,
    TAG_ONE_PASS_SIGNATURE,
    TAG_SIGNATURE,
    WEAK_HASHES,
    PacketError,
    RawPacket,
    SignatureFields,
    header_tag,
    inflate,
    key_id_of,
    parse_signature,
    read_packets,
    tag_name,
)
from imagesig.trust.payload import Payload, parse_payload
from imagesig.trust.reference import Reference

SIMPLE_SIGNING_FORMAT = b"simple-signing"
SIGSTORE_FORMAT = b"sigstore-json"
# Sequoia's verifier tolerates this much clock skew for signature creation times.
CLOCK_SKEW = timedelta(minutes=30)

_OPENPGP_MESSAGE_TAGS = frozenset({TAG_COMPRESSED, TAG_ONE_PASS_SIGNATURE, TAG_SIGNATURE})
_SIGNED_MESSAGE_SHAPES = (
    (TAG_ONE_PASS_SIGNATURE, TAG_LITERAL, TAG_SIGNATURE),
    (TAG_SIGNATURE, TAG_LITERAL),  # the older "signature first" form
)

T = TypeVar("T")


class Status(enum.StrEnum):
    """The outcome of ``verify_signature``."""

    TRUSTED = "Trusted"  # steps 1-4 passed with a trusted key
    UNTRUSTED = "Untrusted"  # a simple-signing signature that failed one of steps 1-4
    NOT_A_SIGNATURE = "NotASignature"  # not a simple-signing signature at all


class Reason(enum.StrEnum):
    """Why a signature is not trusted, or why it does not cover an image."""

    UNRECOGNIZED_FORMAT = "unrecognized_format"
    SIGSTORE_FORMAT = "sigstore_format"
    NOT_SIGNED_MESSAGE = "not_signed_message"
    MULTIPLE_SIGNATURES = "multiple_signatures"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED_SIGNATURE = "expired_signature"
    FUTURE_SIGNATURE = "future_signature"
    REVOKED_KEY = "revoked_key"
    EXPIRED_KEY = "expired_key"
    MALFORMED_PAYLOAD = "malformed_payload"
    VERIFICATION_ERROR = "verification_error"
    DIGEST_MISMATCH = "digest_mismatch"
    IDENTITY_MISMATCH = "identity_mismatch"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a signature blob is and whether a trusted key made it.

    ``payload`` is set only for TRUSTED verdicts. ``signer_fingerprint`` is the
    primary key's fingerprint (40 upper-case hex) once the issuer resolved to a
    trusted certificate; ``key_id`` is the issuer (sub)key ID the signature names.
    """

    status: Status
    reason: Reason | None
    message: str
    signer_fingerprint: str | None = None
    key_id: str | None = None
    signer_user_id: str | None = None
    signature_created: datetime | None = None
    signature_expires: datetime | None = None
    expired: bool = False
    revoked: bool = False
    payload: Payload | None = None

    @property
    def trusted(self) -> bool:
        """True when steps 1-4 passed."""
        return self.status is Status.TRUSTED


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """Whether a verified signature covers an image (steps 5-6)."""

    accepted: bool
    reason: Reason | None
    message: str
    digest_matches: bool
    identity_matches: bool


class _Reject(Exception):
    """Carries an early verdict out of the step that decided it; never escapes the module."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict


def _guarded(call: Callable[[], T]) -> T | None:
    """Run a pysequoia call; None on any error, including a Rust panic."""
    try:
        return call()
    except Exception:
        return None
    except BaseException as exc:  # pyo3 raises panics as BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return None


def _not_a_signature(reason: Reason, message: str) -> _Reject:
    return _Reject(Verdict(Status.NOT_A_SIGNATURE, reason, message))


def _untrusted(reason: Reason, message: str, **fields: Any) -> _Reject:
    return _Reject(Verdict(Status.UNTRUSTED, reason, message, **fields))


def _openpgp_bytes(content: bytes) -> bytes:
    """Step 0: recognize the format by its first byte and return the OpenPGP data."""
    if not content:
        raise _not_a_signature(Reason.UNRECOGNIZED_FORMAT, "empty signature")
    if content[0] == 0:
        name, newline, rest = content[1:].partition(b"\n")
        if not newline or any(b < 32 or b >= 0x7F for b in name):
            raise _not_a_signature(Reason.UNRECOGNIZED_FORMAT, "invalid tagged signature format")
        if name == SIGSTORE_FORMAT:
            raise _not_a_signature(
                Reason.SIGSTORE_FORMAT,
                "a sigstore signature (sigstore-json), not a simple-signing signature",
            )
        if name != SIMPLE_SIGNING_FORMAT:
            fmt = name.decode("ascii")
            raise _not_a_signature(
                Reason.UNRECOGNIZED_FORMAT, f'unrecognized signature format "{fmt}"'
            )
        if not rest:
            raise _not_a_signature(Reason.UNRECOGNIZED_FORMAT, "empty simple-signing signature")
        content = rest
    tag = header_tag(content[0])
    if tag in _OPENPGP_MESSAGE_TAGS:
        return content
    start = content[:64].lstrip()
    if start.startswith(b"-----BEGIN PGP"):
        message = "ASCII-armored OpenPGP data; store the binary signature (gpg --dearmor)"
    elif tag is not None:
        message = f"OpenPGP {tag_name(tag)} data, not a signed message"
    elif start.startswith(b"{"):
        message = "JSON data (a cosign signature payload?), not an OpenPGP signed message"
    else:
        message = f"unrecognized signature format, starting with byte 0x{content[0]:02x}"
    raise _not_a_signature(Reason.UNRECOGNIZED_FORMAT, message)


def _signed_message(data: bytes) -> tuple[bytes, RawPacket]:
    """Step 1: one signature over one literal; returns the bare message and its signature."""
    try:
        packets = read_packets(data)
        message = data
        if packets[0].tag == TAG_COMPRESSED:
            if len(packets) != 1:
                raise PacketError("data after the compressed data packet")
            message = inflate(packets[0])
            packets = read_packets(message)
    except PacketError as exc:
        raise _untrusted(Reason.NOT_SIGNED_MESSAGE, f"malformed OpenPGP message: {exc}") from None
    tags = tuple([p.tag for p in packets])
    if tags == _SIGNED_MESSAGE_SHAPES[0]:  # the usual shape: nothing more to check
        return message, packets[2]
    signatures = tags.count(TAG_SIGNATURE)
    if signatures > 1:
        raise _untrusted(
            Reason.MULTIPLE_SIGNATURES,
            f"the message carries {signatures} signatures; exactly one is required",
        )
    for tag in tags:
        if tag not in (TAG_SIGNATURE, TAG_LITERAL, TAG_ONE_PASS_SIGNATURE):
            what = "nested compressed data" if tag == TAG_COMPRESSED else f"a {tag_name(tag)}"
            raise _untrusted(Reason.NOT_SIGNED_MESSAGE, f"not a signed message: it holds {what}")
    if signatures == 0:
        raise _untrusted(Reason.NOT_SIGNED_MESSAGE, "not a signed message: it has no signature")
    if TAG_LITERAL not in tags:
        raise _untrusted(
            Reason.NOT_SIGNED_MESSAGE, "a detached signature, not a signed message with its payload"
        )
    if tags not in _SIGNED_MESSAGE_SHAPES:
        raise _untrusted(Reason.NOT_SIGNED_MESSAGE, "not a signed message: unexpected packets")
    return message, packets[tags.index(TAG_SIGNATURE)]


def _signature_fields(packet: RawPacket) -> SignatureFields:
    try:
        return parse_signature(packet.body)
    except PacketError as exc:
        raise _untrusted(Reason.BAD_SIGNATURE, f"malformed signature packet: {exc}") from None


def _sequoia_verify(message: bytes, certs: Sequence[Any]) -> tuple[bytes, str, str] | None:
    """(payload, primary fingerprint, signing key fingerprint) when exactly one signature is good."""

    def store(_ids: list[str]) -> list[Any]:
        return list(certs)

    result = _guarded(lambda: pysequoia.verify(bytes=message, store=store))
    if result is None or result.bytes is None or len(result.valid_sigs) != 1:
        return None
    good = result.valid_sigs[0]
    return bytes(result.bytes), str(good.certificate).upper(), str(good.signing_key).upper()


def _label(tc: TrustedCert) -> str:
    return f"{tc.fingerprint} ({tc.user_id})" if tc.user_id else tc.fingerprint


def _signed(
    reason: Reason | None,
    message: str,
    tc: TrustedCert,
    key_id: str | None,
    info: SignatureFields,
    *,
    expired: bool = False,
    revoked: bool = False,
    payload: Payload | None = None,
) -> Verdict:
    """A verdict about a signature whose issuer is a trusted certificate."""
    return Verdict(
        Status.TRUSTED if reason is None else Status.UNTRUSTED,
        reason,
        message,
        signer_fingerprint=tc.fingerprint,
        key_id=key_id,
        signer_user_id=tc.user_id,
        signature_created=info.created,
        signature_expires=info.expires,
        expired=expired,
        revoked=revoked,
        payload=payload,
    )


def _explain_failure(
    message: bytes, info: SignatureFields, certs: Sequence[TrustedCert], now: datetime
) -> Verdict:
    """Step 3 failed: say why, as precisely as the evidence allows."""
    unrevoked = [tc.unrevoked for tc in certs if tc.unrevoked is not None]
    if unrevoked:
        # Valid once revocations are ignored: the revocation is the reason.
        good = _sequoia_verify(message, unrevoked)
        if good is not None:
            tc = next(tc for tc in certs if tc.fingerprint == good[1])
            key_id = key_id_of(good[2])
            text = f"key {key_id} of {_label(tc)} that made the signature is revoked"
            return _signed(Reason.REVOKED_KEY, text, tc, key_id, info, revoked=True)
    # Otherwise go by what the signature claims about itself.
    handle = info.fingerprint or info.key_id or ""
    tc = next((tc for tc in certs if tc.key(handle) is not None), certs[0])
    key = info.key_id or handle
    if info.expires is not None and info.expires <= now:
        text = f"signature by key {key} of {_label(tc)} expired at {info.expires.isoformat()}"
        return _signed(Reason.EXPIRED_SIGNATURE, text, tc, info.key_id, info, expired=True)
    if info.created is not None and info.created > now + CLOCK_SKEW:
        text = f"signature by key {key} claims to be made in the future ({info.created})"
        return _signed(Reason.FUTURE_SIGNATURE, text, tc, info.key_id, info)
    signing_key = tc.key(handle)
    if info.created is not None and (
        (signing_key is not None and signing_key.expired_at(info.created))
        or tc.keys[0].expired_at(info.created)
    ):
        text = (
            f"key {key} of {_label(tc)} had expired when the signature was made"
            f" ({info.created.isoformat()})"
        )
        return _signed(Reason.EXPIRED_KEY, text, tc, info.key_id, info, expired=True)
    hint = ""
    if info.hash_algorithm in WEAK_HASHES:
        hint = f"; it uses the broken hash algorithm {HASH_NAMES[info.hash_algorithm]}"
    return Verdict(
        Status.UNTRUSTED,
        Reason.BAD_SIGNATURE,
        f"signature does not verify with key {key} of {tc.fingerprint}: the signed data or"
        f" the signature is corrupt, or the key is not valid for signing{hint}",
        key_id=info.key_id,
    )


def _verify(content: bytes, keys: TrustedKeys, now: datetime) -> Verdict:
    message, signature = _signed_message(_openpgp_bytes(content))
    info = _signature_fields(signature)

    # Step 2: the issuer must be a trusted (sub)key.
    handles = [h for h in (info.fingerprint, info.key_id) if h]
    if not handles:
        raise _untrusted(Reason.UNKNOWN_KEY, "the signature does not name the key that made it")
    certs = keys.resolve(handles)
    if not certs:
        raise _untrusted(
            Reason.UNKNOWN_KEY, f"signed by unknown key {handles[-1]}", key_id=info.key_id
        )

    # Step 3: cryptographically valid, not expired, key not revoked or expired.
    good = _sequoia_verify(message, [tc.cert for tc in certs])
    if good is None:
        return _explain_failure(message, info, certs, now)
    payload_bytes, primary, signing_key = good
    tc = next(tc for tc in certs if tc.fingerprint == primary)
    key_id = key_id_of(signing_key)
    # Sequoia judged expiry by the real clock; an explicit ``now`` is judged here too.
    if info.expires is not None and info.expires <= now:
        text = f"signature by {_label(tc)} expired at {info.expires.isoformat()}"
        return _signed(Reason.EXPIRED_SIGNATURE, text, tc, key_id, info, expired=True)
    if info.created is not None and info.created > now + CLOCK_SKEW:
        text = f"signature by {_label(tc)} is dated after {now.isoformat()}"
        return _signed(Reason.FUTURE_SIGNATURE, text, tc, key_id, info)

    # Step 4: only now look at what was signed.
    try:
        payload = parse_payload(payload_bytes)
    except MalformedPayload as exc:
        text = f"signature by {_label(tc)} is valid, but not a container signature: {exc}"
        return _signed(Reason.MALFORMED_PAYLOAD, text, tc, key_id, info)
    return _signed(None, f"signed by {_label(tc)}", tc, key_id, info, payload=payload)


def verify_signature(content: bytes, keys: TrustedKeys, *, now: datetime | None = None) -> Verdict:
    """Steps 1-4 of signatures.md §2 for one signature blob; never raises.

    ``now`` (default: the current time) is when signature expiry is judged;
    the OpenPGP library also judges it by the real clock, so a ``now`` in the
    past cannot revive an expired signature.
    """
    when = datetime.now(UTC) if now is None else now
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # a naive time is taken as UTC
    try:
        return _verify(bytes(content), keys, when)
    except _Reject as reject:
        return reject.verdict
    except BaseException as exc:  # a bug must not take the caller down, nor a Rust panic
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return Verdict(
            Status.UNTRUSTED,
            Reason.VERIFICATION_ERROR,
            f"internal error while verifying the signature ({type(exc).__name__})",
        )


def check_image(
    verdict: Verdict,
    manifest_digest: str,
    image_reference: Reference | None,
    rule: IdentityRule | None = None,
) -> ImageCheck:
    """Steps 5-6: does a trusted signature cover this manifest digest and reference?

    ``manifest_digest`` is compared as a string with the signed digest (use
    ``reference.digest_of(manifest_bytes)``); ``rule`` defaults to
    ``matchRepoDigestOrExact``.
    """
    payload = verdict.payload
    if not verdict.trusted or payload is None:
        return ImageCheck(False, verdict.reason, verdict.message, False, False)
    rule = rule if rule is not None else DEFAULT_IDENTITY_RULE
    digest_ok = payload.manifest_digest == manifest_digest
    try:
        identity_ok = rule.matches(image_reference, payload.reference)
    except InvalidReference:
        identity_ok = False
    if not digest_ok:
        return ImageCheck(
            False,
            Reason.DIGEST_MISMATCH,
            f"the signature is for manifest {payload.manifest_digest}, not {manifest_digest}",
            False,
            identity_ok,
        )
    if not identity_ok:
        image = (
            f'"{image_reference}"'
            if image_reference is not None
            else "an image without a reference"
        )
        return ImageCheck(
            False,
            Reason.IDENTITY_MISMATCH,
            f'the signature is for "{payload.docker_reference}", which does not match'
            f" {image} under {rule.name}",
            True,
            False,
        )
    return ImageCheck(
        True,
        None,
        f'{verdict.message}, for "{payload.docker_reference}"',
        True,
        True,
    )
