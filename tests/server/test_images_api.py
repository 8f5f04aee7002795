"""The Image resource over HTTPS: create, get, list, update, patch, delete, watch (api.md §7)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading

import httpx

from tests.conftest import GV, create_image, random_digest, signature_body
from tests.imagesig_server import ServerProcess


def test_create_get_delete(admin: httpx.Client) -> None:
    created = create_image(admin)
    name = created["metadata"]["name"]  # type: ignore[index]
    assert created["kind"] == "Image"
    got = admin.get(f"{GV}/images/{name}").json()
    assert got["metadata"]["uid"] == created["metadata"]["uid"]  # type: ignore[index]
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # type: ignore[index]
    r = admin.delete(f"{GV}/images/{name}")
    assert r.status_code == 200
    assert r.json()["status"] == "Success"
    assert r.json()["details"]["uid"] == created["metadata"]["uid"]  # type: ignore[index]
    assert admin.get(f"{GV}/images/{name}").status_code == 404
    assert admin.delete(f"{GV}/images/{name}").status_code == 404


def test_create_twice_is_already_exists(admin: httpx.Client) -> None:
    name = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    r = admin.post(f"{GV}/images", json={"metadata": {"name": name}, "dockerImageReference": "x"})
    assert r.status_code == 409
    assert r.json()["reason"] == "AlreadyExists"
    assert r.json()["message"] == f'images.image.openshift.io "{name}" already exists'


def test_create_requires_name_and_reference(admin: httpx.Client) -> None:
    r = admin.post(f"{GV}/images", json={"metadata": {}})
    assert r.status_code == 422
    fields = [c["field"] for c in r.json()["details"]["causes"]]
    assert fields == ["metadata.name", "dockerImageReference"]


def test_manifest_must_match_a_digest_name(admin: httpx.Client) -> None:
    manifest = '{"schemaVersion": 2}'
    right = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    ok = admin.post(
        f"{GV}/images",
        json={
            "metadata": {"name": right},
            "dockerImageReference": "r/x",
            "dockerImageManifest": manifest,
        },
    )
    assert ok.status_code in (201, 409), ok.text
    wrong = admin.post(
        f"{GV}/images",
        json={
            "metadata": {"name": random_digest()},
            "dockerImageReference": "r/x",
            "dockerImageManifest": manifest,
        },
    )
    assert wrong.status_code == 422
    assert wrong.json()["details"]["causes"][0]["field"] == "dockerImageManifest"


def test_signatures_inside_an_image_are_validated_with_paths(admin: httpx.Client) -> None:
    name = random_digest()
    bad = signature_body(f"{name}@a", b"")
    del bad["kind"], bad["apiVersion"]
    r = admin.post(
        f"{GV}/images",
        json={
            "metadata": {"name": name},
            "dockerImageReference": "r/x",
            "signatures": [signature_body(f"{name}@ok"), bad],
        },
    )
    assert r.status_code == 422
    assert [c["field"] for c in r.json()["details"]["causes"]] == ["signatures[1].content"]
    assert r.json()["details"]["kind"] == "Image"


def test_update_with_stale_resource_version_conflicts_and_current_succeeds(
    admin: httpx.Client,
) -> None:
    image = create_image(admin)
    name = image["metadata"]["name"]  # type: ignore[index]
    image["metadata"]["labels"] = {"stage": "one"}  # type: ignore[index]
    first = admin.put(f"{GV}/images/{name}", json=image)
    assert first.status_code == 200, first.text
    assert first.json()["metadata"]["labels"] == {"stage": "one"}
    stale = admin.put(f"{GV}/images/{name}", json=image)
    assert stale.status_code == 409
    assert stale.json()["reason"] == "Conflict"
    current = first.json()
    current["metadata"]["labels"] = {"stage": "two"}
    assert admin.put(f"{GV}/images/{name}", json=current).status_code == 200
    del current["metadata"]["resourceVersion"]
    current["metadata"]["labels"] = {"stage": "three"}
    unconditional = admin.put(f"{GV}/images/{name}", json=current)
    assert unconditional.status_code == 200
    assert unconditional.json()["metadata"]["uid"] == image["metadata"]["uid"]  # type: ignore[index]


def test_update_name_must_match_url(admin: httpx.Client) -> None:
    image = create_image(admin)
    name = image["metadata"]["name"]  # type: ignore[index]
    image["metadata"]["name"] = random_digest()  # type: ignore[index]
    r = admin.put(f"{GV}/images/{name}", json=image)
    assert r.status_code == 400


def test_image_write_keeps_server_owned_fields_only_for_unchanged_signatures(
    admin: httpx.Client,
) -> None:
    image = create_image(admin)
    name = image["metadata"]["name"]  # type: ignore[index]
    admin.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@a", b"A"))
    current = admin.get(f"{GV}/images/{name}").json()
    uid = current["signatures"][0]["metadata"]["uid"]
    forged = signature_body(f"{name}@b", b"B")
    del forged["kind"], forged["apiVersion"]
    forged["conditions"] = [
        {"type": "Trusted", "status": "True"},
        {"type": "ForImage", "status": "True"},
    ]
    forged["imageIdentity"] = "evil/app:1"
    forged["metadata"]["annotations"] = {"image.openshift.io/managed-signature": "true"}  # type: ignore[index]
    current["signatures"].append(forged)
    r = admin.put(f"{GV}/images/{name}", json=current)
    assert r.status_code == 200, r.text
    a, b = r.json()["signatures"]
    assert a["metadata"]["uid"] == uid
    assert "conditions" not in b
    assert "imageIdentity" not in b
    assert "annotations" not in b["metadata"]


def test_merge_patch_and_json_patch(admin: httpx.Client) -> None:
    name = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    merge = admin.patch(
        f"{GV}/images/{name}",
        content=json.dumps({"metadata": {"labels": {"team": "a"}}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert merge.status_code == 200, merge.text
    assert merge.json()["metadata"]["labels"] == {"team": "a"}
    jp = admin.patch(
        f"{GV}/images/{name}",
        content=json.dumps([{"op": "add", "path": "/metadata/labels/tier", "value": "b"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert jp.status_code == 200, jp.text
    assert jp.json()["metadata"]["labels"] == {"team": "a", "tier": "b"}
    bad = admin.patch(
        f"{GV}/images/{name}",
        content=json.dumps({"dockerImageReference": None}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert bad.status_code == 422
    wrong_type = admin.patch(
        f"{GV}/images/{name}", content="{}", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415


def test_list_with_limit_continue_and_label_selector(admin: httpx.Client) -> None:
    run = hashlib.sha256(random_digest().encode()).hexdigest()[:8]
    names = sorted(
        create_image(
            admin, metadata={"name": random_digest(), "labels": {"run": run, "n": str(i % 2)}}
        )["metadata"]["name"]
        for i in range(5)
    )  # type: ignore[index]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"limit": "2", "labelSelector": f"run={run}"}
        if token:
            params["continue"] = token
        page = admin.get(f"{GV}/images", params=params).json()
        assert page["kind"] == "ImageList"
        assert int(page["metadata"]["resourceVersion"]) > 0
        seen += [i["metadata"]["name"] for i in page["items"]]
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert seen == names
    assert pages == 3
    odd = admin.get(f"{GV}/images", params={"labelSelector": f"run={run},n in (1)"}).json()
    assert len(odd["items"]) == 2
    absent = admin.get(f"{GV}/images", params={"labelSelector": f"run={run},!n"}).json()
    assert absent["items"] == []
    bad = admin.get(f"{GV}/images", params={"labelSelector": "a in b"})
    assert bad.status_code == 400
    bad_token = admin.get(f"{GV}/images", params={"continue": "%%%"})
    assert bad_token.status_code == 400


def test_list_as_protobuf_and_yaml(admin: httpx.Client) -> None:
    create_image(admin)
    pb = admin.get(
        f"{GV}/images", headers={"Accept": "application/vnd.kubernetes.protobuf, application/json"}
    )
    assert pb.headers["content-type"] == "application/vnd.kubernetes.protobuf"
    assert pb.content[:4] == b"k8s\x00"
    table = admin.get(
        f"{GV}/images",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    assert table.json()["kind"] == "ImageList"


def test_watch_streams_signature_changes_as_modified(
    server: ServerProcess, admin: httpx.Client
) -> None:
    image = create_image(admin)
    name = image["metadata"]["name"]  # type: ignore[index]
    rv = image["metadata"]["resourceVersion"]  # type: ignore[index]
    events: list[dict] = []  # type: ignore[type-arg]

    def watch() -> None:
        with (
            server.client() as c,
            c.stream(
                "GET",
                f"{GV}/images",
                params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "10"},
            ) as r,
        ):
            for line in r.iter_lines():
                event = json.loads(line)
                if event["object"]["metadata"]["name"] == name:
                    events.append(event)
                if len(events) == 3:
                    return

    t = threading.Thread(target=watch)
    t.start()
    admin.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@w"))
    admin.delete(f"{GV}/imagesignatures/{name}@w")
    admin.delete(f"{GV}/images/{name}")
    t.join(15)
    assert [e["type"] for e in events] == ["MODIFIED", "MODIFIED", "DELETED"]
    assert events[0]["object"]["signatures"][0]["metadata"]["name"] == f"{name}@w"
    assert base64.b64decode(events[0]["object"]["signatures"][0]["content"]) == b"signature-bytes"
