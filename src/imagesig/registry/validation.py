"""Validation helpers shared by the resources: names, labels, ObjectMeta.

Each function returns a list of :class:`FieldError` with paths; nothing raises.
"""

from __future__ import annotations

import re

from imagesig.api.errors import FieldError, forbidden_field, invalid, required
from imagesig.api.types import ObjectMeta

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def path_segment_problems(name: str) -> list[str]:
    """Why ``name`` cannot be one segment of a URL path (empty when it can)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _qualified_name_problems(key: str) -> list[str]:
    prefix, _, name = key.rpartition("/")
    problems = []
    if "/" in key and not prefix:
        problems.append("prefix part must be non-empty")
    elif prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        problems.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63 or not _QUALIFIED_NAME.match(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (at most 63 characters)"
        )
    return problems


def validate_labels(labels: dict[str, str], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key, value in labels.items():
        errors.extend(invalid(path, key, p) for p in _qualified_name_problems(key))
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(
                invalid(
                    f"{path}[{key}]" if path else key,
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character (at most 63 characters)",
                )
            )
    return errors


def validate_annotations(annotations: dict[str, str], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in annotations:
        errors.extend(invalid(path, key, p) for p in _qualified_name_problems(key.lower()))
    total = sum(len(k) + len(v) for k, v in annotations.items())
    if total > 256 * 1024:
        errors.append(
            FieldError("FieldValueTooLong", path, "annotations may not exceed 262144 bytes")
        )
    return errors


def validate_object_meta(meta: ObjectMeta, path: str) -> list[FieldError]:
    """Name rules of a cluster-scoped object: a name is required and must be a path segment."""
    errors: list[FieldError] = []
    if not meta.name and not meta.generate_name:
        errors.append(required(f"{path}.name", "name or generateName is required"))
    if meta.name:
        errors.extend(
            invalid(f"{path}.name", meta.name, p) for p in path_segment_problems(meta.name)
        )
    if meta.generate_name:
        errors.extend(
            invalid(f"{path}.generateName", meta.generate_name, p)
            for p in path_segment_problems(meta.generate_name)
        )
    if meta.namespace:
        errors.append(forbidden_field(f"{path}.namespace", "not allowed on this type"))
    return errors
