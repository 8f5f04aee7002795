"""The Kubernetes protobuf codec: lossless round trips, Go's bytes, strict decoding."""

from __future__ import annotations

import base64
import copy
import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagesig.api import protobuf
from imagesig.api.proto import image_pb2, meta_pb2, runtime_pb2
from imagesig.api.protobuf import ProtobufError, decode, encode

API = "image.openshift.io/v1"
ALL_BYTES = base64.b64encode(bytes(range(256))).decode()  # every byte value, 0..255


def _empty_meta() -> dict[str, Any]:
    return {"creationTimestamp": None}


FULL_META: dict[str, Any] = {
    "name": "sha256:4a1c@0f2e",
    "generateName": "gen-",
    "namespace": "ns",
    "selfLink": "/apis/image.openshift.io/v1/imagesignatures/sha256:4a1c@0f2e",
    "uid": "6a1e9f1c-0000-4000-8000-000000000001",
    "resourceVersion": "42",
    "generation": 7,
    "creationTimestamp": "2018-06-01T12:00:00Z",
    "deletionTimestamp": "2018-06-02T00:00:01Z",
    "deletionGracePeriodSeconds": 0,
    "labels": {"b": "2", "a": "1", "": "empty key", "ünï": "cödé"},
    "annotations": {"image.openshift.io/managed-signature": "true", "z": ""},
    "ownerReferences": [
        {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u1", "controller": True},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": "q",
            "uid": "u2",
            "controller": False,
            "blockOwnerDeletion": True,
        },
        {"apiVersion": "", "kind": "", "name": "", "uid": ""},
    ],
    "finalizers": ["a/b", "c"],
    "clusterName": "c1",
    "initializers": {
        "pending": [{"name": "init.example.com"}, {"name": ""}],
        "result": {
            "metadata": {"resourceVersion": "1"},
            "status": "Failure",
            "code": 500,
            "details": {"causes": [{"reason": "r"}]},
        },
    },
}

FULL_SIGNATURE: dict[str, Any] = {
    "metadata": FULL_META,
    "type": "atomic",
    "content": ALL_BYTES,
    "conditions": [
        {
            "type": "Trusted",
            "status": "True",
            "lastProbeTime": "2018-06-01T12:00:00Z",
            "lastTransitionTime": "1970-01-01T00:00:00Z",
            "reason": "verified",
            "message": "signed by a trusted key",
        },
        {"type": "ForImage", "status": "True", "lastProbeTime": None, "lastTransitionTime": None},
        {"type": "", "status": "", "lastProbeTime": None, "lastTransitionTime": None},
    ],
    "imageIdentity": "registry.example.com/ns/app:1.0",
    "signedClaims": {"z": "last", "a": "first", "": "", "é": "accent"},
    "created": "2018-06-01T11:59:59Z",
    "issuedBy": {"organization": "Red Hat", "commonName": "signer"},
    "issuedTo": {"organization": "Acme", "commonName": "Bob", "publicKeyID": "0x685ebe62bf278440"},
}

EMPTY_SIGNATURE: dict[str, Any] = {"metadata": _empty_meta(), "type": "", "content": ""}

FULL_IMAGE: dict[str, Any] = {
    "metadata": {**FULL_META, "name": "sha256:4a1c"},
    "dockerImageReference": "registry.example.com/ns/app@sha256:4a1c",
    "dockerImageMetadata": {
        "kind": "DockerImage",
        "apiVersion": "1.0",
        "Id": "sha256:4a1c",
        "Created": "2018-06-01T12:00:00Z",
        "Size": 123456789012,
        "Ratio": 0.5,
        "Config": {"Env": ["A=1", "ÜNÏ=☃"], "Labels": None, "Tty": False},
        "Nested": [[], {}, [1, [2, [3]]]],
    },
    "dockerImageMetadataVersion": "1.0",
    "dockerImageManifest": '{"schemaVersion":2}',
    "dockerImageLayers": [
        {"name": "sha256:aa", "size": 300, "mediaType": "application/vnd.oci.image.layer"},
        {"name": "", "size": 0, "mediaType": ""},
        {"name": "huge", "size": 2**62, "mediaType": "m"},
    ],
    "signatures": [FULL_SIGNATURE, EMPTY_SIGNATURE],
    "dockerImageSignatures": [ALL_BYTES, "", "AA=="],
    "dockerImageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "dockerImageConfig": '{"architecture":"amd64"}',
}


def _signature(body: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ImageSignature", "apiVersion": API, **body}


def _image(body: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Image", "apiVersion": API, **body}


ROUND_TRIPS: dict[str, dict[str, Any]] = {
    "empty signature": _signature(EMPTY_SIGNATURE),
    "full signature": _signature(FULL_SIGNATURE),
    "signature with empty issuer and subject": _signature(
        {**EMPTY_SIGNATURE, "issuedBy": {}, "issuedTo": {"publicKeyID": ""}}
    ),
    "signature at the edges of time": _signature(
        {
            **EMPTY_SIGNATURE,
            "metadata": {"creationTimestamp": "0001-01-01T00:00:00Z"},
            "created": "9999-12-31T23:59:59Z",
            "conditions": [
                {
                    "type": "Expired",
                    "status": "True",
                    "lastProbeTime": "1969-12-31T23:59:59Z",
                    "lastTransitionTime": "1970-01-01T00:00:00Z",
                }
            ],
        }
    ),
    "empty image": _image({"metadata": _empty_meta()}),
    "full image": _image(FULL_IMAGE),
    "image with scalar metadata": _image({"metadata": _empty_meta(), "dockerImageMetadata": [1]}),
    "empty image list": {"kind": "ImageList", "apiVersion": API, "metadata": {}, "items": []},
    "image list": {
        "kind": "ImageList",
        "apiVersion": API,
        "metadata": {"selfLink": "/x", "resourceVersion": "9", "continue": "token"},
        "items": [FULL_IMAGE, {"metadata": _empty_meta()}],
    },
    "success status": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"},
    "empty status": {"kind": "Status", "apiVersion": "v1", "metadata": {}},
    "invalid status": {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'ImageSignature.image.openshift.io "x" is invalid: [type: Required value, …]',
        "reason": "Invalid",
        "details": {
            "name": "x",
            "group": "image.openshift.io",
            "kind": "ImageSignature",
            "uid": "u",
            "causes": [
                {"reason": "FieldValueRequired", "message": "Required value", "field": "type"},
                {},
            ],
            "retryAfterSeconds": 3,
        },
        "code": 422,
    },
    "status with empty details": {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "details": {},
        "code": -1,
    },
}


@pytest.mark.parametrize("obj", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trip_is_lossless(obj: dict[str, Any]) -> None:
    original = copy.deepcopy(obj)
    data = encode(obj)
    assert data.startswith(b"k8s\x00")
    assert decode(data) == obj
    assert obj == original  # encode does not touch its input


@pytest.mark.parametrize("obj", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_decoded_objects_are_json_shaped(obj: dict[str, Any]) -> None:
    decoded = decode(encode(obj))
    assert json.loads(json.dumps(decoded)) == decoded


def test_content_keeps_all_256_byte_values() -> None:
    decoded = decode(encode(_signature({**EMPTY_SIGNATURE, "content": ALL_BYTES})))
    assert base64.b64decode(decoded["content"]) == bytes(range(256))


def test_encoding_is_deterministic_whatever_the_key_order() -> None:
    reordered = _signature(
        {
            **FULL_SIGNATURE,
            "signedClaims": dict(reversed(list(FULL_SIGNATURE["signedClaims"].items()))),
            "metadata": {
                **FULL_META,
                "labels": dict(sorted(FULL_META["labels"].items(), reverse=True)),
            },
        }
    )
    assert encode(reordered) == encode(_signature(FULL_SIGNATURE))


def test_missing_always_written_fields_decode_as_their_json_form() -> None:
    sparse = {
        "kind": "ImageSignature",
        "apiVersion": API,
        "conditions": [{"type": "Trusted"}],
        "issuedTo": {},
    }
    assert decode(encode(sparse)) == {
        "kind": "ImageSignature",
        "apiVersion": API,
        "metadata": {"creationTimestamp": None},
        "type": "",
        "content": "",
        "conditions": [
            {"type": "Trusted", "status": "", "lastProbeTime": None, "lastTransitionTime": None}
        ],
        "issuedTo": {"publicKeyID": ""},
    }


def test_null_pointer_fields_are_left_out() -> None:
    obj = _signature(
        {
            **EMPTY_SIGNATURE,
            "metadata": {"deletionTimestamp": None, "deletionGracePeriodSeconds": None},
            "created": None,
            "issuedBy": None,
            "issuedTo": None,
        }
    )
    assert decode(encode(obj)) == _signature(EMPTY_SIGNATURE)
    assert encode(obj) == encode(_signature(EMPTY_SIGNATURE))


def test_times_are_normalized_to_utc_whole_seconds() -> None:
    obj = _signature(
        {
            **EMPTY_SIGNATURE,
            "metadata": {"creationTimestamp": "2018-06-01T14:00:00.999+02:00"},
            "created": "2018-06-01t11:00:00-01:00",
        }
    )
    decoded = decode(encode(obj))
    assert decoded["metadata"]["creationTimestamp"] == "2018-06-01T12:00:00Z"
    assert decoded["created"] == "2018-06-01T12:00:00Z"


# --- golden bytes, worked out by hand from the field numbers (api.md §9) ---------------


def _hex(*lines: str) -> bytes:
    return bytes.fromhex("".join(lines))


def _text(s: str) -> str:
    return s.encode().hex()


ENVELOPE_STATUS = "".join(
    [
        "6b 38 73 00",  # magic "k8s\0"
        "0a 0c",  # Unknown 1 typeMeta, 12 bytes
        "0a 02" + _text("v1"),  #   TypeMeta 1 apiVersion
        "12 06" + _text("Status"),  #   TypeMeta 2 kind
    ]
)
ENVELOPE_SIGNATURE = "".join(
    [
        "6b 38 73 00",  # magic
        "0a 27",  # Unknown 1 typeMeta, 39 bytes
        "0a 15" + _text("image.openshift.io/v1"),  #   apiVersion, 21 bytes
        "12 0e" + _text("ImageSignature"),  #   kind, 14 bytes
    ]
)
ENVELOPE_END = "".join(
    [
        "1a 00",  # Unknown 3 contentEncoding ""
        "22 00",  # Unknown 4 contentType ""
    ]
)
# ObjectMeta with every by-value field empty: 18 bytes.
EMPTY_OBJECT_META = (
    "0a 00"  # 1 name
    "12 00"  # 2 generateName
    "1a 00"  # 3 namespace
    "22 00"  # 4 selfLink
    "2a 00"  # 5 uid
    "32 00"  # 6 resourceVersion
    "38 00"  # 7 generation 0 (varint)
    "42 00"  # 8 creationTimestamp, the zero Time (empty message)
    "7a 00"  # 15 clusterName
)
# 2018-06-01T12:00:00Z = 1527854400 s = 0x5B113540, varint groups of 7 bits low first:
# 0x40|0x80, 0x6A|0x80, 0x44|0x80, 0x58|0x80, 0x05.
TIME_2018 = "08 c0 ea c4 d8 05"  # Time 1 seconds (nanos never written), 6 bytes


def test_golden_status_not_found() -> None:
    obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'images.image.openshift.io "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "group": "image.openshift.io", "kind": "images"},
        "code": 404,
    }
    expected = _hex(
        ENVELOPE_STATUS,
        "12 6c",  # Unknown 2 raw, 108 bytes of Status:
        "0a 06",  #   1 metadata (ListMeta), 6 bytes
        "0a 00 12 00 1a 00",  #     selfLink, resourceVersion, continue: all ""
        "12 07" + _text("Failure"),  #   2 status
        "1a 27" + _text('images.image.openshift.io "x" not found'),  #   3 message, 39 bytes
        "22 08" + _text("NotFound"),  #   4 reason
        "2a 23",  #   5 details, 35 bytes:
        "0a 01" + _text("x"),  #     1 name
        "12 12" + _text("image.openshift.io"),  #     2 group, 18 bytes
        "1a 06" + _text("images"),  #     3 kind
        "28 00",  #     5 retryAfterSeconds 0 (by value, always written)
        "32 00",  #     6 uid ""
        "30 94 03",  #   6 code 404 = 0b11_0010100 -> 0x94 0x03
        ENVELOPE_END,
    )
    assert encode(obj) == expected
    assert decode(expected) == obj


def test_golden_signature_with_name_type_and_content() -> None:
    obj = _signature(
        {"metadata": {"name": "i@s"}, "type": "atomic", "content": "AAH/"}  # bytes 00 01 ff
    )
    expected = _hex(
        ENVELOPE_SIGNATURE,
        "12 26",  # Unknown 2 raw, 38 bytes of ImageSignature:
        "0a 15",  #   1 metadata, 21 bytes
        "0a 03" + _text("i@s"),  #     1 name
        "12 00 1a 00 22 00 2a 00 32 00",  #     2-6 generateName..resourceVersion ""
        "38 00",  #     7 generation 0
        "42 00",  #     8 creationTimestamp, zero Time
        "7a 00",  #     15 clusterName ""
        "12 06" + _text("atomic"),  #   2 type
        "1a 03 00 01 ff",  #   3 content
        "2a 00",  #   5 imageIdentity "" (no conditions, claims or pointers)
        ENVELOPE_END,
    )
    assert encode(obj) == expected
    assert decode(expected) == {**obj, "metadata": {"name": "i@s", "creationTimestamp": None}}


def test_golden_signature_with_condition_sorted_claims_time_and_subject() -> None:
    obj = _signature(
        {
            "metadata": {},
            "type": "t",
            "content": "",
            "conditions": [
                {
                    "type": "Trusted",
                    "status": "True",
                    "lastProbeTime": "2018-06-01T12:00:00Z",
                    "lastTransitionTime": None,
                }
            ],
            "signedClaims": {"b": "2", "a": "1"},
            "created": "2018-06-01T12:00:00Z",
            "issuedTo": {"publicKeyID": ""},
        }
    )
    expected = _hex(
        ENVELOPE_SIGNATURE,
        "12 5c",  # Unknown 2 raw, 92 bytes of ImageSignature:
        "0a 12" + EMPTY_OBJECT_META,  #   1 metadata, 18 bytes
        "12 01" + _text("t"),  #   2 type
        "1a 00",  #   3 content: empty but present
        "22 1d",  #   4 conditions[0], 29 bytes:
        "0a 07" + _text("Trusted"),  #     1 type
        "12 04" + _text("True"),  #     2 status
        "1a 06" + TIME_2018,  #     3 lastProbeTime
        "22 00",  #     4 lastTransitionTime, zero Time
        "2a 00",  #     5 reason
        "32 00",  #     6 message
        "2a 00",  #   5 imageIdentity
        "32 06 0a 01" + _text("a") + "12 01" + _text("1"),  #   6 signedClaims "a" first
        "32 06 0a 01" + _text("b") + "12 01" + _text("2"),  #   6 signedClaims "b"
        "3a 06" + TIME_2018,  #   7 created
        "4a 08",  #   9 issuedTo, 8 bytes:
        "0a 04 0a 00 12 00",  #     1 signatureGenericEntity {organization, commonName}
        "12 00",  #     2 publicKeyID
        ENVELOPE_END,
    )
    assert encode(obj) == expected
    decoded = decode(expected)
    assert decoded == {**obj, "metadata": {"creationTimestamp": None}}


def test_golden_image_with_a_layer_size() -> None:
    obj = _image(
        {
            "metadata": {"name": "a"},
            "dockerImageLayers": [{"name": "l", "size": 300, "mediaType": "m"}],
        }
    )
    expected = _hex(
        "6b 38 73 00",  # magic
        "0a 1e",  # Unknown 1 typeMeta, 30 bytes
        "0a 15" + _text(API),  #   apiVersion
        "12 05" + _text("Image"),  #   kind
        "12 2c",  # Unknown 2 raw, 44 bytes of Image:
        "0a 13",  #   1 metadata, 19 bytes
        "0a 01" + _text("a"),  #     1 name
        "12 00 1a 00 22 00 2a 00 32 00 38 00 42 00 7a 00",  #     the empty by-value fields
        "12 00",  #   2 dockerImageReference
        "1a 00",  #   3 dockerImageMetadata: RawExtension by value, no raw
        "22 00",  #   4 dockerImageMetadataVersion
        "2a 00",  #   5 dockerImageManifest
        "32 09",  #   6 dockerImageLayers[0], 9 bytes:
        "0a 01" + _text("l"),  #     1 name
        "10 ac 02",  #     2 size 300 = 0b10_0101100 -> 0xac 0x02
        "1a 01" + _text("m"),  #     3 mediaType
        "4a 00",  #   9 dockerImageManifestMediaType
        "52 00",  #   10 dockerImageConfig
        ENVELOPE_END,
    )
    assert encode(obj) == expected
    assert decode(expected) == {**obj, "metadata": {"name": "a", "creationTimestamp": None}}


def _envelope(
    kind: str,
    api_version: str,
    raw: bytes | None,
    content_encoding: str = "",
    content_type: str = "",
) -> bytes:
    unknown = runtime_pb2.Unknown(contentEncoding=content_encoding, contentType=content_type)
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    if raw is not None:
        unknown.raw = raw
    return b"k8s\x00" + unknown.SerializeToString()


def test_go_writes_nanos_zero_and_it_reads_the_same() -> None:
    # Go's Timestamp marshaller writes `nanos: 0`, and old servers wrote real nanos.
    raw = _hex("3a 08", TIME_2018, "10 00")  # created {seconds, nanos 0}
    assert decode(_envelope("ImageSignature", API, raw))["created"] == "2018-06-01T12:00:00Z"
    # metadata {creationTimestamp {seconds, nanos 999 = 0b111_1100111 -> 0xe7 0x07}}
    raw = _hex("0a 0b 42 09", TIME_2018, "10 e7 07")
    decoded = decode(_envelope("ImageSignature", API, raw))
    assert decoded["metadata"]["creationTimestamp"] == "2018-06-01T12:00:00Z"


def test_go_writes_map_entries_in_any_order_and_the_last_duplicate_wins() -> None:
    raw = _hex(
        "32 06 0a 01" + _text("b") + "12 01" + _text("1"),
        "32 06 0a 01" + _text("a") + "12 01" + _text("1"),
        "32 06 0a 01" + _text("b") + "12 01" + _text("2"),
        "32 02 12 00",  # an entry without its key: key ""
    )
    decoded = decode(_envelope("ImageSignature", API, raw))
    assert decoded["signedClaims"] == {"a": "1", "b": "2", "": ""}


def test_fields_of_newer_api_versions_are_ignored() -> None:
    raw = _hex(
        "0a 08 0a 01" + _text("n"),  # metadata: name "n", then
        "8a 01 02 0a 00",  #   17 managedFields-like message
        "12 01" + _text("t"),  # type
        "f8 07 01",  # field 127, varint
    )
    decoded = decode(_envelope("ImageSignature", API, raw))
    assert decoded["metadata"] == {"name": "n", "creationTimestamp": None}
    assert decoded["type"] == "t"


def test_decoded_keys_follow_kind_and_api_version() -> None:
    decoded = decode(encode(_image(FULL_IMAGE)))
    assert list(decoded)[:3] == ["kind", "apiVersion", "metadata"]


# --- malformed input ---------------------------------------------------------------------

VALID = encode(_image(FULL_IMAGE))

MALFORMED: dict[str, bytes] = {
    "empty body": b"",
    "bad magic": b"k8t\x00" + VALID[4:],
    "json body": b'{"kind":"Image"}',
    "magic only": b"k8s\x00",
    "truncated envelope": VALID[:40],
    "truncated object": VALID[:-5],
    "truncated varint": b"k8s\x00\x0a\x80",
    "overlong varint": b"k8s\x00\x08" + b"\xff" * 11,
    "end group without start": b"k8s\x00\x0c",
    "wrong wire type for typeMeta": b"k8s\x00\x08\x01",
    "wrong wire type for a nested field": _envelope("Image", API, _hex("0a 02 38 00 0a 02 08 05")),
    "wrong wire type for Time.seconds": _envelope("ImageSignature", API, _hex("3a 05 0d 00000000")),
    "wrong wire type for content": _envelope("ImageSignature", API, _hex("18 01")),
    "unknown kind": _envelope("Foo", API, b"\x0a\x00"),
    "envelope for another type": _envelope("Pod", "v1", b"\x0a\x00"),
    "served kind, wrong apiVersion": _envelope("Image", "v1", b"\x0a\x00"),
    "empty raw": _envelope("Image", API, b""),
    "no raw": _envelope("Image", API, None),
    "raw is not a message": _envelope("Image", API, b"\xff\xff\xff"),
    "invalid UTF-8 in kind": _envelope("Image", API, b"\x0a\x00").replace(b"Image", b"Imag\xff"),
    "invalid UTF-8 in a name": _envelope("Image", API, _hex("0a 03 0a 01 ff")),
    "invalid UTF-8 in a label": _envelope("Image", API, _hex("0a 06 5a 04 0a 02 c3 28")),
    "invalid UTF-8 in a finalizer": _envelope("Image", API, _hex("0a 03 72 01 80")),
    "dockerImageMetadata is not JSON": _envelope("Image", API, _hex("1a 03 0a 01") + b"{"),
    "dockerImageMetadata is not UTF-8": _envelope("Image", API, _hex("1a 05 0a 03") + b'"\xe1"'),
    "dockerImageMetadata nests too deep": _envelope(
        "Image",
        API,
        image_pb2.Image(
            dockerImageMetadata=runtime_pb2.RawExtension(raw=b"[" * 100_000)
        ).SerializeToString(),
    ),
    "time past year 9999": _envelope(
        "ImageSignature",
        API,
        image_pb2.ImageSignature(created=meta_pb2.Time(seconds=253402300800)).SerializeToString(),
    ),
    "time before year 1": _envelope(
        "ImageSignature",
        API,
        image_pb2.ImageSignature(created=meta_pb2.Time(seconds=-62135596801)).SerializeToString(),
    ),
    "gzip content encoding": _envelope("Image", API, b"\x0a\x00", content_encoding="gzip"),
    "json content type": _envelope("Image", API, b"\x0a\x00", content_type="application/json"),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_is_a_protobuf_error(data: bytes) -> None:
    with pytest.raises(ProtobufError, match=r"^protobuf: "):
        decode(data)


def test_error_messages_name_the_problem() -> None:
    with pytest.raises(ProtobufError, match='unknown kind "Foo" in envelope'):
        decode(MALFORMED["unknown kind"])
    with pytest.raises(ProtobufError, match='unknown kind "Pod" in envelope'):
        decode(MALFORMED["envelope for another type"])
    with pytest.raises(ProtobufError, match="magic"):
        decode(MALFORMED["bad magic"])
    with pytest.raises(ProtobufError, match=r"wrong wire type 0 for field ObjectMeta\.name"):
        decode(MALFORMED["wrong wire type for a nested field"])
    with pytest.raises(ProtobufError, match=r"ObjectMeta\.name is not valid UTF-8"):
        decode(MALFORMED["invalid UTF-8 in a name"])
    with pytest.raises(ProtobufError, match="carries no object"):
        decode(MALFORMED["empty raw"])


def _deep(depth: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(depth):
        nested = [nested]
    return nested


BAD_OBJECTS: dict[str, dict[str, Any]] = {
    "no kind": {"apiVersion": API, "metadata": {}},
    "unknown kind": {"kind": "Pod", "apiVersion": "v1"},
    "wrong apiVersion": {"kind": "ImageSignature", "apiVersion": "v1"},
    "content not base64": _signature({"content": "not base64!"}),
    "content without padding": _signature({"content": "AA"}),
    "time not RFC 3339": _signature({"created": "June 1st"}),
    "time without zone": _signature({"created": "2018-06-01T12:00:00"}),
    "impossible date": _signature({"created": "2018-02-30T12:00:00Z"}),
    "zone offset out of range": _signature({"created": "2018-06-01T12:00:00+24:00"}),
    "before year 1 in UTC": _signature({"created": "0001-01-01T00:00:00+00:01"}),
    "non-ASCII digits": _signature({"created": "\uff12\uff1018-06-01T12:00:00Z"}),
    "metadata nests too deep": _image({"dockerImageMetadata": _deep(100_000)}),
    "name not a string": _signature({"metadata": {"name": 5}}),
    "labels not a map": _signature({"metadata": {"labels": ["a"]}}),
    "metadata not JSON-able": _image({"dockerImageMetadata": {"k": object()}}),
    "lone surrogate": _signature({"type": "\ud800"}),
}


@pytest.mark.parametrize("obj", BAD_OBJECTS.values(), ids=BAD_OBJECTS.keys())
def test_unencodable_objects_are_a_protobuf_error(obj: dict[str, Any]) -> None:
    with pytest.raises(ProtobufError, match=r"^protobuf: "):
        encode(obj)


# --- fuzzing -----------------------------------------------------------------------------

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _decode_or_error(data: bytes) -> dict[str, Any] | None:
    try:
        decoded = decode(data)
    except ProtobufError:
        return None
    # What decodes is a JSON-shaped object that encodes and decodes to itself.
    assert decode(encode(decoded)) == decoded
    return decoded


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_protobuf_error(data: bytes) -> None:
    _decode_or_error(data)
    _decode_or_error(b"k8s\x00" + data)


SEEDS = [encode(obj) for obj in ROUND_TRIPS.values()]


def _mutate(draw: st.DrawFn, data: bytearray, start: int) -> bytes:
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(start, max(start, len(data) - 1)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            if position < len(data):
                data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        else:
            del data[position:]
    return bytes(data)


@st.composite
def _mutated_bodies(draw: st.DrawFn) -> bytes:
    return _mutate(draw, bytearray(draw(st.sampled_from(SEEDS))), 4)


@st.composite
def _mutated_objects(draw: st.DrawFn) -> bytes:
    """A well-formed envelope around a mutated object, to reach the object parsers."""
    envelope = runtime_pb2.Unknown.FromString(draw(st.sampled_from(SEEDS))[4:])
    envelope.raw = _mutate(draw, bytearray(envelope.raw), 0)
    return b"k8s\x00" + envelope.SerializeToString()


@FUZZ
@given(_mutated_bodies())
def test_mutated_bodies_only_raise_protobuf_error(data: bytes) -> None:
    _decode_or_error(data)


@FUZZ
@given(_mutated_objects())
def test_mutated_objects_only_raise_protobuf_error(data: bytes) -> None:
    _decode_or_error(data)


# --- generated code ----------------------------------------------------------------------

PROTO_DIR = pathlib.Path(protobuf.__file__).parent / "proto"
# mk/proto.mk puts this line first in every stub (see there why).
STUB_HEADER = b'# mypy: disable-error-code="type-arg,no-untyped-def"\n'


def test_generated_modules_match_the_proto_files(tmp_path: pathlib.Path) -> None:
    src = PROTO_DIR.parents[2]
    protos = sorted(PROTO_DIR.glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{src}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            *map(str, protos),
        ],
        check=True,
    )
    for proto in protos:
        for suffix, header in (("_pb2.py", b""), ("_pb2.pyi", STUB_HEADER)):
            name = proto.stem + suffix
            generated = (tmp_path / "imagesig" / "api" / "proto" / name).read_bytes()
            assert (PROTO_DIR / name).read_bytes() == header + generated, (
                f"{name} is stale: run `make proto`"
            )


def test_descriptors_carry_the_go_package_names() -> None:
    assert image_pb2.ImageSignature.DESCRIPTOR.full_name == (
        "github.com.openshift.api.image.v1.ImageSignature"
    )
    assert (
        meta_pb2.ObjectMeta.DESCRIPTOR.full_name
        == "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    assert runtime_pb2.Unknown.DESCRIPTOR.full_name == "k8s.io.apimachinery.pkg.runtime.Unknown"
    assert image_pb2.ImageSignature.SignedClaimsEntry.DESCRIPTOR.full_name == (
        "github.com.openshift.api.image.v1.ImageSignature.SignedClaimsEntry"
    )
