"""The Kubernetes protobuf wire format, as a codec on JSON-shaped objects.

``encode`` takes the dict ``json.loads`` would give for an object's JSON form and
``decode`` gives such a dict back, so JSON, YAML and protobuf requests all reach the
same validation. The bytes follow Go's gogo-protobuf marshaller for these types:
fields Go holds by value are always written (even empty), fields Go holds by
pointer are written only when set, map entries go out with keys sorted, fields in
ascending order. Decoding is strict: anything malformed is a ``ProtobufError``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

from imagesig.api.proto import image_pb2, meta_pb2, runtime_pb2

__all__ = ["MEDIA_TYPE", "ProtobufError", "decode", "encode"]

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

_MAGIC = b"k8s\x00"
_IMAGE_API = "image.openshift.io/v1"
_STATUS_API = "v1"


class ProtobufError(Exception):
    """A body that is not a well-formed protobuf object we serve, or an object we cannot encode."""


_M = TypeVar("_M", bound=Message)


def _quote(text: str) -> str:
    """Quoted as Go's %q would, so that control characters show."""
    return json.dumps(text, ensure_ascii=False)


# --- times -------------------------------------------------------------------------
# A Time travels as {seconds}. The JSON form has whole seconds, so nanos are dropped
# when read and never written (api.md §9; Go itself writes `nanos: 0`, which reads
# the same).

_EPOCH = datetime(1970, 1, 1)
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


@functools.lru_cache(maxsize=4096)
def _seconds(text: str) -> int:
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ProtobufError(f"protobuf: time {_quote(text)} is not in RFC 3339 form")
    year, month, day, hour, minute, second, offset_hours, offset_minutes = (
        int(g or 0) for g in match.group(1, 2, 3, 4, 5, 6, 8, 9)
    )
    try:
        if offset_hours > 23 or offset_minutes > 59:
            raise ValueError("zone offset out of range")
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise ProtobufError(f"protobuf: time {_quote(text)} is not a valid date and time") from None
    offset = offset_hours * 3600 + offset_minutes * 60
    seconds = (moment - _EPOCH) // timedelta(seconds=1) + (offset if match[7] == "-" else -offset)
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise ProtobufError(f"protobuf: time {_quote(text)} is outside years 1-9999 in UTC")
    return seconds


@functools.lru_cache(maxsize=4096)
def _rfc3339(seconds: int) -> str:
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise ProtobufError(f"protobuf: time {seconds}s since the epoch is outside years 1-9999")
    return (_EPOCH + timedelta(seconds=seconds)).isoformat() + "Z"


def _put_time(target: meta_pb2.Time, value: Any) -> None:
    """Write a Time; an unset by-value Time is still written, as an empty message."""
    if value is None:
        target.SetInParent()
    else:
        target.seconds = _seconds(value)


def _time(source: meta_pb2.Time) -> str | None:
    # Go reads an empty message as the zero time (JSON null), and any other as seconds.
    if not (source.HasField("seconds") or source.HasField("nanos")):
        return None
    return _rfc3339(source.seconds)


# --- bytes and strings -------------------------------------------------------------


def _unbase64(value: Any, where: str) -> bytes:
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        raise ProtobufError(f"protobuf: {where} is not standard base64") from None


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _text(value: str | bytes, where: str) -> str:
    # proto2 strings are not checked by the parser; upb hands back bytes when they
    # are not UTF-8.
    if type(value) is not str:
        raise ProtobufError(f"protobuf: {where} is not valid UTF-8")
    return value


def _put_map(entries: Any, value: Mapping[str, str] | None) -> None:
    # Go sorts keys bytewise; code point order of str is the same order.
    if value:
        for key in sorted(value):
            entry = entries.add()
            entry.key = key
            entry.value = value[key]


def _map(entries: Iterable[Any], where: str) -> dict[str, str]:
    return {_text(e.key, where): _text(e.value, where) for e in entries}


# --- meta/v1 -------------------------------------------------------------------------


def _put_object_meta(m: meta_pb2.ObjectMeta, d: Mapping[str, Any] | None) -> None:
    d = d or {}
    g = d.get
    m.name = g("name") or ""
    m.generateName = g("generateName") or ""
    m.namespace = g("namespace") or ""
    m.selfLink = g("selfLink") or ""
    m.uid = g("uid") or ""
    m.resourceVersion = g("resourceVersion") or ""
    m.generation = g("generation") or 0
    _put_time(m.creationTimestamp, g("creationTimestamp"))
    if (deletion := g("deletionTimestamp")) is not None:
        _put_time(m.deletionTimestamp, deletion)
    if (grace := g("deletionGracePeriodSeconds")) is not None:
        m.deletionGracePeriodSeconds = grace
    _put_map(m.labels, g("labels"))
    _put_map(m.annotations, g("annotations"))
    for ref in g("ownerReferences") or ():
        _put_owner_reference(m.ownerReferences.add(), ref)
    m.finalizers.extend(g("finalizers") or ())
    m.clusterName = g("clusterName") or ""
    if (initializers := g("initializers")) is not None:
        _put_initializers(m.initializers, initializers)


def _object_meta(m: meta_pb2.ObjectMeta) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if m.name:
        d["name"] = _text(m.name, "ObjectMeta.name")
    if m.generateName:
        d["generateName"] = _text(m.generateName, "ObjectMeta.generateName")
    if m.namespace:
        d["namespace"] = _text(m.namespace, "ObjectMeta.namespace")
    if m.selfLink:
        d["selfLink"] = _text(m.selfLink, "ObjectMeta.selfLink")
    if m.uid:
        d["uid"] = _text(m.uid, "ObjectMeta.uid")
    if m.resourceVersion:
        d["resourceVersion"] = _text(m.resourceVersion, "ObjectMeta.resourceVersion")
    if m.generation:
        d["generation"] = m.generation
    d["creationTimestamp"] = _time(m.creationTimestamp)
    if m.HasField("deletionTimestamp") and (deletion := _time(m.deletionTimestamp)) is not None:
        d["deletionTimestamp"] = deletion
    if m.HasField("deletionGracePeriodSeconds"):
        d["deletionGracePeriodSeconds"] = m.deletionGracePeriodSeconds
    if m.labels:
        d["labels"] = _map(m.labels, "ObjectMeta.labels")
    if m.annotations:
        d["annotations"] = _map(m.annotations, "ObjectMeta.annotations")
    if m.ownerReferences:
        d["ownerReferences"] = [_owner_reference(r) for r in m.ownerReferences]
    if m.finalizers:
        d["finalizers"] = [_text(f, "ObjectMeta.finalizers") for f in m.finalizers]
    if m.clusterName:
        d["clusterName"] = _text(m.clusterName, "ObjectMeta.clusterName")
    if m.HasField("initializers"):
        d["initializers"] = _initializers(m.initializers)
    return d


def _put_owner_reference(m: meta_pb2.OwnerReference, d: Mapping[str, Any]) -> None:
    g = d.get
    m.kind = g("kind") or ""
    m.name = g("name") or ""
    m.uid = g("uid") or ""
    m.apiVersion = g("apiVersion") or ""
    if (controller := g("controller")) is not None:
        m.controller = controller
    if (block := g("blockOwnerDeletion")) is not None:
        m.blockOwnerDeletion = block


def _owner_reference(m: meta_pb2.OwnerReference) -> dict[str, Any]:
    d: dict[str, Any] = {
        "apiVersion": _text(m.apiVersion, "OwnerReference.apiVersion"),
        "kind": _text(m.kind, "OwnerReference.kind"),
        "name": _text(m.name, "OwnerReference.name"),
        "uid": _text(m.uid, "OwnerReference.uid"),
    }
    if m.HasField("controller"):
        d["controller"] = m.controller
    if m.HasField("blockOwnerDeletion"):
        d["blockOwnerDeletion"] = m.blockOwnerDeletion
    return d


def _put_initializers(m: meta_pb2.Initializers, d: Mapping[str, Any]) -> None:
    m.SetInParent()
    for pending in d.get("pending") or ():
        m.pending.add().name = pending.get("name") or ""
    if (result := d.get("result")) is not None:
        _put_status(m.result, result)


def _initializers(m: meta_pb2.Initializers) -> dict[str, Any]:
    d: dict[str, Any] = {
        "pending": [{"name": _text(p.name, "Initializer.name")} for p in m.pending]
    }
    if m.HasField("result"):
        d["result"] = _status(m.result)
    return d


def _put_list_meta(m: meta_pb2.ListMeta, d: Mapping[str, Any] | None) -> None:
    d = d or {}
    m.selfLink = d.get("selfLink") or ""
    m.resourceVersion = d.get("resourceVersion") or ""
    setattr(m, "continue", d.get("continue") or "")  # `continue` is a Python keyword


def _list_meta(m: meta_pb2.ListMeta) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if m.selfLink:
        d["selfLink"] = _text(m.selfLink, "ListMeta.selfLink")
    if m.resourceVersion:
        d["resourceVersion"] = _text(m.resourceVersion, "ListMeta.resourceVersion")
    if token := getattr(m, "continue"):
        d["continue"] = _text(token, "ListMeta.continue")
    return d


def _put_status(m: meta_pb2.Status, d: Mapping[str, Any]) -> None:
    g = d.get
    _put_list_meta(m.metadata, g("metadata"))
    m.status = g("status") or ""
    m.message = g("message") or ""
    m.reason = g("reason") or ""
    if (details := g("details")) is not None:
        _put_status_details(m.details, details)
    m.code = g("code") or 0


def _status(m: meta_pb2.Status) -> dict[str, Any]:
    d: dict[str, Any] = {"metadata": _list_meta(m.metadata)}
    if m.status:
        d["status"] = _text(m.status, "Status.status")
    if m.message:
        d["message"] = _text(m.message, "Status.message")
    if m.reason:
        d["reason"] = _text(m.reason, "Status.reason")
    if m.HasField("details"):
        d["details"] = _status_details(m.details)
    if m.code:
        d["code"] = m.code
    return d


def _put_status_details(m: meta_pb2.StatusDetails, d: Mapping[str, Any]) -> None:
    g = d.get
    m.name = g("name") or ""
    m.group = g("group") or ""
    m.kind = g("kind") or ""
    for cause in g("causes") or ():
        c = m.causes.add()
        c.reason = cause.get("reason") or ""
        c.message = cause.get("message") or ""
        c.field = cause.get("field") or ""
    m.retryAfterSeconds = g("retryAfterSeconds") or 0
    m.uid = g("uid") or ""


def _status_details(m: meta_pb2.StatusDetails) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if m.name:
        d["name"] = _text(m.name, "StatusDetails.name")
    if m.group:
        d["group"] = _text(m.group, "StatusDetails.group")
    if m.kind:
        d["kind"] = _text(m.kind, "StatusDetails.kind")
    if m.uid:
        d["uid"] = _text(m.uid, "StatusDetails.uid")
    if m.causes:
        d["causes"] = [_status_cause(c) for c in m.causes]
    if m.retryAfterSeconds:
        d["retryAfterSeconds"] = m.retryAfterSeconds
    return d


def _status_cause(m: meta_pb2.StatusCause) -> dict[str, str]:
    d: dict[str, str] = {}
    if m.reason:
        d["reason"] = _text(m.reason, "StatusCause.reason")
    if m.message:
        d["message"] = _text(m.message, "StatusCause.message")
    if m.field:
        d["field"] = _text(m.field, "StatusCause.field")
    return d


# --- image.openshift.io/v1 -----------------------------------------------------------


def _put_signature(m: image_pb2.ImageSignature, d: Mapping[str, Any]) -> None:
    g = d.get
    _put_object_meta(m.metadata, g("metadata"))
    m.type = g("type") or ""
    # Go holds content as a byte slice: written when non-nil, so "" goes out as empty.
    if (content := g("content")) is not None:
        m.content = _unbase64(content, "content")
    for condition in g("conditions") or ():
        _put_condition(m.conditions.add(), condition)
    m.imageIdentity = g("imageIdentity") or ""
    _put_map(m.signedClaims, g("signedClaims"))
    if (created := g("created")) is not None:
        _put_time(m.created, created)
    if (issued_by := g("issuedBy")) is not None:
        _put_entity(m.issuedBy.signatureGenericEntity, issued_by)
    if (issued_to := g("issuedTo")) is not None:
        _put_entity(m.issuedTo.signatureGenericEntity, issued_to)
        m.issuedTo.publicKeyID = issued_to.get("publicKeyID") or ""


def _signature(m: image_pb2.ImageSignature) -> dict[str, Any]:
    d: dict[str, Any] = {
        "metadata": _object_meta(m.metadata),
        "type": _text(m.type, "ImageSignature.type"),
        "content": _base64(m.content),
    }
    if m.conditions:
        d["conditions"] = [_condition(c) for c in m.conditions]
    if m.imageIdentity:
        d["imageIdentity"] = _text(m.imageIdentity, "ImageSignature.imageIdentity")
    if m.signedClaims:
        d["signedClaims"] = _map(m.signedClaims, "ImageSignature.signedClaims")
    if m.HasField("created") and (created := _time(m.created)) is not None:
        d["created"] = created
    if m.HasField("issuedBy"):
        d["issuedBy"] = _entity(m.issuedBy.signatureGenericEntity)
    if m.HasField("issuedTo"):
        issued_to = _entity(m.issuedTo.signatureGenericEntity)
        issued_to["publicKeyID"] = _text(m.issuedTo.publicKeyID, "SignatureSubject.publicKeyID")
        d["issuedTo"] = issued_to
    return d


def _put_condition(m: image_pb2.SignatureCondition, d: Mapping[str, Any]) -> None:
    g = d.get
    m.type = g("type") or ""
    m.status = g("status") or ""
    _put_time(m.lastProbeTime, g("lastProbeTime"))
    _put_time(m.lastTransitionTime, g("lastTransitionTime"))
    m.reason = g("reason") or ""
    m.message = g("message") or ""


def _condition(m: image_pb2.SignatureCondition) -> dict[str, Any]:
    d: dict[str, Any] = {
        "type": _text(m.type, "SignatureCondition.type"),
        "status": _text(m.status, "SignatureCondition.status"),
        "lastProbeTime": _time(m.lastProbeTime),
        "lastTransitionTime": _time(m.lastTransitionTime),
    }
    if m.reason:
        d["reason"] = _text(m.reason, "SignatureCondition.reason")
    if m.message:
        d["message"] = _text(m.message, "SignatureCondition.message")
    return d


def _put_entity(m: image_pb2.SignatureGenericEntity, d: Mapping[str, Any]) -> None:
    m.organization = d.get("organization") or ""
    m.commonName = d.get("commonName") or ""


def _entity(m: image_pb2.SignatureGenericEntity) -> dict[str, str]:
    d: dict[str, str] = {}
    if m.organization:
        d["organization"] = _text(m.organization, "SignatureGenericEntity.organization")
    if m.commonName:
        d["commonName"] = _text(m.commonName, "SignatureGenericEntity.commonName")
    return d


def _put_image(m: image_pb2.Image, d: Mapping[str, Any]) -> None:
    g = d.get
    _put_object_meta(m.metadata, g("metadata"))
    m.dockerImageReference = g("dockerImageReference") or ""
    # A RawExtension held by value: always written, its raw JSON only when set.
    m.dockerImageMetadata.SetInParent()
    if (metadata := g("dockerImageMetadata")) is not None:
        m.dockerImageMetadata.raw = msgspec.json.encode(metadata)
    m.dockerImageMetadataVersion = g("dockerImageMetadataVersion") or ""
    m.dockerImageManifest = g("dockerImageManifest") or ""
    for layer in g("dockerImageLayers") or ():
        item = m.dockerImageLayers.add()
        item.name = layer.get("name") or ""
        item.size = layer.get("size") or 0
        item.mediaType = layer.get("mediaType") or ""
    for signature in g("signatures") or ():
        _put_signature(m.signatures.add(), signature)
    m.dockerImageSignatures.extend(
        _unbase64(blob, "dockerImageSignatures") for blob in g("dockerImageSignatures") or ()
    )
    m.dockerImageManifestMediaType = g("dockerImageManifestMediaType") or ""
    m.dockerImageConfig = g("dockerImageConfig") or ""


def _image(m: image_pb2.Image) -> dict[str, Any]:
    d: dict[str, Any] = {"metadata": _object_meta(m.metadata)}
    if m.dockerImageReference:
        d["dockerImageReference"] = _text(m.dockerImageReference, "Image.dockerImageReference")
    if raw := m.dockerImageMetadata.raw:
        try:
            metadata = msgspec.json.decode(raw)
        except (ValueError, RecursionError):  # msgspec.DecodeError, UnicodeDecodeError
            raise ProtobufError("protobuf: Image.dockerImageMetadata is not valid JSON") from None
        if metadata is not None:
            d["dockerImageMetadata"] = metadata
    if m.dockerImageMetadataVersion:
        d["dockerImageMetadataVersion"] = _text(
            m.dockerImageMetadataVersion, "Image.dockerImageMetadataVersion"
        )
    if m.dockerImageManifest:
        d["dockerImageManifest"] = _text(m.dockerImageManifest, "Image.dockerImageManifest")
    if m.dockerImageLayers:
        d["dockerImageLayers"] = [
            {
                "name": _text(layer.name, "ImageLayer.name"),
                "size": layer.size,
                "mediaType": _text(layer.mediaType, "ImageLayer.mediaType"),
            }
            for layer in m.dockerImageLayers
        ]
    if m.signatures:
        d["signatures"] = [_signature(s) for s in m.signatures]
    if m.dockerImageSignatures:
        d["dockerImageSignatures"] = [_base64(b) for b in m.dockerImageSignatures]
    if m.dockerImageManifestMediaType:
        d["dockerImageManifestMediaType"] = _text(
            m.dockerImageManifestMediaType, "Image.dockerImageManifestMediaType"
        )
    if m.dockerImageConfig:
        d["dockerImageConfig"] = _text(m.dockerImageConfig, "Image.dockerImageConfig")
    return d


def _put_image_list(m: image_pb2.ImageList, d: Mapping[str, Any]) -> None:
    _put_list_meta(m.metadata, d.get("metadata"))
    for item in d.get("items") or ():
        _put_image(m.items.add(), item)


def _image_list(m: image_pb2.ImageList) -> dict[str, Any]:
    return {"metadata": _list_meta(m.metadata), "items": [_image(i) for i in m.items]}


# --- parsing -------------------------------------------------------------------------


def _parse(cls: type[_M], data: bytes) -> _M:
    message = cls()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, TypeError, RecursionError):
        raise ProtobufError(
            f"protobuf: {cls.DESCRIPTOR.name} message is truncated or corrupt"
        ) from None
    # A field of ours sent with the wrong wire type lands among the unknown fields,
    # as do fields of newer API versions; only the first is an error (as in Go).
    # Without unknown fields, the canonical bytes Go and `encode` write re-serialize
    # to the same length, so only other input needs the closer look.
    message.DiscardUnknownFields()
    if message.ByteSize() != len(data):
        _reject_wrong_wire_types(cls.FromString(data))
    return message


def _reject_wrong_wire_types(message: Message) -> None:
    descriptor = message.DESCRIPTOR
    unknowns = UnknownFieldSet(message)
    for index in range(len(unknowns)):  # the stubs know no __iter__
        unknown = unknowns[index]
        field = descriptor.fields_by_number.get(unknown.field_number)
        if field is not None:
            raise ProtobufError(
                f"protobuf: wrong wire type {unknown.wire_type} "
                f"for field {descriptor.name}.{field.name}"
            )
    for field, value in message.ListFields():
        if field.message_type is not None:
            for sub in value if field.is_repeated else (value,):
                _reject_wrong_wire_types(sub)


# --- kinds and the envelope ----------------------------------------------------------

_Encoder = Callable[[Mapping[str, Any]], Message]
_Decoder = Callable[[bytes], dict[str, Any]]


def _encoder(cls: type[_M], put: Callable[[_M, Mapping[str, Any]], None]) -> _Encoder:
    def build(obj: Mapping[str, Any]) -> Message:
        message = cls()
        put(message, obj)
        return message

    return build


def _decoder(cls: type[_M], to_dict: Callable[[_M], dict[str, Any]]) -> _Decoder:
    return lambda raw: to_dict(_parse(cls, raw))


_KINDS: dict[tuple[str, str], tuple[_Encoder, _Decoder]] = {
    (_IMAGE_API, "ImageSignature"): (
        _encoder(image_pb2.ImageSignature, _put_signature),
        _decoder(image_pb2.ImageSignature, _signature),
    ),
    (_IMAGE_API, "Image"): (
        _encoder(image_pb2.Image, _put_image),
        _decoder(image_pb2.Image, _image),
    ),
    (_IMAGE_API, "ImageList"): (
        _encoder(image_pb2.ImageList, _put_image_list),
        _decoder(image_pb2.ImageList, _image_list),
    ),
    (_STATUS_API, "Status"): (
        _encoder(meta_pb2.Status, _put_status),
        _decoder(meta_pb2.Status, _status),
    ),
}
_SERVED_IN = {kind: api_version for api_version, kind in _KINDS}


def _codec(api_version: str, kind: str, where: str) -> tuple[_Encoder, _Decoder]:
    codec = _KINDS.get((api_version, kind))
    if codec is not None:
        return codec
    if kind in _SERVED_IN:
        raise ProtobufError(
            f"protobuf: {where} has kind {_quote(kind)} with apiVersion {_quote(api_version)}; "
            f"{kind} is served as {_quote(_SERVED_IN[kind])}"
        )
    raise ProtobufError(f"protobuf: unknown kind {_quote(kind)} in {where}")


def encode(obj: Mapping[str, Any]) -> bytes:
    """The protobuf body for a JSON-shaped object carrying ``kind`` and ``apiVersion``.

    Raises ``ProtobufError`` for a kind not served here or a value that does not fit
    its field (bad base64, a time not in RFC 3339 form, a wrong type).
    """
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        raise ProtobufError("protobuf: the object to encode needs a kind and an apiVersion")
    build, _ = _codec(api_version, kind, "the object to encode")
    try:
        raw = build(obj).SerializeToString()
    except (TypeError, ValueError, AttributeError, RecursionError) as error:
        raise ProtobufError(f"protobuf: cannot encode {kind}: {error}") from None
    envelope = runtime_pb2.Unknown(raw=raw, contentEncoding="", contentType="")
    envelope.typeMeta.apiVersion = api_version
    envelope.typeMeta.kind = kind
    return _MAGIC + envelope.SerializeToString()


def decode(data: bytes) -> dict[str, Any]:
    """The JSON-shaped object in a protobuf body, ``kind`` and ``apiVersion`` first.

    Any malformed body raises ``ProtobufError``, never another exception.
    """
    if data[:4] != _MAGIC:
        raise ProtobufError('protobuf: the body does not start with the "k8s\\x00" magic bytes')
    envelope = _parse(runtime_pb2.Unknown, data[4:])
    api_version = _text(envelope.typeMeta.apiVersion, "Unknown.typeMeta.apiVersion")
    kind = _text(envelope.typeMeta.kind, "Unknown.typeMeta.kind")
    encoding = _text(envelope.contentEncoding, "Unknown.contentEncoding")
    if encoding:
        raise ProtobufError(f"protobuf: content encoding {_quote(encoding)} is not supported")
    content_type = _text(envelope.contentType, "Unknown.contentType")
    if content_type not in ("", MEDIA_TYPE):
        raise ProtobufError(f"protobuf: content type {_quote(content_type)} is not protobuf")
    _, to_dict = _codec(api_version, kind, "envelope")
    if not envelope.raw:
        raise ProtobufError(f"protobuf: the envelope for {kind} carries no object")
    return {"kind": kind, "apiVersion": api_version, **to_dict(envelope.raw)}
