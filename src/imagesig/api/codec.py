"""The one representation layer: request bodies in, response objects out.

Every body, whatever its media type, becomes the object's JSON form (a dict)
first; unknown and duplicate fields are found on that form (``fieldValidation``),
then one ``msgspec.convert`` makes the typed object. Responses go the other way
through :func:`encode`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

import msgspec
import yaml

from imagesig.api import errors, protobuf

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = protobuf.MEDIA_TYPE
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

BODY_TYPES = (JSON, YAML, PROTOBUF)

S = TypeVar("S", bound=msgspec.Struct)


# -- parsing with duplicate detection ---------------------------------------------


class _Duplicates:
    """Collects duplicate keys while a document is parsed."""

    def __init__(self) -> None:
        self.found: list[str] = []


def _parse_json(body: bytes, dups: _Duplicates) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                dups.found.append(key)
            out[key] = value
        return out

    try:
        return json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError) as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None


class _YAMLLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings (as the JSON form has them)."""


_YAMLLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_yaml(body: bytes, dups: _Duplicates) -> Any:
    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise errors.bad_request(f"the request body has a non-string key: {key!r}")
            if key in out:
                dups.found.append(key)
            out[key] = loader.construct_object(value_node, deep=True)
        return out

    class Loader(_YAMLLoader):
        pass

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        docs = list(yaml.load_all(body, Loader=Loader))
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"the request body is not valid YAML: {exc}") from None
    docs = [d for d in docs if d is not None]
    if len(docs) != 1:
        raise errors.bad_request("the request body must hold exactly one YAML document")
    return docs[0]


# -- the schema walk for fieldValidation -------------------------------------------


@dataclass(frozen=True)
class _Schema:
    """Known field names of a struct and the schema of each nested struct."""

    fields: dict[str, _Schema | None] = field(default_factory=dict)
    items: bool = False  # this node is a list of the struct described by ``fields``


def _schema_of(info: msgspec.inspect.Type) -> _Schema | None:
    if isinstance(info, msgspec.inspect.StructType):
        return _schema(info.cls)
    if isinstance(info, msgspec.inspect.ListType):
        inner = _schema_of(info.item_type)
        return _Schema(inner.fields, items=True) if inner else None
    if isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            found = _schema_of(member)
            if found:
                return found
    return None


@cache
def _schema(cls: type[msgspec.Struct]) -> _Schema:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return _Schema({f.encode_name: _schema_of(f.type) for f in info.fields})


def _unknown(data: Any, schema: _Schema, path: str) -> Iterator[str]:
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in schema.fields:
            yield where
            continue
        child = schema.fields[key]
        if child is None:
            continue
        if child.items and isinstance(value, list):
            for i, item in enumerate(value):
                yield from _unknown(item, _Schema(child.fields), f"{where}[{i}]")
        elif not child.items:
            yield from _unknown(value, child, where)


# -- decoding ----------------------------------------------------------------------


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass
class Decoded:
    document: dict[str, Any]
    unknown_fields: list[str]
    duplicate_fields: list[str]

    def field_problems(self) -> list[str]:
        return [f'unknown field "{f}"' for f in self.unknown_fields] + [
            f'duplicate field "{f}"' for f in self.duplicate_fields
        ]


def parse_body(body: bytes, content_type: str | None, target: type[msgspec.Struct]) -> Decoded:
    """A request body as its JSON form, with the fields the target type does not know."""
    media = media_type_of(content_type)
    if not body.strip():
        raise errors.bad_request("the request body is empty")
    dups = _Duplicates()
    if media in (JSON, "") or media.endswith("+json"):
        document = _parse_json(body, dups)
    elif media in (YAML, "application/x-yaml", "text/yaml"):
        document = _parse_yaml(body, dups)
    elif media == PROTOBUF:
        try:
            document = protobuf.decode(body)
        except protobuf.ProtobufError as exc:
            raise errors.bad_request(str(exc)) from None
    else:
        raise errors.unsupported_media_type(content_type or "", BODY_TYPES)
    if not isinstance(document, dict):
        raise errors.bad_request("the request body must be an object")
    unknown = [] if media == PROTOBUF else unknown_fields(document, target)
    return Decoded(document, unknown, dups.found)


def to_object(document: dict[str, Any], target: type[S], kind: str, api_version: str) -> S:
    """The typed object, after checking the document's kind and apiVersion."""
    doc_kind = document.get("kind")
    doc_version = document.get("apiVersion")
    if doc_version not in (None, "", api_version):
        raise errors.bad_request(
            f"the API version in the data ({doc_version}) does not match the expected API "
            f"version ({api_version})"
        )
    if doc_kind not in (None, "", kind):
        raise errors.bad_request(
            f"the kind in the data ({doc_kind}) does not match the expected kind ({kind})"
        )
    try:
        return msgspec.convert(document, target)
    except msgspec.ValidationError as exc:
        raise errors.bad_request(f"the request body is invalid: {_json_path(str(exc))}") from None


def _json_path(message: str) -> str:
    # msgspec says "at `$.metadata.name`"; Kubernetes users read "metadata.name".
    return message.replace("`$.", "`").replace("`$`", "the object")


# -- encoding ----------------------------------------------------------------------

_json_encoder = msgspec.json.Encoder()


def encode(obj: msgspec.Struct | dict[str, Any], media_type: str, pretty: bool = False) -> bytes:
    if media_type == JSON:
        raw = _json_encoder.encode(obj)
        return msgspec.json.format(raw, indent=2) + b"\n" if pretty else raw
    builtins = obj if isinstance(obj, dict) else msgspec.to_builtins(obj)
    if media_type == YAML:
        text = yaml.safe_dump(builtins, sort_keys=False, allow_unicode=True)
        return text.encode()
    if media_type == PROTOBUF:
        return protobuf.encode(builtins)
    raise ValueError(f"cannot encode {media_type}")


def unknown_fields(document: dict[str, Any], target: type[msgspec.Struct]) -> list[str]:
    """Paths of the fields in ``document`` that ``target`` does not have."""
    return list(_unknown(document, _schema(target), ""))
