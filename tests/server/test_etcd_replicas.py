"""Several ``imagesig serve`` replicas on one real etcd behave as one server (issue: grow past one machine)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aetcd
import pytest

from tests.conftest import GV, create_image, signature_body
from tests.etcd_server import EtcdServer
from tests.imagesig_server import ServerProcess, free_port


def replica(tmp: Path, name: str, etcd: EtcdServer, prefix: str) -> ServerProcess:
    proc = ServerProcess(
        tmp / name, free_port(), ["--etcd-servers", etcd.client_url, "--etcd-prefix", prefix]
    )
    proc.start()
    return proc


@pytest.fixture
def two_replicas(
    tmp_path: Path, etcd_server: EtcdServer
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    prefix = f"/imagesig-{uuid.uuid4().hex}"
    a = replica(tmp_path, "a", etcd_server, prefix)
    b = replica(tmp_path, "b", etcd_server, prefix)
    yield a, b
    a.stop()
    b.stop()


def test_what_one_replica_writes_the_other_reads_at_once(
    two_replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_replicas
    with a.client() as ca, b.client() as cb:
        image = create_image(ca)
        name = image["metadata"]["name"]  # type: ignore[index]
        got = cb.get(f"{GV}/images/{name}")
        assert got.status_code == 200
        assert got.json()["metadata"]["resourceVersion"] == image["metadata"]["resourceVersion"]  # type: ignore[index]
        assert ca.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@s")).status_code == 201
        assert [
            s["metadata"]["name"] for s in cb.get(f"{GV}/images/{name}").json()["signatures"]
        ] == [f"{name}@s"]
        assert cb.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@s")).status_code == 409
        assert cb.delete(f"{GV}/imagesignatures/{name}@s").status_code == 200
        assert ca.delete(f"{GV}/imagesignatures/{name}@s").status_code == 404


def test_concurrent_creates_through_both_replicas_lose_nothing(
    two_replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_replicas
    with a.client() as ca:
        image: str = create_image(ca)["metadata"]["name"]  # type: ignore[index,assignment]

    async def client(server: ServerProcess, n: int) -> list[int]:
        async with server.async_client() as c:
            codes = []
            for i in range(25):
                body = signature_body(f"{image}@r{n:02d}-{i:02d}", f"{n}-{i}".encode())
                codes.append((await c.post(f"{GV}/imagesignatures", json=body)).status_code)
            return codes

    async def run() -> list[list[int]]:
        return await asyncio.gather(*(client(a if n % 2 else b, n) for n in range(16)))

    codes = [c for per in asyncio.run(run()) for c in per]
    assert codes == [201] * 400
    with b.client() as cb:
        stored = cb.get(f"{GV}/images/{image}").json()["signatures"]
    assert len({s["metadata"]["name"] for s in stored}) == 400


def test_a_watch_on_one_replica_sees_writes_through_the_other(
    two_replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_replicas
    with a.client() as ca:
        image = create_image(ca)
    name = image["metadata"]["name"]  # type: ignore[index]
    rv = image["metadata"]["resourceVersion"]  # type: ignore[index]
    events: list[dict] = []  # type: ignore[type-arg]

    def watch() -> None:
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "15"}
        with b.client() as cb, cb.stream("GET", f"{GV}/images", params=params) as r:
            for line in r.iter_lines():
                events.append(json.loads(line))
                if len(events) == 2:
                    return

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    with a.client() as ca:
        ca.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@w"))
        ca.delete(f"{GV}/images/{name}")
    t.join(20)
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert events[0]["object"]["signatures"][0]["metadata"]["name"] == f"{name}@w"


def test_etcd_outage_fails_fast_with_503_and_recovers(tmp_path: Path, own_etcd: EtcdServer) -> None:
    proc = replica(tmp_path, "r", own_etcd, "/imagesig")
    try:
        with proc.client() as c:
            image: str = create_image(c)["metadata"]["name"]  # type: ignore[index,assignment]
            assert (
                c.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@acked")).status_code
                == 201
            )
            own_etcd.stop()
            started = time.monotonic()
            r = c.get(f"{GV}/images/{image}")
            assert r.status_code == 503
            assert r.json()["reason"] == "ServiceUnavailable"
            w = c.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@during"))
            assert w.status_code == 503
            assert time.monotonic() - started < 15
            assert c.get("/readyz").status_code == 503
            assert c.get("/healthz").status_code == 200  # alive, just not ready

            own_etcd.start()
            deadline = time.monotonic() + 30
            while c.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "never became ready again"
                time.sleep(0.2)
            names = [
                s["metadata"]["name"] for s in c.get(f"{GV}/images/{image}").json()["signatures"]
            ]
            assert names == [f"{image}@acked"]
            assert (
                c.post(
                    f"{GV}/imagesignatures", json=signature_body(f"{image}@after", b"a")
                ).status_code
                == 201
            )
    finally:
        proc.stop()


def test_watch_from_a_compacted_revision_is_410(tmp_path: Path, own_etcd: EtcdServer) -> None:
    proc = replica(tmp_path, "r", own_etcd, "/imagesig")
    try:
        with proc.client() as c:
            first = create_image(c)
            old_rv = int(first["metadata"]["resourceVersion"])  # type: ignore[index]
            for _ in range(3):
                create_image(c)

            latest = int(c.get(f"{GV}/images").json()["metadata"]["resourceVersion"])

            async def compact() -> None:
                async with aetcd.Client(
                    host="127.0.0.1", port=own_etcd.client_port, timeout=5
                ) as client:
                    await client.compact(latest, physical=True)

            asyncio.run(compact())
            params = {"watch": "true", "resourceVersion": str(old_rv), "timeoutSeconds": "5"}
            with c.stream("GET", f"{GV}/images", params=params) as r:
                event = json.loads(next(r.iter_lines()))
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"
    finally:
        proc.stop()


def test_unconditional_updates_through_both_replicas_all_succeed(
    two_replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_replicas
    with a.client() as ca:
        image = create_image(ca)
    name = image["metadata"]["name"]  # type: ignore[index]
    del image["metadata"]["resourceVersion"]  # type: ignore[attr-defined]

    async def writer(server: ServerProcess, n: int) -> list[int]:
        async with server.async_client() as c:
            codes = []
            for i in range(10):
                body = {**image, "metadata": {**image["metadata"], "labels": {"w": f"{n}-{i}"}}}  # type: ignore[dict-item]
                codes.append((await c.put(f"{GV}/images/{name}", json=body)).status_code)
            return codes

    async def run() -> list[list[int]]:
        return await asyncio.gather(*(writer(a if n % 2 else b, n) for n in range(6)))

    assert [c for per in asyncio.run(run()) for c in per] == [200] * 60
    with b.client() as cb:
        assert cb.get(f"{GV}/images/{name}").json()["metadata"]["generation"] == 61
