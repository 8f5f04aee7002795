"""The embedded default backend: one SQLite file in WAL mode, kine-style.

``kv`` holds each key's current value; ``log`` holds every change with its
revision (an AUTOINCREMENT rowid, so revisions never go back, even after
compaction) and feeds watches. All writes go through one writer thread that
commits whatever is queued as one transaction (group commit): with
``synchronous=FULL`` every acknowledged write is on disk, and concurrent
writers share the fsync instead of queueing behind one each. Reads run on
their own connections in a small thread pool, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from imagesig.storage.base import (
    Compacted,
    Event,
    EventType,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    Store,
    StoreError,
)

T = TypeVar("T")

Synchronous = Literal["FULL", "NORMAL", "OFF"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    created INTEGER NOT NULL,
    create_rev INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

# How many log entries a watch can resume from; older ones are compacted away.
DEFAULT_HISTORY = 20_000
_MAX_BATCH = 256
_POLL_SECONDS = 1.0


def _prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    if not prefix:
        return "\U0010ffff"
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _connect(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


def _current_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
    return int(row[0]) if row else 0


def _compacted_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name = 'compacted'").fetchone()
    return int(row[0]) if row else 0


class _WriteOp:
    __slots__ = ("fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop


def _settle(op: _WriteOp, result: Any, error: BaseException | None) -> None:
    def apply() -> None:
        if op.future.done():
            return
        if error is not None:
            op.future.set_exception(error)
        else:
            op.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        op.loop.call_soon_threadsafe(apply)


class SQLiteStore(Store):
    """A :class:`Store` on one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        history: int = DEFAULT_HISTORY,
    ) -> None:
        self.path = Path(path)
        self._synchronous: Synchronous = synchronous
        self._history = history
        self._writer_conn = _connect(self.path, synchronous)
        self._writer_conn.executescript(_SCHEMA)
        self._queue: queue.SimpleQueue[_WriteOp | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writes_since_compact = 0
        self._closed = False
        self._writer.start()

    # -- plumbing -------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self._synchronous)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("store is closed")

        def run() -> T:
            conn = self._reader()
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        self._bind(loop)
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_WriteOp(fn, future, loop))
        return await future

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not loop:
            self._loop = loop
            self._wakeup = asyncio.Event()

    def _write_loop(self) -> None:
        conn = self._writer_conn
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._run_batch(conn, batch)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_WriteOp]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                conn.execute("SAVEPOINT op")
                try:
                    outcomes.append((op.fn(conn), None))
                    conn.execute("RELEASE op")
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((None, exc))
            self._maybe_compact(conn, len(batch))
            conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            error = StoreError(f"sqlite write failed: {exc}")
            for op in batch:
                _settle(op, None, error)
            return
        for op, (result, error_) in zip(batch, outcomes, strict=True):
            _settle(op, result, error_)
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._notify)

    def _maybe_compact(self, conn: sqlite3.Connection, writes: int) -> None:
        self._writes_since_compact += writes
        if self._writes_since_compact < 1000:
            return
        self._writes_since_compact = 0
        keep_from = _current_revision(conn) - self._history
        if keep_from > _compacted_revision(conn):
            conn.execute("DELETE FROM log WHERE rev <= ?", (keep_from,))
            conn.execute(
                "INSERT INTO meta(name, value) VALUES ('compacted', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (keep_from,),
            )

    def _notify(self) -> None:
        # Each commit sets the current event and installs a fresh one: a watcher that
        # took the event before it read the log cannot miss a commit made after it read.
        wakeup = self._wakeup
        self._wakeup = asyncio.Event()
        if wakeup is not None:
            wakeup.set()

    # -- the contract ---------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        def run(conn: sqlite3.Connection) -> KeyValue | None:
            row = conn.execute(
                "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?", (key,)
            ).fetchone()
            return KeyValue(key, row[0], row[1], row[2]) if row else None

        return await self._read(run)

    @staticmethod
    def _append_log(
        conn: sqlite3.Connection,
        key: str,
        value: bytes,
        *,
        deleted: bool,
        created: bool,
        create_rev: int,
    ) -> int:
        cur = conn.execute(
            "INSERT INTO log(key, deleted, created, create_rev, value) VALUES (?, ?, ?, ?, ?)",
            (key, int(deleted), int(created), create_rev, value),
        )
        rev = cur.lastrowid
        assert rev is not None
        return rev

    async def create(self, key: str, value: bytes) -> KeyValue:
        def run(conn: sqlite3.Connection) -> KeyValue:
            if conn.execute("SELECT 1 FROM kv WHERE key = ?", (key,)).fetchone():
                raise KeyExists(key)
            rev = self._append_log(conn, key, value, deleted=False, created=True, create_rev=0)
            conn.execute("UPDATE log SET create_rev = ? WHERE rev = ?", (rev, rev))
            conn.execute(
                "INSERT INTO kv(key, value, create_rev, mod_rev) VALUES (?, ?, ?, ?)",
                (key, value, rev, rev),
            )
            return KeyValue(key, value, rev, rev)

        return await self._write(run)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        def run(conn: sqlite3.Connection) -> KeyValue:
            row = conn.execute(
                "SELECT create_rev, mod_rev FROM kv WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                raise KeyNotFound(key)
            create_rev, mod_rev = row
            if mod_rev != expected_revision:
                raise RevisionMismatch(key, expected_revision, mod_rev)
            rev = self._append_log(
                conn, key, value, deleted=False, created=False, create_rev=create_rev
            )
            conn.execute("UPDATE kv SET value = ?, mod_rev = ? WHERE key = ?", (value, rev, key))
            return KeyValue(key, value, create_rev, rev)

        return await self._write(run)

    async def delete(self, key: str, expected_revision: int | None = None) -> KeyValue:
        def run(conn: sqlite3.Connection) -> KeyValue:
            row = conn.execute(
                "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                raise KeyNotFound(key)
            value, create_rev, mod_rev = row
            if expected_revision is not None and mod_rev != expected_revision:
                raise RevisionMismatch(key, expected_revision, mod_rev)
            rev = self._append_log(
                conn, key, value, deleted=True, created=False, create_rev=create_rev
            )
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            return KeyValue(key, value, create_rev, rev)

        return await self._write(run)

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "") -> ListResult:
        def run(conn: sqlite3.Connection) -> ListResult:
            low = max(prefix, start_after)
            op = ">" if start_after and start_after >= prefix else ">="
            sql = (
                f"SELECT key, value, create_rev, mod_rev FROM kv "  # noqa: S608 - op is one of two literals
                f"WHERE key {op} ? AND key < ? ORDER BY key"
            )
            params: tuple[Any, ...] = (low, _prefix_end(prefix))
            if limit > 0:
                sql += " LIMIT ?"
                params += (limit + 1,)
            rows = conn.execute(sql, params).fetchall()
            more = limit > 0 and len(rows) > limit
            if more:
                rows = rows[:limit]
            items = [KeyValue(r[0], r[1], r[2], r[3]) for r in rows]
            return ListResult(items, _current_revision(conn), more)

        return await self._read(run)

    async def current_revision(self) -> int:
        return await self._read(_current_revision)

    async def ready(self) -> bool:
        try:
            await self._read(lambda conn: conn.execute("SELECT 1").fetchone())
        except (StoreError, sqlite3.Error):
            return False
        return True

    async def _events_after(self, prefix: str, revision: int) -> tuple[builtins.list[Event], int]:
        def run(conn: sqlite3.Connection) -> tuple[builtins.list[Event], int]:
            compacted = _compacted_revision(conn)
            if revision < compacted:
                raise Compacted(revision, compacted + 1)
            rows = conn.execute(
                "SELECT rev, key, deleted, created, create_rev, value FROM log "
                "WHERE rev > ? AND key >= ? AND key < ? ORDER BY rev LIMIT 1000",
                (revision, prefix, _prefix_end(prefix)),
            ).fetchall()
            events = [
                Event(
                    EventType.DELETE if r[2] else EventType.PUT,
                    KeyValue(r[1], r[5], r[4], r[0]),
                    bool(r[3]),
                )
                for r in rows
            ]
            last = rows[-1][0] if len(rows) == 1000 else max(_current_revision(conn), revision)
            return events, last

        return await self._read(run)

    async def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        self._bind(asyncio.get_running_loop())
        revision = from_revision
        while True:
            wakeup = self._wakeup
            assert wakeup is not None
            events, revision = await self._events_after(prefix, revision)
            for event in events:
                yield event
            if events:
                continue
            # The poll also catches writes by another process sharing the file.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), _POLL_SECONDS)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
        self._writer_conn.close()
