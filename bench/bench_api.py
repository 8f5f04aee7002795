"""Signature create/delete through the real server, against same-run baselines.

Baselines, measured in this run on this machine:
* the SQLite store's own compare-and-swap write rate (same synchronous setting,
  same value size, same concurrency), with no HTTP in the way;
* a bare ASGI handler on the same stack (granian, TLS, the same client), which
  is what HTTP alone costs.

Each figure is the median of ROUNDS rounds. Run: ``.venv/bin/python bench/bench_api.py``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagesig.server.tls import ensure_self_signed
from imagesig.storage.sqlite import SQLiteStore
from tests.imagesig_server import ServerProcess, free_port

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PER_CLIENT = int(os.environ.get("BENCH_REQUESTS", "150"))
GV = "/apis/image.openshift.io/v1"
VALUE_SIZE = 4096  # an Image with a few signatures, as stored
SIGS_PER_IMAGE = 5


def sig_body(name: str) -> dict[str, object]:
    content = hashlib.sha512(name.encode()).digest() * 8  # ~512 bytes, unique per name
    return {
        "kind": "ImageSignature",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": name},
        "type": "atomic",
        "content": base64.b64encode(content).decode(),
    }


def summarize(latencies: list[float], seconds: float) -> tuple[float, float, float]:
    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    return len(lat) / seconds, p50, p99


async def raw_cas_rate(path: Path, clients: int, per_client: int) -> float:
    store = SQLiteStore(path)
    try:

        async def one(n: int) -> None:
            kv = await store.create(f"/bench/{n}", os.urandom(VALUE_SIZE))
            for _ in range(per_client):
                kv = await store.update(kv.key, os.urandom(VALUE_SIZE), kv.mod_revision)

        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(clients)))
        return clients * per_client / (time.perf_counter() - start)
    finally:
        await store.close()


async def drive(
    url: str, ca: Path, token: str, clients: int, make: list[list[tuple[str, str, object]]]
) -> tuple[float, float, float]:
    """Each client sends its list of (method, path, json) in order; returns rate, p50, p99."""
    ctx = ssl.create_default_context(cafile=str(ca))
    latencies: list[float] = []

    async def client(requests: list[tuple[str, str, object]]) -> None:
        async with httpx.AsyncClient(
            base_url=url, verify=ctx, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as c:
            await c.get("/healthz")  # connect before the clock starts
            for method, path, body in requests:
                t = time.perf_counter()
                r = await c.request(method, path, json=body)
                latencies.append(time.perf_counter() - t)
                assert r.status_code in (200, 201), r.text

    start = time.perf_counter()
    await asyncio.gather(*(client(reqs) for reqs in make[:clients]))
    return summarize(latencies, time.perf_counter() - start)


BARE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"kind":"ImageSignature"}'})
"""


def start_bare(tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    (tmp / "bare_app.py").write_text(BARE_APP)
    tls = ensure_self_signed(tmp / "pki", ["127.0.0.1"])
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ssl-certificate",
            str(tls.cert),
            "--ssl-keyfile",
            str(tls.key),
            "--no-ws",
            "--log-level",
            "warning",
            "bare_app:app",
        ],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    for _ in range(100):
        try:
            httpx.get(url + "/", verify=ctx)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, url, tls.ca


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server = ServerProcess(tmp / "data", free_port(), ["--log-level", "warning"])
    server.start()
    bare, bare_url, bare_ca = start_bare(tmp)
    results: dict[str, list[float]] = {}

    def record(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    try:
        with server.client() as admin:
            for rnd in range(ROUNDS):
                for clients in (1, 16):
                    per = PER_CLIENT if clients == 1 else max(PER_CLIENT // 4, 10)
                    # Real images carry a handful of signatures: each client spreads its
                    # creates over its own images, SIGS_PER_IMAGE on each.
                    images: list[list[str]] = []
                    for n in range(clients):
                        mine = []
                        for m in range(-(-per // SIGS_PER_IMAGE)):
                            name = (
                                "sha256:"
                                + hashlib.sha256(f"{rnd}-{clients}-{n}-{m}".encode()).hexdigest()
                            )
                            r = admin.post(
                                f"{GV}/images",
                                json={
                                    "metadata": {"name": name},
                                    "dockerImageReference": f"r/x@{name}",
                                },
                            )
                            assert r.status_code == 201, r.text
                            mine.append(name)
                        images.append(mine)
                    names = [
                        [f"{mine[i % len(mine)]}@s{i:04d}" for i in range(per)] for mine in images
                    ]
                    creates = [
                        [("POST", f"{GV}/imagesignatures", sig_body(n)) for n in ns] for ns in names
                    ]
                    deletes = [
                        [("DELETE", f"{GV}/imagesignatures/{n}", None) for n in ns] for ns in names
                    ]
                    bare_reqs = [[("POST", "/", sig_body(n)) for n in ns] for ns in names]
                    c_rate, c50, c99 = asyncio.run(
                        drive(server.url, server.ca, server.admin_token, clients, creates)
                    )
                    d_rate, d50, d99 = asyncio.run(
                        drive(server.url, server.ca, server.admin_token, clients, deletes)
                    )
                    b_rate, _, _ = asyncio.run(drive(bare_url, bare_ca, "x", clients, bare_reqs))
                    raw = asyncio.run(raw_cas_rate(tmp / f"raw-{rnd}-{clients}.db", clients, per))
                    for key, value in [
                        ("create/s", c_rate),
                        ("create p50 ms", c50),
                        ("create p99 ms", c99),
                        ("delete/s", d_rate),
                        ("delete p50 ms", d50),
                        ("delete p99 ms", d99),
                        ("bare asgi/s", b_rate),
                        ("raw sqlite cas/s", raw),
                    ]:
                        record(f"{clients:>2} clients {key}", value)
    finally:
        server.stop()
        bare.terminate()
        bare.wait()

    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"signature create/delete through the API, median of {ROUNDS} rounds (SQLite, synchronous=FULL)"
    )
    for clients in (1, 16):
        p = f"{clients:>2} clients "
        print(
            f"{p}create {med[p + 'create/s']:8.0f}/s  p50 {med[p + 'create p50 ms']:6.2f} ms  "
            f"p99 {med[p + 'create p99 ms']:6.2f} ms"
        )
        print(
            f"{p}delete {med[p + 'delete/s']:8.0f}/s  p50 {med[p + 'delete p50 ms']:6.2f} ms  "
            f"p99 {med[p + 'delete p99 ms']:6.2f} ms"
        )
        print(
            f"{p}baseline: raw store CAS {med[p + 'raw sqlite cas/s']:8.0f}/s, bare ASGI {med[p + 'bare asgi/s']:8.0f}/s"
        )
        print(
            f"{p}ratio create/raw CAS {med[p + 'create/s'] / med[p + 'raw sqlite cas/s']:.2f} "
            f"(target >= 0.5), delete/raw CAS {med[p + 'delete/s'] / med[p + 'raw sqlite cas/s']:.2f}, "
            f"create/bare ASGI {med[p + 'create/s'] / med[p + 'bare asgi/s']:.2f}"
        )


if __name__ == "__main__":
    main()
