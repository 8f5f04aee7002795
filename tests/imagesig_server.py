"""Start ``imagesig serve`` as a user would: a real process, real TLS, real files.

Tests talk to it over HTTPS with the CA it wrote, using tokens from a token file
and bindings from an RBAC file made here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "containers-image"

# user name -> (token, groups); bound to roles in RBAC below.
USERS = {
    "signer": ("signer-token-4a1f", ""),
    "auditor": ("auditor-token-77c2", ""),
    "nobody": ("nobody-token-0b9e", ""),
    "ops": ("ops-token-5d3a", "ops-team,other"),
}

RBAC = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: signers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:image-signer"}
subjects:
- {kind: User, name: signer}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: auditors}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:image-auditor"}
subjects:
- {kind: User, name: auditor}
- {kind: Group, name: ops-team}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin-token.csv").read_text().split(",", 1)[0]

    def token(self, user: str) -> str:
        return self.admin_token if user == "admin" else USERS[user][0]

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tokens = self.data_dir.parent / f"{self.data_dir.name}-tokens.csv"
        tokens.write_text(
            "".join(
                f'{tok},{user},uid-{user},"{groups}"\n' for user, (tok, groups) in USERS.items()
            )
        )
        rbac = self.data_dir.parent / f"{self.data_dir.name}-rbac.yaml"
        rbac.write_text(RBAC)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESIG_")}
        args = [
            sys.executable,
            "-m",
            "imagesig.cli",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--secure-port",
            str(self.port),
            "--token-auth-file",
            str(tokens),
            "--rbac-file",
            str(rbac),
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"imagesig serve exited early:\n{self.log()}")
            if self.ca.exists():
                try:
                    ctx = ssl.create_default_context(cafile=str(self.ca))
                    with urllib.request.urlopen(self.url + "/readyz", context=ctx, timeout=2) as r:
                        if r.status == 200:
                            return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"imagesig serve not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Stop the server with ``sig``; returns its exit code (-9 when it had to be killed).

        Whatever the server leaves behind (its worker, verification processes) is
        killed afterwards, so a hung shutdown cannot outlive the test.
        """
        assert self.proc is not None
        descendants = process_tree(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        _kill(descendants)
        return code

    def kill9(self) -> None:
        """``kill -9`` the server: the main process, its worker and their children."""
        assert self.proc is not None
        _kill([self.proc.pid, *process_tree(self.proc.pid)])
        self.proc.wait()
        self.proc = None

    def client(self, user: str = "admin", **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return httpx.Client(
            base_url=self.url,
            verify=ssl.create_default_context(cafile=str(self.ca)),
            headers=headers,
            timeout=30,
            **kwargs,  # type: ignore[arg-type]
        )

    def async_client(self, user: str = "admin") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return httpx.AsyncClient(
            base_url=self.url,
            verify=ssl.create_default_context(cafile=str(self.ca)),
            headers=headers,
            timeout=60,
        )


def process_tree(pid: int) -> list[int]:
    """``pid``'s descendants: the granian worker and its verification processes."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for row in out.stdout.splitlines():
        child, parent = (int(x) for x in row.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
