"""The storage contract: a small, etcd-shaped key/value store with revisions.

Every backend (SQLite, etcd) implements :class:`Store` and passes the one
conformance suite in ``tests/storage``. Keys are opaque strings, values opaque
bytes: the store knows nothing about resources. Every write gets a new,
store-wide, strictly increasing revision; an object's ``mod_revision`` is what
the API calls its ``resourceVersion``.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int
    """The store revision the list was read at (the list's resourceVersion)."""
    more: bool
    """True when ``limit`` cut the list short; continue after ``items[-1].key``."""


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    kv: KeyValue
    """For PUT the new value; for DELETE the last value, with ``mod_revision`` the delete's."""
    created: bool
    """For PUT: whether the key did not exist before this event."""


class StoreError(Exception):
    """Base of the errors a store reports; each maps to one API status."""


class KeyExists(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class KeyNotFound(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class RevisionMismatch(StoreError):
    """A compare-and-swap lost: the key's mod revision is not the expected one."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"key {key!r} is at revision {actual}, not {expected}")
        self.key = key
        self.expected = expected
        self.actual = actual


class Compacted(StoreError):
    """A watch asked for a revision whose history is gone."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"revision {requested} is compacted; the oldest kept is {oldest}")
        self.requested = requested
        self.oldest = oldest


class ValueTooLarge(StoreError):
    """The backend refuses a value this large (etcd: ``--max-request-bytes``)."""


class Unavailable(StoreError):
    """The backend cannot be reached; the request may be retried later."""


class Store(abc.ABC):
    """The contract every backend implements.

    All methods are coroutines that never block the event loop.
    """

    @abc.abstractmethod
    async def get(self, key: str) -> KeyValue | None: ...

    @abc.abstractmethod
    async def create(self, key: str, value: bytes) -> KeyValue:
        """Create ``key`` if absent, else raise :class:`KeyExists`."""

    @abc.abstractmethod
    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Compare-and-swap: write only if ``key`` is at ``expected_revision``.

        Raises :class:`KeyNotFound` or :class:`RevisionMismatch`.
        """

    @abc.abstractmethod
    async def delete(self, key: str, expected_revision: int | None = None) -> KeyValue:
        """Delete ``key`` (optionally only at ``expected_revision``); returns the last value.

        Raises :class:`KeyNotFound` or :class:`RevisionMismatch`.
        """

    @abc.abstractmethod
    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "") -> ListResult:
        """Keys under ``prefix`` in key order, after ``start_after``; ``limit`` 0 means all."""

    @abc.abstractmethod
    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        """Events for keys under ``prefix`` with revision > ``from_revision``, in order, forever.

        Raises :class:`Compacted` (on first iteration) when that history is gone.
        """

    @abc.abstractmethod
    async def current_revision(self) -> int: ...

    @abc.abstractmethod
    async def ready(self) -> bool:
        """Whether the backend answers now (for ``/readyz``)."""

    @abc.abstractmethod
    async def close(self) -> None: ...
