# mypy: disable-error-code="type-arg,no-untyped-def"
from imagesig.api.proto import meta_pb2 as _meta_pb2
from imagesig.api.proto import runtime_pb2 as _runtime_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageSignature(_message.Message):
    __slots__ = ("metadata", "type", "content", "conditions", "imageIdentity", "signedClaims", "created", "issuedBy", "issuedTo")
    class SignedClaimsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    IMAGEIDENTITY_FIELD_NUMBER: _ClassVar[int]
    SIGNEDCLAIMS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    ISSUEDBY_FIELD_NUMBER: _ClassVar[int]
    ISSUEDTO_FIELD_NUMBER: _ClassVar[int]
    metadata: _meta_pb2.ObjectMeta
    type: str
    content: bytes
    conditions: _containers.RepeatedCompositeFieldContainer[SignatureCondition]
    imageIdentity: str
    signedClaims: _containers.RepeatedCompositeFieldContainer[ImageSignature.SignedClaimsEntry]
    created: _meta_pb2.Time
    issuedBy: SignatureIssuer
    issuedTo: SignatureSubject
    def __init__(self, metadata: _Optional[_Union[_meta_pb2.ObjectMeta, _Mapping]] = ..., type: _Optional[str] = ..., content: _Optional[bytes] = ..., conditions: _Optional[_Iterable[_Union[SignatureCondition, _Mapping]]] = ..., imageIdentity: _Optional[str] = ..., signedClaims: _Optional[_Iterable[_Union[ImageSignature.SignedClaimsEntry, _Mapping]]] = ..., created: _Optional[_Union[_meta_pb2.Time, _Mapping]] = ..., issuedBy: _Optional[_Union[SignatureIssuer, _Mapping]] = ..., issuedTo: _Optional[_Union[SignatureSubject, _Mapping]] = ...) -> None: ...

class SignatureCondition(_message.Message):
    __slots__ = ("type", "status", "lastProbeTime", "lastTransitionTime", "reason", "message")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LASTPROBETIME_FIELD_NUMBER: _ClassVar[int]
    LASTTRANSITIONTIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    type: str
    status: str
    lastProbeTime: _meta_pb2.Time
    lastTransitionTime: _meta_pb2.Time
    reason: str
    message: str
    def __init__(self, type: _Optional[str] = ..., status: _Optional[str] = ..., lastProbeTime: _Optional[_Union[_meta_pb2.Time, _Mapping]] = ..., lastTransitionTime: _Optional[_Union[_meta_pb2.Time, _Mapping]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SignatureGenericEntity(_message.Message):
    __slots__ = ("organization", "commonName")
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    COMMONNAME_FIELD_NUMBER: _ClassVar[int]
    organization: str
    commonName: str
    def __init__(self, organization: _Optional[str] = ..., commonName: _Optional[str] = ...) -> None: ...

class SignatureIssuer(_message.Message):
    __slots__ = ("signatureGenericEntity",)
    SIGNATUREGENERICENTITY_FIELD_NUMBER: _ClassVar[int]
    signatureGenericEntity: SignatureGenericEntity
    def __init__(self, signatureGenericEntity: _Optional[_Union[SignatureGenericEntity, _Mapping]] = ...) -> None: ...

class SignatureSubject(_message.Message):
    __slots__ = ("signatureGenericEntity", "publicKeyID")
    SIGNATUREGENERICENTITY_FIELD_NUMBER: _ClassVar[int]
    PUBLICKEYID_FIELD_NUMBER: _ClassVar[int]
    signatureGenericEntity: SignatureGenericEntity
    publicKeyID: str
    def __init__(self, signatureGenericEntity: _Optional[_Union[SignatureGenericEntity, _Mapping]] = ..., publicKeyID: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("metadata", "dockerImageReference", "dockerImageMetadata", "dockerImageMetadataVersion", "dockerImageManifest", "dockerImageLayers", "signatures", "dockerImageSignatures", "dockerImageManifestMediaType", "dockerImageConfig")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGEREFERENCE_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGEMETADATA_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGEMETADATAVERSION_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGEMANIFEST_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGELAYERS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGESIGNATURES_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGEMANIFESTMEDIATYPE_FIELD_NUMBER: _ClassVar[int]
    DOCKERIMAGECONFIG_FIELD_NUMBER: _ClassVar[int]
    metadata: _meta_pb2.ObjectMeta
    dockerImageReference: str
    dockerImageMetadata: _runtime_pb2.RawExtension
    dockerImageMetadataVersion: str
    dockerImageManifest: str
    dockerImageLayers: _containers.RepeatedCompositeFieldContainer[ImageLayer]
    signatures: _containers.RepeatedCompositeFieldContainer[ImageSignature]
    dockerImageSignatures: _containers.RepeatedScalarFieldContainer[bytes]
    dockerImageManifestMediaType: str
    dockerImageConfig: str
    def __init__(self, metadata: _Optional[_Union[_meta_pb2.ObjectMeta, _Mapping]] = ..., dockerImageReference: _Optional[str] = ..., dockerImageMetadata: _Optional[_Union[_runtime_pb2.RawExtension, _Mapping]] = ..., dockerImageMetadataVersion: _Optional[str] = ..., dockerImageManifest: _Optional[str] = ..., dockerImageLayers: _Optional[_Iterable[_Union[ImageLayer, _Mapping]]] = ..., signatures: _Optional[_Iterable[_Union[ImageSignature, _Mapping]]] = ..., dockerImageSignatures: _Optional[_Iterable[bytes]] = ..., dockerImageManifestMediaType: _Optional[str] = ..., dockerImageConfig: _Optional[str] = ...) -> None: ...

class ImageLayer(_message.Message):
    __slots__ = ("name", "size", "mediaType")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MEDIATYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    mediaType: str
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., mediaType: _Optional[str] = ...) -> None: ...

class ImageList(_message.Message):
    __slots__ = ("metadata", "items")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    metadata: _meta_pb2.ListMeta
    items: _containers.RepeatedCompositeFieldContainer[Image]
    def __init__(self, metadata: _Optional[_Union[_meta_pb2.ListMeta, _Mapping]] = ..., items: _Optional[_Iterable[_Union[Image, _Mapping]]] = ...) -> None: ...
