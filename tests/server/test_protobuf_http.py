"""application/vnd.kubernetes.protobuf end to end over HTTPS (api.md §9)."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import httpx
import pytest

from imagesig.api import protobuf
from tests.conftest import GV, create_image, random_digest
from tests.imagesig_server import ServerProcess

PB = "application/vnd.kubernetes.protobuf"
PB_HEADERS = {"Content-Type": PB, "Accept": PB}


def pb_signature(name: str, content: bytes) -> bytes:
    return protobuf.encode(
        {
            "kind": "ImageSignature",
            "apiVersion": "image.openshift.io/v1",
            "metadata": {"name": name},
            "type": "atomic",
            "content": base64.b64encode(content).decode(),
        }
    )


def test_create_read_delete_in_protobuf(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    binary = bytes(range(256))
    r = admin.post(
        f"{GV}/imagesignatures", content=pb_signature(f"{image}@pb", binary), headers=PB_HEADERS
    )
    assert r.status_code == 201, r.content
    assert r.headers["content-type"] == PB
    created = protobuf.decode(r.content)
    assert created["kind"] == "ImageSignature"
    assert created["metadata"]["name"] == f"{image}@pb"

    got = admin.get(f"{GV}/images/{image}", headers={"Accept": f"{PB}, application/json"})
    assert got.headers["content-type"] == PB
    img = protobuf.decode(got.content)
    assert img["kind"] == "Image"
    assert base64.b64decode(img["signatures"][0]["content"]) == binary

    deleted = admin.delete(f"{GV}/imagesignatures/{image}@pb", headers={"Accept": PB})
    assert deleted.status_code == 200
    assert protobuf.decode(deleted.content) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    }


def test_image_create_and_update_in_protobuf(admin: httpx.Client) -> None:
    name = random_digest()
    body = protobuf.encode(
        {
            "kind": "Image",
            "apiVersion": "image.openshift.io/v1",
            "metadata": {"name": name, "labels": {"a": "b"}},
            "dockerImageReference": f"r/x@{name}",
        }
    )
    r = admin.post(f"{GV}/images", content=body, headers=PB_HEADERS)
    assert r.status_code == 201, r.content
    current = protobuf.decode(r.content)
    current["metadata"]["labels"] = {"a": "c"}
    r = admin.put(f"{GV}/images/{name}", content=protobuf.encode(current), headers=PB_HEADERS)
    assert r.status_code == 200, r.content
    assert protobuf.decode(r.content)["metadata"]["labels"] == {"a": "c"}


@pytest.mark.parametrize(
    ("make_request", "code", "reason"),
    [
        ("unauthorized", 401, "Unauthorized"),
        ("missing", 404, "NotFound"),
        ("duplicate", 409, "AlreadyExists"),
        ("invalid", 422, "Invalid"),
        ("malformed", 400, "BadRequest"),
    ],
)
def test_errors_as_protobuf_status(
    server: ServerProcess, admin: httpx.Client, make_request: str, code: int, reason: str
) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    admin.post(
        f"{GV}/imagesignatures", content=pb_signature(f"{image}@dup", b"d"), headers=PB_HEADERS
    )
    before = admin.get(f"{GV}/images/{image}").json()["metadata"]["resourceVersion"]
    if make_request == "unauthorized":
        ctx = ssl.create_default_context(cafile=str(server.ca))
        with httpx.Client(base_url=server.url, verify=ctx) as anonymous:
            r = anonymous.get(f"{GV}/images", headers={"Accept": PB})
    elif make_request == "missing":
        r = admin.get(f"{GV}/images/{random_digest()}", headers={"Accept": PB})
    elif make_request == "duplicate":
        r = admin.post(
            f"{GV}/imagesignatures", content=pb_signature(f"{image}@dup", b"d"), headers=PB_HEADERS
        )
    elif make_request == "invalid":
        r = admin.post(
            f"{GV}/imagesignatures", content=pb_signature(f"{image}@x", b""), headers=PB_HEADERS
        )
    else:
        r = admin.post(f"{GV}/imagesignatures", content=b"k8s\x00\x0a\xff", headers=PB_HEADERS)
    assert r.status_code == code
    assert r.headers["content-type"] == PB
    status = protobuf.decode(r.content)
    assert status["kind"] == "Status"
    assert status["reason"] == reason
    assert status["code"] == code
    assert admin.get(f"{GV}/images/{image}").json()["metadata"]["resourceVersion"] == before


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"k8s",
        b"k9s\x00",
        b"k8s\x00\x0a\x05\x0a\x03",
        pb_signature("x@y", b"c")[:-3],
        protobuf.encode(
            {"kind": "Image", "apiVersion": "image.openshift.io/v1", "metadata": {"name": "n"}}
        ),
    ],
)
def test_malformed_or_wrong_protobuf_bodies_are_400(admin: httpx.Client, body: bytes) -> None:
    r = admin.post(f"{GV}/imagesignatures", content=body, headers=PB_HEADERS)
    assert r.status_code == 400, r.content
    assert protobuf.decode(r.content)["reason"] == "BadRequest"


def test_discovery_falls_back_to_json_for_a_protobuf_accept(admin: httpx.Client) -> None:
    r = admin.get("/apis", headers={"Accept": f"{PB}, application/json"})
    assert r.status_code == 200
    assert r.json()["kind"] == "APIGroupList"


def test_fuzzed_protobuf_bodies_never_cause_a_500(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The whole request path (in process, on a real SQLite file) under random bodies."""
    import asyncio

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from imagesig.server.app import App
    from imagesig.server.serve import ServeConfig, build_services, open_store, prepare

    config = ServeConfig(data_dir=str(tmp_path_factory.mktemp("fuzz")))
    prepare(config)
    token = (Path(config.data_dir) / "admin-token.csv").read_text().split(",")[0]
    valid = pb_signature("sha256:abc@s", b"x")

    loop = asyncio.new_event_loop()
    store = open_store(config)
    app = App(build_services(config, store))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://fuzz",
        headers={**PB_HEADERS, "Authorization": f"Bearer {token}"},
    )

    mutated = st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)).map(
        lambda p: valid[: p[0]] + bytes([p[1]]) + valid[p[0] + 1 :]
    )

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.one_of(
            st.binary(max_size=300), st.binary(max_size=200).map(lambda b: b"k8s\x00" + b), mutated
        )
    )
    def post(body: bytes) -> None:
        r = loop.run_until_complete(client.post(f"{GV}/imagesignatures", content=body))
        assert r.status_code in (400, 404, 422), r.content

    try:
        post()
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(store.close())
        loop.close()
