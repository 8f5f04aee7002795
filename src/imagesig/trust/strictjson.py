"""Strict JSON decoding for security-relevant documents.

Python's ``json`` silently keeps the last of duplicate keys and accepts ``NaN``;
for signed payloads and policy files either could let two readers see different
documents, so both are rejected here, with the path of the offending value.
"""

from __future__ import annotations

import json
from typing import Any


class StrictJSONError(ValueError):
    """The document is not strict JSON; ``path`` is where (``""`` for the whole document)."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path or 'document'}: {detail}")
        self.path = path
        self.detail = detail


class _Pairs(list[tuple[str, Any]]):
    """An object's members in document order, before duplicates are checked."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def join_path(path: str, key: str) -> str:
    """``a.b`` for member ``b`` of ``a``."""
    return f"{path}.{key}" if path else key


def _build(value: Any, path: str) -> Any:
    if isinstance(value, _Pairs):
        result: dict[str, Any] = {}
        for key, member in value:
            if key in result:
                raise StrictJSONError(path, f'duplicate key "{key}"')
            result[key] = _build(member, join_path(path, key))
        return result
    if isinstance(value, list):
        return [_build(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


class _Duplicate(Exception):
    """A duplicate key, found on the fast path; the slow path finds out where."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Duplicate
    return result


_FAST = json.JSONDecoder(object_pairs_hook=_unique, parse_constant=_reject_constant)
_WITH_PATHS = json.JSONDecoder(object_pairs_hook=_Pairs, parse_constant=_reject_constant)


def loads(data: bytes | str) -> Any:
    """Decode one JSON value: UTF-8, no duplicate keys, no NaN/Infinity, nothing after it."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise StrictJSONError("", f"not valid UTF-8 at byte {exc.start}") from None
    try:
        try:
            return _FAST.decode(text)
        except _Duplicate:
            return _build(_WITH_PATHS.decode(text), "")
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            raise StrictJSONError(
                "", f"unexpected data after the JSON value at char {exc.pos}"
            ) from None
        raise StrictJSONError("", f"not valid JSON: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise StrictJSONError("", "JSON nested too deeply") from None
    except StrictJSONError:
        raise
    except ValueError as exc:
        raise StrictJSONError("", f"not valid JSON: {exc}") from None


def type_name(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect_object(value: object, path: str) -> dict[str, Any]:
    """``value`` as a JSON object, or an error at ``path``."""
    if not isinstance(value, dict):
        raise StrictJSONError(path, f"expected an object, got {type_name(value)}")
    return value


def expect_string(value: object, path: str) -> str:
    """``value`` as a JSON string, or an error at ``path``."""
    if not isinstance(value, str):
        raise StrictJSONError(path, f"expected a string, got {type_name(value)}")
    return value


def exact_members(obj: dict[str, Any], names: tuple[str, ...], path: str) -> None:
    """Require exactly the members ``names``: none missing, none unexpected."""
    if obj.keys() == set(names):
        return
    for key in obj:
        if key not in names:
            raise StrictJSONError(path, f'unexpected member "{key}"')
    for name in names:
        if name not in obj:
            raise StrictJSONError(path, f'missing member "{name}"')
