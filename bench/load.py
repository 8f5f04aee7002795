"""The Python load driver the API benchmarks share: httpx clients, one request at a time each."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import time

import httpx

from tests.imagesig_server import ServerProcess

Requests = list[tuple[str, str, object]]


def sig_body(name: str, content: bytes | None = None) -> dict[str, object]:
    """An ImageSignature create body; the default content is ~512 bytes, unique per name."""
    if content is None:
        content = hashlib.sha512(name.encode()).digest() * 8
    return {
        "kind": "ImageSignature",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": name},
        "type": "atomic",
        "content": base64.b64encode(content).decode(),
    }


async def drive(server: ServerProcess, clients: list[Requests]) -> tuple[float, float, float]:
    """Each client (an httpx.AsyncClient) sends its requests in order: rate/s, p50 and p99 ms."""
    ctx = ssl.create_default_context(cafile=str(server.ca))
    latencies: list[float] = []
    all_connected = asyncio.Event()
    connected = 0

    async def client(requests: Requests) -> None:
        nonlocal connected
        async with httpx.AsyncClient(
            base_url=server.url,
            verify=ctx,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            timeout=60,
        ) as c:
            await c.get("/healthz")  # TLS handshakes are not part of the measurement
            connected += 1
            if connected == len(clients):
                all_connected.set()
            await all_connected.wait()
            for method, path, body in requests:
                t = time.perf_counter()
                r = await c.request(method, path, json=body)
                latencies.append(time.perf_counter() - t)
                assert r.status_code in (200, 201), r.text

    tasks = [asyncio.create_task(client(requests)) for requests in clients]
    await all_connected.wait()
    start = time.perf_counter()
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - start
    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    return len(lat) / seconds, p50, p99
