"""The OpenAPI v3 document kubectl fetches for ``create -f`` and ``explain``.

Schemas come from the wire types themselves (``msgspec.json.schema_components``)
with the descriptions below, so the document cannot drift from what is served.
The ``patch`` operation with a ``fieldValidation`` parameter is what tells
kubectl the server validates fields itself.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

import msgspec

from imagesig.api.types import API_VERSION, GROUP, VERSION, Image, ImageList, ImageSignature, Status

GV_PATH = f"apis/{GROUP}/{VERSION}"
_PREFIX = "com.github.openshift.api.image.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."

_NAMES = {
    "Image": _PREFIX + "Image",
    "ImageList": _PREFIX + "ImageList",
    "ImageLayer": _PREFIX + "ImageLayer",
    "ImageSignature": _PREFIX + "ImageSignature",
    "SignatureCondition": _PREFIX + "SignatureCondition",
    "SignatureIssuer": _PREFIX + "SignatureIssuer",
    "SignatureSubject": _PREFIX + "SignatureSubject",
    "ObjectMeta": _META + "ObjectMeta",
    "ListMeta": _META + "ListMeta",
    "Status": _META + "Status",
    "StatusDetails": _META + "StatusDetails",
    "StatusCause": _META + "StatusCause",
}

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "ImageSignature": {
        "": "ImageSignature holds a signature of an image. It allows to verify image identity "
        "and possibly other claims as long as the signature is trusted. Its name is "
        "<imageName>@<signatureName>; it lives inside its Image.",
        "type": "Required: Describes a type of stored blob (atomic or AtomicImageV1 for "
        "simple signing).",
        "content": "Required: An opaque binary string which is an image's signature "
        "(base64 in JSON and YAML).",
        "conditions": "Conditions represent the latest available observations of a "
        "signature's current state: Trusted, ForImage, Expired, Revoked. Set by the server.",
        "imageIdentity": "A human readable string representing image's identity; the docker "
        "reference the signature was made for. Set by the server from a trusted signature.",
        "signedClaims": "Contains claims from the signature. Set by the server.",
        "created": "If specified, it is the time of signature's creation. Set by the server.",
        "issuedBy": "If specified, it holds information about an issuer of signing "
        "certificate or key. Set by the server.",
        "issuedTo": "If specified, it holds information about a subject of signing certificate "
        "or key. Set by the server.",
        "metadata": "Standard object's metadata.",
        "kind": "Kind is a string value representing the REST resource this object represents.",
        "apiVersion": "APIVersion defines the versioned schema of this representation.",
    },
    "Image": {
        "": "Image is an immutable representation of a container image and metadata at a "
        "point in time; it carries the image's signatures.",
        "dockerImageReference": "The string that can be used to pull this image.",
        "dockerImageManifest": "The raw JSON of the manifest.",
        "signatures": "Signatures holds all signatures of the image.",
        "dockerImageSignatures": "A list of signatures (legacy blobs).",
    },
    "SignatureCondition": {
        "": "SignatureCondition describes an image signature condition of particular kind at "
        "particular probe time.",
        "type": "Type of signature condition: Trusted, ForImage, Expired or Revoked.",
        "status": "Status of the condition, one of True, False, Unknown.",
        "lastProbeTime": "Last time the condition was checked.",
        "lastTransitionTime": "Last time the condition transit from one status to another.",
        "reason": "(brief) reason for the condition's last transition.",
        "message": "Human readable message indicating details about last transition.",
    },
}


def _tidy(node: Any) -> Any:
    """Schema clean-up for kubectl: nullable instead of anyOf-null, no defaults or titles."""
    if isinstance(node, list):
        return [_tidy(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _tidy(v) for k, v in node.items() if k not in ("default", "title")}
    if out.get("required") == []:
        del out["required"]
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of:
        rest = [s for s in any_of if s != {"type": "null"}]
        if len(rest) == 1:
            del out["anyOf"]
            if "$ref" in rest[0]:
                out["allOf"] = [rest[0]]
            else:
                out.update(rest[0])
    if "$ref" in out:
        ref = out["$ref"].rsplit("/", 1)[-1]
        out["$ref"] = "#/components/schemas/" + _NAMES.get(ref, ref)
    return out


def _gvk(kind: str, group: str = GROUP, version: str = VERSION) -> list[dict[str, str]]:
    return [{"group": group, "version": version, "kind": kind}]


def _schemas() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [ImageSignature, Image, ImageList, Status], ref_template="#/components/schemas/{name}"
    )
    schemas: dict[str, Any] = {}
    for short, schema in components.items():
        tidy = _tidy(schema)
        described = _DESCRIPTIONS.get(short, {})
        if "" in described:
            tidy["description"] = described[""]
        for prop, text in described.items():
            if prop and prop in tidy.get("properties", {}):
                tidy["properties"][prop]["description"] = text
        schemas[_NAMES.get(short, short)] = tidy
    schemas[_NAMES["ImageSignature"]]["required"] = ["type", "content"]
    schemas[_NAMES["ImageSignature"]]["x-kubernetes-group-version-kind"] = _gvk("ImageSignature")
    schemas[_NAMES["Image"]]["x-kubernetes-group-version-kind"] = _gvk("Image")
    schemas[_NAMES["ImageList"]]["x-kubernetes-group-version-kind"] = _gvk("ImageList")
    schemas[_NAMES["Status"]]["x-kubernetes-group-version-kind"] = _gvk("Status", "", "v1")
    return schemas


def _param(name: str, description: str, schema_type: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": schema_type, "uniqueItems": True},
    }


_COMMON = [_param("pretty", "If 'true', then the output is pretty printed.")]
_WRITE = [
    _param("dryRun", "When present (All), modifications are not persisted."),
    _param("fieldManager", "A name associated with the actor making these changes."),
    _param(
        "fieldValidation",
        "How to handle unknown or duplicate fields in the body: Ignore, Warn or Strict.",
    ),
]
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "name of the object",
    "schema": {"type": "string", "uniqueItems": True},
}


def _content(schema: str) -> dict[str, Any]:
    ref = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    return {
        "application/json": ref,
        "application/yaml": ref,
        "application/vnd.kubernetes.protobuf": ref,
    }


def _op(
    op_id: str,
    action: str,
    kind: str,
    responses: dict[str, str],
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
    body_types: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "tags": ["imageOpenshiftIo_v1"],
        "parameters": params or [],
        "responses": {
            code: {"description": "OK", "content": _content(schema)}
            for code, schema in responses.items()
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(kind)[0],
    }
    op["responses"]["401"] = {"description": "Unauthorized"}
    if body:
        content = _content(body)
        if body_types:
            content = {t: {"schema": {"$ref": f"#/components/schemas/{body}"}} for t in body_types}
        op["requestBody"] = {"required": True, "content": content}
    return op


_PATCH_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
)


@cache
def document() -> dict[str, Any]:
    sig, img, lst, status = (
        _NAMES["ImageSignature"],
        _NAMES["Image"],
        _NAMES["ImageList"],
        _NAMES["Status"],
    )
    base = f"/apis/{API_VERSION}"
    paths = {
        f"{base}/imagesignatures": {
            "parameters": _COMMON,
            "post": _op(
                "createImageOpenshiftIoV1ImageSignature",
                "post",
                "ImageSignature",
                {"201": sig},
                sig,
                _WRITE,
            ),
        },
        f"{base}/imagesignatures/{{name}}": {
            "parameters": [_NAME, *_COMMON],
            "delete": _op(
                "deleteImageOpenshiftIoV1ImageSignature",
                "delete",
                "ImageSignature",
                {"200": status},
                params=[_WRITE[0]],
            ),
            "patch": _op(
                "patchImageOpenshiftIoV1ImageSignature",
                "patch",
                "ImageSignature",
                {"200": sig},
                sig,
                _WRITE,
                _PATCH_TYPES,
            ),
        },
        f"{base}/images": {
            "parameters": _COMMON,
            "get": _op(
                "listImageOpenshiftIoV1Image",
                "list",
                "Image",
                {"200": lst},
                params=[
                    _param("labelSelector", "A selector to restrict the list by labels."),
                    _param("limit", "Maximum number of items to return.", "integer"),
                    _param("continue", "The continue token of a previous list."),
                    _param("watch", "Watch for changes.", "boolean"),
                    _param("resourceVersion", "Where a watch starts."),
                ],
            ),
            "post": _op(
                "createImageOpenshiftIoV1Image", "post", "Image", {"201": img}, img, _WRITE
            ),
        },
        f"{base}/images/{{name}}": {
            "parameters": [_NAME, *_COMMON],
            "get": _op("readImageOpenshiftIoV1Image", "get", "Image", {"200": img}),
            "put": _op("replaceImageOpenshiftIoV1Image", "put", "Image", {"200": img}, img, _WRITE),
            "patch": _op(
                "patchImageOpenshiftIoV1Image",
                "patch",
                "Image",
                {"200": img},
                img,
                _WRITE,
                _PATCH_TYPES,
            ),
            "delete": _op(
                "deleteImageOpenshiftIoV1Image",
                "delete",
                "Image",
                {"200": status},
                params=[_WRITE[0]],
            ),
        },
    }
    return {
        "openapi": "3.0.0",
        "info": {"title": "imagesig", "version": API_VERSION},
        "paths": paths,
        "components": {"schemas": _schemas()},
    }


@cache
def document_bytes() -> bytes:
    return json.dumps(document(), separators=(",", ":")).encode()


@cache
def document_hash() -> str:
    return hashlib.sha512(document_bytes()).hexdigest()[:64].upper()


def index() -> dict[str, Any]:
    return {
        "paths": {GV_PATH: {"serverRelativeURL": f"/openapi/v3/{GV_PATH}?hash={document_hash()}"}}
    }
