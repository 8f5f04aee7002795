"""The payload parser accepts exactly signatures.md §3 and says where anything else is wrong."""

from __future__ import annotations

import zlib

import pytest

from imagesig.trust import InvalidReference, MalformedPayload, make_payload, parse_payload
from imagesig.trust.packets import read_packets

from .conftest import fixture_bytes

DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
CRITICAL = (
    '{"type":"atomic container signature",'
    f'"image":{{"docker-manifest-digest":"{DIGEST}"}},'
    '"identity":{"docker-reference":"registry.example.com/ns/app:v1"}}'
)


def _doc(critical: str = CRITICAL, optional: str = "{}") -> bytes:
    return f'{{"critical":{critical},"optional":{optional}}}'.encode()


def _reject(data: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload) as info:
        parse_payload(data)
    assert message in str(info.value), str(info.value)


def test_minimal_payload_is_accepted() -> None:
    payload = parse_payload(_doc())
    assert payload.docker_reference == "registry.example.com/ns/app:v1"
    assert payload.manifest_digest == DIGEST
    assert (payload.creator, payload.timestamp) == (None, None)
    assert str(payload.reference) == "registry.example.com/ns/app:v1"


def test_optional_creator_and_timestamp_are_read() -> None:
    payload = parse_payload(_doc(optional='{"creator":"atomic 2.0","timestamp":1458239713}'))
    assert payload.creator == "atomic 2.0"
    assert payload.timestamp == 1458239713


def test_unknown_optional_members_are_ignored_but_kept_raw() -> None:
    payload = parse_payload(_doc(optional='{"extra":{"nested":[1,2.5,null]},"creator":"x"}'))
    assert payload.creator == "x"
    assert payload.raw["optional"]["extra"] == {"nested": [1, 2.5, None]}


def test_integral_float_timestamp_is_accepted_like_go() -> None:
    assert parse_payload(_doc(optional='{"timestamp":1458239713.0}')).timestamp == 1458239713


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"critical":{},"critical":{}}', 'payload: duplicate key "critical"'),
        (
            _doc(critical=CRITICAL[:-1] + ',"type":"atomic container signature"}'),
            'critical: duplicate key "type"',
        ),
        (_doc(optional='{"a":{"b":1,"b":2}}'), 'optional.a: duplicate key "b"'),
        (_doc(critical=CRITICAL[:-1] + ',"foo":1}'), 'critical: unexpected member "foo"'),
        (
            _doc(
                critical=CRITICAL.replace(
                    '"docker-reference":"registry.example.com/ns/app:v1"',
                    '"docker-reference":"registry.example.com/ns/app:v1","foo":1',
                )
            ),
            'critical.identity: unexpected member "foo"',
        ),
        (
            _doc(critical=CRITICAL.replace(f'"docker-manifest-digest":"{DIGEST}"', "")),
            'critical.image: missing member "docker-manifest-digest"',
        ),
        (b'{"critical":' + CRITICAL.encode() + b"}", 'payload: missing member "optional"'),
        (_doc()[:-1] + b',"extra":{}}', 'payload: unexpected member "extra"'),
        (_doc(optional='{"timestamp":1.5}'), "optional.timestamp: expected an integer"),
        (
            _doc(optional='{"timestamp":true}'),
            "optional.timestamp: expected an integer, got a boolean",
        ),
        (_doc(optional='{"timestamp":"1458239713"}'), "optional.timestamp: expected an integer"),
        (_doc(optional='{"timestamp":1e400}'), "optional.timestamp: expected an integer"),
        (
            _doc(optional='{"timestamp":99999999999999999999}'),
            "optional.timestamp: integer out of range",
        ),
        (_doc(optional='{"creator":7}'), "optional.creator: expected a string, got a number"),
        (_doc(optional="null"), "optional: expected an object, got null"),
        (_doc(optional="[]"), "optional: expected an object, got an array"),
        (_doc() + b"x", "payload: unexpected data after the JSON value"),
        (_doc() + b"{}", "payload: unexpected data after the JSON value"),
        (
            _doc(critical=CRITICAL.replace("atomic container signature", "atomic container")),
            "critical.type: unsupported signature type",
        ),
        (
            _doc(
                critical=CRITICAL.replace(
                    "atomic container signature", "cosign container image signature"
                )
            ),
            "(a cosign signature)",
        ),
        (
            _doc(critical=CRITICAL.replace('"type":"atomic container signature"', '"type":1')),
            "critical.type: expected a string",
        ),
        (
            _doc(critical=CRITICAL.replace(DIGEST, "sha256:abc")),
            "critical.image.docker-manifest-digest: invalid digest",
        ),
        (
            _doc(critical=CRITICAL.replace(DIGEST, DIGEST.upper())),
            "critical.image.docker-manifest-digest",
        ),
        (
            _doc(critical=CRITICAL.replace("registry.example.com/ns/app:v1", "Registry/NS/app")),
            "critical.identity.docker-reference: invalid reference",
        ),
        (
            _doc(critical=CRITICAL.replace('"registry.example.com/ns/app:v1"', "null")),
            "critical.identity.docker-reference: expected a string, got null",
        ),
        (_doc(optional='{"x":NaN}'), "payload: not valid JSON"),
        (b"This is not JSON\n", "payload: not valid JSON"),
        (b"\xff" + _doc(), "payload: not valid UTF-8"),
        (b"[" * 100000, "payload: "),
        (b"", "payload: not valid JSON"),
        (b"[]", "payload: expected an object, got an array"),
    ],
)
def test_malformed_payloads_are_rejected_with_their_place(data: bytes, message: str) -> None:
    _reject(data, message)


def _fixture_payload(name: str) -> bytes:
    """The literal data inside a gpg-made fixture signature (not verified: for layout only)."""
    (compressed,) = read_packets(fixture_bytes(name))
    inner = read_packets(zlib.decompressobj(-15).decompress(compressed.body[1:]))
    literal = next(p for p in inner if p.tag == 11)
    name_length = literal.body[1]
    return literal.body[6 + name_length :]


def test_make_payload_reproduces_the_containers_image_fixture_byte_for_byte() -> None:
    made = make_payload(DIGEST, "testing/manifest", creator="atomic ", timestamp=1458239713)
    assert made == _fixture_payload("image.signature")


def test_make_payload_key_order_and_escaping_follow_go() -> None:
    made = make_payload(DIGEST, "a.com/x:v1", creator="<a&b> \u2028", timestamp=5)
    assert made == (
        b'{"critical":{"identity":{"docker-reference":"a.com/x:v1"},'
        b'"image":{"docker-manifest-digest":"' + DIGEST.encode() + b'"},'
        b'"type":"atomic container signature"},'
        b'"optional":{"creator":"\\u003ca\\u0026b\\u003e \\u2028","timestamp":5}}'
    )
    assert parse_payload(made).creator == "<a&b> \u2028"


def test_make_payload_omits_absent_optional_fields() -> None:
    assert make_payload(DIGEST, "a.com/x:v1").endswith(b'"optional":{}}')


def test_make_payload_refuses_invalid_digest_and_reference() -> None:
    with pytest.raises(InvalidReference):
        make_payload("sha256:abc", "a.com/x:v1")
    with pytest.raises(InvalidReference):
        make_payload(DIGEST, "A.com/X")
