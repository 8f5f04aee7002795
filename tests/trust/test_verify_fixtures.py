"""The containers/image fixtures reach the verdicts their README states."""

from __future__ import annotations

import hashlib
import pickle
from datetime import UTC, datetime

import pytest

from imagesig.trust import (
    MatchExact,
    Reason,
    Status,
    TrustedKeys,
    check_image,
    parse_reference,
    verify_signature,
)
from imagesig.trust.identity import MatchRepoDigestOrExact

from .conftest import FIXTURES, fixture_bytes

KEY_FPR = "08CD26E446E2E95249B7A405E932F44B23E8DD43"
FIXTURE_DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"


@pytest.fixture(scope="module")
def keys() -> TrustedKeys:
    return TrustedKeys.from_path(FIXTURES / "public-key.gpg")


@pytest.fixture(scope="module")
def wrong_keys() -> TrustedKeys:
    return TrustedKeys.from_path(FIXTURES / "public-key-2.gpg")


def test_manifest_digest_is_the_one_the_readme_states() -> None:
    digest = "sha256:" + hashlib.sha256(fixture_bytes("image.manifest.json")).hexdigest()
    assert digest == FIXTURE_DIGEST


def test_image_signature_is_trusted_with_its_payload_fields(keys: TrustedKeys) -> None:
    verdict = verify_signature(fixture_bytes("image.signature"), keys)
    assert verdict.status is Status.TRUSTED
    assert verdict.reason is None
    assert verdict.signer_fingerprint == KEY_FPR
    assert verdict.key_id == "E932F44B23E8DD43"
    assert verdict.signer_user_id == "skopeo testing key"
    assert verdict.signature_created == datetime(2025, 6, 23, 19, 22, 9, tzinfo=UTC)
    assert (verdict.expired, verdict.revoked) == (False, False)
    payload = verdict.payload
    assert payload is not None
    assert payload.docker_reference == "testing/manifest"
    assert payload.manifest_digest == FIXTURE_DIGEST
    assert payload.creator == "atomic "
    assert payload.timestamp == 1458239713


def test_no_optional_fields_signature_is_trusted_with_empty_optional(keys: TrustedKeys) -> None:
    verdict = verify_signature(fixture_bytes("no-optional-fields.signature"), keys)
    assert verdict.status is Status.TRUSTED
    assert verdict.payload is not None
    assert verdict.payload.docker_reference == "testing/manifest"
    assert verdict.payload.manifest_digest == FIXTURE_DIGEST
    assert (verdict.payload.creator, verdict.payload.timestamp) == (None, None)
    assert verdict.payload.raw["optional"] == {}


def test_invalid_blob_verifies_but_is_rejected_as_a_malformed_payload(keys: TrustedKeys) -> None:
    verdict = verify_signature(fixture_bytes("invalid-blob.signature"), keys)
    assert verdict.status is Status.UNTRUSTED
    assert verdict.reason is Reason.MALFORMED_PAYLOAD
    assert verdict.signer_fingerprint == KEY_FPR  # the OpenPGP layer did verify
    assert verdict.payload is None
    assert "not valid JSON" in verdict.message


def test_corrupt_signature_is_a_bad_signature_and_exposes_no_payload(keys: TrustedKeys) -> None:
    verdict = verify_signature(fixture_bytes("corrupt.signature"), keys)
    assert verdict.status is Status.UNTRUSTED
    assert verdict.reason is Reason.BAD_SIGNATURE
    assert verdict.payload is None
    assert verdict.signer_fingerprint is None
    assert verdict.key_id == "E932F44B23E8DD43"


def test_unknown_key_signature_names_the_unknown_key(keys: TrustedKeys) -> None:
    verdict = verify_signature(fixture_bytes("unknown-key.signature"), keys)
    assert verdict.status is Status.UNTRUSTED
    assert verdict.reason is Reason.UNKNOWN_KEY
    assert verdict.key_id == "5F9470E3BC6C3B55"
    assert "signed by unknown key 5F9470E3BC6C3B55" in verdict.message


@pytest.mark.parametrize(
    "name",
    [
        "image.signature",
        "no-optional-fields.signature",
        "invalid-blob.signature",
        "dir-img-valid/signature-1",
    ],
)
def test_wrong_key_as_the_only_trusted_key_gives_unknown_key(
    wrong_keys: TrustedKeys, name: str
) -> None:
    verdict = verify_signature(fixture_bytes(name), wrong_keys)
    assert verdict.status is Status.UNTRUSTED
    assert verdict.reason is Reason.UNKNOWN_KEY
    assert "E932F44B23E8DD43" in verdict.message


def test_tagged_simple_signing_format_is_unwrapped(keys: TrustedKeys) -> None:
    blob = b"\x00simple-signing\n" + fixture_bytes("image.signature")
    assert verify_signature(blob, keys).status is Status.TRUSTED


def test_verdicts_survive_pickling(keys: TrustedKeys) -> None:
    for name in ("image.signature", "corrupt.signature", "unknown-key.signature"):
        verdict = verify_signature(fixture_bytes(name), keys)
        assert pickle.loads(pickle.dumps(verdict)) == verdict


def _dir_image(folder: str) -> tuple[str, list[bytes]]:
    path = FIXTURES / folder
    digest = "sha256:" + hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    signatures = [p.read_bytes() for p in sorted(path.glob("signature-*"))]
    return digest, signatures


def _allowed(folder: str, image: str, keys: TrustedKeys) -> bool:
    """A signedBy requirement with matchExact: at least one signature must be accepted."""
    digest, signatures = _dir_image(folder)
    reference = parse_reference(image)
    return any(
        check_image(verify_signature(s, keys), digest, reference, MatchExact()).accepted
        for s in signatures
    )


def test_dir_img_valid_is_allowed_as_latest(keys: TrustedKeys) -> None:
    assert _allowed("dir-img-valid", "testing/manifest:latest", keys)


def test_dir_img_valid_is_rejected_as_notlatest(keys: TrustedKeys) -> None:
    digest, (signature,) = _dir_image("dir-img-valid")
    check = check_image(
        verify_signature(signature, keys),
        digest,
        parse_reference("testing/manifest:notlatest"),
        MatchExact(),
    )
    assert not check.accepted
    assert check.reason is Reason.IDENTITY_MISMATCH
    assert check.digest_matches
    assert not check.identity_matches


def test_dir_img_unsigned_has_no_signature_to_accept(keys: TrustedKeys) -> None:
    _digest, signatures = _dir_image("dir-img-unsigned")
    assert signatures == []
    assert not _allowed("dir-img-unsigned", "testing/manifest:latest", keys)


def test_dir_img_modified_manifest_is_a_digest_mismatch(keys: TrustedKeys) -> None:
    digest, (signature,) = _dir_image("dir-img-modified-manifest")
    verdict = verify_signature(signature, keys)
    assert verdict.status is Status.TRUSTED  # the signature itself is fine
    check = check_image(verdict, digest, parse_reference("testing/manifest:latest"), MatchExact())
    assert not check.accepted
    assert check.reason is Reason.DIGEST_MISMATCH
    assert digest != FIXTURE_DIGEST


def test_image_signature_name_only_identity_does_not_match_latest(keys: TrustedKeys) -> None:
    verdict = verify_signature(fixture_bytes("image.signature"), keys)
    latest = parse_reference("testing/manifest:latest")
    assert not check_image(verdict, FIXTURE_DIGEST, latest, MatchExact()).accepted
    assert not check_image(verdict, FIXTURE_DIGEST, latest, MatchRepoDigestOrExact()).accepted


def test_untrusted_verdict_never_covers_an_image(keys: TrustedKeys) -> None:
    verdict = verify_signature(fixture_bytes("corrupt.signature"), keys)
    check = check_image(verdict, FIXTURE_DIGEST, parse_reference("testing/manifest"))
    assert not check.accepted
    assert check.reason is Reason.BAD_SIGNATURE
