"""ImageSignature create and delete over HTTPS, against the real server (api.md §5, §6, §11)."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import GV, create_image, random_digest, signature_body
from tests.imagesig_server import ServerProcess


def get_image(client: httpx.Client, name: str) -> dict:  # type: ignore[type-arg]
    r = client.get(f"{GV}/images/{name}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_create_answers_201_with_the_stored_signature(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    name = f"{image}@0123456789abcdef0123456789abcdef"
    r = admin.post(f"{GV}/imagesignatures", json=signature_body(name, b"\x00\x01blob"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "ImageSignature"
    assert body["apiVersion"] == "image.openshift.io/v1"
    assert body["metadata"]["name"] == name
    assert body["metadata"]["uid"]
    assert body["metadata"]["creationTimestamp"].endswith("Z")
    assert body["metadata"]["selfLink"] == f"{GV}/imagesignatures/{name}"
    assert base64.b64decode(body["content"]) == b"\x00\x01blob"
    stored = get_image(admin, image)["signatures"]
    assert [(s["metadata"]["name"], s["type"], s["content"]) for s in stored] == [
        (name, "atomic", base64.b64encode(b"\x00\x01blob").decode())
    ]
    assert "kind" not in stored[0]
    assert "apiVersion" not in stored[0]


def test_peer_create_sequence(server: ServerProcess, admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    name = f"{image}@signature"
    with server.client("nobody") as nobody:
        r = nobody.post(f"{GV}/imagesignatures", json=signature_body(name))
        assert r.status_code == 403
    with server.client("signer") as signer:
        r = signer.post(f"{GV}/imagesignatures", json=signature_body(name, b"one"))
        assert r.status_code == 201, r.text
        assert get_image(admin, image)["signatures"][0]["metadata"]["name"] == name

        again = signer.post(f"{GV}/imagesignatures", json=signature_body(name, b"one"))
        same_content = signer.post(
            f"{GV}/imagesignatures", json=signature_body(f"{image}@other", b"one")
        )
        same_name = signer.post(f"{GV}/imagesignatures", json=signature_body(name, b"two"))
    for r in (again, same_content, same_name):
        assert r.status_code == 409, r.text
        assert r.json()["reason"] == "AlreadyExists"
    assert again.json()["message"] == f'imageSignatures.image.openshift.io "{name}" already exists'
    assert again.json()["details"] == {
        "name": name,
        "group": "image.openshift.io",
        "kind": "imageSignatures",
    }
    assert len(get_image(admin, image)["signatures"]) == 1


def test_same_content_with_another_type_is_not_a_duplicate(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    a = admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@a", b"x", "atomic"))
    b = admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@b", b"x", "other"))
    assert (a.status_code, b.status_code) == (201, 201)


def test_peer_delete_sequence(server: ServerProcess, admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    for s in "abcd":
        r = admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@{s}", s.encode()))
        assert r.status_code == 201
    with server.client("signer") as signer:

        def delete(n: str) -> httpx.Response:
            return signer.delete(f"{GV}/imagesignatures/{n}")

        missing = delete(f"{image}@doesnotexist")
        assert missing.status_code == 404
        assert missing.json()["message"] == (
            f'imageSignatures.image.openshift.io "{image}@doesnotexist" not found'
        )
        assert missing.json()["details"]["kind"] == "imageSignatures"
        malformed = delete(f"{image}@")
        assert malformed.status_code == 400
        assert malformed.json()["message"] == (
            "ImageSignatures must be accessed with <imageName>@<signatureName>"
        )
        ok = delete(f"{image}@a")
        assert ok.status_code == 200
        assert ok.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
        }
        assert delete(f"{image}@a").status_code == 404
        assert delete(f"{image}@c").status_code == 200
        names = [s["metadata"]["name"] for s in get_image(admin, image)["signatures"]]
        assert names == [f"{image}@b", f"{image}@d"]  # the others keep their order
        assert delete(f"{image}@d").status_code == 200
        assert delete(f"{image}@b").status_code == 200
    assert get_image(admin, image).get("signatures", []) == []


def test_delete_accepts_and_ignores_delete_options(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@a"))
    r = admin.request(
        "DELETE",
        f"{GV}/imagesignatures/{image}@a?gracePeriodSeconds=0",
        json={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
    )
    assert r.status_code == 200, r.text


def test_create_on_a_missing_image_is_404_about_images(admin: httpx.Client) -> None:
    image = random_digest()
    r = admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@a"))
    assert r.status_code == 404
    assert r.json()["message"] == f'images.image.openshift.io "{image}" not found'
    assert r.json()["details"] == {"name": image, "group": "image.openshift.io", "kind": "images"}


def test_delete_on_a_missing_image_is_404_about_images(admin: httpx.Client) -> None:
    image = random_digest()
    r = admin.delete(f"{GV}/imagesignatures/{image}@a")
    assert r.status_code == 404
    assert r.json()["details"]["kind"] == "images"


def test_client_cannot_claim_trust(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    body = signature_body(f"{image}@claim")
    body.update(
        {
            "conditions": [
                {"type": "Trusted", "status": "True"},
                {"type": "ForImage", "status": "True"},
            ],
            "imageIdentity": "registry.example.com/ns/app:v1",
            "signedClaims": {"creator": "me"},
            "created": "2018-06-01T12:00:00Z",
            "issuedBy": {"organization": "evil"},
            "issuedTo": {"publicKeyID": "DEADBEEF"},
        }
    )
    r = admin.post(f"{GV}/imagesignatures", json=body)
    assert r.status_code == 201, r.text
    for field in ("conditions", "imageIdentity", "signedClaims", "created", "issuedBy", "issuedTo"):
        assert field not in r.json()
        assert field not in get_image(admin, image)["signatures"][0]


def test_server_owned_metadata_is_replaced(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    body = signature_body(f"{image}@meta")
    body["metadata"] = {
        "name": f"{image}@meta",
        "namespace": "somewhere",
        "uid": "client-uid",
        "resourceVersion": "12345",
        "selfLink": "/elsewhere",
        "creationTimestamp": "2000-01-01T00:00:00Z",
    }
    r = admin.post(f"{GV}/imagesignatures", json=body)
    assert r.status_code == 201, r.text
    meta = r.json()["metadata"]
    assert meta["uid"] != "client-uid"
    assert "namespace" not in meta
    assert meta["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert meta["selfLink"].startswith(f"{GV}/imagesignatures/")


def test_generate_name_is_used_verbatim(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    body = signature_body("")
    body["metadata"] = {"generateName": f"{image}@generated"}
    r = admin.post(f"{GV}/imagesignatures", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["name"] == f"{image}@generated"


def test_signature_write_changes_the_image_resource_version(admin: httpx.Client) -> None:
    image = create_image(admin)
    name = image["metadata"]["name"]  # type: ignore[index]
    before = image["metadata"]["resourceVersion"]  # type: ignore[index]
    admin.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@a"))
    after_create = get_image(admin, name)["metadata"]["resourceVersion"]
    admin.delete(f"{GV}/imagesignatures/{name}@a")
    after_delete = get_image(admin, name)["metadata"]["resourceVersion"]
    assert int(before) < int(after_create) < int(after_delete)


def test_dry_run_create_checks_everything_and_persists_nothing(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    url = f"{GV}/imagesignatures?dryRun=All"
    r = admin.post(url, json=signature_body(f"{image}@dry"))
    assert r.status_code == 201, r.text
    assert get_image(admin, image).get("signatures", []) == []
    admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@real", b"real"))
    dup = admin.post(url, json=signature_body(f"{image}@real", b"real"))
    assert dup.status_code == 409
    missing = admin.post(url, json=signature_body(f"{random_digest()}@x"))
    assert missing.status_code == 404


def test_dry_run_delete_keeps_the_signature(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@a"))
    r = admin.delete(f"{GV}/imagesignatures/{image}@a?dryRun=All")
    assert r.status_code == 200
    assert len(get_image(admin, image)["signatures"]) == 1


def test_yaml_in_and_out(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    body = (
        "apiVersion: image.openshift.io/v1\n"
        "kind: ImageSignature\n"
        f"metadata:\n  name: '{image}@yaml'\n"
        "type: atomic\n"
        f"content: {base64.b64encode(b'yaml-bytes').decode()}\n"
    )
    r = admin.post(
        f"{GV}/imagesignatures",
        content=body,
        headers={"Content-Type": "application/yaml", "Accept": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/yaml")
    assert "kind: ImageSignature" in r.text
    assert f"name: {image}@yaml" in r.text or f"name: '{image}@yaml'" in r.text


def test_field_validation_modes(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    body = signature_body(f"{image}@strict")
    body["bogus"] = 1
    body["metadata"] = {"name": f"{image}@strict", "alsoBogus": True}  # type: ignore[dict-item]
    strict = admin.post(f"{GV}/imagesignatures?fieldValidation=Strict", json=body)
    assert strict.status_code == 400
    assert strict.json()["message"] == (
        'strict decoding error: unknown field "metadata.alsoBogus", unknown field "bogus"'
    ) or strict.json()["message"] == (
        'strict decoding error: unknown field "bogus", unknown field "metadata.alsoBogus"'
    )
    warn = admin.post(f"{GV}/imagesignatures?fieldValidation=Warn", json=body)
    assert warn.status_code == 201
    assert '299 - "unknown field \\"bogus\\""' in warn.headers.get_list("warning") or any(
        'unknown field \\"bogus\\"' in w for w in warn.headers.get_list("warning")
    )
    body["metadata"] = {"name": f"{image}@ignore"}  # type: ignore[dict-item]
    body["content"] = base64.b64encode(b"other").decode()
    ignore = admin.post(f"{GV}/imagesignatures?fieldValidation=Ignore", json=body)
    assert ignore.status_code == 201
    assert "warning" not in ignore.headers


def test_strict_rejects_duplicate_fields(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    raw = (
        '{"kind":"ImageSignature","apiVersion":"image.openshift.io/v1",'
        f'"metadata":{{"name":"{image}@dup"}},"type":"atomic","type":"atomic","content":"eA=="}}'
    )
    r = admin.post(
        f"{GV}/imagesignatures?fieldValidation=Strict",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert 'duplicate field "type"' in r.json()["message"]


def test_pretty_output(admin: httpx.Client) -> None:
    pretty = admin.get("/apis/image.openshift.io/v1?pretty=true")
    compact = admin.get("/apis/image.openshift.io/v1?pretty=false")
    assert pretty.text.startswith('{\n  "kind"')
    assert "\n" not in compact.text
