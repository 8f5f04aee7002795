"""``imagesig serve`` as a process: TLS material, kubeconfig, restarts, signals, bad flags."""

from __future__ import annotations

import signal
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography import x509

from tests.imagesig_server import ServerProcess, free_port


def test_first_start_writes_tls_token_and_kubeconfig_and_reuses_them(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", free_port())
    proc.start()
    try:
        data = proc.data_dir
        for private in ("pki/ca.key", "pki/apiserver.key", "admin-token.csv", "admin.kubeconfig"):
            assert stat.S_IMODE((data / private).stat().st_mode) == 0o600, private
        cert = x509.load_pem_x509_certificate((data / "pki/apiserver.crt").read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in sans.get_values_for_type(x509.DNSName)
        assert "127.0.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
        config = yaml.safe_load(proc.kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == proc.url
        assert config["users"][0]["user"]["token"] == proc.admin_token
        before = {
            p: (data / p).read_bytes()
            for p in ("pki/ca.crt", "pki/apiserver.crt", "admin-token.csv")
        }
        with proc.client() as c:
            assert c.get("/apis").status_code == 200
    finally:
        assert proc.stop() == 0
    proc.start()
    try:
        after = {p: (proc.data_dir / p).read_bytes() for p in before}
        assert after == before
        with proc.client() as c:  # the old CA and token still work
            assert c.get("/apis").status_code == 200
    finally:
        proc.stop()


def test_https_only(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", free_port())
    proc.start()
    try:
        try:
            r = httpx.get(f"http://127.0.0.1:{proc.port}/version", timeout=5)
        except httpx.HTTPError:
            pass
        else:
            assert r.status_code >= 400
        unverified = ssl.create_default_context()  # the system CAs do not know this server
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(proc.url + "/version", verify=unverified, timeout=5)
    finally:
        proc.stop()


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", free_port())
    proc.start()
    assert proc.stop(signal.SIGINT) == 0


def test_given_certificate_is_served(tmp_path: Path) -> None:
    from imagesig.server.tls import ensure_self_signed

    tls = ensure_self_signed(tmp_path / "mine", ["127.0.0.1"])
    proc = ServerProcess(
        tmp_path / "data",
        free_port(),
        ["--tls-cert-file", str(tls.cert), "--tls-private-key-file", str(tls.key)],
    )
    proc.data_dir.mkdir(parents=True)
    (proc.data_dir / "pki").mkdir()
    (proc.data_dir / "pki" / "ca.crt").write_bytes(tls.ca.read_bytes())
    proc.start()
    try:
        assert not (proc.data_dir / "pki" / "apiserver.crt").exists()
        with proc.client() as c:
            assert c.get("/version").status_code == 200
    finally:
        proc.stop()


def serve_expecting_failure(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``imagesig serve`` with settings that must stop it before it listens."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "imagesig.cli",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--secure-port",
            str(free_port()),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bad_rbac_file_fails_at_start_with_a_clear_message(tmp_path: Path) -> None:
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text("apiVersion: v1\nkind: Pod\n")
    r = serve_expecting_failure(tmp_path, "--rbac-file", str(rbac))
    assert r.returncode == 1
    assert "rbac.yaml: document 1: apiVersion must be rbac.authorization.k8s.io/v1" in r.stderr


def test_health_and_version_need_no_token(server: ServerProcess) -> None:
    ctx = ssl.create_default_context(cafile=str(server.ca))
    with httpx.Client(base_url=server.url, verify=ctx) as c:
        for path in ("/healthz", "/livez", "/readyz"):
            assert c.get(path).status_code == 200
        version = c.get("/version").json()
        assert version["major"] == "1"
        assert "gitVersion" in version
        assert "platform" in version


def test_tokens_never_reach_the_log(server: ServerProcess) -> None:
    with server.client("signer") as c:
        c.get("/apis")
        c.post("/apis/image.openshift.io/v1/imagesignatures", json={})
    with httpx.Client(
        base_url=server.url,
        verify=ssl.create_default_context(cafile=str(server.ca)),
        headers={"Authorization": "Bearer wrong-token-xyz"},
    ) as c:
        c.get("/apis")
    log = server.log()
    assert server.token("signer") not in log
    assert server.admin_token not in log
    assert "wrong-token-xyz" not in log


def test_bad_etcd_settings_fail_at_start_with_a_clear_message(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    r = serve_expecting_failure(
        tmp_path, "--etcd-servers", "http://127.0.0.1:2379", "--etcd-cafile", str(ca)
    )
    assert r.returncode == 1
    assert r.stderr.startswith("imagesig: ")
    assert "Traceback" not in r.stderr
    assert "Listening" not in r.stdout + r.stderr


def test_sigterm_ends_open_watches_and_exits_promptly(tmp_path: Path) -> None:
    import threading
    import time

    proc = ServerProcess(tmp_path / "data", free_port())
    proc.start()
    ended: list[str] = []
    opened = threading.Event()

    def watch() -> None:
        params = {"watch": "true", "timeoutSeconds": "600"}
        try:
            with (
                proc.client() as c,
                c.stream("GET", "/apis/image.openshift.io/v1/images", params=params) as r,
            ):
                opened.set()
                for _ in r.iter_lines():
                    pass
            ended.append("clean")
        except httpx.HTTPError as exc:
            ended.append(type(exc).__name__)

    t = threading.Thread(target=watch)
    t.start()
    assert opened.wait(10)
    started = time.monotonic()
    assert proc.stop(signal.SIGTERM, timeout=20) == 0
    assert time.monotonic() - started < 10
    t.join(10)
    assert ended == ["clean"]
