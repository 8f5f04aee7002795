"""The ImageSignature resource: create and delete, nothing else.

A signature has no storage of its own: it is an element of its Image's
``signatures``, so creating or deleting one rewrites that Image (api.md §5, §6).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from imagesig.api import errors
from imagesig.api.types import API_VERSION, Image, ImageSignature, Status, success_status
from imagesig.registry.context import Context
from imagesig.registry.images import ImageRegistry
from imagesig.registry.signature_rules import (
    clear_server_owned,
    same_content,
    split_name,
    strip_for_storage,
    validate_signature,
)

RESOURCE = "imageSignatures"  # as OKD spells it in AlreadyExists/NotFound messages
KIND = "ImageSignature"
SELF_LINK = f"/apis/{API_VERSION}/imagesignatures/"


def with_signature_meta(sig: ImageSignature) -> ImageSignature:
    sig.kind = KIND
    sig.api_version = API_VERSION
    sig.metadata.self_link = SELF_LINK + quote(sig.metadata.name, safe=":@$&+=!*()',;")
    return sig


def _prepare_for_create(sig: ImageSignature, ctx: Context) -> None:
    meta = sig.metadata
    if not meta.name and meta.generate_name:
        meta.name = meta.generate_name  # the server never invents signature names
    meta.namespace = ""
    meta.deletion_timestamp = None
    meta.deletion_grace_period_seconds = None
    meta.resource_version = ""
    meta.self_link = ""
    meta.uid = str(uuid.uuid4())
    meta.creation_timestamp = ctx.now
    clear_server_owned(sig)


class ImageSignatureRegistry:
    def __init__(self, images: ImageRegistry) -> None:
        self.images = images

    async def create(self, sig: ImageSignature, ctx: Context) -> ImageSignature:
        _prepare_for_create(sig, ctx)
        errs = validate_signature(sig)
        if errs:
            raise errors.invalid_object(KIND, sig.metadata.name, errs)
        parts = split_name(sig.metadata.name)
        assert parts is not None  # validation checked the form
        image_name = parts[0]
        strip_for_storage(sig)
        # Verify before taking the image's lock: it is the slow part, and it needs only
        # the image's name (its manifest digest), which the signature's name carries.
        await self.images.verifier.fill(image_name, sig, ctx.now)

        async def append(current: Image) -> ImageSignature:
            self._check_duplicate(current, sig)
            current.signatures.append(sig)
            return sig

        stored = await self.images.modify(image_name, append, ctx)
        return with_signature_meta(stored)

    @staticmethod
    def _check_duplicate(image: Image, sig: ImageSignature) -> None:
        for existing in image.signatures:
            if existing.metadata.name == sig.metadata.name or same_content(existing, sig):
                raise errors.already_exists(RESOURCE, sig.metadata.name)

    async def delete(self, name: str, ctx: Context) -> Status:
        parts = split_name(name)
        if parts is None:
            raise errors.bad_request(
                "ImageSignatures must be accessed with <imageName>@<signatureName>"
            )

        async def remove(image: Image) -> None:
            for i, existing in enumerate(image.signatures):
                if existing.metadata.name == name:
                    del image.signatures[i]
                    return
            raise errors.not_found(RESOURCE, name)

        await self.images.modify(parts[0], remove, ctx)
        return success_status()
