"""Shared fixtures: one real ``imagesig serve`` for the session, and helpers to use it."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.etcd_server import EtcdServer, require_etcd
from tests.imagesig_server import FIXTURES, ServerProcess, free_port

GV = "/apis/image.openshift.io/v1"


def require_tool(name: str) -> str:
    """The path of a tool the tests need; CI installs them all, so there it must exist."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI but not installed")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server") / "data", free_port())
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """One etcd for the whole run; tests share it, each under its own key prefix."""
    require_etcd()
    server = EtcdServer(tmp_path_factory.mktemp("etcd-session"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd for one test, for tests that stop it or compact its history."""
    require_etcd()
    server = EtcdServer(tmp_path / "etcd")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client("admin") as client:
        yield client


def random_digest() -> str:
    return "sha256:" + hashlib.sha256(os.urandom(16)).hexdigest()


def create_image(
    client: httpx.Client, name: str | None = None, **extra: object
) -> dict[str, object]:
    name = name or random_digest()
    body = {
        "kind": "Image",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": name},
        "dockerImageReference": f"registry.example.com/ns/app@{name}",
        **extra,
    }
    r = client.post(f"{GV}/images", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, object] = r.json()
    return result


def signature_body(
    name: str, content: bytes = b"signature-bytes", type_: str = "atomic"
) -> dict[str, object]:
    return {
        "kind": "ImageSignature",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": name},
        "type": type_,
        "content": base64.b64encode(content).decode(),
    }


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    assert FIXTURES.is_dir(), f"containers/image fixtures not found at {FIXTURES}"
    return FIXTURES
