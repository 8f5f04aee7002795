"""Write rates of the Store backends against their engines' own, measured in one run.

For each backend: compare-and-swap updates of ~2 KiB values, one at a time and from
16 concurrent writers (each on its own key, so nothing conflicts), next to the
engine's plain write on the same data (SQLite: one UPDATE per committed
transaction, sequential, same ``synchronous``; etcd: an aetcd ``put``, no txn).
Prints the median writes/s of a few rounds and the ratio store / engine.

    .venv/bin/python bench/bench_store.py
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aetcd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagesig.storage.base import Store
from imagesig.storage.etcd import EtcdStore
from imagesig.storage.sqlite import SQLiteStore, Synchronous
from tests.etcd_server import EtcdServer, etcd_missing_reason

ROUNDS = 5
SEQUENTIAL_WRITES = 300
WRITERS = 16
WRITES_PER_WRITER = 50
VALUE = os.urandom(2048)

Rate = Callable[[], Awaitable[float]]


async def medians(*rates: Rate) -> list[float]:
    """Median of each rate; rounds interleave so a slow moment of the machine hits all."""
    samples: list[list[float]] = [[] for _ in rates]
    for _ in range(ROUNDS):
        for sample, rate in zip(samples, rates, strict=True):
            sample.append(await rate())
    return [statistics.median(sample) for sample in samples]


async def timed(writes: int, work: Awaitable[object]) -> float:
    started = time.perf_counter()
    await work
    return writes / (time.perf_counter() - started)


def store_rates(store: Store, tag: str) -> tuple[Rate, Rate]:
    async def sequential() -> float:
        # Creating the key is set-up, not part of the measured writes.
        kv = await store.get(f"/bench/{tag}/seq") or await store.create(f"/bench/{tag}/seq", VALUE)
        started = time.perf_counter()
        for _ in range(SEQUENTIAL_WRITES):
            kv = await store.update(kv.key, VALUE, kv.mod_revision)
        return SEQUENTIAL_WRITES / (time.perf_counter() - started)

    async def concurrent() -> float:
        keys = [f"/bench/{tag}/c{i}" for i in range(WRITERS)]
        kvs = [await store.get(k) or await store.create(k, VALUE) for k in keys]

        async def writer(index: int) -> None:
            kv = kvs[index]
            for _ in range(WRITES_PER_WRITER):
                kv = await store.update(kv.key, VALUE, kv.mod_revision)

        return await timed(
            WRITERS * WRITES_PER_WRITER, asyncio.gather(*(writer(i) for i in range(WRITERS)))
        )

    return sequential, concurrent


def sqlite_engine_rate(path: Path, synchronous: Synchronous) -> Rate:
    """One UPDATE per committed transaction on one connection: SQLite's own write rate."""

    def run() -> float:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("CREATE TABLE IF NOT EXISTS raw (k TEXT PRIMARY KEY, v BLOB, rev INTEGER)")
        conn.execute("INSERT OR REPLACE INTO raw VALUES ('k', ?, 0)", (VALUE,))
        started = time.perf_counter()
        for rev in range(SEQUENTIAL_WRITES):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE raw SET v = ?, rev = ? WHERE k = 'k'", (VALUE, rev))
            conn.execute("COMMIT")
        rate = SEQUENTIAL_WRITES / (time.perf_counter() - started)
        conn.close()
        return rate

    async def rate() -> float:
        return await asyncio.to_thread(run)

    return rate


def etcd_engine_rates(client: aetcd.Client) -> tuple[Rate, Rate]:
    async def sequential() -> float:
        async def work() -> None:
            for _ in range(SEQUENTIAL_WRITES):
                await client.put(b"/bench-raw/seq", VALUE)

        return await timed(SEQUENTIAL_WRITES, work())

    async def concurrent() -> float:
        async def writer(index: int) -> None:
            for _ in range(WRITES_PER_WRITER):
                await client.put(f"/bench-raw/c{index}".encode(), VALUE)

        return await timed(
            WRITERS * WRITES_PER_WRITER, asyncio.gather(*(writer(i) for i in range(WRITERS)))
        )

    return sequential, concurrent


def row(name: str, rate: float, baseline: float | None) -> str:
    ratio = f"{rate / baseline:6.2f}x" if baseline else "      -"
    return f"  {name:<44} {rate:10,.0f} writes/s   {ratio}"


async def bench_sqlite(directory: Path) -> None:
    syncs: list[Synchronous] = ["FULL", "NORMAL"]
    for sync in syncs:
        store = SQLiteStore(directory / f"store-{sync}.db", synchronous=sync)
        engine, seq, conc = await medians(
            sqlite_engine_rate(directory / f"raw-{sync}.db", sync), *store_rates(store, sync)
        )
        await store.close()
        print(f"SQLite synchronous={sync} (ratio: store CAS / engine commit per write)")
        print(row("engine: UPDATE + COMMIT, sequential", engine, None))
        print(row("store CAS, sequential", seq, engine))
        print(row(f"store CAS, {WRITERS} concurrent writers", conc, engine))


async def bench_etcd(server: EtcdServer) -> None:
    store = EtcdStore([server.client_url], prefix="/bench-store")
    async with aetcd.Client(host="127.0.0.1", port=server.client_port, timeout=10) as client:
        raw_seq, raw_conc = etcd_engine_rates(client)
        store_seq, store_conc = store_rates(store, "etcd")
        engine_seq, seq, engine_conc, conc = await medians(raw_seq, store_seq, raw_conc, store_conc)
    await store.close()
    print("etcd (ratio: store CAS txn / aetcd put without txn, same concurrency)")
    print(row("engine: aetcd put, sequential", engine_seq, None))
    print(row("store CAS, sequential", seq, engine_seq))
    print(row(f"engine: aetcd put, {WRITERS} concurrent writers", engine_conc, None))
    print(row(f"store CAS, {WRITERS} concurrent writers", conc, engine_conc))


async def main() -> None:
    print(
        f"{ROUNDS} rounds, median; {len(VALUE)} B values; sequential {SEQUENTIAL_WRITES} writes, "
        f"concurrent {WRITERS} x {WRITES_PER_WRITER}; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        await bench_sqlite(Path(tmp))
        missing = etcd_missing_reason()
        if missing:
            print(f"etcd: skipped, {missing}")
            return
        with EtcdServer(Path(tmp) / "etcd") as server:
            await bench_etcd(server)


if __name__ == "__main__":
    asyncio.run(main())
