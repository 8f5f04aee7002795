"""Every row of api.md's error table, and bad input that must change nothing (§8)."""

from __future__ import annotations

import base64
import json
import sqlite3
import ssl

import httpx
import pytest

from tests.conftest import GV, create_image, random_digest, signature_body
from tests.imagesig_server import ServerProcess, free_port


def assert_status(r: httpx.Response, code: int, reason: str) -> dict:  # type: ignore[type-arg]
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["metadata"] == {}
    assert body["status"] == "Failure"
    assert body["reason"] == reason
    assert body["code"] == code
    assert body["message"]
    return body  # type: ignore[no-any-return]


def test_401_without_token(server: ServerProcess) -> None:
    with httpx.Client(
        base_url=server.url, verify=ssl.create_default_context(cafile=str(server.ca))
    ) as anonymous:
        body = assert_status(anonymous.post(f"{GV}/imagesignatures", json={}), 401, "Unauthorized")
    assert body["message"] == "Unauthorized"


def test_401_with_unknown_token(server: ServerProcess) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    with httpx.Client(
        base_url=server.url,
        verify=ssl.create_default_context(cafile=str(server.ca)),
        headers=headers,
    ) as c:
        assert_status(c.get(f"{GV}/images"), 401, "Unauthorized")
        assert_status(c.get("/apis"), 401, "Unauthorized")


def test_401_with_another_scheme(server: ServerProcess) -> None:
    headers = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
    with httpx.Client(
        base_url=server.url,
        verify=ssl.create_default_context(cafile=str(server.ca)),
        headers=headers,
    ) as c:
        assert_status(c.get(f"{GV}/images"), 401, "Unauthorized")


def test_lower_case_authorization_header_is_accepted(server: ServerProcess) -> None:
    headers = {"authorization": f"bearer {server.admin_token}"}
    with httpx.Client(
        base_url=server.url,
        verify=ssl.create_default_context(cafile=str(server.ca)),
        headers=headers,
    ) as c:
        assert c.get(f"{GV}/images").status_code == 200


def test_403_messages(server: ServerProcess) -> None:
    with server.client("nobody") as nobody:
        create = assert_status(
            nobody.post(f"{GV}/imagesignatures", json=signature_body("a@b")), 403, "Forbidden"
        )
        delete = assert_status(nobody.delete(f"{GV}/imagesignatures/a@b"), 403, "Forbidden")
    assert create["message"] == (
        'imagesignatures.image.openshift.io is forbidden: User "nobody" cannot create '
        "imagesignatures.image.openshift.io at the cluster scope"
    )
    assert delete["message"] == (
        'imagesignatures.image.openshift.io "a@b" is forbidden: User "nobody" cannot delete '
        "imagesignatures.image.openshift.io at the cluster scope"
    )
    assert delete["details"] == {
        "name": "a@b",
        "group": "image.openshift.io",
        "kind": "imagesignatures",
    }


@pytest.mark.parametrize(
    ("user", "allowed", "denied"),
    [
        (
            "signer",
            [("GET", "images/x"), ("POST", "imagesignatures"), ("DELETE", "imagesignatures/x@y")],
            [("GET", "images"), ("POST", "images"), ("PUT", "images/x"), ("DELETE", "images/x")],
        ),
        (
            "auditor",
            [("GET", "images/x"), ("GET", "images"), ("PUT", "images/x"), ("PATCH", "images/x")],
            [("POST", "imagesignatures"), ("DELETE", "imagesignatures/x@y"), ("POST", "images")],
        ),
        ("ops", [("GET", "images")], [("POST", "imagesignatures")]),
        ("nobody", [], [("GET", "images/x"), ("GET", "images")]),
    ],
)
def test_roles_are_least_privilege(
    server: ServerProcess,
    user: str,
    allowed: list[tuple[str, str]],
    denied: list[tuple[str, str]],
) -> None:
    with server.client(user) as c:
        for method, path in allowed:
            r = c.request(method, f"{GV}/{path}", json={})
            assert r.status_code != 403, (method, path, r.text)
        for method, path in denied:
            r = c.request(method, f"{GV}/{path}", json={})
            assert r.status_code == 403, (method, path, r.text)


def test_discovery_is_open_to_any_authenticated_user(server: ServerProcess) -> None:
    with server.client("nobody") as nobody:
        for path in ("/api", "/apis", f"{GV}", "/openapi/v3"):
            assert nobody.get(path).status_code == 200, path


def test_404_unknown_path(admin: httpx.Client) -> None:
    assert_status(admin.get("/apis/example.com/v1/things"), 404, "NotFound")
    assert_status(admin.get(f"{GV}/imagestreams"), 404, "NotFound")


def test_404_missing_image(admin: httpx.Client) -> None:
    name = random_digest()
    body = assert_status(admin.get(f"{GV}/images/{name}"), 404, "NotFound")
    assert body["message"] == f'images.image.openshift.io "{name}" not found'


def test_409_conflict_on_stale_resource_version(admin: httpx.Client) -> None:
    image = create_image(admin)
    name = image["metadata"]["name"]  # type: ignore[index]
    stale = dict(image)
    admin.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@a"))
    body = assert_status(admin.put(f"{GV}/images/{name}", json=stale), 409, "Conflict")
    assert body["message"].startswith(
        f'Operation cannot be fulfilled on images.image.openshift.io "{name}": '
    )


def test_422_invalid_with_causes(admin: httpx.Client) -> None:
    body = signature_body("notype", b"")
    body["type"] = ""
    r = admin.post(f"{GV}/imagesignatures", json=body)
    status = assert_status(r, 422, "Invalid")
    assert status["message"] == (
        'ImageSignature.image.openshift.io "notype" is invalid: [metadata.name: Invalid value: '
        '"notype": name must be of format <imageName>@<signatureName>, type: Required value, '
        "content: Required value]"
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "notype": name must be of format <imageName>@<signatureName>',
            "field": "metadata.name",
        },
        {"reason": "FieldValueRequired", "message": "Required value", "field": "type"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "content"},
    ]
    assert status["details"]["kind"] == "ImageSignature"


def test_422_single_error_message_has_no_brackets(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    status = assert_status(
        admin.post(f"{GV}/imagesignatures", json=signature_body(f"{image}@x", b"")), 422, "Invalid"
    )
    assert status["message"] == (
        f'ImageSignature.image.openshift.io "{image}@x" is invalid: content: Required value'
    )


def test_405_for_verbs_imagesignatures_do_not_serve(admin: httpx.Client) -> None:
    for method, path in [
        ("GET", "imagesignatures"),
        ("GET", "imagesignatures/a@b"),
        ("PUT", "imagesignatures/a@b"),
        ("PATCH", "imagesignatures/a@b"),
        ("DELETE", "imagesignatures"),
        ("POST", "imagesignatures/a@b"),
    ]:
        assert_status(admin.request(method, f"{GV}/{path}"), 405, "MethodNotAllowed")


def test_406_when_nothing_acceptable(admin: httpx.Client) -> None:
    assert_status(admin.get(f"{GV}/images", headers={"Accept": "text/html"}), 406, "NotAcceptable")


def test_415_for_an_unreadable_body_type(admin: httpx.Client) -> None:
    r = admin.post(
        f"{GV}/imagesignatures", content=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert_status(r, 415, "UnsupportedMediaType")


def test_413_for_a_body_over_the_limit(admin: httpx.Client) -> None:
    image = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    big = signature_body(f"{image}@big", b"x" * (9 * 1024 * 1024))
    assert_status(admin.post(f"{GV}/imagesignatures", json=big), 413, "RequestEntityTooLarge")

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b" " * (1024 * 1024)

    chunked = admin.post(
        f"{GV}/imagesignatures", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_status(chunked, 413, "RequestEntityTooLarge")
    assert admin.get(f"{GV}/images/{image}").json().get("signatures", []) == []


def test_500_is_a_status_without_a_stack_trace(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A real fault: the database holds a record that is not an Image (corruption).
    proc = ServerProcess(tmp_path / "data", free_port())
    proc.start()
    try:
        with proc.client() as c:
            name = create_image(c)["metadata"]["name"]  # type: ignore[index]
            db = sqlite3.connect(proc.data_dir / "imagesig.db")
            db.execute("UPDATE kv SET value = ? WHERE key = ?", (b"{not json", f"/images/{name}"))
            db.commit()
            db.close()
            body = assert_status(c.get(f"{GV}/images/{name}"), 500, "InternalError")
            assert body["message"].startswith("Internal error occurred: ")
            assert "Traceback" not in body["message"]
            assert "File " not in body["message"]
            assert c.get("/healthz").status_code == 200
    finally:
        proc.stop()
    assert "Traceback" in proc.log()  # the details go to the server's log, not the client


# -- bad input changes nothing ------------------------------------------------------


@pytest.fixture
def image_with_signature(admin: httpx.Client) -> str:
    name: str = create_image(admin)["metadata"]["name"]  # type: ignore[index,assignment]
    assert (
        admin.post(f"{GV}/imagesignatures", json=signature_body(f"{name}@keep")).status_code == 201
    )
    return name


def _state(admin: httpx.Client, image: str) -> tuple[str, list[str]]:
    body = admin.get(f"{GV}/images/{image}").json()
    return body["metadata"]["resourceVersion"], [s["metadata"]["name"] for s in body["signatures"]]


@pytest.mark.parametrize(
    ("content_type", "raw", "code", "needle"),
    [
        ("application/json", b'{"kind": "ImageSignature", ', 400, "not valid JSON"),
        ("application/json", b"[1, 2, 3]", 400, "must be an object"),
        ("application/json", b"", 400, "empty"),
        ("application/yaml", b"kind: [unclosed", 400, "not valid YAML"),
        ("application/yaml", b"a: 1\n---\nb: 2\n", 400, "exactly one YAML document"),
        ("application/vnd.kubernetes.protobuf", b"not protobuf", 400, ""),
        ("application/json", b'{"kind":"Image","metadata":{"name":"IMG@x"}}', 400, "kind"),
        (
            "application/json",
            b'{"apiVersion":"v1","kind":"ImageSignature","metadata":{"name":"IMG@x"}}',
            400,
            "does not match the expected API version (image.openshift.io/v1)",
        ),
        (
            "application/json",
            b'{"metadata":{"name":"IMG@x"},"type":"atomic","content":"!!not base64!!"}',
            400,
            "content",
        ),
        (
            "application/json",
            b'{"metadata":{"name":"IMG@x"},"type":5,"content":"eA=="}',
            400,
            "type",
        ),
        (
            "application/json",
            b'{"metadata":{"name":"IMG@a/b"},"type":"t","content":"eA=="}',
            422,
            "may not contain '/'",
        ),
        (
            "application/json",
            b'{"metadata":{"name":"IMG@a%b"},"type":"t","content":"eA=="}',
            422,
            "may not contain '%'",
        ),
        (
            "application/json",
            b'{"metadata":{"name":"IMG@a@b"},"type":"t","content":"eA=="}',
            422,
            "name must be of format",
        ),
        (
            "application/json",
            b'{"metadata":{"name":"IMG@x"},"type":"t","content":"eA==","conditions":"no"}',
            400,
            "conditions",
        ),
    ],
)
def test_bad_input_is_rejected_and_changes_nothing(
    admin: httpx.Client,
    image_with_signature: str,
    content_type: str,
    raw: bytes,
    code: int,
    needle: str,
) -> None:
    before = _state(admin, image_with_signature)
    body = raw.replace(b"IMG", image_with_signature.encode())
    r = admin.post(f"{GV}/imagesignatures", content=body, headers={"Content-Type": content_type})
    assert r.status_code == code, r.text
    assert r.json()["kind"] == "Status"
    assert needle in r.json()["message"]
    assert _state(admin, image_with_signature) == before
    assert admin.get("/healthz").status_code == 200


def test_names_with_slash_in_the_path_do_not_reach_a_signature(
    admin: httpx.Client, image_with_signature: str
) -> None:
    before = _state(admin, image_with_signature)
    r = admin.delete(f"{GV}/imagesignatures/{image_with_signature}@keep/extra")
    assert r.status_code == 404
    r = admin.delete(f"{GV}/imagesignatures/{image_with_signature}@keep%2Fextra")
    assert r.status_code in (400, 404)
    r = admin.delete(f"{GV}/imagesignatures/{image_with_signature}@a@b")
    assert r.status_code == 400
    assert _state(admin, image_with_signature) == before


def test_invalid_dry_run_and_field_validation_values(admin: httpx.Client) -> None:
    r = admin.post(f"{GV}/imagesignatures?dryRun=Some", json=signature_body("a@b"))
    assert_status(r, 400, "BadRequest")
    r = admin.post(f"{GV}/imagesignatures?fieldValidation=Loose", json=signature_body("a@b"))
    assert_status(r, 400, "BadRequest")


def test_status_errors_negotiate_yaml(admin: httpx.Client) -> None:
    r = admin.get(f"{GV}/images/{random_digest()}", headers={"Accept": "application/yaml"})
    assert r.status_code == 404
    assert r.text.startswith("kind: Status\n")
    assert json.loads(json.dumps(r.text))  # well-formed text
