"""A real, single-member etcd on loopback ports for tests and benchmarks.

The ports are picked once, so ``stop()`` then ``start()`` brings the same member
back on the same data directory and the same client URL: clients that kept their
connection settings must recover by themselves.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ETCD_BINARY = "/usr/bin/etcd"


def etcd_missing_reason(binary: str = ETCD_BINARY) -> str | None:
    """Why etcd cannot be run here, or None when it can."""
    if os.access(binary, os.X_OK):
        return None
    return f"{binary} is not installed (Debian/Ubuntu: apt-get install etcd-server)"


def require_etcd() -> None:
    """In a test: skip on a developer machine without etcd; fail in CI, which installs it."""
    import pytest  # only tests call this; the benchmarks import this module too

    reason = etcd_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"etcd tests need a real etcd: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class EtcdTLS:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""

    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def generate(cls, directory: Path) -> EtcdTLS:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)

        def issue(
            name: str,
            key: ec.EllipticCurvePrivateKey,
            issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
            usage: x509.ObjectIdentifier | None,
        ) -> x509.Certificate:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
            issuer_name, signing_key = issuer or (subject, key)
            builder = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(issuer_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True)
            )
            if usage is not None:
                builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
            if usage == ExtendedKeyUsageOID.SERVER_AUTH:
                san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                builder = builder.add_extension(x509.SubjectAlternativeName(san), False)
            return builder.sign(signing_key, hashes.SHA256())

        def write(name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Path:
            (directory / f"{name}.key").write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            path = directory / f"{name}.crt"
            path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            return path

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = issue("imagesig test CA", ca_key, None, None)
        server_key = ec.generate_private_key(ec.SECP256R1())
        client_key = ec.generate_private_key(ec.SECP256R1())
        signer = (ca.subject, ca_key)
        return cls(
            ca_file=write("ca", ca, ca_key),
            server_cert=write(
                "server",
                issue("etcd", server_key, signer, ExtendedKeyUsageOID.SERVER_AUTH),
                server_key,
            ),
            server_key=directory / "server.key",
            client_cert=write(
                "client",
                issue("imagesig", client_key, signer, ExtendedKeyUsageOID.CLIENT_AUTH),
                client_key,
            ),
            client_key=directory / "client.key",
        )


class EtcdServer:
    """One etcd process; ``start()``/``stop()`` may be called repeatedly."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        tls: EtcdTLS | None = None,
        binary: str = ETCD_BINARY,
    ) -> None:
        """With ``tls`` the client URL is https and clients must present a certificate."""
        self._own_dir = data_dir is None
        self.base_dir = Path(tempfile.mkdtemp(prefix="etcd-")) if data_dir is None else data_dir
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "etcd.log"
        self.binary = binary
        self.client_port = free_port()
        self.peer_port = free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        self.client_url = f"{scheme}://127.0.0.1:{self.client_port}"
        self.peer_url = f"http://127.0.0.1:{self.peer_port}"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        if self.running:
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        # A developer's ETCD_* variables would silently reconfigure the member.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        args = [
            self.binary,
            "--name=test",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster=test={self.peer_url}",
            "--initial-cluster-state=new",
            "--log-level=warn",
        ]
        if self.tls:
            args += [
                f"--cert-file={self.tls.server_cert}",
                f"--key-file={self.tls.server_key}",
                f"--trusted-ca-file={self.tls.ca_file}",
                "--client-cert-auth",
            ]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        context = None
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.tls.ca_file))
            context.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(
                    f"{self.client_url}/health", timeout=1.0, context=context
                ) as resp:
                    if b'"health":"true"' in resp.read():
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd was not healthy within {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGCONT)  # a paused member could not act on SIGTERM
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the member keeps its connections open but answers nothing."""
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGSTOP)
        # The stop takes effect asynchronously, thread by thread; until every thread is
        # stopped the member may still answer.
        deadline = time.monotonic() + 5.0
        while not self._all_threads_stopped():
            if time.monotonic() > deadline:
                raise RuntimeError("etcd did not stop on SIGSTOP")
            time.sleep(0.005)

    def _all_threads_stopped(self) -> bool:
        assert self._proc is not None
        tasks = Path(f"/proc/{self._proc.pid}/task")
        states = []
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):  # a thread that just exited
                # The state follows the parenthesised command name, which may hold spaces.
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        return bool(states) and all(state in ("T", "t") for state in states)

    def resume(self) -> None:
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGCONT)

    def close(self) -> None:
        """Stop and, when the data directory was ours, remove it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> EtcdServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
