"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on an object's JSON form."""

from __future__ import annotations

import copy
from typing import Any

from imagesig.api import errors


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f'json patch: invalid path "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise errors.bad_request(f'json patch: path "{path}" does not exist')
    return node, parts[-1]


def _index(container: list[Any], key: str, path: str, *, adding: bool) -> int:
    if adding and key == "-":
        return len(container)
    if not key.isdigit():
        raise errors.bad_request(f'json patch: invalid array index in "{path}"')
    i = int(key)
    if i > len(container) or (not adding and i == len(container)):
        raise errors.bad_request(f'json patch: index out of range in "{path}"')
    return i


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, key = _parent(doc, parts, path)
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list):
        return parent[_index(parent, key, path, adding=False)]
    raise errors.bad_request(f'json patch: path "{path}" does not exist')


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise errors.bad_request("json patch: cannot remove the whole document")
    parent, key = _parent(doc, parts, path)
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    if isinstance(parent, list):
        return parent.pop(_index(parent, key, path, adding=False))
    raise errors.bad_request(f'json patch: path "{path}" does not exist')


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, key = _parent(doc, parts, path)
    if isinstance(parent, dict):
        if replace and key not in parent:
            raise errors.bad_request(f'json patch: path "{path}" does not exist')
        parent[key] = value
    elif isinstance(parent, list):
        i = _index(parent, key, path, adding=not replace)
        if replace:
            parent[i] = value
        else:
            parent.insert(i, value)
    else:
        raise errors.bad_request(f'json patch: path "{path}" does not exist')
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise errors.bad_request("json patch: the body must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise errors.bad_request("json patch: each operation needs an op and a path")
        kind, path = op.get("op"), op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise errors.bad_request(f'json patch: "{kind}" needs a value')
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise errors.conflict("images", "", f'json patch: test failed at "{path}"')
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise errors.bad_request(f'json patch: "{kind}" needs from')
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, path, value)
        else:
            raise errors.bad_request(f"json patch: unknown op {kind!r}")
    return doc
