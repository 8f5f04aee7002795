"""Making simple-signing signatures that skopeo, podman and CRI-O accept.

gpg (behind skopeo) writes one ZIP-compressed packet holding a one-pass
signature, the literal payload and the signature; we write the same shape,
with pysequoia doing the signing, so the blob is recognized by every reader's
first-byte check and verifies with gpg and with us.
"""

from __future__ import annotations

import time
import warnings
import zlib
from typing import Any

import pysequoia

from imagesig.trust.errors import SigningError
from imagesig.trust.payload import make_payload
from imagesig.trust.reference import digest_of

DEFAULT_CREATOR = "imagesig"

# Old-format header of a compressed data packet of indeterminate length, then
# algorithm 1 (ZIP, raw deflate): the two bytes gpg starts its messages with.
_COMPRESSED_ZIP_HEADER = b"\xa3\x01"


def _signer(secret_key: Any, password: str | None) -> Any:
    tsk = secret_key
    if not hasattr(tsk, "signer"):  # a pysequoia.Cert: its secret half, if any
        with warnings.catch_warnings():  # pysequoia deprecates Cert.secrets in favour of Tsk
            warnings.simplefilter("ignore", DeprecationWarning)
            tsk = getattr(secret_key, "secrets", None)
        if tsk is None:
            raise SigningError("the certificate holds no secret key")
    try:
        return tsk.signer(password)
    except Exception as exc:
        if password is not None:
            # A passphrase given for a key that has none: pysequoia refuses to "decrypt" it.
            try:
                return tsk.signer(None)
            except Exception:  # noqa: S110 - report the first error, it names the real problem
                pass
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SigningError(f"no usable signing key: {first_line}") from None


def sign_payload(payload: bytes, secret_key: Any, *, password: str | None = None) -> bytes:
    """Sign ``payload`` as a binary OpenPGP signed message (not armored, not detached).

    ``secret_key`` is a ``pysequoia.Tsk`` or a ``pysequoia.Cert`` holding secret
    key material; its signing-capable (sub)key signs.
    """
    signer = _signer(secret_key, password)
    try:
        message = pysequoia.sign(
            signer, bytes(payload), mode=pysequoia.SignatureMode.INLINE, armor=False
        )
    except Exception as exc:
        raise SigningError(f"signing failed: {str(exc).splitlines()[0]}") from None
    deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return _COMPRESSED_ZIP_HEADER + deflate.compress(bytes(message)) + deflate.flush()


def sign_image(
    manifest: bytes,
    docker_reference: str,
    secret_key: Any,
    *,
    password: str | None = None,
    creator: str | None = DEFAULT_CREATOR,
    timestamp: int | None = None,
) -> bytes:
    """Sign a manifest (by its sha256 digest) for ``docker_reference``, as skopeo does."""
    payload = make_payload(
        digest_of(manifest),
        docker_reference,
        creator=creator,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    return sign_payload(payload, secret_key, password=password)
