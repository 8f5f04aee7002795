"""The verifier's process pool: verdicts from real worker processes, and survival of a dead one."""

from __future__ import annotations

import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context

from imagesig.api.types import ImageSignature, ObjectMeta
from imagesig.registry.verification import SignatureVerifier, default_pool
from imagesig.trust.keys import TrustedKeys
from imagesig.trust.verify import Reason, Status
from tests.imagesig_server import FIXTURES

DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def test_verdicts_come_from_worker_processes_and_are_cached() -> None:
    verifier = SignatureVerifier(
        TrustedKeys.from_path(FIXTURES / "public-key.gpg"), default_pool(1)
    )
    try:
        await verifier.warm_up(1)
        sig = ImageSignature(
            metadata=ObjectMeta(name=f"{DIGEST}@a"),
            type="atomic",
            content=(FIXTURES / "image.signature").read_bytes(),
        )
        await verifier.fill(DIGEST, sig, datetime.now(UTC))
        assert [c.status for c in sig.conditions] == ["True", "True"]
        first = await verifier.verdict(sig.content)
        assert await verifier.verdict(sig.content) is first  # the cache answered
    finally:
        verifier.close()


async def test_a_dead_worker_is_replaced_and_the_verification_retried() -> None:
    made: list[Executor] = []

    def pool() -> Executor:
        made.append(ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")))
        return made[-1]

    verifier = SignatureVerifier(TrustedKeys.from_path(FIXTURES / "public-key.gpg"), pool)
    try:
        made[0].submit(_die)  # the first pool's only worker dies
        content = (FIXTURES / "image.signature").read_bytes()
        verdict = await verifier.verdict(content)
        assert verdict.status in (Status.TRUSTED, Status.UNTRUSTED)
        if verdict.status is Status.UNTRUSTED:
            assert verdict.reason is Reason.VERIFICATION_ERROR
        assert len(made) >= 2
        again = await verifier.verdict((FIXTURES / "no-optional-fields.signature").read_bytes())
        assert again.status is Status.TRUSTED
    finally:
        verifier.close()
