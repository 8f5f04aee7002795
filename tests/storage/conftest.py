"""Backends for the one conformance suite, and the real etcd the etcd runs use."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aetcd
import pytest

from imagesig.storage.base import Store
from imagesig.storage.etcd import EtcdStore
from imagesig.storage.sqlite import SQLiteStore
from tests.etcd_server import EtcdServer

Compact = Callable[[], Awaitable[None]]


def etcd_store(server: EtcdServer) -> EtcdStore:
    # Fixed-length unique prefixes: no test's prefix is a prefix of another's.
    return EtcdStore([server.client_url], prefix=f"/test-{uuid.uuid4().hex}")


@pytest.fixture(params=["sqlite", "etcd"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Store]:
    s: Store
    if backend == "sqlite":
        s = SQLiteStore(tmp_path / "store.db")
    else:
        s = etcd_store(request.getfixturevalue("etcd_server"))
    yield s
    await s.close()


@pytest.fixture
async def compactable(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Compact]]:
    """A store and a way to make it forget the history before its current revision."""
    if backend == "sqlite":
        sqlite = SQLiteStore(tmp_path / "store.db", synchronous="NORMAL", history=10)

        async def compact_sqlite() -> None:
            # SQLite compacts every 1000 writes down to the last ``history`` revisions.
            for batch in range(11):
                await _gather_creates(sqlite, [f"/filler/{batch}/{i}" for i in range(100)])

        yield sqlite, compact_sqlite
        await sqlite.close()
        return

    server: EtcdServer = request.getfixturevalue("own_etcd")
    store = etcd_store(server)

    async def compact_etcd() -> None:
        revision = await store.current_revision()
        async with aetcd.Client(host="127.0.0.1", port=server.client_port, timeout=5) as client:
            await client.compact(revision, physical=True)

    yield store, compact_etcd
    await store.close()


async def _gather_creates(store: Store, keys: list[str]) -> None:
    await asyncio.gather(*(store.create(key, b"x") for key in keys))
