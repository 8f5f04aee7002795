"""Signature creates through the API on etcd and on SQLite, each against its own engine.

Two real ``imagesig serve`` processes, one on its embedded SQLite file and one on a
single-member etcd started here (tests/etcd_server.py). Each client (an httpx
AsyncClient, on the same machine as the server) creates signatures on images of its own,
at most SIGS_PER_IMAGE on each, 1 and 16 clients at a time. Each API rate is printed as
a ratio to the raw write rate of the same engine, measured in the same round at the same
concurrency:

* SQLite: compare-and-swap updates of VALUE_SIZE values through ``SQLiteStore.update``
  on the server's own database file (synchronous=FULL, as the server), under keys the
  server never reads;
* etcd: aetcd ``put`` of VALUE_SIZE values (no transaction) on the same etcd.

A signature create is a read of the image and one compare-and-swap write, so a ratio
near 1 means the API adds little to the engine's own write. Medians of BENCH_ROUNDS
rounds (default 3). Run: ``.venv/bin/python bench/bench_backends.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aetcd
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Requests, drive, sig_body

from imagesig.storage.sqlite import SQLiteStore
from tests.etcd_server import EtcdServer, etcd_missing_reason
from tests.imagesig_server import ServerProcess, free_port

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PER_CLIENT = int(os.environ.get("BENCH_REQUESTS", "150"))
CONCURRENCY = (1, 16)
GV = "/apis/image.openshift.io/v1"
VALUE_SIZE = 4096  # an Image with a few signatures, as stored
SIGS_PER_IMAGE = 5


def per_client(clients: int) -> int:
    return PER_CLIENT if clients == 1 else max(PER_CLIENT // 4, 10)


def signature_creates(admin: httpx.Client, tag: str, clients: int) -> list[Requests]:
    """Each client's create requests, on images made here for it, SIGS_PER_IMAGE on each."""
    per = per_client(clients)
    requests = []
    for n in range(clients):
        images = []
        for m in range(-(-per // SIGS_PER_IMAGE)):
            name = "sha256:" + hashlib.sha256(f"{tag}-{clients}-{n}-{m}".encode()).hexdigest()
            body = {"metadata": {"name": name}, "dockerImageReference": f"r/x@{name}"}
            r = admin.post(f"{GV}/images", json=body)
            assert r.status_code == 201, r.text
            images.append(name)
        names = [f"{images[i % len(images)]}@s{i:04d}" for i in range(per)]
        mine: Requests = [("POST", f"{GV}/imagesignatures", sig_body(name)) for name in names]
        requests.append(mine)
    return requests


async def timed_writers(
    clients: int, writes: int, write: Callable[[int, int], Awaitable[None]]
) -> float:
    """Writes/s of ``clients`` concurrent ``write(client, i)`` loops of ``writes`` each."""

    async def one(n: int) -> None:
        for i in range(writes):
            await write(n, i)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(clients)))
    return clients * writes / (time.perf_counter() - started)


async def sqlite_raw_rate(path: Path, tag: str, clients: int) -> float:
    """Compare-and-swap updates on the server's own file: what each API create must pay."""
    store = SQLiteStore(path)
    try:
        kvs = [
            await store.create(f"/bench-raw/{tag}/{n}", os.urandom(VALUE_SIZE))
            for n in range(clients)
        ]

        async def write(n: int, _: int) -> None:
            kvs[n] = await store.update(kvs[n].key, os.urandom(VALUE_SIZE), kvs[n].mod_revision)

        return await timed_writers(clients, per_client(clients), write)
    finally:
        await store.close()


async def etcd_raw_rate(etcd: EtcdServer, tag: str, clients: int) -> float:
    async with aetcd.Client(host="127.0.0.1", port=etcd.client_port, timeout=30) as client:
        await client.put(b"/bench-raw/warm-up", b"x")  # connect before the clock starts

        async def write(n: int, _: int) -> None:
            await client.put(f"/bench-raw/{tag}/{n}".encode(), os.urandom(VALUE_SIZE))

        return await timed_writers(clients, per_client(clients), write)


def main() -> None:
    missing = etcd_missing_reason()
    if missing:
        print(f"bench_backends: skipped, {missing}")
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    etcd = EtcdServer(tmp / "etcd")
    etcd.start()
    quiet = ["--log-level", "warning"]
    on_sqlite = ServerProcess(tmp / "sqlite", free_port(), quiet)
    on_etcd = ServerProcess(
        tmp / "etcd-api",
        free_port(),
        [*quiet, "--etcd-servers", etcd.client_url, "--etcd-prefix", "/bench-api"],
    )
    results: dict[tuple[str, int, str], list[float]] = {}
    try:
        on_sqlite.start()
        on_etcd.start()
        for rnd in range(ROUNDS):
            for clients in CONCURRENCY:
                tag = f"{rnd}-{clients}"
                for engine, server in (("sqlite", on_sqlite), ("etcd", on_etcd)):
                    with server.client() as admin:
                        creates = signature_creates(admin, tag, clients)
                    rate, p50, p99 = asyncio.run(drive(server, creates))
                    if engine == "sqlite":
                        raw = asyncio.run(
                            sqlite_raw_rate(server.data_dir / "imagesig.db", tag, clients)
                        )
                    else:
                        raw = asyncio.run(etcd_raw_rate(etcd, tag, clients))
                    for key, value in (("api", rate), ("p50", p50), ("p99", p99), ("raw", raw)):
                        results.setdefault((engine, clients, key), []).append(value)
    finally:
        for server in (on_sqlite, on_etcd):
            if server.proc is not None:
                server.stop()  # also what a hung shutdown would leave behind
        etcd.close()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"signature creates through the API vs the same engine's raw writes, median of {ROUNDS} "
        f"rounds; {PER_CLIENT} creates for 1 client, {per_client(16)} per client for 16; "
        f"{os.cpu_count()} CPUs"
    )
    raw_names = {"sqlite": "SQLiteStore CAS, same file", "etcd": "aetcd put, same etcd"}
    for engine in ("sqlite", "etcd"):
        for clients in CONCURRENCY:
            api, raw = med[(engine, clients, "api")], med[(engine, clients, "raw")]
            print(
                f"{engine:<6} {clients:>2} clients  API {api:7.0f} creates/s "
                f"(p50 {med[(engine, clients, 'p50')]:6.2f} ms, p99 {med[(engine, clients, 'p99')]:6.2f} ms)  "
                f"raw {raw:7.0f} writes/s ({raw_names[engine]})  ratio {api / raw:.2f}"
            )
    for clients in CONCURRENCY:
        sqlite_api, etcd_api = med[("sqlite", clients, "api")], med[("etcd", clients, "api")]
        print(f"etcd/SQLite API creates/s, {clients:>2} clients: {etcd_api / sqlite_api:.2f}")


if __name__ == "__main__":
    main()
