"""Just enough OpenPGP packet framing to judge a message's shape before verifying it.

We walk the top-level packet headers ourselves (RFC 4880 §4.2) and inflate the
one compressed packet a signed message may carry, with a size cap, so that the
OpenPGP library never inflates untrusted data without a bound, and so that
"exactly one signature over one literal" is checked on packets we have counted.
"""

from __future__ import annotations

import bz2
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

TAG_SIGNATURE = 2
TAG_ONE_PASS_SIGNATURE = 4
TAG_COMPRESSED = 8
TAG_MARKER = 10
TAG_LITERAL = 11

TAG_NAMES = {
    1: "public-key encrypted session key",
    2: "signature",
    3: "symmetric-key encrypted session key",
    4: "one-pass signature",
    5: "secret key",
    6: "public key",
    7: "secret subkey",
    8: "compressed data",
    9: "symmetrically encrypted data",
    10: "marker",
    11: "literal data",
    12: "trust",
    13: "user ID",
    14: "public subkey",
    17: "user attribute",
    18: "encrypted and integrity protected data",
    19: "modification detection code",
    20: "AEAD encrypted data",
    21: "padding",
}

# A payload is a few hundred bytes; anything near this is an attack or a mistake.
MAX_INFLATED_SIZE = 8 * 1024 * 1024
# A signed message has three packets; stop walking a pathological stream early.
MAX_PACKETS = 16
# Partial body chunks may be one byte each; bound the work a hostile stream can cause.
MAX_CHUNKS = 65536


class PacketError(ValueError):
    """The bytes are not a well-formed sequence of OpenPGP packets."""


class RawPacket(NamedTuple):
    """One packet as found: its tag, its body (partial lengths joined) and its exact bytes."""

    tag: int
    body: bytes
    raw: bytes


def tag_name(tag: int) -> str:
    """A packet tag's RFC 4880 name."""
    return TAG_NAMES.get(tag, f"tag {tag}")


def header_tag(first_byte: int) -> int | None:
    """The packet tag a first byte announces, or None if it is not a packet header."""
    if not first_byte & 0x80:
        return None
    if first_byte & 0x40:
        return first_byte & 0x3F
    return (first_byte >> 2) & 0x0F


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise PacketError("truncated packet")


def _new_length(data: bytes, pos: int) -> tuple[int, int, bool]:
    """(length, header bytes used, is_partial) of a new-format length at ``pos``."""
    _need(data, pos + 1)
    first = data[pos]
    if first < 192:
        return first, 1, False
    if first < 224:
        _need(data, pos + 2)
        return ((first - 192) << 8) + data[pos + 1] + 192, 2, False
    if first == 255:
        _need(data, pos + 5)
        return int.from_bytes(data[pos + 1 : pos + 5], "big"), 5, False
    return 1 << (first & 0x1F), 1, True


def _new_format_body(data: bytes, pos: int) -> tuple[bytes, int]:
    length, used, partial = _new_length(data, pos)
    pos += used
    _need(data, pos + length)
    if not partial:
        return data[pos : pos + length], pos + length
    chunks = [data[pos : pos + length]]
    pos += length
    while partial:
        if len(chunks) >= MAX_CHUNKS:
            raise PacketError(f"more than {MAX_CHUNKS} partial body chunks")
        length, used, partial = _new_length(data, pos)
        pos += used
        _need(data, pos + length)
        chunks.append(data[pos : pos + length])
        pos += length
    return b"".join(chunks), pos


def _old_format_body(data: bytes, pos: int, length_type: int) -> tuple[bytes, int]:
    if length_type == 3:  # indeterminate: to the end of the data
        return data[pos:], len(data)
    size = (1, 2, 4)[length_type]
    _need(data, pos + size)
    end = pos + size + int.from_bytes(data[pos : pos + size], "big")
    _need(data, end)
    return data[pos + size : end], end


def read_packets(data: bytes) -> list[RawPacket]:
    """The top-level packets of ``data`` (containers are not entered)."""
    packets: list[RawPacket] = []
    start, size = 0, len(data)
    while start < size:
        if len(packets) >= MAX_PACKETS:
            raise PacketError(f"more than {MAX_PACKETS} packets")
        ctb = data[start]
        if not ctb & 0x80:
            raise PacketError(f"byte 0x{ctb:02x} at offset {start} is not an OpenPGP packet header")
        if ctb & 0x40:
            tag = ctb & 0x3F
            body, end = _new_format_body(data, start + 1)
        else:
            tag = (ctb >> 2) & 0x0F
            body, end = _old_format_body(data, start + 1, ctb & 0x03)
        packets.append(RawPacket(tag, body, data[start:end]))
        start = end
    return packets


def _inflate_with(decompressor: Any, data: bytes, algorithm: str) -> bytes:
    try:
        out: bytes = decompressor.decompress(data, MAX_INFLATED_SIZE + 1)
    except (zlib.error, OSError, ValueError, EOFError) as exc:
        raise PacketError(f"corrupt {algorithm} compressed data ({exc})") from None
    if len(out) > MAX_INFLATED_SIZE:
        raise PacketError(f"compressed data inflates beyond {MAX_INFLATED_SIZE} bytes")
    if not decompressor.eof:
        raise PacketError(f"truncated {algorithm} compressed data")
    return out


def inflate(packet: RawPacket) -> bytes:
    """The content of a compressed data packet (RFC 4880 §5.6), at most ``MAX_INFLATED_SIZE``."""
    if not packet.body:
        raise PacketError("empty compressed data packet")
    algorithm, data = packet.body[0], packet.body[1:]
    if algorithm == 0:
        if len(data) > MAX_INFLATED_SIZE:
            raise PacketError(f"compressed data inflates beyond {MAX_INFLATED_SIZE} bytes")
        return data
    if algorithm == 1:
        return _inflate_with(zlib.decompressobj(-15), data, "ZIP")
    if algorithm == 2:
        return _inflate_with(zlib.decompressobj(), data, "ZLIB")
    if algorithm == 3:
        return _inflate_with(bz2.BZ2Decompressor(), data, "BZip2")
    raise PacketError(f"unknown compression algorithm {algorithm}")


HASH_NAMES = {
    1: "MD5",
    2: "SHA1",
    3: "RIPEMD160",
    8: "SHA256",
    9: "SHA384",
    10: "SHA512",
    11: "SHA224",
    12: "SHA3-256",
    14: "SHA3-512",
}
WEAK_HASHES = frozenset({1, 2, 3})

_SUB_CREATED = 2
_SUB_EXPIRES = 3
_SUB_ISSUER = 16
_SUB_ISSUER_FPR = 33


class SignatureFields(NamedTuple):
    """What a signature packet claims (RFC 4880 §5.2, RFC 9580 §5.2); nothing is verified."""

    version: int
    hash_algorithm: int
    created: datetime | None  # from the hashed area (V4/V6) or the fixed fields (V3)
    expires: datetime | None  # creation time plus the hashed expiration subpacket
    key_id: str | None  # upper-case hex, from either area
    fingerprint: str | None  # upper-case hex, from either area


def key_id_of(fingerprint: str) -> str:
    """A V4 key ID is the fingerprint's tail, a V6 key ID its head."""
    return fingerprint[-16:] if len(fingerprint) == 40 else fingerprint[:16]


def _subpackets(area: bytes) -> list[tuple[int, bytes]]:
    found: list[tuple[int, bytes]] = []
    pos, size = 0, len(area)
    while pos < size:
        first = area[pos]
        if first < 192:
            length, pos = first, pos + 1
        elif first < 255:
            _need(area, pos + 2)
            length, pos = ((first - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            _need(area, pos + 5)
            length, pos = int.from_bytes(area[pos + 1 : pos + 5], "big"), pos + 5
        if length == 0 or pos + length > size:
            raise PacketError("malformed signature subpacket")
        found.append((area[pos] & 0x7F, area[pos + 1 : pos + length]))
        pos += length
    return found


def _timestamp(value: bytes) -> datetime:
    if len(value) != 4:
        raise PacketError("malformed time subpacket")
    return datetime.fromtimestamp(int.from_bytes(value, "big"), UTC)


def parse_signature(body: bytes) -> SignatureFields:
    """Read the claims of a V3, V4 or V6 signature packet body."""
    if not body:
        raise PacketError("empty signature packet")
    version = body[0]
    if version == 3:
        _need(body, 19)
        if body[1] != 5:
            raise PacketError("malformed V3 signature packet")
        return SignatureFields(
            3, body[16], _timestamp(body[3:7]), None, body[7:15].hex().upper(), None
        )
    if version not in (4, 6):
        raise PacketError(f"unsupported signature packet version {version}")
    size = 2 if version == 4 else 4
    _need(body, 4 + size)
    hashed_end = 4 + size + int.from_bytes(body[4 : 4 + size], "big")
    _need(body, hashed_end + size)
    unhashed_end = hashed_end + size + int.from_bytes(body[hashed_end : hashed_end + size], "big")
    _need(body, unhashed_end)
    created = lifetime = key_id = fingerprint = None
    for kind, value in _subpackets(body[4 + size : hashed_end]):
        if kind == _SUB_CREATED:
            created = _timestamp(value)
        elif kind == _SUB_EXPIRES and len(value) == 4:
            lifetime = int.from_bytes(value, "big")
        elif kind == _SUB_ISSUER and key_id is None and len(value) == 8:
            key_id = value.hex().upper()
        elif kind == _SUB_ISSUER_FPR and fingerprint is None and len(value) > 1:
            fingerprint = value[1:].hex().upper()
    if key_id is None or fingerprint is None:  # the unhashed area may name the issuer
        for kind, value in _subpackets(body[hashed_end + size : unhashed_end]):
            if kind == _SUB_ISSUER and key_id is None and len(value) == 8:
                key_id = value.hex().upper()
            elif kind == _SUB_ISSUER_FPR and fingerprint is None and len(value) > 1:
                fingerprint = value[1:].hex().upper()
    if key_id is None and fingerprint is not None:
        key_id = key_id_of(fingerprint)
    expires = None
    if created is not None and lifetime:
        expires = created + timedelta(seconds=lifetime)
    return SignatureFields(version, body[3], created, expires, key_id, fingerprint)
