"""What only the etcd backend has: outages, several endpoints, TLS, and its key prefix."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import aetcd
import pytest

from imagesig.storage.base import Event, EventType, Unavailable
from imagesig.storage.etcd import EtcdStore
from tests.etcd_server import EtcdServer, EtcdTLS, free_port, require_etcd

from .conftest import etcd_store

# The default per-call deadline is 5 s and the connect wait 2 s; allow scheduling slack.
FAST = 6.5


async def fails_fast(call: Awaitable[object]) -> float:
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await call
    return time.monotonic() - started


async def next_event(events: AsyncIterator[Event], within: float = 5.0) -> Event:
    async with asyncio.timeout(within):
        return await anext(events)


async def test_outage_fails_fast_and_the_same_store_recovers(own_etcd: EtcdServer) -> None:
    store = etcd_store(own_etcd)
    acked = await store.create("/k", b"acknowledged")
    watch = store.watch("/", acked.mod_revision)
    pending_event = asyncio.create_task(next_event(watch, within=30))
    await asyncio.sleep(0.2)

    own_etcd.stop()
    calls: list[Awaitable[object]] = [
        store.get("/k"),
        store.create("/new", b"v"),
        store.update("/k", b"v", acked.mod_revision),
        store.delete("/k"),
        store.list("/"),
        store.current_revision(),
        pending_event,  # an open watch ends too, rather than waiting silently
        anext(store.watch("/", 0)),
    ]
    elapsed = await asyncio.gather(*(fails_fast(call) for call in calls))
    assert max(elapsed) < FAST
    started = time.monotonic()
    assert not await store.ready()
    assert time.monotonic() - started < 3.0

    own_etcd.start()
    assert await store.get("/k") == acked
    assert await store.ready()
    updated = await store.update("/k", b"after", acked.mod_revision)
    async with contextlib.aclosing(store.watch("/", acked.mod_revision)) as events:
        assert (await next_event(events)).kv == updated
    await store.close()


async def test_a_hung_etcd_fails_calls_at_the_deadline(own_etcd: EtcdServer) -> None:
    store = etcd_store(own_etcd)
    await store.create("/k", b"v")
    own_etcd.pause()
    try:
        elapsed = await asyncio.gather(
            fails_fast(store.get("/k")), fails_fast(store.create("/new", b"v"))
        )
        assert max(elapsed) < FAST
        started = time.monotonic()
        assert not await store.ready()
        assert time.monotonic() - started < 3.0
    finally:
        own_etcd.resume()
    assert (await store.get("/k")) is not None
    await store.close()


async def test_a_dead_first_endpoint_fails_over_to_the_next(etcd_server: EtcdServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    store = EtcdStore([dead, etcd_server.client_url], prefix="/failover-first")
    started = time.monotonic()
    kv = await store.create("/k", b"v")
    assert await store.get("/k") == kv
    assert time.monotonic() - started < FAST
    await store.delete("/k")
    await store.close()


class TcpProxy:
    """Forwards a loopback port to etcd until closed, then refuses connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.bytes_up = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    self.bytes_up += len(data) if up else 0
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


async def test_losing_the_current_endpoint_fails_over_to_the_next(
    etcd_server: EtcdServer,
) -> None:
    proxies = [TcpProxy(etcd_server.client_port) for _ in range(2)]
    store = EtcdStore([await p.start() for p in proxies], prefix="/failover-current")
    big = b"x" * 100_000  # marks the endpoint that carried the calls
    kv = await store.create("/k", big)
    events = store.watch("/", kv.mod_revision)
    pending_event = asyncio.create_task(next_event(events))
    await asyncio.sleep(0.2)

    current = max(proxies, key=lambda p: p.bytes_up)
    assert current.bytes_up > len(big) > min(p.bytes_up for p in proxies)
    await current.close()
    # Reads and the open watch move to the other endpoint; writes follow once it is current.
    assert await store.get("/k") == kv
    updated = await store.update("/k", b"w", kv.mod_revision)
    assert (await pending_event).kv == updated
    await events.aclose()
    await store.delete("/k")
    await store.close()
    for proxy in proxies:
        if proxy is not current:
            await proxy.close()


async def test_keys_live_under_the_prefix_and_stores_do_not_see_each_other(
    etcd_server: EtcdServer,
) -> None:
    one = EtcdStore([etcd_server.client_url], prefix="/prefix-one")
    two = EtcdStore([etcd_server.client_url], prefix="/prefix-two")
    kv = await one.create("/a/x", b"v")
    async with aetcd.Client(port=etcd_server.client_port, host="127.0.0.1", timeout=5) as raw:
        stored = await raw.get(b"/prefix-one/a/x")
        assert stored is not None
        assert stored.value == b"v"
        assert stored.mod_revision == kv.mod_revision
    assert await two.get("/a/x") is None
    assert (await two.list("/")).items == []
    async with contextlib.aclosing(two.watch("/", kv.mod_revision - 1)) as events:
        marker = await two.create("/marker", b"m")
        event = await next_event(events)
        assert (event.type, event.kv) == (EventType.PUT, marker)
    await one.delete("/a/x")
    await two.delete("/marker")
    await one.close()
    await two.close()


@pytest.fixture
def tls_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    require_etcd()
    server = EtcdServer(tmp_path / "etcd", tls=EtcdTLS.generate(tmp_path / "tls"))
    server.start()
    yield server
    server.stop()


async def test_tls_with_a_client_certificate(tls_etcd: EtcdServer) -> None:
    tls = tls_etcd.tls
    assert tls is not None
    store = EtcdStore(
        [tls_etcd.client_url],
        ca_file=tls.ca_file,
        cert_file=tls.client_cert,
        key_file=tls.client_key,
    )
    kv = await store.create("/k", b"v")
    assert await store.get("/k") == kv
    await store.close()

    anonymous = EtcdStore([tls_etcd.client_url], ca_file=tls.ca_file, connect_timeout=0.5)
    with pytest.raises(Unavailable):
        await anonymous.get("/k")
    assert not await anonymous.ready()
    await anonymous.close()


def test_configuration_errors_are_reported_at_construction() -> None:
    with pytest.raises(ValueError, match="scheme"):
        EtcdStore(["unix:///run/etcd.sock"])
    with pytest.raises(ValueError, match="both"):
        EtcdStore(["https://127.0.0.1:2379"], cert_file="/x.crt")
    with pytest.raises(ValueError, match="https"):
        EtcdStore(["http://127.0.0.1:2379"], ca_file="/ca.crt")
    with pytest.raises(ValueError, match="endpoint"):
        EtcdStore([])
    store = EtcdStore("http://a:1, https://b, c:3", ca_file=None)
    assert [ep.target for ep in store.endpoints] == ["a:1", "b:2379", "c:3"]
