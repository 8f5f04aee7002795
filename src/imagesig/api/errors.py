"""API errors as values: each carries the ``Status`` the one error writer renders.

The constructors mirror Kubernetes' ``k8s.io/apimachinery/pkg/api/errors`` so
messages, reasons and details read exactly as clients expect them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imagesig.api.types import GROUP, Status, StatusCause, StatusDetails


class APIError(Exception):
    """An error that is answered with its ``Status``."""

    def __init__(self, status: Status, headers: dict[str, str] | None = None) -> None:
        super().__init__(status.message)
        self.status = status
        self.headers = headers or {}

    @property
    def code(self) -> int:
        return self.status.code


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _failure(
    code: int, reason: str, message: str, details: StatusDetails | None = None
) -> APIError:
    return APIError(
        Status(status="Failure", message=message, reason=reason, details=details, code=code)
    )


def not_found(resource: str, name: str, group: str = GROUP) -> APIError:
    return _failure(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        StatusDetails(name=name, group=group, kind=resource),
    )


def already_exists(resource: str, name: str, group: str = GROUP) -> APIError:
    return _failure(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        StatusDetails(name=name, group=group, kind=resource),
    )


def conflict(resource: str, name: str, why: str, group: str = GROUP) -> APIError:
    return _failure(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        StatusDetails(name=name, group=group, kind=resource),
    )


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def bad_request(message: str) -> APIError:
    return _failure(400, "BadRequest", message)


def unauthorized() -> APIError:
    return _failure(401, "Unauthorized", "Unauthorized")


def forbidden(user: str, verb: str, resource: str, name: str = "", group: str = GROUP) -> APIError:
    target = _qualified(resource, group)
    subject = f'{target} "{name}"' if name else target
    return _failure(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user}" cannot {verb} {target} at the cluster scope',
        StatusDetails(name=name, group=group, kind=resource),
    )


def forbidden_path(user: str, verb: str, path: str) -> APIError:
    return _failure(
        403,
        "Forbidden",
        f'forbidden: User "{user}" cannot {verb} path "{path}"',
        StatusDetails(),
    )


def method_not_allowed() -> APIError:
    return _failure(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def not_acceptable(supported: Sequence[str]) -> APIError:
    return _failure(
        406,
        "NotAcceptable",
        "only the following media types are accepted: " + ", ".join(supported),
    )


def unsupported_media_type(content_type: str, supported: Sequence[str]) -> APIError:
    return _failure(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format ("{content_type}") - '
        "accepted media types include: " + ", ".join(supported),
    )


def request_too_large(limit: int) -> APIError:
    return _failure(
        413,
        "RequestEntityTooLarge",
        f"Request entity too large: limit is {limit} bytes",
    )


def request_too_large_for_storage(detail: str) -> APIError:
    return _failure(
        413,
        "RequestEntityTooLarge",
        f"Request entity too large: the object is too large to store ({detail})",
    )


def gone(message: str) -> APIError:
    return _failure(410, "Expired", message)


def unavailable(message: str) -> APIError:
    return APIError(
        Status(
            status="Failure",
            message=message,
            reason="ServiceUnavailable",
            code=503,
            details=StatusDetails(retry_after_seconds=1),
        ),
        headers={"Retry-After": "1"},
    )


def internal(message: str) -> APIError:
    return _failure(500, "InternalError", f"Internal error occurred: {message}")


# -- field errors (k8s.io/apimachinery/pkg/util/validation/field) -----------------


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, addressed by its path (``signatures[2].content``)."""

    type: str  # FieldValueRequired, FieldValueInvalid, FieldValueForbidden, ...
    field: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    _TITLES = {  # noqa: RUF012 - a class constant, not a field
        "FieldValueRequired": "Required value",
        "FieldValueInvalid": "Invalid value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueTooLong": "Too long",
    }

    def body(self) -> str:
        """The message without the field, as Go's ``ErrorBody``."""
        text = self._TITLES.get(self.type, self.type)
        if self.has_value:
            text += ": " + _render_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def _render_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float | bool) or value is None:
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, default=str)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", field, detail, value, has_value=True)


def forbidden_field(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, detail)


def invalid_object(
    kind: str, name: str, errors: Sequence[FieldError], group: str = GROUP
) -> APIError:
    """422: ``<Kind>.<group> "<name>" is invalid: <errors>``."""
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    return _failure(
        422,
        "Invalid",
        f'{_qualified(kind, group)} "{name}" is invalid: {listed}',
        StatusDetails(
            name=name,
            group=group,
            kind=kind,
            causes=[StatusCause(reason=e.type, message=e.body(), field=e.field) for e in errors],
        ),
    )
