"""What the server says about a signature's content: conditions and derived fields.

``SignatureVerifier`` is the registry's :class:`ContentVerifier` for
simple-signing types. Verification runs in a process pool (pysequoia holds the
GIL) and its verdicts are cached by content digest and trust-store
generation. ``Reverifier`` re-checks stored signatures in the background when
the trusted keys change, and now and then for expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any

from imagesig.api import errors
from imagesig.api.types import (
    Image,
    ImageSignature,
    SignatureCondition,
    SignatureIssuer,
    SignatureSubject,
)
from imagesig.registry.context import Context
from imagesig.registry.images import ImageRegistry, ListOptions
from imagesig.registry.signature_rules import SIMPLE_SIGNING_TYPES, clear_server_owned
from imagesig.trust.errors import KeyringError
from imagesig.trust.keys import TrustedKeys
from imagesig.trust.packets import (
    TAG_COMPRESSED,
    TAG_ONE_PASS_SIGNATURE,
    TAG_SIGNATURE,
    header_tag,
)
from imagesig.trust.verify import Reason, Status, Verdict, verify_signature

log = logging.getLogger("imagesig.verification")

CACHE_SIZE = 10_000

# Condition reasons, CamelCase as Kubernetes writes them.
_REASONS = {
    Reason.NOT_SIGNED_MESSAGE: "NotSignedMessage",
    Reason.MULTIPLE_SIGNATURES: "MultipleSignatures",
    Reason.UNKNOWN_KEY: "UnknownKey",
    Reason.BAD_SIGNATURE: "BadSignature",
    Reason.EXPIRED_SIGNATURE: "ExpiredSignature",
    Reason.FUTURE_SIGNATURE: "FutureSignature",
    Reason.REVOKED_KEY: "RevokedKey",
    Reason.EXPIRED_KEY: "ExpiredKey",
    Reason.MALFORMED_PAYLOAD: "MalformedPayload",
    Reason.VERIFICATION_ERROR: "VerificationError",
}


def _may_be_openpgp(content: bytes) -> bool:
    """Whether verification would get as far as OpenPGP (tagged format or a message packet)."""
    return bool(content) and (content[0] == 0 or header_tag(content[0]) in _MESSAGE_TAGS)


_MESSAGE_TAGS = frozenset({TAG_COMPRESSED, TAG_ONE_PASS_SIGNATURE, TAG_SIGNATURE})


# -- the worker side of the process pool --------------------------------------------

_worker_keys: dict[str, TrustedKeys] = {}


def _verify_in_worker(content: bytes, generation: str, keys_blob: bytes) -> Verdict:
    keys = _worker_keys.get(generation)
    if keys is None:
        keys = pickle.loads(keys_blob)  # noqa: S301 - our own parent process made it
        _worker_keys.clear()
        _worker_keys[generation] = keys
    return verify_signature(content, keys)


def _worker_init() -> None:
    os.environ.pop("RUST_BACKTRACE", None)


def default_pool(workers: int) -> Callable[[], Executor]:
    """A factory of verification pools of ``workers`` processes."""

    def make() -> Executor:
        # spawn, not fork: the server process has threads (SQLite, granian) by now.
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_worker_init,
        )

    return make


# -- verdict → API fields -----------------------------------------------------------


def _condition(
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
    previous: dict[str, SignatureCondition],
) -> SignatureCondition:
    before = previous.get(type_)
    transition = (
        before.last_transition_time
        if before is not None and before.status == status and before.last_transition_time
        else now
    )
    return SignatureCondition(
        type=type_,
        status=status,
        last_probe_time=now,
        last_transition_time=transition,
        reason=reason,
        message=message,
    )


def apply_verdict(sig: ImageSignature, image_name: str, verdict: Verdict, now: datetime) -> None:
    """Set ``sig``'s conditions and derived fields from ``verdict`` (api.md §5.6)."""
    previous = {c.type: c for c in sig.conditions}
    clear_server_owned(sig)
    if verdict.status is Status.NOT_A_SIGNATURE:
        return  # not a format we read: stored as it is, nothing claimed

    def add(type_: str, status: str, reason: str, message: str) -> None:
        sig.conditions.append(_condition(type_, status, reason, message, now, previous))

    payload = verdict.payload
    if verdict.trusted and payload is not None:
        add("Trusted", "True", "Verified", verdict.message)
        if payload.manifest_digest == image_name:
            add("ForImage", "True", "DigestMatches", f"signed for {payload.manifest_digest}")
        else:
            add(
                "ForImage",
                "False",
                "DigestMismatch",
                f"signed for {payload.manifest_digest}, not for this image",
            )
        sig.image_identity = payload.docker_reference
        claims = {
            "docker-reference": payload.docker_reference,
            "docker-manifest-digest": payload.manifest_digest,
        }
        if payload.creator is not None:
            claims["creator"] = payload.creator
        if payload.timestamp is not None:
            claims["timestamp"] = str(payload.timestamp)
        sig.signed_claims = claims
        if payload.timestamp is not None:
            sig.created = datetime.fromtimestamp(payload.timestamp, UTC)
        elif verdict.signature_created is not None:
            sig.created = verdict.signature_created.replace(microsecond=0)
        name = verdict.signer_user_id or ""
        sig.issued_by = SignatureIssuer(common_name=name)
        sig.issued_to = SignatureSubject(
            common_name=name, public_key_id=verdict.signer_fingerprint or ""
        )
    else:
        reason = _REASONS.get(verdict.reason, "Untrusted") if verdict.reason else "Untrusted"
        add("Trusted", "False", reason, verdict.message)
        add(
            "ForImage",
            "Unknown",
            "NotVerified",
            "the signature is not trusted, so what it claims was not read",
        )
    if verdict.expired:
        add("Expired", "True", "Expired", verdict.message)
    if verdict.revoked:
        add("Revoked", "True", "RevokedKey", verdict.message)


def _fields(sig: ImageSignature) -> tuple[Any, ...]:
    """What re-verification compares: everything but probe times."""
    return (
        [(c.type, c.status, c.reason, c.message, c.last_transition_time) for c in sig.conditions],
        sig.image_identity,
        sig.signed_claims,
        sig.created,
        sig.issued_by,
        sig.issued_to,
    )


# -- the verifier ---------------------------------------------------------------------


class SignatureVerifier:
    """Verifies simple-signing content against the trusted keys, off the event loop.

    ``pool`` makes the worker pool; a pool whose worker died (a crash in native
    code, the OOM killer) is replaced, and the verification tried once more.
    """

    def __init__(self, keys: TrustedKeys, pool: Callable[[], Executor] | None = None) -> None:
        self.keys = keys
        self._make_pool = pool
        self._pool = pool() if pool else None
        self._cache: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self._blob: tuple[str, bytes] | None = None

    @property
    def generation(self) -> str:
        return self.keys.generation

    def _keys_blob(self) -> tuple[str, bytes]:
        generation = self.keys.generation
        if self._blob is None or self._blob[0] != generation:
            self._blob = (generation, pickle.dumps(self.keys))
        return self._blob

    def reload_keys(self) -> bool:
        """Pick up changed key files; True when the set of trusted keys changed."""
        try:
            return self.keys.reload_if_changed()
        except KeyringError as exc:
            log.error("trusted keys cannot be read, nothing is trusted until fixed: %s", exc)
            return True

    async def verdict(self, content: bytes) -> Verdict:
        generation, blob = self._keys_blob()
        key = (hashlib.sha256(content).hexdigest(), generation)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if self._pool is None or not _may_be_openpgp(content):
            # Not worth a trip to the pool: recognizing a non-signature is a byte compare.
            verdict = verify_signature(content, self.keys)
        else:
            verdict = await self._in_pool(content, generation, blob)
        self._cache[key] = verdict
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return verdict

    async def _in_pool(self, content: bytes, generation: str, blob: bytes) -> Verdict:
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            pool = self._pool
            assert pool is not None
            try:
                return await loop.run_in_executor(
                    pool, _verify_in_worker, content, generation, blob
                )
            except BrokenExecutor:
                log.error(
                    "a verification worker died; starting a new pool (attempt %d)", attempt + 1
                )
                if self._pool is pool and self._make_pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._make_pool()
        return Verdict(
            Status.UNTRUSTED,
            Reason.VERIFICATION_ERROR,
            "verification failed: the verifying process died twice on this content",
        )

    async def warm_up(self, workers: int) -> None:
        """Start the workers now, so the first requests do not wait for them."""
        if self._pool is not None:
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, _worker_init) for _ in range(workers))
            )

    async def fill(self, image_name: str, signature: ImageSignature, now: datetime) -> None:
        if signature.type not in SIMPLE_SIGNING_TYPES:
            return
        verdict = await self.verdict(signature.content)
        apply_verdict(signature, image_name, verdict, now)

    def close(self) -> None:
        """Stop the workers now: a shutdown must not wait on an idle pool at exit."""
        pool, self._pool = self._pool, None
        if isinstance(pool, ProcessPoolExecutor):
            # Private, but the only handle on them: shutdown(wait=False) alone has left
            # idle workers (and so the server process, at exit) waiting forever.
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(timeout=5)


class Reverifier:
    """Re-checks every stored signature when the trusted keys change.

    Runs as one background task per server process; writes go through the same
    compare-and-swap as every signature write, and only when something other
    than a probe time changed.
    """

    def __init__(
        self,
        images: ImageRegistry,
        verifier: SignatureVerifier,
        *,
        interval: float = 2.0,
        full_every: float = 3600.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.images = images
        self.verifier = verifier
        self.interval = interval
        self.full_every = full_every
        self._clock = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
        self.passes = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        while True:
            await asyncio.sleep(self.interval)
            changed = await loop.run_in_executor(None, self.verifier.reload_keys)
            due = loop.time() - last_full >= self.full_every
            if changed or due:
                last_full = loop.time()
                try:
                    await self.reverify_all()
                except Exception:
                    log.exception("re-verification pass failed; will retry")

    async def reverify_all(self) -> int:
        """One pass over every image; returns how many images were rewritten."""
        rewritten = 0
        token = ""
        while True:
            page = await self.images.list(ListOptions(limit=100, continue_=token))
            for image in page.items:
                signed = any(s.type in SIMPLE_SIGNING_TYPES for s in image.signatures)
                if signed and await self._reverify(image.metadata.name):
                    rewritten += 1
            token = page.metadata.continue_
            if not token:
                break
        self.passes += 1
        return rewritten

    async def _reverify(self, name: str) -> bool:
        now = self._clock()
        verdicts: dict[bytes, Verdict] = {}
        current = await self.images.get_for_modify(name)
        for sig in current.signatures:
            if sig.type in SIMPLE_SIGNING_TYPES and sig.content not in verdicts:
                verdicts[sig.content] = await self.verifier.verdict(sig.content)

        async def update(image: Image) -> bool:
            changed = False
            for sig in image.signatures:
                verdict = verdicts.get(sig.content)
                if sig.type not in SIMPLE_SIGNING_TYPES or verdict is None:
                    continue
                before = _fields(sig)
                apply_verdict(sig, image.metadata.name, verdict, now)
                changed = changed or _fields(sig) != before
            if not changed:
                raise _Unchanged
            return True

        try:
            return await self.images.modify(
                name, update, Context(user="system:reverifier"), read=current
            )
        except _Unchanged:
            return False
        except errors.APIError as exc:
            if exc.code == 404:
                return False  # deleted meanwhile
            raise


class _Unchanged(Exception):
    """Raised inside a modify() to leave the image as it is."""


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
