"""Hand-built OpenPGP packets for cases no current tool produces (V3 signatures).

Per RFC 4880: §4.2 (new-format headers), §5.2.2 (V3 signature), §5.4 (one-pass
signature), §5.9 (literal data), §5.5.3 (secret key material, unencrypted).
"""

from __future__ import annotations

import hashlib
import struct
import zlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HASH_SHA256 = 8
PUBKEY_RSA = 1


def packet(tag: int, body: bytes) -> bytes:
    """A new-format packet with a definite length."""
    n = len(body)
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        length = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    else:
        length = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + length + body


def compressed(inner: bytes) -> bytes:
    """A ZIP compressed data packet as gpg writes it (old format, indeterminate length)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    return b"\xa3\x01" + deflate.compress(inner) + deflate.flush()


def literal(data: bytes, created: int = 0) -> bytes:
    return packet(11, b"b\x00" + struct.pack(">I", created) + data)


def _mpi(value: int) -> bytes:
    return struct.pack(">H", value.bit_length()) + value.to_bytes((value.bit_length() + 7) // 8)


def _read_mpi(data: bytes, pos: int) -> tuple[int, int]:
    bits = struct.unpack(">H", data[pos : pos + 2])[0]
    end = pos + 2 + (bits + 7) // 8
    return int.from_bytes(data[pos + 2 : end]), end


def _first_body(data: bytes) -> bytes:
    ctb = data[0]
    if ctb & 0x40:  # new format
        first = data[1]
        if first < 192:
            return data[2 : 2 + first]
        if first < 224:
            n = ((first - 192) << 8) + data[2] + 192
            return data[3 : 3 + n]
        n = struct.unpack(">I", data[2:6])[0]
        return data[6 : 6 + n]
    size = (1, 2, 4)[ctb & 3]
    n = int.from_bytes(data[1 : 1 + size])
    return data[1 + size : 1 + size + n]


def rsa_private_key(secret_key_export: bytes) -> tuple[rsa.RSAPrivateKey, bytes]:
    """The RSA key and key ID of an unprotected V4 secret key packet (first in the export)."""
    body = _first_body(secret_key_export)
    assert body[0] == 4, "expected a V4 secret key"
    assert body[5] == PUBKEY_RSA, "expected an RSA secret key"
    n, pos = _read_mpi(body, 6)
    e, pos = _read_mpi(body, pos)
    public_part = body[:pos]
    assert body[pos] == 0, "secret key must not be passphrase-protected"
    d, pos = _read_mpi(body, pos + 1)
    p, pos = _read_mpi(body, pos)
    q, pos = _read_mpi(body, pos)
    fingerprint = hashlib.sha1(b"\x99" + struct.pack(">H", len(public_part)) + public_part)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key(), fingerprint.digest()[-8:]


def v3_signed_message(
    key: rsa.RSAPrivateKey, key_id: bytes, data: bytes, created: int, *, corrupt: bool = False
) -> bytes:
    """One-pass signature, literal data and a V3 binary signature (RSA, SHA-256)."""
    trailer = b"\x00" + struct.pack(">I", created)  # signature type, creation time
    signature = key.sign(data + trailer, padding.PKCS1v15(), hashes.SHA256())
    if corrupt:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    digest = hashlib.sha256(data + trailer).digest()
    sig_body = (
        bytes([3, 5])
        + trailer
        + key_id
        + bytes([PUBKEY_RSA, HASH_SHA256])
        + digest[:2]
        + _mpi(int.from_bytes(signature))
    )
    one_pass = bytes([3, 0, HASH_SHA256, PUBKEY_RSA]) + key_id + b"\x01"
    return packet(4, one_pass) + literal(data, created) + packet(2, sig_body)
