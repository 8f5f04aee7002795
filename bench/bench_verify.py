"""Verifications per second per core of ``verify_signature`` on an RSA-3072 signature.

Two baselines measured in the same run, on the same machine:
(a) raw ``cryptography`` RSA-3072 PKCS#1 v1.5 / SHA-256 verification: the floor
    cost of the public-key operation (target ratio >= 0.5);
(b) one ``gpgv`` subprocess per signature: what shelling out costs (target >= 30x).

Rates are per core: CPU seconds consumed, measured with ``os.times`` (for gpgv
the children's CPU time plus ours), so other load on the machine does not count
against a contender; wall-clock rates are shown alongside. The contenders
alternate in short rounds; the report shows medians over rounds and the median
of the per-round ratios. Nothing is asserted.
Run: ``.venv/bin/python bench/bench_verify.py``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from imagesig.trust import (
    Status,
    TrustedKeys,
    make_payload,
    verify_signature,
)

ROUNDS = 15
CPU_SECONDS_PER_ROUND = 0.3
GPGV_PER_ROUND = 30


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def rate(
    call: Callable[[], object], seconds: float = CPU_SECONDS_PER_ROUND, batch: int = 16
) -> tuple[float, float]:
    """Calls per CPU second and per wall-clock second of ``call``, over ``seconds`` of CPU."""
    n = 0
    start, wall = cpu_seconds(), time.perf_counter()
    while True:
        for _ in range(batch):
            call()
        n += batch
        used = cpu_seconds() - start
        if used >= seconds:
            return n / used, n / (time.perf_counter() - wall)


def make_signature(home: Path, payload: bytes) -> tuple[bytes, Path]:
    """An RSA-3072 key and a gpg-made signed message over ``payload`` (as skopeo makes it)."""
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
    uid = "Bench Signer <bench@example.invalid>"
    subprocess.run([*gpg, "--quick-gen-key", uid, "rsa3072", "sign", "never"], env=env, check=True)
    signature = subprocess.run(
        [*gpg, "-u", uid, "--digest-algo", "SHA256", "--sign"],
        input=payload,
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    keyring = home / "trusted.gpg"
    keyring.write_bytes(
        subprocess.run([*gpg, "--export", uid], env=env, capture_output=True, check=True).stdout
    )
    return signature, keyring


def main() -> None:
    os.environ.pop("RUST_BACKTRACE", None)  # as the server does: no backtraces on errors
    payload = make_payload(
        "sha256:" + "0" * 64, "registry.example.com/ns/app:v1", "atomic 5.23.1", 1700000000
    )
    with tempfile.TemporaryDirectory(prefix="bench-gnupg-") as tmp:
        home = Path(tmp)
        home.chmod(0o700)
        signature, keyring = make_signature(home, payload)
        keys = TrustedKeys.from_path(keyring)
        verdict = verify_signature(signature, keys)
        if verdict.status is not Status.TRUSTED:
            sys.exit(f"benchmark signature did not verify: {verdict.message}")

        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        public = private.public_key()
        raw = private.sign(payload, padding.PKCS1v15(), hashes.SHA256())

        def ours() -> object:
            return verify_signature(signature, keys)

        def crypto() -> None:
            public.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())

        gpgv = shutil.which("gpgv")
        sig_path = home / "bench.sig"
        sig_path.write_bytes(signature)

        def gpgv_once() -> None:
            assert gpgv is not None
            subprocess.run(
                [gpgv, "--keyring", str(keyring), str(sig_path)],
                capture_output=True,
                check=True,
            )

        cpu: dict[str, list[float]] = {"ours": [], "crypto": [], "gpgv": []}
        wall: dict[str, list[float]] = {"ours": [], "crypto": [], "gpgv": []}
        contenders = {"ours": ours, "crypto": crypto}
        for _ in range(ROUNDS):
            for name, call in contenders.items():
                per_cpu, per_wall = rate(call)
                cpu[name].append(per_cpu)
                wall[name].append(per_wall)
            if gpgv is not None:
                per_cpu, per_wall = rate(gpgv_once, seconds=0, batch=GPGV_PER_ROUND)
                cpu["gpgv"].append(per_cpu)
                wall["gpgv"].append(per_wall)
        subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": tmp})

    def ratio(times: dict[str, list[float]], other: str) -> float:
        pairs = zip(times["ours"], times[other], strict=True)
        return statistics.median(o / b for o, b in pairs)

    def med(times: dict[str, list[float]], name: str) -> float:
        return statistics.median(times[name])

    print(f"RSA-3072 signed message, {len(signature)} bytes; medians of {ROUNDS} rounds")
    print("                                 per CPU core   (wall clock)")
    print(
        f"  verify_signature (pysequoia) : {med(cpu, 'ours'):9.0f} /s   ({med(wall, 'ours'):.0f} /s)"
    )
    print(
        f"  cryptography RSA verify      : {med(cpu, 'crypto'):9.0f} /s   ({med(wall, 'crypto'):.0f} /s)"
    )
    print(
        f"    ratio ours / cryptography  : {ratio(cpu, 'crypto'):9.2f}      "
        f"({ratio(wall, 'crypto'):.2f})   target >= 0.5"
    )
    if cpu["gpgv"]:
        print(
            f"  gpgv subprocess              : {med(cpu, 'gpgv'):9.0f} /s   ({med(wall, 'gpgv'):.0f} /s)"
        )
        print(
            f"    ratio ours / gpgv          : {ratio(cpu, 'gpgv'):9.1f}x     "
            f"({ratio(wall, 'gpgv'):.1f}x)  target >= 30x"
        )
    else:
        print("  gpgv not installed: no subprocess baseline")


if __name__ == "__main__":
    main()
