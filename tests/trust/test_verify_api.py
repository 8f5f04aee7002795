"""The verifier's contract with the server: no exceptions, picklable results, process pools."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import pysequoia
import pytest

import imagesig.trust.verify as verify_module
from imagesig.trust import (
    ExactReference,
    MatchExact,
    Reason,
    Status,
    TrustedKeys,
    Verdict,
    check_image,
    digest_of,
    parse_reference,
    verify_signature,
)

from .conftest import FIXTURES, PAYLOAD, World, fixture_bytes

KEYS = TrustedKeys.from_path(FIXTURES / "public-key.gpg")
GOOD = fixture_bytes("image.signature")
DIGEST = digest_of(fixture_bytes("image.manifest.json"))


class FakePanic(BaseException):
    """Stands in for pyo3's PanicException, which derives from BaseException."""


def test_a_panic_inside_pysequoia_becomes_an_untrusted_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def panic(**_: object) -> None:
        raise FakePanic("called `Option::unwrap()` on a `None` value")

    monkeypatch.setattr(pysequoia, "verify", panic)
    verdict = verify_signature(GOOD, KEYS)
    assert verdict.status is Status.UNTRUSTED
    assert verdict.payload is None


def test_an_unexpected_error_becomes_a_verification_error_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(_: bytes) -> None:
        raise FakePanic("boom")

    monkeypatch.setattr(verify_module, "parse_payload", broken)
    verdict = verify_signature(GOOD, KEYS)
    assert verdict.reason is Reason.VERIFICATION_ERROR
    assert "boom" not in verdict.message  # no internals leak into the stored message


def test_keyboard_interrupt_still_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(**_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pysequoia, "verify", interrupted)
    with pytest.raises(KeyboardInterrupt):
        verify_signature(GOOD, KEYS)


def test_non_bytes_content_is_a_verdict_not_an_exception() -> None:
    verdict = verify_signature("text", KEYS)  # type: ignore[arg-type]
    assert isinstance(verdict, Verdict)
    assert not verdict.trusted


def test_bytearray_and_memoryview_content_verify() -> None:
    assert verify_signature(bytearray(GOOD), KEYS).trusted  # type: ignore[arg-type]
    assert verify_signature(memoryview(GOOD), KEYS).trusted  # type: ignore[arg-type]


def test_naive_now_is_taken_as_utc(world: World) -> None:
    blob = world.gpg.sign(PAYLOAD, world.signer, args=("--default-sig-expire", "1d"))
    keys = world.keys(world.signer)
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2)  # naive
    assert verify_signature(blob, keys, now=later).reason is Reason.EXPIRED_SIGNATURE


def test_every_verdict_kind_pickles() -> None:
    blobs = [GOOD, fixture_bytes("corrupt.signature"), b"", b"\x00sigstore-json\n{}"]
    for blob in blobs:
        verdict = verify_signature(blob, KEYS)
        assert pickle.loads(pickle.dumps(verdict)) == verdict
    check = check_image(verify_signature(GOOD, KEYS), DIGEST, None, MatchExact())
    assert pickle.loads(pickle.dumps(check)) == check


def _verify_in_worker(args: tuple[bytes, TrustedKeys]) -> Verdict:
    return verify_signature(*args)


def test_verification_runs_in_a_spawned_process_pool() -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        verdicts = list(pool.map(_verify_in_worker, [(GOOD, KEYS), (b"junk", KEYS)]))
    assert verdicts[0] == verify_signature(GOOD, KEYS)
    assert verdicts[0].trusted
    assert verdicts[1].status is Status.NOT_A_SIGNATURE


def test_image_without_docker_reference_matches_only_image_independent_rules() -> None:
    verdict = verify_signature(fixture_bytes("dir-img-valid/signature-1"), KEYS)
    assert not check_image(verdict, DIGEST, None, MatchExact()).accepted
    rule = ExactReference(parse_reference("testing/manifest:latest"))
    assert check_image(verdict, DIGEST, None, rule).accepted


def test_default_rule_is_match_repo_digest_or_exact() -> None:
    verdict = verify_signature(fixture_bytes("dir-img-valid/signature-1"), KEYS)
    by_digest = parse_reference(f"testing/manifest@{DIGEST}")
    assert check_image(verdict, DIGEST, by_digest).accepted
    assert not check_image(verdict, DIGEST, parse_reference("testing/manifest")).accepted
