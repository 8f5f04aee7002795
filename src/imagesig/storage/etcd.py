"""The etcd backend: the Store contract on etcd's v3 gRPC API.

Built on aetcd's generated etcd v3 stubs and messages (``aetcd.rpc``) rather than
its ``Client``: the client opens only plaintext channels, cannot limit a range,
and waits without bound for a connection or a watch to be created, while this
store needs TLS, paginated lists and calls that fail within seconds.

Every call first finds an endpoint whose channel is connected (the current one,
else the first of the others to connect within ``connect_timeout``), then runs
with a deadline of ``timeout``. Reads, and opening a watch, move on to the next
endpoint when one fails; a write that fails is reported as :class:`Unavailable`
and never resent, because it may have been applied. Channels reconnect by
themselves with a backoff capped at one second, so the store recovers when etcd
comes back without being recreated.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import aetcd.rpc as rpc
import grpc  # type: ignore[import-untyped]

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
    Unavailable,
    ValueTooLarge,
)

T = TypeVar("T")

DEFAULT_ENDPOINT = "http://127.0.0.1:2379"
DEFAULT_PREFIX = "/imagesig"

_CHANNEL_OPTIONS = [
    # A list page or a watch response may carry many values of up to etcd's request limit.
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    # Reconnect promptly once etcd is back (gRPC's default backoff grows to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # Notice a silently dead peer under a long watch; etcd refuses pings under 5 s apart.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_http_proxy", 0),
]

# Transient: etcd without quorum answers "request timed out", "no leader", "leader
# changed" with these codes; a retry later may succeed, so the API says 503.
_UNAVAILABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.INTERNAL,
    }
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    target: str
    """``host:port`` as gRPC dials it."""
    tls: bool


def parse_endpoint(url: str) -> Endpoint:
    """``http(s)://host[:port]`` (or a bare ``host:port``, plaintext) → :class:`Endpoint`."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"etcd endpoint {url!r}: the scheme must be http or https")
    if not parts.hostname:
        raise ValueError(f"etcd endpoint {url!r} has no host")
    if parts.path not in ("", "/"):
        raise ValueError(f"etcd endpoint {url!r}: give only scheme, host and port")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return Endpoint(url, f"{host}:{parts.port or 2379}", parts.scheme == "https")


class _Connection:
    """One endpoint's gRPC channel and the stubs on it."""

    def __init__(self, endpoint: Endpoint, credentials: Any) -> None:
        self.endpoint = endpoint
        if endpoint.tls:
            self.channel: Any = rpc.secure_channel(
                endpoint.target, credentials, options=_CHANNEL_OPTIONS
            )
        else:
            self.channel = rpc.insecure_channel(endpoint.target, options=_CHANNEL_OPTIONS)
        self.kv: Any = rpc.KVStub(self.channel)
        self.watch: Any = rpc.WatchStub(self.channel)

    def ready_now(self) -> bool:
        state = self.channel.get_state(try_to_connect=True)
        return bool(state == grpc.ChannelConnectivity.READY)


def _read_file(path: str | Path | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


def _range_end(start: bytes) -> bytes:
    """The end of the key range holding every key that starts with ``start``."""
    for i in reversed(range(len(start))):
        if start[i] < 0xFF:
            return start[:i] + bytes([start[i] + 1])
    return b"\0"  # etcd: "every key from start on"


def _compare_exists(key: bytes) -> Any:
    return rpc.Compare(
        key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER, create_revision=0
    )


def _compare_absent(key: bytes) -> Any:
    return rpc.Compare(
        key=key, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0
    )


def _compare_mod(key: bytes, revision: int) -> Any:
    return rpc.Compare(
        key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=revision
    )


def _op_put(key: bytes, value: bytes) -> Any:
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value))


def _op_head(key: bytes) -> Any:
    """Read the key's revisions without its value."""
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=key, keys_only=True))


def _op_delete(key: bytes) -> Any:
    return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key, prev_kv=True))


class EtcdStore(Store):
    """A :class:`Store` on an etcd v3 cluster, all keys under ``prefix``."""

    def __init__(
        self,
        endpoints: Sequence[str] | str = (DEFAULT_ENDPOINT,),
        *,
        prefix: str = DEFAULT_PREFIX,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        urls = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
        self.endpoints = [parse_endpoint(url.strip()) for url in urls if url.strip()]
        if not self.endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        if (cert_file is None) != (key_file is None):
            raise ValueError("give both an etcd client certificate and its key, or neither")
        uses_tls = any(ep.tls for ep in self.endpoints)
        if not uses_tls and (ca_file or cert_file):
            raise ValueError("TLS files were given but no etcd endpoint is https://")
        self._credentials: Any = None
        if uses_tls:
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_file(ca_file),
                private_key=_read_file(key_file),
                certificate_chain=_read_file(cert_file),
            )
        self.prefix = prefix
        self._prefix = prefix.encode()
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        # Channels belong to the event loop they were made in, so they are made on first use.
        self._conns: list[_Connection] | None = None
        self._current = 0
        self._closed = False

    # -- keys -----------------------------------------------------------------

    def _key(self, key: str) -> bytes:
        return self._prefix + key.encode()

    def _unkey(self, raw: bytes) -> str:
        return raw[len(self._prefix) :].decode()

    def _kv(self, kv: Any) -> KeyValue:
        return KeyValue(
            self._unkey(kv.key), bytes(kv.value), int(kv.create_revision), int(kv.mod_revision)
        )

    def _range(self, prefix: str) -> tuple[bytes, bytes]:
        start = self._key(prefix)
        if not start:
            return b"\0", b"\0"
        return start, _range_end(start)

    # -- connections ------------------------------------------------------------

    def _connections(self) -> list[_Connection]:
        if self._closed:
            raise StoreError("the etcd store is closed")
        if self._conns is None:
            self._conns = [_Connection(ep, self._credentials) for ep in self.endpoints]
        return self._conns

    def _describe(self) -> str:
        return ", ".join(ep.url for ep in self.endpoints)

    async def _connected(self, deadline: float) -> _Connection:
        """An endpoint whose channel is connected, preferring the current one."""
        conns = self._connections()
        order = [(self._current + i) % len(conns) for i in range(len(conns))]
        for i in order:
            if conns[i].ready_now():
                self._current = i
                return conns[i]
        wait = min(self._connect_timeout, deadline - asyncio.get_running_loop().time())
        if wait > 0:
            waiters = {asyncio.ensure_future(conns[i].channel.channel_ready()): i for i in order}
            done, pending = await asyncio.wait(
                waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            ready = sorted(waiters[t] for t in done if not t.cancelled() and not t.exception())
            if ready:
                self._current = ready[0]
                return conns[ready[0]]
        reasons = await asyncio.gather(*(self._why_not_connected(conns[i]) for i in order))
        raise Unavailable(
            f"etcd did not answer within {max(wait, 0):.1f} s ({'; '.join(reasons)}); "
            "check that etcd is running, reachable, and that the TLS settings match"
        )

    @staticmethod
    async def _why_not_connected(conn: _Connection) -> str:
        # A call on a channel that failed to connect fails at once, saying why.
        probe = rpc.RangeRequest(key=b"\0", keys_only=True, limit=1)
        try:
            await conn.kv.Range(probe, timeout=0.05)
        except grpc.aio.AioRpcError as exc:
            return f"{conn.endpoint.url}: {exc.details()}"
        except Exception as exc:
            return f"{conn.endpoint.url}: {exc!r}"
        return f"{conn.endpoint.url}: connected just now"

    def _demote(self, conn: _Connection) -> None:
        conns = self._connections()
        if conns[self._current] is conn:
            self._current = (self._current + 1) % len(conns)

    def _error(self, exc: Any, conn: _Connection) -> StoreError:
        if self._closed:
            return StoreError("the etcd store is closed")
        code = exc.code()
        details = exc.details() or code.name
        if code in _UNAVAILABLE_CODES:
            return Unavailable(f"etcd at {conn.endpoint.url}: {details}")
        if "request is too large" in details:
            return ValueTooLarge(f"etcd at {conn.endpoint.url}: {details}")
        return StoreError(f"etcd at {conn.endpoint.url}: {code.name}: {details}")

    async def _call(
        self,
        fn: Callable[[_Connection, float], Awaitable[T]],
        *,
        failover: bool,
        budget: float | None = None,
    ) -> T:
        """Run ``fn(connection, seconds_left)``, mapping every failure to a :class:`StoreError`.

        With ``failover`` (safe only for calls that change nothing) a failed
        attempt is repeated on the next endpoint while time is left.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._timeout if budget is None else budget)
        attempts = len(self.endpoints) if failover else 1
        error: StoreError = Unavailable(f"etcd did not answer in time at {self._describe()}")
        for _ in range(attempts):
            conn = await self._connected(deadline)
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                return await fn(conn, left)
            except grpc.aio.AioRpcError as exc:
                error = self._error(exc, conn)
                if not isinstance(error, Unavailable):
                    raise error from exc
                self._demote(conn)
            except Unavailable as exc:
                error = exc
                self._demote(conn)
            except grpc.aio.UsageError as exc:
                raise StoreError("the etcd store is closed") from exc
            except asyncio.CancelledError:
                self._raise_if_closed_under_us()
                raise
        raise error

    def _raise_if_closed_under_us(self) -> None:
        """Closing the channels cancels their calls; their callers get a store error."""
        task = asyncio.current_task()
        if self._closed and (task is None or not task.cancelling()):
            raise StoreError("the etcd store is closed") from None

    async def _unary(
        self, method: str, request: Any, *, failover: bool, budget: float | None = None
    ) -> Any:
        async def run(conn: _Connection, left: float) -> Any:
            return await getattr(conn.kv, method)(request, timeout=left)

        return await self._call(run, failover=failover, budget=budget)

    # -- the contract -----------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        resp = await self._unary("Range", rpc.RangeRequest(key=self._key(key)), failover=True)
        return self._kv(resp.kvs[0]) if resp.kvs else None

    async def create(self, key: str, value: bytes) -> KeyValue:
        raw = self._key(key)
        txn = rpc.TxnRequest(compare=[_compare_absent(raw)], success=[_op_put(raw, value)])
        resp = await self._unary("Txn", txn, failover=False)
        if not resp.succeeded:
            raise KeyExists(key)
        revision = int(resp.header.revision)
        return KeyValue(key, value, revision, revision)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        raw = self._key(key)
        txn = rpc.TxnRequest(
            compare=[_compare_exists(raw), _compare_mod(raw, expected_revision)],
            success=[_op_put(raw, value), _op_head(raw)],
            failure=[_op_head(raw)],
        )
        resp = await self._unary("Txn", txn, failover=False)
        if resp.succeeded:
            head = resp.responses[1].response_range.kvs[0]
            return KeyValue(key, value, int(head.create_revision), int(head.mod_revision))
        self._raise_cas_failure(key, expected_revision, resp.responses[0])

    async def delete(self, key: str, expected_revision: int | None = None) -> KeyValue:
        raw = self._key(key)
        if expected_revision is None:
            resp = await self._unary(
                "DeleteRange", rpc.DeleteRangeRequest(key=raw, prev_kv=True), failover=False
            )
            if not resp.deleted:
                raise KeyNotFound(key)
            return self._deleted(key, resp.prev_kvs[0], int(resp.header.revision))
        txn = rpc.TxnRequest(
            compare=[_compare_exists(raw), _compare_mod(raw, expected_revision)],
            success=[_op_delete(raw)],
            failure=[_op_head(raw)],
        )
        resp = await self._unary("Txn", txn, failover=False)
        if resp.succeeded:
            prev = resp.responses[0].response_delete_range.prev_kvs[0]
            return self._deleted(key, prev, int(resp.header.revision))
        self._raise_cas_failure(key, expected_revision, resp.responses[0])

    @staticmethod
    def _deleted(key: str, prev: Any, revision: int) -> KeyValue:
        return KeyValue(key, bytes(prev.value), int(prev.create_revision), revision)

    @staticmethod
    def _raise_cas_failure(key: str, expected: int, head_response: Any) -> NoReturn:
        kvs = head_response.response_range.kvs
        if not kvs:
            raise KeyNotFound(key)
        raise RevisionMismatch(key, expected, int(kvs[0].mod_revision))

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "") -> ListResult:
        start, end = self._range(prefix)
        if start_after:
            start = max(start, self._key(start_after) + b"\0")
            if end != b"\0" and start >= end:
                return ListResult([], await self.current_revision(), False)
        request = rpc.RangeRequest(key=start, range_end=end, limit=limit + 1 if limit > 0 else 0)
        resp = await self._unary("Range", request, failover=True)
        kvs = list(resp.kvs)
        more = 0 < limit < len(kvs)
        if more:
            kvs = kvs[:limit]
        return ListResult([self._kv(kv) for kv in kvs], int(resp.header.revision), more)

    async def current_revision(self) -> int:
        return await self._revision(budget=None)

    async def _revision(self, budget: float | None) -> int:
        # A single-key read touches nothing but the index; its header carries the revision.
        request = rpc.RangeRequest(key=self._prefix or b"\0", keys_only=True, limit=1)
        resp = await self._unary("Range", request, failover=True, budget=budget)
        return int(resp.header.revision)

    async def ready(self) -> bool:
        try:
            await self._revision(budget=self._connect_timeout)
        except StoreError:
            return False
        return True

    # -- watch ------------------------------------------------------------------

    async def _open_watch(self, start: bytes, end: bytes, revision: int) -> tuple[Any, _Connection]:
        """A watch stream that etcd has confirmed, delivering events after ``revision``."""
        request = rpc.WatchRequest(
            create_request=rpc.WatchCreateRequest(
                key=start, range_end=end, start_revision=revision + 1, prev_kv=True
            )
        )

        async def run(conn: _Connection, left: float) -> tuple[Any, _Connection]:
            call = conn.watch.Watch()
            try:
                try:
                    async with asyncio.timeout(left):
                        await call.write(request)
                        created = await call.read()
                except TimeoutError:
                    raise Unavailable(
                        f"etcd at {conn.endpoint.url} did not confirm a watch"
                    ) from None
                if created is grpc.aio.EOF:
                    raise Unavailable(f"etcd at {conn.endpoint.url} closed a new watch")
                self._check_watch_response(created, revision)
            except BaseException:
                call.cancel()
                raise
            return call, conn

        return await self._call(run, failover=True)

    @staticmethod
    def _check_watch_response(resp: Any, revision: int) -> None:
        if resp.compact_revision:
            raise Compacted(revision, int(resp.compact_revision))
        if resp.canceled:
            raise StoreError(f"etcd cancelled a watch: {resp.cancel_reason or 'no reason given'}")

    def _event(self, ev: Any, revision: int) -> Event:
        if ev.type == rpc.Event.DELETE:
            if not ev.HasField("prev_kv"):
                # The last value was compacted away (only at the compaction revision itself).
                raise Compacted(revision, int(ev.kv.mod_revision) + 1)
            kv = self._deleted(self._unkey(ev.kv.key), ev.prev_kv, int(ev.kv.mod_revision))
            return Event(EventType.DELETE, kv, created=False)
        kv = self._kv(ev.kv)
        return Event(EventType.PUT, kv, created=kv.create_revision == kv.mod_revision)

    async def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        start, end = self._range(prefix)
        revision = from_revision
        call, conn = await self._open_watch(start, end, revision)
        try:
            while True:
                try:
                    resp = await call.read()
                except asyncio.CancelledError:
                    self._raise_if_closed_under_us()
                    raise
                except grpc.aio.AioRpcError as exc:
                    if self._closed or exc.code() not in _UNAVAILABLE_CODES:
                        raise self._error(exc, conn) from exc
                    resp = grpc.aio.EOF
                if resp is grpc.aio.EOF:
                    # The stream broke (etcd restarted, or this member went away): resume
                    # after the last delivered revision, on any endpoint, or fail fast.
                    call.cancel()
                    call, conn = await self._open_watch(start, end, revision)
                    continue
                self._check_watch_response(resp, revision)
                for ev in resp.events:
                    event = self._event(ev, revision)
                    revision = event.kv.mod_revision
                    yield event
        finally:
            call.cancel()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        conns, self._conns = self._conns, None
        for conn in conns or ():
            with contextlib.suppress(Exception):
                await conn.channel.close()
