"""Our packet framing reads what gpg and pysequoia write, and refuses what is malformed."""

from __future__ import annotations

import bz2
import zlib
from typing import Any

import pysequoia.packet as pgp_packet
import pytest

from imagesig.trust.packets import (
    MAX_PACKETS,
    TAG_COMPRESSED,
    TAG_LITERAL,
    TAG_ONE_PASS_SIGNATURE,
    TAG_SIGNATURE,
    PacketError,
    RawPacket,
    inflate,
    parse_signature,
    read_packets,
)

from . import openpgp_build as build
from .conftest import PAYLOAD, World, fixture_bytes


def test_gpg_message_is_one_compressed_packet_holding_three() -> None:
    (outer,) = read_packets(fixture_bytes("image.signature"))
    assert outer.tag == TAG_COMPRESSED
    tags = [p.tag for p in read_packets(inflate(outer))]
    assert tags == [TAG_ONE_PASS_SIGNATURE, TAG_LITERAL, TAG_SIGNATURE]


def test_old_and_new_format_lengths_are_read() -> None:
    old = bytes([0x80 | (11 << 2) | 1]) + (300).to_bytes(2, "big") + b"x" * 300
    new_two_octet = build.packet(11, b"y" * 1000)
    new_five_octet = build.packet(11, b"z" * 9000)
    packets = read_packets(old + new_two_octet + new_five_octet)
    assert [len(p.body) for p in packets] == [300, 1000, 9000]
    assert packets[1].raw == new_two_octet


def test_partial_body_lengths_are_joined() -> None:
    data = bytes([0xC0 | 11, 0xE0 | 9]) + b"a" * 512 + bytes([0xE0]) + b"b" + bytes([3]) + b"end"
    (packet,) = read_packets(data)
    assert packet.body == b"a" * 512 + b"b" + b"end"


@pytest.mark.parametrize(
    "data",
    [
        b"\x7f",
        bytes([0xC0 | 11, 10]) + b"short",
        bytes([0xC0 | 11, 0xFF, 0, 0]),
        bytes([0x80 | (11 << 2) | 2, 0, 0]),
        bytes([0xC0 | 11, 0xE0]) + b"x",
    ],
    ids=["not-a-header", "short-body", "short-length", "short-old-length", "unterminated-partial"],
)
def test_malformed_framing_is_refused(data: bytes) -> None:
    with pytest.raises(PacketError):
        read_packets(data)


def test_packet_count_is_bounded() -> None:
    with pytest.raises(PacketError, match="more than"):
        read_packets(build.packet(10, b"PGP") * (MAX_PACKETS + 1))


@pytest.mark.parametrize(
    ("algorithm", "compress"),
    [
        (0, lambda d: d),
        (1, lambda d: zlib.compress(d, wbits=-15)),
        (2, zlib.compress),
        (3, bz2.compress),
    ],
    ids=["uncompressed", "zip", "zlib", "bzip2"],
)
def test_each_compression_algorithm_inflates(algorithm: int, compress: object) -> None:
    body = bytes([algorithm]) + compress(PAYLOAD)  # type: ignore[operator]
    assert inflate(RawPacket(TAG_COMPRESSED, body, b"")) == PAYLOAD


@pytest.mark.parametrize(
    "body",
    [b"", b"\x09abc", b"\x01" + zlib.compress(PAYLOAD, wbits=-15)[:-4], b"\x02garbage"],
    ids=["empty", "unknown-algorithm", "truncated", "corrupt"],
)
def test_bad_compressed_data_is_refused(body: bytes) -> None:
    with pytest.raises(PacketError):
        inflate(RawPacket(TAG_COMPRESSED, body, b""))


def _pysequoia_signature(message: bytes) -> Any:
    return next(
        p
        for p in pgp_packet.PacketPile.from_bytes(message)
        if int(p.tag) == int(pgp_packet.Tag.Signature)
    )


@pytest.mark.parametrize("name", ["image.signature", "unknown-key.signature", "corrupt.signature"])
def test_signature_fields_agree_with_pysequoia_on_fixtures(name: str) -> None:
    message = fixture_bytes(name)
    (outer,) = read_packets(message)
    sig = next(p for p in read_packets(inflate(outer)) if p.tag == TAG_SIGNATURE)
    ours = parse_signature(sig.body)
    theirs = _pysequoia_signature(message)
    assert ours.version == theirs.signature_version == 4
    assert ours.created == theirs.signature_created
    assert ours.expires == theirs.signature_expiration_time
    assert ours.key_id == str(theirs.issuer_key_id).upper()
    expected_fpr = theirs.issuer_fingerprint
    assert ours.fingerprint == (expected_fpr.upper() if expected_fpr else None)


def test_signature_expiry_is_read(world: World) -> None:
    message = world.signatures["expired_signature"]
    (outer,) = read_packets(message)
    sig = next(p for p in read_packets(inflate(outer)) if p.tag == TAG_SIGNATURE)
    fields = parse_signature(sig.body)
    assert fields.expires == _pysequoia_signature(message).signature_expiration_time
    assert fields.created is not None
    assert fields.expires is not None
    assert (fields.expires - fields.created).days == 1


def test_v3_signature_fields_are_read(world: World) -> None:
    key, key_id = build.rsa_private_key(world.gpg.export_secret(world.rsa))
    message = build.v3_signed_message(key, key_id, PAYLOAD, 1700000000)
    sig = read_packets(message)[2]
    fields = parse_signature(sig.body)
    assert (fields.version, fields.key_id, fields.hash_algorithm) == (3, key_id.hex().upper(), 8)
    assert fields.created == _pysequoia_signature(message).signature_created


@pytest.mark.parametrize(
    "body",
    [b"", b"\x05" + b"\x00" * 30, b"\x04\x00\x01\x08\x00\x10"],
    ids=["empty", "v5", "short-hashed-area"],
)
def test_malformed_signature_packets_are_refused(body: bytes) -> None:
    with pytest.raises(PacketError):
        parse_signature(body)
