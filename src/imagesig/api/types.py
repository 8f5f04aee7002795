"""Wire types of ``image.openshift.io/v1`` and the ``meta/v1`` parts it uses.

Structs are encoded with ``omit_defaults``: a field equal to its default is left
out, as Go's ``omitempty`` does. Fields Go always writes (``type``, ``content``,
``publicKeyID``, condition times, ``creationTimestamp``) default to ``ALWAYS``
instead; ``__post_init__`` replaces it by the zero value, which then differs
from the default and is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

GROUP = "image.openshift.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"

# The default of always-written fields: "missing" on decode, never equal to a real value.
ALWAYS: Any = msgspec.UNSET


class _Base(msgspec.Struct, omit_defaults=True, rename="camel", kw_only=True):
    pass


class ObjectMeta(_Base):
    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    self_link: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: datetime | None = ALWAYS
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    owner_references: list[dict[str, Any]] = msgspec.field(default_factory=list)
    finalizers: list[str] = msgspec.field(default_factory=list)
    cluster_name: str = ""
    initializers: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.creation_timestamp is ALWAYS:
            self.creation_timestamp = None


class ListMeta(_Base):
    self_link: str = ""
    resource_version: str = ""
    continue_: str = msgspec.field(default="", name="continue")


class SignatureCondition(_Base):
    type: str = ALWAYS
    status: str = ALWAYS
    last_probe_time: datetime | None = ALWAYS
    last_transition_time: datetime | None = ALWAYS
    reason: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if self.type is ALWAYS:
            self.type = ""
        if self.status is ALWAYS:
            self.status = ""
        if self.last_probe_time is ALWAYS:
            self.last_probe_time = None
        if self.last_transition_time is ALWAYS:
            self.last_transition_time = None


class SignatureIssuer(_Base):
    organization: str = ""
    common_name: str = ""


class SignatureSubject(_Base):
    organization: str = ""
    common_name: str = ""
    public_key_id: str = msgspec.field(default=ALWAYS, name="publicKeyID")

    def __post_init__(self) -> None:
        if self.public_key_id is ALWAYS:
            self.public_key_id = ""


class ImageSignature(_Base):
    kind: str = ""
    api_version: str = ""
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    type: str = ALWAYS
    content: bytes = ALWAYS
    conditions: list[SignatureCondition] = msgspec.field(default_factory=list)
    image_identity: str = ""
    signed_claims: dict[str, str] = msgspec.field(default_factory=dict)
    created: datetime | None = None
    issued_by: SignatureIssuer | None = None
    issued_to: SignatureSubject | None = None

    KIND: ClassVar[str] = "ImageSignature"

    def __post_init__(self) -> None:
        if self.type is ALWAYS:
            self.type = ""
        if self.content is ALWAYS:
            self.content = b""


class ImageLayer(_Base):
    name: str = ""
    size: int = 0
    media_type: str = ""


class Image(_Base):
    kind: str = ""
    api_version: str = ""
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    docker_image_reference: str = ""
    docker_image_metadata: dict[str, Any] | None = None
    docker_image_metadata_version: str = ""
    docker_image_manifest: str = ""
    docker_image_layers: list[ImageLayer] = msgspec.field(default_factory=list)
    signatures: list[ImageSignature] = msgspec.field(default_factory=list)
    docker_image_signatures: list[bytes] = msgspec.field(default_factory=list)
    docker_image_manifest_media_type: str = ""
    docker_image_config: str = ""

    KIND: ClassVar[str] = "Image"


class ImageList(_Base):
    kind: str = ALWAYS
    api_version: str = ALWAYS
    metadata: ListMeta = ALWAYS
    items: list[Image] = ALWAYS

    def __post_init__(self) -> None:
        if self.kind is ALWAYS:
            self.kind = "ImageList"
        if self.api_version is ALWAYS:
            self.api_version = API_VERSION
        if self.metadata is ALWAYS:
            self.metadata = ListMeta()
        if self.items is ALWAYS:
            self.items = []


class StatusCause(_Base):
    reason: str = ""
    message: str = ""
    field: str = ""


class StatusDetails(_Base):
    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: list[StatusCause] = msgspec.field(default_factory=list)
    retry_after_seconds: int = 0


class Status(_Base):
    kind: str = ALWAYS
    api_version: str = ALWAYS
    metadata: dict[str, Any] = ALWAYS
    status: str = ""
    message: str = ""
    reason: str = ""
    details: StatusDetails | None = None
    code: int = 0

    def __post_init__(self) -> None:
        if self.kind is ALWAYS:
            self.kind = "Status"
        if self.api_version is ALWAYS:
            self.api_version = "v1"
        if self.metadata is ALWAYS:
            self.metadata = {}


def success_status() -> Status:
    return Status(status="Success")
