"""The validation peer cases of OKD's own suite (api.md section 11), on the rules directly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imagesig.api.types import (
    ImageSignature,
    ObjectMeta,
    SignatureCondition,
    SignatureIssuer,
    SignatureSubject,
)
from imagesig.registry.signature_rules import split_name, validate_signature


def sig(name: str = "imgname@valid", **kw: object) -> ImageSignature:
    fields: dict[str, object] = {"type": "atomic", "content": b"blob"}
    fields.update(kw)
    return ImageSignature(metadata=ObjectMeta(name=name), **fields)  # type: ignore[arg-type]


def cond(type_: str, status: str = "True", probe: int | None = None) -> SignatureCondition:
    t = datetime.fromtimestamp(probe, UTC) if probe is not None else None
    return SignatureCondition(type=type_, status=status, last_probe_time=t)


def summary(s: ImageSignature) -> list[tuple[str, str]]:
    return [(e.type, e.field) for e in validate_signature(s)]


def test_valid_signature_passes() -> None:
    assert summary(sig()) == []


def test_trusted_and_for_image_with_identity_passes() -> None:
    s = sig(conditions=[cond("Trusted"), cond("ForImage")], image_identity="registry/ns/app:1")
    assert summary(s) == []


def test_repeated_condition_types_pass() -> None:
    s = sig(conditions=[cond("Trusted"), cond("ForImage", "False"), cond("Trusted", "False")])
    assert summary(s) == []


def test_missing_type_and_bad_name() -> None:
    s = sig(name="notype", type="")
    assert summary(s) == [
        ("FieldValueInvalid", "metadata.name"),
        ("FieldValueRequired", "type"),
    ]


def test_missing_content() -> None:
    assert summary(sig(content=b"")) == [("FieldValueRequired", "content")]


def test_only_trusted_condition_misses_for_image() -> None:
    errors = validate_signature(sig(conditions=[cond("Trusted")]))
    assert [(e.field, e.detail) for e in errors] == [
        ("conditions", 'missing "ForImage" condition type')
    ]


def test_only_for_image_condition_misses_trusted() -> None:
    errors = validate_signature(sig(conditions=[cond("ForImage")]))
    assert [e.detail for e in errors] == ['missing "Trusted" condition type']


def test_labels_and_annotations_are_forbidden() -> None:
    s = sig()
    s.metadata.labels = {"a": "b"}
    s.metadata.annotations = {"c": "d"}
    errors = validate_signature(s)
    assert [(e.type, e.field, e.detail) for e in errors] == [
        ("FieldValueForbidden", "metadata.labels", "signature labels cannot be set"),
        ("FieldValueForbidden", "metadata.annotations", "signature annotations cannot be set"),
    ]


def test_unknown_trust_forbids_derived_fields_in_field_order() -> None:
    s = sig(
        conditions=[cond("Trusted", "Unknown"), cond("ForImage", "Unknown")],
        image_identity="registry/ns/app:1",
        signed_claims={"creator": "x"},
        issued_by=SignatureIssuer(organization="org"),
        issued_to=SignatureSubject(public_key_id="ABCD"),
    )
    errors = validate_signature(s)
    assert [(e.type, e.field) for e in errors] == [
        ("FieldValueInvalid", "imageIdentity"),
        ("FieldValueInvalid", "signedClaims"),
        ("FieldValueInvalid", "issuedBy"),
        ("FieldValueInvalid", "issuedTo"),
    ]
    assert all(e.detail == "must be unset for unknown signature state" for e in errors)


def test_no_trusted_condition_forbids_derived_fields() -> None:
    errors = validate_signature(sig(image_identity="x"))
    assert [(e.field, e.detail) for e in errors] == [
        ("imageIdentity", "must be unset for unknown signature state")
    ]


def test_latest_probe_time_decides_between_conditions_of_one_type() -> None:
    # The newest Trusted is Unknown, so derived fields are invalid even though an
    # older Trusted=True exists; unknown condition types never crash the selection.
    s = sig(
        conditions=[
            cond("Trusted", "True", probe=100),
            cond("Trusted", "Unknown", probe=200),
            cond("ForImage", "True", probe=100),
            cond("SomethingElse", "True"),
        ],
        image_identity="x",
    )
    assert [e.field for e in validate_signature(s)] == ["imageIdentity"]


def test_name_is_required() -> None:
    errors = validate_signature(sig(name=""))
    assert [(e.type, e.field, e.detail) for e in errors] == [
        ("FieldValueRequired", "metadata.name", "name or generateName is required")
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("img@a/b", "may not contain '/'"),
        ("img@a%b", "may not contain '%'"),
        (".", "may not be '.'"),
        ("..", "may not be '..'"),
    ],
)
def test_name_must_be_a_path_segment(name: str, problem: str) -> None:
    assert problem in [e.detail for e in validate_signature(sig(name=name))]


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("sha256:abc@0123", ("sha256:abc", "0123")),
        ("img@", None),
        ("@sig", None),
        ("img", None),
        ("a@b@c", None),
    ],
)
def test_split_name(name: str, parts: tuple[str, str] | None) -> None:
    assert split_name(name) == parts


def test_paths_inside_an_image_are_prefixed() -> None:
    errors = validate_signature(sig(content=b""), "signatures[2]")
    assert [e.field for e in errors] == ["signatures[2].content"]
