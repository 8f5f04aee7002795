"""The Image resource: its strategy (prepare, validate) and its storage.

An Image is stored as its JSON at ``/images/<name>``; its ``resourceVersion``
is the store's mod revision and is never stored inside the value. Signatures
live inside their Image, so every signature write goes through
:meth:`ImageRegistry.modify`, a compare-and-swap with a bounded retry.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec

from imagesig.api import errors
from imagesig.api.errors import FieldError, invalid, required
from imagesig.api.types import API_VERSION, GROUP, Image, ImageList, ListMeta, Status, StatusDetails
from imagesig.registry.context import ContentVerifier, Context
from imagesig.registry.labels import SelectorError, parse_selector
from imagesig.registry.signature_rules import (
    MANAGED_SIGNATURE_ANNOTATION,
    clear_server_owned,
    same_content,
    split_name,
    strip_for_storage,
    validate_signature,
)
from imagesig.registry.validation import (
    validate_annotations,
    validate_labels,
    validate_object_meta,
)
from imagesig.storage.base import (
    Compacted,
    EventType,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    Store,
)

RESOURCE = "images"
KIND = "Image"
PREFIX = "/images/"
SELF_LINK = f"/apis/{API_VERSION}/images/"

# How often a signature write re-reads and retries after losing a compare-and-swap
# to another writer (another replica: writers in this process take a lock first).
MAX_RETRIES = 64

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Image)


def _key(name: str) -> str:
    return PREFIX + name


def _from_kv(kv: KeyValue) -> Image:
    image = _decoder.decode(kv.value)
    image.metadata.resource_version = str(kv.mod_revision)
    image.metadata.self_link = SELF_LINK + quote(image.metadata.name, safe=":@$&+=!*()',;")
    return image


def _to_value(image: Image) -> bytes:
    stored = msgspec.structs.replace(
        image,
        kind="",
        api_version="",
        metadata=msgspec.structs.replace(image.metadata, resource_version="", self_link=""),
    )
    return _encoder.encode(stored)


def with_type_meta(image: Image) -> Image:
    image.kind = KIND
    image.api_version = API_VERSION
    return image


def _digest_problem(name: str, manifest: str) -> str | None:
    algo, sep, _ = name.partition(":")
    if not sep or algo not in ("sha256", "sha384", "sha512"):
        return None
    actual = f"{algo}:{hashlib.new(algo, manifest.encode()).hexdigest()}"
    if actual != name:
        return f"the image name must be the digest of the manifest ({actual})"
    return None


def validate_image(image: Image) -> list[FieldError]:
    errs = validate_object_meta(image.metadata, "metadata")
    errs.extend(validate_labels(image.metadata.labels, "metadata.labels"))
    errs.extend(validate_annotations(image.metadata.annotations, "metadata.annotations"))
    if not image.docker_image_reference:
        errs.append(required("dockerImageReference"))
    if image.docker_image_manifest and image.metadata.name:
        problem = _digest_problem(image.metadata.name, image.docker_image_manifest)
        if problem:
            errs.append(invalid("dockerImageManifest", "<manifest>", problem))
    seen: set[str] = set()
    for i, sig in enumerate(image.signatures):
        path = f"signatures[{i}]"
        errs.extend(validate_signature(sig, path))
        parts = split_name(sig.metadata.name)
        if parts and image.metadata.name and parts[0] != image.metadata.name:
            errs.append(
                invalid(
                    f"{path}.metadata.name",
                    sig.metadata.name,
                    f'the image part of the name must be "{image.metadata.name}"',
                )
            )
        if sig.metadata.name in seen:
            errs.append(
                FieldError(
                    "FieldValueDuplicate", f"{path}.metadata.name", "", sig.metadata.name, True
                )
            )
        seen.add(sig.metadata.name)
    return errs


@dataclass(frozen=True, slots=True)
class ListOptions:
    limit: int = 0
    continue_: str = ""
    label_selector: str = ""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    image: Image


def _encode_continue(last_name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"start": last_name}).encode()).decode()


def _decode_continue(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        start = data["start"]
        if not isinstance(start, str):
            raise TypeError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.bad_request(f"invalid continue token {token!r}") from None
    return start


class ImageRegistry:
    def __init__(self, store: Store, verifier: ContentVerifier) -> None:
        self.store = store
        self.verifier = verifier
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- reads ----------------------------------------------------------------

    async def get(self, name: str) -> Image:
        kv = await self.store.get(_key(name))
        if kv is None:
            raise errors.not_found(RESOURCE, name)
        return with_type_meta(_from_kv(kv))

    async def get_for_modify(self, name: str) -> Image:
        """The image, to be handed to :meth:`modify` as ``read`` (saves decoding it twice)."""
        kv = await self.store.get(_key(name))
        if kv is None:
            raise errors.not_found(RESOURCE, name)
        return _from_kv(kv)

    async def list(self, opts: ListOptions) -> ImageList:
        try:
            matches = parse_selector(opts.label_selector)
        except SelectorError as exc:
            raise errors.bad_request(f"unable to parse labelSelector: {exc}") from None
        start = _decode_continue(opts.continue_) if opts.continue_ else ""
        items: list[Image] = []
        revision = 0
        more = False
        while True:
            want = opts.limit - len(items) if opts.limit > 0 else 0
            page = await self.store.list(PREFIX, limit=want, start_after=start)
            revision = revision or page.revision
            for kv in page.items:
                image = _from_kv(kv)
                if matches(image.metadata.labels):
                    items.append(image)
            more = page.more
            if not page.items or not more or (opts.limit > 0 and len(items) >= opts.limit):
                if page.items:
                    start = page.items[-1].key
                break
            start = page.items[-1].key
        meta = ListMeta(resource_version=str(revision))
        if more:
            meta.continue_ = _encode_continue(start)
        return ImageList(metadata=meta, items=items)

    async def watch(self, from_revision: int | None) -> AsyncIterator[WatchEvent]:
        """Events from ``from_revision`` on; with None, the current images as ADDED first."""
        if from_revision is None:
            listed = await self.store.list(PREFIX)
            for kv in listed.items:
                yield WatchEvent("ADDED", with_type_meta(_from_kv(kv)))
            from_revision = listed.revision
        try:
            async for event in self.store.watch(PREFIX, from_revision):
                image = with_type_meta(_from_kv(event.kv))
                if event.type is EventType.DELETE:
                    yield WatchEvent("DELETED", image)
                else:
                    yield WatchEvent("ADDED" if event.created else "MODIFIED", image)
        except Compacted as exc:
            raise errors.gone(f"too old resource version: {exc.requested} ({exc.oldest})") from None

    # -- writes ---------------------------------------------------------------

    async def _fill_signatures(self, image: Image, previous: Image | None, ctx: Context) -> None:
        """Server-owned signature fields: kept for unchanged signatures, derived for new ones."""
        old = {s.metadata.name: s for s in previous.signatures} if previous else {}
        for sig in image.signatures:
            strip_for_storage(sig)
            sig.metadata.annotations.pop(MANAGED_SIGNATURE_ANNOTATION, None)
            before = old.get(sig.metadata.name)
            if before is not None and same_content(before, sig):
                sig.conditions = before.conditions
                sig.image_identity = before.image_identity
                sig.signed_claims = before.signed_claims
                sig.created = before.created
                sig.issued_by = before.issued_by
                sig.issued_to = before.issued_to
                sig.metadata.uid = before.metadata.uid or sig.metadata.uid
                sig.metadata.creation_timestamp = before.metadata.creation_timestamp
                continue
            clear_server_owned(sig)
            sig.metadata.uid = sig.metadata.uid or str(uuid.uuid4())
            sig.metadata.creation_timestamp = sig.metadata.creation_timestamp or ctx.now
            await self.verifier.fill(image.metadata.name, sig, ctx.now)

    def _prepare_for_create(self, image: Image, ctx: Context) -> None:
        meta = image.metadata
        if not meta.name and meta.generate_name:
            meta.name = meta.generate_name
        meta.uid = str(uuid.uuid4())
        meta.creation_timestamp = ctx.now
        meta.resource_version = ""
        meta.self_link = ""
        meta.deletion_timestamp = None
        meta.deletion_grace_period_seconds = None
        meta.generation = 1
        image.kind = ""
        image.api_version = ""

    async def create(self, image: Image, ctx: Context) -> Image:
        for sig in image.signatures:
            sig.metadata.annotations.pop(MANAGED_SIGNATURE_ANNOTATION, None)
        self._prepare_for_create(image, ctx)
        errs = validate_image(image)
        if errs:
            raise errors.invalid_object(KIND, image.metadata.name, errs)
        await self._fill_signatures(image, None, ctx)
        if ctx.dry_run:
            if await self.store.get(_key(image.metadata.name)) is not None:
                raise errors.already_exists(RESOURCE, image.metadata.name)
            return with_type_meta(image)
        try:
            kv = await self.store.create(_key(image.metadata.name), _to_value(image))
        except KeyExists:
            raise errors.already_exists(RESOURCE, image.metadata.name) from None
        return with_type_meta(_from_kv(kv))

    async def update(self, name: str, image: Image, ctx: Context) -> Image:
        """PUT: replace the image; a ``resourceVersion`` in it makes the write conditional."""
        if image.metadata.name and image.metadata.name != name:
            raise errors.bad_request(
                f"the name of the object ({image.metadata.name}) does not match the name on "
                f"the URL ({name})"
            )
        sent = _encoder.encode(image)
        return await self._replace(name, lambda _current: _decoder.decode(sent), ctx)

    async def patch(
        self, name: str, apply: Callable[[dict[str, Any]], Image], ctx: Context
    ) -> Image:
        """PATCH: ``apply`` turns the current object's JSON form into the new object."""

        def patched(current: Image) -> Image:
            image = apply(msgspec.to_builtins(with_type_meta(current)))
            if image.metadata.name and image.metadata.name != name:
                raise errors.bad_request("the patch may not change metadata.name")
            return image

        return await self._replace(name, patched, ctx)

    async def _replace(self, name: str, make: Callable[[Image], Image], ctx: Context) -> Image:
        """Write ``make(current)`` over the image, as Kubernetes' guaranteed update does.

        A ``resourceVersion`` in the new object is a precondition (409 when stale);
        without one, a write that loses a race to another writer is re-made from the
        new current object, at most MAX_RETRIES times.
        """
        for _ in range(MAX_RETRIES):
            async with self._lock(name):
                current = await self.store.get(_key(name))
                if current is None:
                    raise errors.not_found(RESOURCE, name)
                previous = _from_kv(current)
                image = make(_from_kv(current))
                image.metadata.name = name
                expected = _parse_resource_version(image.metadata.resource_version)
                if expected is not None and expected != current.mod_revision:
                    raise errors.conflict(RESOURCE, name, errors.STALE_OBJECT)
                for sig in image.signatures:
                    sig.metadata.annotations.pop(MANAGED_SIGNATURE_ANNOTATION, None)
                errs = validate_image(image)
                if errs:
                    raise errors.invalid_object(KIND, name, errs)
                self._keep_immutable(image, previous)
                await self._fill_signatures(image, previous, ctx)
                if ctx.dry_run:
                    image.metadata.resource_version = str(current.mod_revision)
                    return with_type_meta(image)
                try:
                    kv = await self.store.update(_key(name), _to_value(image), current.mod_revision)
                except KeyNotFound:
                    raise errors.not_found(RESOURCE, name) from None
                except RevisionMismatch:
                    if expected is not None:
                        raise errors.conflict(RESOURCE, name, errors.STALE_OBJECT) from None
                    continue
                return with_type_meta(_from_kv(kv))
        raise errors.conflict(RESOURCE, name, errors.STALE_OBJECT)

    @staticmethod
    def _keep_immutable(image: Image, previous: Image) -> None:
        meta = image.metadata
        meta.uid = previous.metadata.uid
        meta.creation_timestamp = previous.metadata.creation_timestamp
        meta.generation = previous.metadata.generation + 1
        meta.deletion_timestamp = previous.metadata.deletion_timestamp
        meta.namespace = ""

    async def delete(self, name: str, ctx: Context) -> Status:
        kv = await self.store.get(_key(name))
        if kv is None:
            raise errors.not_found(RESOURCE, name)
        image = _from_kv(kv)
        if not ctx.dry_run:
            try:
                await self.store.delete(_key(name))
            except KeyNotFound:
                raise errors.not_found(RESOURCE, name) from None
        return Status(
            status="Success",
            details=StatusDetails(name=name, group=GROUP, kind=RESOURCE, uid=image.metadata.uid),
        )

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[name] = lock
        return lock

    async def modify(
        self,
        name: str,
        change: Callable[[Image], Awaitable[T]],
        ctx: Context,
        read: Image | None = None,
    ) -> T:
        """Read the image, let ``change`` edit it, and write it back with compare-and-swap.

        Writers in this process queue on a per-image lock; a write that still loses
        (to another replica) re-reads and re-applies ``change``, at most MAX_RETRIES times.
        ``change`` raises an APIError to abort without writing. ``read``, an unchanged
        copy from :meth:`get_for_modify`, is used instead of decoding the stored value
        again when the image has not been written since.
        """
        for _ in range(MAX_RETRIES):
            async with self._lock(name):
                kv = await self.store.get(_key(name))
                if kv is None:
                    raise errors.not_found(RESOURCE, name)
                if read is not None and read.metadata.resource_version == str(kv.mod_revision):
                    image = read
                else:
                    image = _from_kv(kv)
                read = None
                result = await change(image)
                if ctx.dry_run:
                    return result
                try:
                    await self.store.update(_key(name), _to_value(image), kv.mod_revision)
                except RevisionMismatch:
                    continue
                except KeyNotFound:
                    raise errors.not_found(RESOURCE, name) from None
                return result
        raise errors.conflict(RESOURCE, name, errors.STALE_OBJECT)


def _parse_resource_version(value: str) -> int | None:
    if not value:
        return None
    try:
        revision = int(value)
    except ValueError:
        raise errors.bad_request(f'invalid resourceVersion "{value}"') from None
    if revision <= 0:
        raise errors.bad_request(f'invalid resourceVersion "{value}"')
    return revision
