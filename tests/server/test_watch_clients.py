"""Watching images with real clients: ``kubectl get --watch`` and the Python ``kubernetes`` watch.

Each client runs against the SQLite server and against a server on etcd, sees an image
created (ADDED), signed (MODIFIED) and deleted (DELETED), and the Python client resumes
from a resourceVersion, ends on ``timeoutSeconds`` and reports a compacted one as 410.
Every wait is bounded: a client that never prints fails the test instead of hanging it.
Two tests show server bugs found on the way: a watch's 200 is held back until its first
event, and on etcd a server that served watches may not exit on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import aetcd
import httpx
import pytest
from kubernetes import config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from tests.conftest import GV, create_image, require_tool, signature_body
from tests.etcd_server import EtcdServer
from tests.imagesig_server import ServerProcess, free_port, process_tree

IMAGE_GV = "image.openshift.io/v1"
WAIT = 8.0  # seconds any single expected line or event may take to arrive


@pytest.fixture(scope="module")
def etcd_backed(
    etcd_server: EtcdServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server on the shared etcd, under a prefix of its own: it starts with no images."""
    prefix = f"/imagesig-watch-{uuid.uuid4().hex}"
    proc = ServerProcess(
        tmp_path_factory.mktemp("etcd-backed") / "data",
        free_port(),
        ["--etcd-servers", etcd_server.client_url, "--etcd-prefix", prefix],
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(params=["sqlite", "etcd"])
def backend(request: pytest.FixtureRequest) -> ServerProcess:
    name = "server" if request.param == "sqlite" else "etcd_backed"
    proc: ServerProcess = request.getfixturevalue(name)
    return proc


# --- kubectl ------------------------------------------------------------------------------


class Streaming:
    """A running command whose stdout lines arrive on a queue, read with a deadline."""

    def __init__(self, args: list[str], env: dict[str, str], stderr: IO[bytes]) -> None:
        self._stderr = stderr
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=env
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put(raw.decode())
        self._lines.put(None)

    def read_until(self, done: Callable[[list[str]], bool], timeout: float = WAIT) -> list[str]:
        """Lines until ``done(lines so far)``; fails with what was printed if that takes too long."""
        deadline = time.monotonic() + timeout
        while not done(self.seen):
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0))
            except queue.Empty:
                pytest.fail(f"waited {timeout} s; printed so far:\n{''.join(self.seen)}")
            if line is None:
                self._stderr.seek(0)
                pytest.fail(
                    f"exited with {self.proc.wait()}; stdout:\n{''.join(self.seen)}\n"
                    f"stderr:\n{self._stderr.read().decode(errors='replace')}"
                )
            self.seen.append(line)
        return self.seen

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def kubectl_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # Module-scoped home: discovery is fetched once per server, then cached.
    require_tool("kubectl")
    home = tmp_path_factory.mktemp("kubectl-home")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "KUBECACHEDIR": str(home / "cache"),
    }


@contextlib.contextmanager
def kubectl_watch(server: ServerProcess, env: dict[str, str], *args: str) -> Iterator[Streaming]:
    with tempfile.TemporaryFile() as stderr:
        stream = Streaming(
            [
                require_tool("kubectl"),
                "--kubeconfig",
                str(server.kubeconfig),
                "get",
                "images",
                "--watch",
                *args,
            ],
            env,
            stderr,
        )
        try:
            yield stream
        finally:
            stream.stop()


def json_events(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON documents in kubectl's output, whether printed on one line or indented."""
    text, decoder, at = "".join(lines), json.JSONDecoder(), 0
    events: list[dict[str, Any]] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return events
        try:
            event, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return events  # the rest of a document that is still being printed
        events.append(event)


def new_image(client: httpx.Client) -> dict[str, Any]:
    """``create_image``, its answer typed for indexing."""
    return create_image(client)


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["object"]["metadata"]["name"] == name]


def sign_then_delete(client: httpx.Client, name: str) -> None:
    r = client.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@watched"))
    assert r.status_code == 201, r.text
    r = client.delete(f"{GV}/images/{name}")
    assert r.status_code == 200, r.text


def test_kubectl_watch_events_show_an_image_created_signed_and_deleted(
    backend: ServerProcess, kubectl_env: dict[str, str]
) -> None:
    with backend.client() as admin:
        before: str = new_image(admin)["metadata"]["name"]
        with kubectl_watch(backend, kubectl_env, "-o", "json", "--output-watch-events") as kubectl:
            # kubectl lists, prints the list as ADDED, then watches from the list's version:
            # once the earlier image is printed, every later write must show up.
            kubectl.read_until(lambda lines: bool(named(json_events(lines), before)))
            image = new_image(admin)
            name: str = image["metadata"]["name"]
            sign_then_delete(admin, name)
            lines = kubectl.read_until(lambda lines: len(named(json_events(lines), name)) >= 3)

    assert [e["type"] for e in named(json_events(lines), before)] == ["ADDED"]
    added, modified, deleted = named(json_events(lines), name)
    assert [added["type"], modified["type"], deleted["type"]] == ["ADDED", "MODIFIED", "DELETED"]
    for event in (added, modified, deleted):
        assert event["object"]["kind"] == "Image"
        assert event["object"]["apiVersion"] == IMAGE_GV
        assert event["object"]["dockerImageReference"] == image["dockerImageReference"]
    assert added["object"]["metadata"]["resourceVersion"] == image["metadata"]["resourceVersion"]
    assert "signatures" not in added["object"]
    assert [s["metadata"]["name"] for s in modified["object"]["signatures"]] == [f"{name}@watched"]
    revisions = [
        int(e["object"]["metadata"]["resourceVersion"]) for e in (added, modified, deleted)
    ]
    assert revisions == sorted(set(revisions))


def test_kubectl_watch_o_name_prints_one_line_per_change(
    server: ServerProcess, kubectl_env: dict[str, str]
) -> None:
    with server.client() as admin:
        before: str = new_image(admin)["metadata"]["name"]
        with kubectl_watch(server, kubectl_env, "-o", "name") as kubectl:
            kubectl.read_until(lambda lines: f"image.image.openshift.io/{before}\n" in lines)
            name: str = new_image(admin)["metadata"]["name"]
            sign_then_delete(admin, name)
            line = f"image.image.openshift.io/{name}\n"
            lines = kubectl.read_until(lambda lines: lines.count(line) >= 3)
    assert lines.count(line) == 3


def test_kubectl_watch_table_on_etcd_lists_existing_images_then_follows_changes(
    etcd_backed: ServerProcess, kubectl_env: dict[str, str]
) -> None:
    with etcd_backed.client() as admin:
        before: str = new_image(admin)["metadata"]["name"]
        with kubectl_watch(etcd_backed, kubectl_env) as kubectl:
            kubectl.read_until(lambda lines: any(ln.startswith(before) for ln in lines))
            name: str = new_image(admin)["metadata"]["name"]
            sign_then_delete(admin, name)
            lines = kubectl.read_until(lambda ls: sum(ln.startswith(name) for ln in ls) >= 3)
    assert lines[0].split() == ["NAME", "AGE"]
    assert sum(ln.startswith(before) for ln in lines) == 1
    assert sum(ln.startswith(name) for ln in lines) == 3


# --- the HTTP stream itself -----------------------------------------------------------------


def test_a_quiet_watch_answers_200_at_once_not_with_its_first_event(server: ServerProcess) -> None:
    """kube-apiserver flushes the 200 and its headers as soon as the watch is set up.

    Found while writing these tests: this server sends nothing, not even the status line,
    until the first event or until ``timeoutSeconds`` ends the stream (then with
    ``content-length: 0``). A client with a read timeout shorter than a quiet spell, such
    as httpx's default 5 s, fails on a healthy watch, and none can tell it is established.
    """
    with httpx.Client(
        base_url=server.url,
        verify=ssl.create_default_context(cafile=str(server.ca)),
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=httpx.Timeout(10, read=2),
    ) as admin:
        latest = admin.get(f"{GV}/images").json()["metadata"]["resourceVersion"]
        params = {"watch": "true", "resourceVersion": latest, "timeoutSeconds": "6"}
        started = time.monotonic()
        try:
            with admin.stream("GET", f"{GV}/images", params=params) as r:
                waited = time.monotonic() - started
                assert r.status_code == 200
                assert r.headers["content-type"] == "application/json"
                assert "content-length" not in r.headers  # a stream, not an empty body
        except httpx.ReadTimeout:
            pytest.fail("no status line or headers within 2 s of opening a watch with no events")
    assert waited < 2


# --- the Python kubernetes client ---------------------------------------------------------


def dynamic_images(kubeconfig: Path, cache_file: Path) -> Any:
    """The ``images`` resource of a DynamicClient configured from ``kubeconfig``."""
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    # Its own discovery cache: the default file is keyed by host:port, which runs reuse.
    client = DynamicClient(api, cache_file=str(cache_file))  # type: ignore[no-untyped-call]
    return client.resources.get(api_version=IMAGE_GV, kind="Image")


def new_watcher() -> Any:
    return watch.Watch()  # type: ignore[no-untyped-call]


@pytest.fixture
def images(backend: ServerProcess, tmp_path: Path) -> Any:
    return dynamic_images(backend.kubeconfig, tmp_path / "discovery.json")


class BackgroundWatch:
    """The dynamic resource's ``watch`` consumed on a thread; events arrive on a queue."""

    def __init__(self, images: Any, **kwargs: Any) -> None:
        self.watcher = new_watcher()
        self.events: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(images, kwargs), daemon=True)
        self._thread.start()

    def _run(self, images: Any, kwargs: dict[str, Any]) -> None:
        try:
            for event in images.watch(watcher=self.watcher, **kwargs):
                self.events.put(event)
        except BaseException as exc:  # handed to the test thread, which raises it
            self.events.put(exc)
        self.events.put(None)

    def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = WAIT) -> list[Any]:
        """Events up to and including the first for which ``done`` is true."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.events.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                pytest.fail(f"waited {timeout} s; events so far: {[e['type'] for e in got]}")
            if isinstance(item, BaseException):
                raise item
            if item is None:
                pytest.fail(f"the watch ended; events so far: {[e['type'] for e in got]}")
            got.append(item)
            if done(item):
                return got

    def stop(self) -> None:
        self.watcher.stop()  # shuts the socket down, so the thread's read returns now
        self._thread.join(WAIT)
        assert not self._thread.is_alive()


def is_named(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: bool(event["raw_object"]["metadata"]["name"] == name)


def test_python_watch_sees_current_images_as_added_then_live_changes(
    images: Any, backend: ServerProcess
) -> None:
    with backend.client() as admin:
        before: str = new_image(admin)["metadata"]["name"]
        # No resourceVersion: the current images come first, as ADDED.
        live = BackgroundWatch(images, timeout=20)
        try:
            first = live.until(is_named(before))
            assert {e["type"] for e in first} == {"ADDED"}
            image = new_image(admin)
            name: str = image["metadata"]["name"]
            sign_then_delete(admin, name)
            events = [e for e in live.until(lambda e: e["type"] == "DELETED") if is_named(name)(e)]
        finally:
            live.stop()

    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    added, modified, deleted = (e["object"] for e in events)
    assert added.kind == "Image"
    assert added.metadata.uid == image["metadata"]["uid"]
    assert added.metadata.resourceVersion == image["metadata"]["resourceVersion"]
    assert added.signatures is None
    assert [s.metadata.name for s in modified.signatures] == [f"{name}@watched"]
    assert modified.signatures[0].type == "atomic"
    assert deleted.metadata.uid == added.metadata.uid
    assert int(added.metadata.resourceVersion) < int(modified.metadata.resourceVersion)
    assert int(modified.metadata.resourceVersion) < int(deleted.metadata.resourceVersion)


def test_python_watch_resumes_after_the_resource_version_it_last_saw(
    images: Any, backend: ServerProcess
) -> None:
    with backend.client() as admin:
        start = new_image(admin)
        name: str = new_image(admin)["metadata"]["name"]
        sign_then_delete(admin, name)
    # Everything after ``start`` is history by now: the server replays it in order.
    watcher = new_watcher()
    seen = []
    for event in images.watch(
        resource_version=start["metadata"]["resourceVersion"],
        timeout=5,
        watcher=watcher,
    ):
        seen.append(event)
        if is_named(name)(event) and event["type"] == "MODIFIED":
            watcher.stop()
    assert [e["type"] for e in seen if is_named(name)(e)] == ["ADDED", "MODIFIED"]
    # The dynamic client's Watch does not track versions itself (it has no model type to
    # read them from), so the caller resumes from the last object it received.
    resume_from = seen[-1]["object"].metadata.resourceVersion

    # A new watch from the last version seen gets only what came after it.
    resumed = [
        e
        for e in images.watch(resource_version=resume_from, timeout=1, watcher=new_watcher())
        if is_named(name)(e)
    ]
    assert [e["type"] for e in resumed] == ["DELETED"]
    assert int(resumed[0]["object"].metadata.resourceVersion) > int(resume_from)


def test_python_watch_ends_when_timeout_seconds_pass(images: Any) -> None:
    started = time.monotonic()
    latest = images.get().metadata.resourceVersion
    assert list(images.watch(resource_version=latest, timeout=1)) == []
    assert time.monotonic() - started < 5


def test_python_watch_from_a_compacted_version_raises_410_expired(
    tmp_path: Path, own_etcd: EtcdServer
) -> None:
    proc = ServerProcess(tmp_path / "data", free_port(), ["--etcd-servers", own_etcd.client_url])
    proc.start()
    try:
        with proc.client() as admin:
            old = new_image(admin)["metadata"]["resourceVersion"]
            for _ in range(2):  # the watch from ``old`` starts one past it: compact beyond that
                create_image(admin)
            latest = int(admin.get(f"{GV}/images").json()["metadata"]["resourceVersion"])

        compact(own_etcd, latest)
        images = dynamic_images(proc.kubeconfig, tmp_path / "discovery.json")
        with pytest.raises(ApiException) as info:
            list(images.watch(resource_version=old, timeout=5))
        assert info.value.status == 410
        assert info.value.reason is not None
        assert "Expired" in info.value.reason
    finally:
        proc.stop()


# --- shutdown after watches -----------------------------------------------------------------


def compact(etcd: EtcdServer, revision: int) -> None:
    async def run() -> None:
        async with aetcd.Client(host="127.0.0.1", port=etcd.client_port, timeout=5) as client:
            await client.compact(revision, physical=True)

    asyncio.run(run())


def test_a_server_on_etcd_exits_on_sigterm_after_watches(
    own_etcd: EtcdServer, tmp_path: Path
) -> None:
    """SIGTERM after the usual ends of watches: a client left mid-stream, or got a 410.

    Found while writing these tests: on etcd, after a watch, SIGTERM sometimes never
    finishes. The worker's exit waits for the verification pool's processes, which never
    receive their exit sentinel; ``ServerProcess.stop`` then SIGKILLs the main process after
    15 s and the worker and pool processes are orphaned. It does not happen every time, so
    this tries a few servers; a clean exit takes well under a second.
    """
    for attempt in range(5):
        proc = ServerProcess(
            tmp_path / f"data-{attempt}",
            free_port(),
            ["--etcd-servers", own_etcd.client_url, "--etcd-prefix", f"/attempt-{attempt}"],
        )
        proc.start()
        try:
            with proc.client() as admin:
                old = new_image(admin)["metadata"]["resourceVersion"]
                for _ in range(2):
                    create_image(admin)
                params = {"watch": "true", "resourceVersion": old, "timeoutSeconds": "30"}
                with admin.stream("GET", f"{GV}/images", params=params) as r:
                    assert json.loads(next(r.iter_lines()))["type"] == "ADDED"  # then leave
                compact(
                    own_etcd, int(admin.get(f"{GV}/images").json()["metadata"]["resourceVersion"])
                )
                with admin.stream("GET", f"{GV}/images", params=params) as r:
                    assert json.loads(next(r.iter_lines()))["object"]["code"] == 410
            assert proc.proc is not None
            descendants = process_tree(proc.proc.pid)
            proc.proc.send_signal(signal.SIGTERM)
            try:
                code = proc.proc.wait(5)
            except subprocess.TimeoutExpired:
                stuck = [p for p in descendants if Path(f"/proc/{p}").exists()]
                pytest.fail(
                    f"attempt {attempt + 1}: imagesig serve on etcd did not exit within 5 s "
                    f"of SIGTERM after two watches; processes still running: {stuck}\n"
                    f"{proc.log()[-1500:]}"
                )
            assert code == 0
        finally:
            proc.stop()
