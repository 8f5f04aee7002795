"""Signatures made here with gpg or by hand reach the verdicts signatures.md §2 requires."""

from __future__ import annotations

import json
import os
import random
import time
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagesig.trust import Reason, Status, TrustedKeys, Verdict, verify_signature
from imagesig.trust.packets import MAX_INFLATED_SIZE

from . import openpgp_build as build
from .conftest import PAYLOAD, World, fixture_bytes

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def signer_keys(world: World) -> TrustedKeys:
    return world.keys(world.signer)


def _verdict(blob: bytes, keys: TrustedKeys) -> Verdict:
    return verify_signature(blob, keys)


# --- who signed -------------------------------------------------------------------


def test_signing_subkey_of_trusted_primary_is_trusted_as_the_primary(world: World) -> None:
    blob = world.gpg.sign(PAYLOAD, world.split_sub + "!")
    verdict = _verdict(blob, world.keys(world.split))
    assert verdict.status is Status.TRUSTED, verdict.message
    assert verdict.signer_fingerprint == world.split
    assert verdict.key_id == world.split_sub[-16:]
    assert verdict.signer_user_id == "Split Key <split@example.invalid>"


def test_signature_by_revoked_subkey_is_rejected_as_revoked(world: World) -> None:
    verdict = _verdict(world.signatures["revoked_subkey"], world.keys(world.split))
    assert verdict.status is Status.UNTRUSTED
    assert verdict.reason is Reason.REVOKED_KEY
    assert verdict.revoked
    assert verdict.signer_fingerprint == world.split
    assert world.split_revoked[-16:] in verdict.message
    assert verdict.payload is None


def test_signature_by_other_subkey_of_cert_with_revoked_subkey_is_trusted(world: World) -> None:
    blob = world.gpg.sign(PAYLOAD, world.split_sub + "!")
    assert _verdict(blob, world.keys(world.split)).status is Status.TRUSTED


def test_signature_by_untrusted_key_is_unknown_key(world: World) -> None:
    blob = world.gpg.sign(PAYLOAD, world.signer)
    verdict = _verdict(blob, world.keys(world.other))
    assert verdict.reason is Reason.UNKNOWN_KEY
    assert f"signed by unknown key {world.signer[-16:]}" in verdict.message


# --- when -------------------------------------------------------------------------


def test_expired_signature_is_rejected_as_expired(world: World, signer_keys: TrustedKeys) -> None:
    verdict = _verdict(world.signatures["expired_signature"], signer_keys)
    assert verdict.reason is Reason.EXPIRED_SIGNATURE
    assert verdict.expired
    assert verdict.signature_expires == datetime(2021, 1, 3, tzinfo=UTC)


def test_signature_made_after_key_expired_is_rejected_as_expired_key(world: World) -> None:
    verdict = _verdict(world.signatures["made_after_key_expired"], world.keys(world.late_expiry))
    assert verdict.reason is Reason.EXPIRED_KEY
    assert verdict.expired


def test_signature_made_while_key_was_alive_stays_trusted_after_key_expiry(world: World) -> None:
    verdict = _verdict(world.signatures["made_while_key_alive"], world.keys(world.short_lived))
    assert verdict.status is Status.TRUSTED, verdict.message
    assert verdict.signature_created == datetime(2021, 1, 1, 1, tzinfo=UTC)


def test_explicit_now_judges_signature_expiry(world: World, signer_keys: TrustedKeys) -> None:
    blob = world.gpg.sign(PAYLOAD, world.signer, args=("--default-sig-expire", "1d"))
    assert _verdict(blob, signer_keys).status is Status.TRUSTED
    later = datetime.now(UTC) + timedelta(days=2)
    verdict = verify_signature(blob, signer_keys, now=later)
    assert verdict.reason is Reason.EXPIRED_SIGNATURE


# --- V3 signature packets ---------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key(world: World) -> tuple[object, bytes]:
    return build.rsa_private_key(world.gpg.export_secret(world.rsa))


@pytest.mark.parametrize("wrap", [False, True], ids=["bare", "compressed"])
def test_v3_signature_is_trusted(world: World, rsa_key: tuple[object, bytes], wrap: bool) -> None:
    key, key_id = rsa_key
    blob = build.v3_signed_message(key, key_id, PAYLOAD, int(time.time()) - 60)  # type: ignore[arg-type]
    if wrap:
        blob = build.compressed(blob)
    verdict = _verdict(blob, world.keys(world.rsa))
    assert verdict.status is Status.TRUSTED, verdict.message
    assert verdict.signer_fingerprint == world.rsa
    assert verdict.payload is not None


def test_corrupt_v3_signature_is_bad_and_its_payload_is_never_parsed(
    world: World, rsa_key: tuple[object, bytes]
) -> None:
    key, key_id = rsa_key
    blob = build.v3_signed_message(key, key_id, b"not JSON", int(time.time()), corrupt=True)  # type: ignore[arg-type]
    verdict = _verdict(blob, world.keys(world.rsa))
    assert verdict.reason is Reason.BAD_SIGNATURE  # not MALFORMED_PAYLOAD: step 4 never ran


# --- not a signed message ---------------------------------------------------------


def test_gpg_store_output_is_not_a_signed_message(world: World, signer_keys: TrustedKeys) -> None:
    blob = world.gpg.run("--store", stdin=PAYLOAD)  # compressed literal data, no signature
    verdict = _verdict(blob, signer_keys)
    assert verdict.status is Status.UNTRUSTED
    assert verdict.reason is Reason.NOT_SIGNED_MESSAGE
    assert "no signature" in verdict.message


def test_bare_literal_data_is_not_a_signature(world: World, signer_keys: TrustedKeys) -> None:
    blob = world.gpg.run("--store", "-z", "0", stdin=PAYLOAD)
    verdict = _verdict(blob, signer_keys)
    assert verdict.status is Status.NOT_A_SIGNATURE
    assert "literal data" in verdict.message


def test_detached_signature_is_not_a_signed_message(world: World, signer_keys: TrustedKeys) -> None:
    blob = world.gpg.sign(PAYLOAD, world.signer, args=("--detach-sign",))
    verdict = _verdict(blob, signer_keys)
    assert verdict.reason is Reason.NOT_SIGNED_MESSAGE
    assert "detached" in verdict.message


def test_encrypted_data_is_not_a_signature(world: World, signer_keys: TrustedKeys) -> None:
    blob = world.gpg.run(
        "--passphrase", "secret", "--s2k-count", "1024", "--symmetric", stdin=PAYLOAD
    )
    verdict = _verdict(blob, signer_keys)
    assert verdict.status is Status.NOT_A_SIGNATURE
    assert "encrypted session key" in verdict.message


@pytest.mark.parametrize("mode", ["--sign", "--clearsign"])
def test_ascii_armor_is_not_a_signature(world: World, signer_keys: TrustedKeys, mode: str) -> None:
    blob = world.gpg.run("-u", world.signer, "--armor", mode, stdin=PAYLOAD)
    verdict = _verdict(blob, signer_keys)
    assert verdict.status is Status.NOT_A_SIGNATURE
    assert verdict.reason is Reason.UNRECOGNIZED_FORMAT
    assert "armored" in verdict.message


def test_two_signatures_in_one_message_are_rejected(world: World) -> None:
    blob = world.gpg.sign(PAYLOAD, world.signer, world.other)
    verdict = _verdict(blob, world.keys(world.signer, world.other))
    assert verdict.reason is Reason.MULTIPLE_SIGNATURES
    assert verdict.payload is None


def test_nested_compression_is_rejected(world: World, signer_keys: TrustedKeys) -> None:
    inner = build.compressed(world.gpg.sign(PAYLOAD, world.signer, args=("-z", "0")))
    verdict = _verdict(build.compressed(inner), signer_keys)
    assert verdict.reason is Reason.NOT_SIGNED_MESSAGE
    assert "nested compressed" in verdict.message


@pytest.mark.parametrize("algorithm", ["zip", "zlib", "bzip2"])
def test_every_gpg_compression_algorithm_is_trusted(
    world: World, signer_keys: TrustedKeys, algorithm: str
) -> None:
    blob = world.gpg.sign(PAYLOAD, world.signer, args=("--compress-algo", algorithm))
    assert _verdict(blob, signer_keys).status is Status.TRUSTED


def test_uncompressed_signed_message_is_trusted(world: World, signer_keys: TrustedKeys) -> None:
    blob = world.gpg.sign(PAYLOAD, world.signer, args=("-z", "0"))
    assert blob[0] == 0x90  # gpg's one-pass signature header: no compression layer
    assert _verdict(blob, signer_keys).status is Status.TRUSTED


# --- other formats ----------------------------------------------------------------


COSIGN_PAYLOAD = json.dumps(
    {
        "critical": {
            "identity": {"docker-reference": "registry.example.com/ns/app"},
            "image": {"docker-manifest-digest": "sha256:" + "a" * 64},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
).encode()


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"", Reason.UNRECOGNIZED_FORMAT),
        (b"garbage", Reason.UNRECOGNIZED_FORMAT),
        (COSIGN_PAYLOAD, Reason.UNRECOGNIZED_FORMAT),
        (
            b"MEUCIQDmQkU+4ztNFOoS9xjiHfEAO6JCWzTAKkBhJAqo8Vi7qwIgDkUp3Fc4Q6fAyd",
            Reason.UNRECOGNIZED_FORMAT,
        ),
        (b"\x00sigstore-json\n" + COSIGN_PAYLOAD, Reason.SIGSTORE_FORMAT),
        (b"\x00other-format\n\x01", Reason.UNRECOGNIZED_FORMAT),
        (b"\x00simple-signing", Reason.UNRECOGNIZED_FORMAT),
        (b"\x00simple-signing\n", Reason.UNRECOGNIZED_FORMAT),
    ],
    ids=[
        "empty",
        "garbage",
        "cosign-payload",
        "cosign-base64",
        "sigstore",
        "other",
        "no-newline",
        "empty-tagged",
    ],
)
def test_non_simple_signing_blobs_are_not_signatures(
    signer_keys: TrustedKeys, blob: bytes, reason: Reason
) -> None:
    verdict = _verdict(blob, signer_keys)
    assert verdict.status is Status.NOT_A_SIGNATURE
    assert verdict.reason is reason


def test_openpgp_signed_cosign_payload_is_a_malformed_payload(
    world: World, signer_keys: TrustedKeys
) -> None:
    verdict = _verdict(world.gpg.sign(COSIGN_PAYLOAD, world.signer), signer_keys)
    assert verdict.reason is Reason.MALFORMED_PAYLOAD
    assert "cosign" in verdict.message


# --- hostile sizes and bytes ------------------------------------------------------


def test_four_mib_of_random_bytes_behind_a_compressed_header_is_not_a_signed_message(
    signer_keys: TrustedKeys,
) -> None:
    blob = b"\xa3\x01" + random.Random(1).randbytes(4 * MIB)
    assert _verdict(blob, signer_keys).reason is Reason.NOT_SIGNED_MESSAGE


@pytest.mark.parametrize("filler", [b"A", b"\x00", b"\xff"])
def test_four_mib_of_one_byte_is_rejected(signer_keys: TrustedKeys, filler: bytes) -> None:
    verdict = _verdict(filler * (4 * MIB), signer_keys)
    assert verdict.status is not Status.TRUSTED
    assert verdict.reason in (Reason.UNRECOGNIZED_FORMAT, Reason.NOT_SIGNED_MESSAGE)


def test_four_mib_signed_payload_is_verified_then_rejected_as_payload(
    world: World, signer_keys: TrustedKeys
) -> None:
    blob = world.gpg.sign(os.urandom(4 * MIB), world.signer)
    verdict = _verdict(blob, signer_keys)
    assert verdict.reason is Reason.MALFORMED_PAYLOAD


def test_compression_bomb_is_rejected_without_inflating_it(signer_keys: TrustedKeys) -> None:
    header = b"\xcb\xff" + (MAX_INFLATED_SIZE * 4).to_bytes(4, "big") + b"b\x00\x00\x00\x00\x00"
    chunk = b"\x00" * MIB
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(header) + b"".join(deflate.compress(chunk) for _ in range(32))
    blob = b"\xa3\x01" + body + deflate.flush()
    assert len(blob) < MIB
    verdict = _verdict(blob, signer_keys)
    assert verdict.reason is Reason.NOT_SIGNED_MESSAGE
    assert "inflates beyond" in verdict.message


FIXTURE_KEYS = TrustedKeys.from_bytes(fixture_bytes("public-key.gpg"))


def test_every_truncation_of_a_good_signature_is_rejected() -> None:
    keys = FIXTURE_KEYS
    good = fixture_bytes("image.signature")
    for end in range(len(good)):
        assert verify_signature(good[:end], keys).status is not Status.TRUSTED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(min_value=0, max_value=700),
    value=st.integers(min_value=0, max_value=255),
    prefix=st.sampled_from([b"", b"\x00simple-signing\n"]),
)
def test_single_byte_corruption_never_raises_and_never_trusts_changed_data(
    position: int, value: int, prefix: bytes
) -> None:
    keys = FIXTURE_KEYS
    good = fixture_bytes("image.signature")
    position %= len(good)
    mutated = good[:position] + bytes([value]) + good[position + 1 :]
    verdict = verify_signature(prefix + mutated, keys)
    assert isinstance(verdict, Verdict)
    if verdict.trusted:
        assert verdict.payload is not None
        assert verdict.payload.manifest_digest.startswith("sha256:20bf21ed")


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(blob: bytes) -> None:
    assert not verify_signature(blob, FIXTURE_KEYS).trusted
