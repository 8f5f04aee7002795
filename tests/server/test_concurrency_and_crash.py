"""Concurrent writers lose nothing; an acknowledged write survives ``kill -9``."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import GV, create_image, signature_body
from tests.imagesig_server import ServerProcess, free_port


async def _create_many(server: ServerProcess, image: str, client_no: int, count: int) -> list[int]:
    async with server.async_client() as c:
        codes = []
        for i in range(count):
            name = f"{image}@c{client_no:02d}s{i:02d}"
            body = signature_body(name, f"content-{client_no}-{i}".encode())
            r = await c.post(f"{GV}/imagesignatures", json=body)
            codes.append(r.status_code)
        return codes


def test_16_clients_creating_25_signatures_each_on_one_image_lose_nothing(
    server: ServerProcess, admin: httpx.Client
) -> None:
    image: str = create_image(admin)["metadata"]["name"]  # type: ignore[index,assignment]

    async def run() -> list[list[int]]:
        return await asyncio.gather(*(_create_many(server, image, n, 25) for n in range(16)))

    codes = [c for per_client in asyncio.run(run()) for c in per_client]
    assert codes == [201] * 400
    stored = admin.get(f"{GV}/images/{image}").json()["signatures"]
    assert len(stored) == 400
    assert len({s["metadata"]["name"] for s in stored}) == 400


def test_concurrent_deletes_and_creates_on_one_image(
    server: ServerProcess, admin: httpx.Client
) -> None:
    image: str = create_image(admin)["metadata"]["name"]  # type: ignore[index,assignment]
    for i in range(20):
        admin.post(
            f"{GV}/imagesignatures", json=signature_body(f"{image}@old{i}", f"old{i}".encode())
        )

    async def run() -> list[int]:
        async with server.async_client() as c:
            deletes = [c.delete(f"{GV}/imagesignatures/{image}@old{i}") for i in range(20)]
            creates = [
                c.post(
                    f"{GV}/imagesignatures",
                    json=signature_body(f"{image}@new{i}", f"new{i}".encode()),
                )
                for i in range(20)
            ]
            return [r.status_code for r in await asyncio.gather(*deletes, *creates)]

    assert asyncio.run(run()) == [200] * 20 + [201] * 20
    names = sorted(
        s["metadata"]["name"] for s in admin.get(f"{GV}/images/{image}").json()["signatures"]
    )
    assert names == sorted(f"{image}@new{i}" for i in range(20))


def test_acknowledged_creates_survive_kill_9(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", free_port())
    proc.start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with proc.client() as c:
        image: str = create_image(c)["metadata"]["name"]  # type: ignore[index,assignment]

    def writer(n: int) -> None:
        with proc.client() as c:
            i = 0
            while not stop.is_set():
                name = f"{image}@w{n}-{i}"
                try:
                    r = c.post(f"{GV}/imagesignatures", json=signature_body(name, name.encode()))
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                if r.status_code == 201:
                    with lock:
                        acknowledged.append(name)
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acknowledged) >= 150

    proc.start()
    try:
        with proc.client() as c:
            stored = {
                s["metadata"]["name"] for s in c.get(f"{GV}/images/{image}").json()["signatures"]
            }
    finally:
        proc.stop()
    missing = [n for n in acknowledged if n not in stored]
    assert missing == []
