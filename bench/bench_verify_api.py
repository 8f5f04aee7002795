"""Signature creates through the API with verification on versus off, in one run.

Both use the same Python (httpx) client, so the ratio compares like with like.
"On": every create carries a real simple-signing signature by a trusted RSA-3072 key,
verified in the server's process pool. "Off": the same server and request shape with
opaque content (not OpenPGP), for which the verifier stops at the first byte. Both are
unique per request, so the verdict cache never answers. Medians of BENCH_ROUNDS rounds.
Run: ``.venv/bin/python bench/bench_verify_api.py``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pysequoia

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagesig.trust.payload import make_payload
from imagesig.trust.sign import sign_payload
from tests.imagesig_server import ServerProcess, free_port

os.environ.pop("RUST_BACKTRACE", None)  # Rust reads it once; it halves pysequoia's speed

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PER_CLIENT = int(os.environ.get("BENCH_REQUESTS", "120"))
SIGS_PER_IMAGE = 5
GV = "/apis/image.openshift.io/v1"


async def drive(
    url: str, ca: Path, token: str, clients: int, requests: list[list[tuple[str, str, object]]]
) -> tuple[float, float, float]:
    """Each client sends its (method, path, json) list in order: rate, p50 ms, p99 ms."""
    ctx = ssl.create_default_context(cafile=str(ca))
    latencies: list[float] = []

    async def client(mine: list[tuple[str, str, object]]) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, verify=ctx, headers=headers, timeout=60) as c:
            await c.get("/healthz")  # connect before the clock starts
            for method, path, body in mine:
                t = time.perf_counter()
                r = await c.request(method, path, json=body)
                latencies.append(time.perf_counter() - t)
                assert r.status_code in (200, 201), r.text

    start = time.perf_counter()
    await asyncio.gather(*(client(mine) for mine in requests[:clients]))
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)
    return len(lat) / elapsed, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000


def body(name: str, content: bytes) -> dict[str, object]:
    return {
        "kind": "ImageSignature",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": name},
        "type": "atomic",
        "content": base64.b64encode(content).decode(),
    }


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-api-"))
    key = pysequoia.Tsk.generate(
        "Bench Signer <bench@example.invalid>", profile=pysequoia.Profile.RFC4880
    )
    (tmp / "trusted.asc").write_text(str(key.extract_certificate()))
    server = ServerProcess(
        tmp / "data",
        free_port(),
        ["--trusted-keys", str(tmp / "trusted.asc"), "--log-level", "warning"],
    )
    server.start()
    results: dict[str, list[float]] = {}
    started = time.perf_counter()
    try:
        with server.client() as admin:
            for rnd in range(ROUNDS):
                for clients in (1, 16):
                    per = PER_CLIENT if clients == 1 else max(PER_CLIENT // 4, 10)
                    for mode in ("on", "off"):
                        requests = []
                        for n in range(clients):
                            mine = []
                            for i in range(per):
                                if i % SIGS_PER_IMAGE == 0:
                                    image = (
                                        "sha256:"
                                        + hashlib.sha256(
                                            f"{rnd}{clients}{mode}{n}{i}".encode()
                                        ).hexdigest()
                                    )
                                    r = admin.post(
                                        f"{GV}/images",
                                        json={
                                            "metadata": {"name": image},
                                            "dockerImageReference": f"r/x@{image}",
                                        },
                                    )
                                    assert r.status_code == 201, r.text
                                if mode == "on":
                                    payload = make_payload(
                                        image,
                                        f"registry.example.com/ns/app:v{i}",
                                        creator="bench",
                                        timestamp=1_700_000_000 + i,
                                    )
                                    content = sign_payload(payload, key)
                                else:
                                    content = b"opaque-" + os.urandom(600)
                                mine.append(
                                    (
                                        "POST",
                                        f"{GV}/imagesignatures",
                                        body(f"{image}@s{i:04d}", content),
                                    )
                                )
                            requests.append(mine)
                        rate, p50, p99 = asyncio.run(
                            drive(server.url, server.ca, server.admin_token, clients, requests)
                        )
                        results.setdefault(f"{clients} {mode}", []).append(rate)
                        results.setdefault(f"{clients} {mode} p50", []).append(p50)
                        results.setdefault(f"{clients} {mode} p99", []).append(p99)
            # The server really verified: the last signature made with the key is trusted.
            stored = admin.get(f"{GV}/images/{image}").json()["signatures"]
            assert (
                any(c["type"] == "Trusted" for s in stored for c in s.get("conditions", []))
                or mode == "off"
            )
    finally:
        server.stop()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"signature creates through the API, verification on vs off, median of {ROUNDS} rounds "
        f"({time.perf_counter() - started:.0f} s)"
    )
    for clients in (1, 16):
        on, off = med[f"{clients} on"], med[f"{clients} off"]
        print(
            f"{clients:>2} clients: on {on:7.0f}/s (p50 {med[f'{clients} on p50']:.2f} ms, p99 {med[f'{clients} on p99']:.2f} ms)"
            f"  off {off:7.0f}/s (p50 {med[f'{clients} off p50']:.2f} ms)  ratio on/off {on / off:.2f}"
        )


if __name__ == "__main__":
    main()
