"""Signature create/delete through the real server, against same-run baselines.

Load comes from ``wrk`` (Debian package ``wrk``), a C load generator, so that on a
2-core machine the client takes little of the CPU the server needs. Baselines,
measured in this run on this machine:

* the SQLite store's own compare-and-swap write rate (same synchronous setting, a
  value of an image's size, 1 and 16 concurrent writers), with no HTTP in the way;
* a bare ASGI handler on the same stack (granian, TLS, the same wrk), which is what
  HTTP alone costs.

Each figure is the median of BENCH_ROUNDS rounds. Run: ``.venv/bin/python bench/bench_api.py``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
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
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
IMAGES = 2000  # creates are spread over these, so an image holds a handful of signatures
GV = "/apis/image.openshift.io/v1"
VALUE_SIZE = 4096  # an Image with a few signatures, as stored

# One wrk thread: its connections share one counter, so every name is unique.
WRK_SCRIPT = """
local counter = 0
function init(args)
  token = args[1]; images = tonumber(args[2]); run = tonumber(args[3]); method = args[4]
end
request = function()
  counter = counter + 1
  local img = string.format("sha256:%064d", (counter * 7) % images)
  local name = string.format("%s@r%dn%d", img, run, counter)
  local headers = {["Authorization"] = "Bearer " .. token}
  if method == "DELETE" then
    return wrk.format("DELETE", "/apis/image.openshift.io/v1/imagesignatures/" .. name, headers)
  end
  headers["Content-Type"] = "application/json"
  local body = string.format('{"kind":"ImageSignature","apiVersion":"image.openshift.io/v1",'
    .. '"metadata":{"name":"%s"},"type":"atomic","content":"%04d%012d"}', name, run, counter)
  return wrk.format("POST", "/apis/image.openshift.io/v1/imagesignatures", headers, body)
end
"""

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


def wrk(
    url: str, script: Path, connections: int, seconds: int, *args: str
) -> tuple[float, float, float, int]:
    """Requests/s, p50 ms, p99 ms and the count of non-2xx answers."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, ms("50%"), ms("99%"), int(errors.group(1)) if errors else 0


async def raw_cas_rate(path: Path, writers: int, seconds: float) -> float:
    store = SQLiteStore(path)
    done = 0
    try:

        async def one(n: int, deadline: float) -> None:
            nonlocal done
            kv = await store.create(f"/bench/{n}", os.urandom(VALUE_SIZE))
            while time.perf_counter() < deadline:
                kv = await store.update(kv.key, os.urandom(VALUE_SIZE), kv.mod_revision)
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(n, start + seconds) for n in range(writers)))
        return done / (time.perf_counter() - start)
    finally:
        await store.close()


def start_bare(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
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
    return proc, url


async def make_images(server: ServerProcess) -> None:
    async with server.async_client() as c:
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with gate:
                body = {"metadata": {"name": f"sha256:{i:064d}"}, "dockerImageReference": "r/x"}
                r = await c.post(f"{GV}/images", json=body)
                assert r.status_code == 201, r.text

        await asyncio.gather(*(one(i) for i in range(IMAGES)))


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench_api needs wrk (Debian: apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    script = tmp / "signatures.lua"
    script.write_text(WRK_SCRIPT)
    server = ServerProcess(tmp / "data", free_port(), ["--log-level", "warning"])
    server.start()
    bare, bare_url = start_bare(tmp)
    results: dict[str, list[float]] = {}
    failures = 0
    try:
        asyncio.run(make_images(server))
        token = server.admin_token
        for rnd in range(ROUNDS):
            for clients in (1, 16):
                run = str(rnd * 100 + clients)  # unique names and contents in every run
                c = wrk(server.url, script, clients, SECONDS, token, str(IMAGES), run, "POST")
                # Deletes run for less time than the creates did, so each finds its signature.
                d = wrk(
                    server.url,
                    script,
                    clients,
                    max(1, SECONDS // 2),
                    token,
                    str(IMAGES),
                    run,
                    "DELETE",
                )
                b = wrk(bare_url, script, clients, SECONDS, "x", str(IMAGES), run, "POST")
                raw = asyncio.run(raw_cas_rate(tmp / f"raw-{run}.db", clients, SECONDS))
                failures += c[3] + d[3]
                for key, value in [
                    ("create/s", c[0]),
                    ("create p50", c[1]),
                    ("create p99", c[2]),
                    ("delete/s", d[0]),
                    ("delete p50", d[1]),
                    ("delete p99", d[2]),
                    ("bare/s", b[0]),
                    ("raw/s", raw),
                ]:
                    results.setdefault(f"{clients}:{key}", []).append(value)
    finally:
        server.stop()
        bare.terminate()
        bare.wait()

    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"signature create/delete through the API: medians of {ROUNDS} rounds of {SECONDS} s, "
        f"wrk, SQLite synchronous=FULL, {os.cpu_count()} cores; non-2xx answers: {failures}"
    )
    for clients in (1, 16):
        m = {k.split(":", 1)[1]: v for k, v in med.items() if k.startswith(f"{clients}:")}
        print(
            f"{clients:>2} clients  create {m['create/s']:6.0f}/s  p50 {m['create p50']:5.2f} ms  "
            f"p99 {m['create p99']:5.2f} ms   delete {m['delete/s']:6.0f}/s  p50 {m['delete p50']:5.2f} ms  "
            f"p99 {m['delete p99']:5.2f} ms"
        )
        print(
            f"            baselines: raw store CAS {m['raw/s']:6.0f}/s, bare ASGI handler {m['bare/s']:6.0f}/s"
        )
        print(
            f"            create/raw CAS {m['create/s'] / m['raw/s']:.2f} (target >= 0.5)   "
            f"delete/raw CAS {m['delete/s'] / m['raw/s']:.2f}   create/bare ASGI {m['create/s'] / m['bare/s']:.2f}"
        )


if __name__ == "__main__":
    main()
