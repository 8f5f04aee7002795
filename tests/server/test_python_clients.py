"""The Python ``kubernetes`` and ``openshift`` DynamicClients, configured from the server's kubeconfig."""

from __future__ import annotations

import base64
import importlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic import exceptions as dynamic_errors

from tests.conftest import GV, create_image, random_digest, signature_body
from tests.imagesig_server import ServerProcess
from tests.server.kubeconfigs import kubeconfig_with_token

IMAGE_GV = "image.openshift.io/v1"


def dynamic_client(kubeconfig: Path, cache_file: Path, cls: type[Any] = DynamicClient) -> Any:
    # The default cache lives in the system temp dir keyed by host:port; a port reused by a
    # later run would read this run's discovery, so each client gets its own file.
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return cls(api, cache_file=str(cache_file))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dynamic-discovery")


@pytest.fixture(scope="module")
def client(server: ServerProcess, cache_dir: Path) -> Any:
    return dynamic_client(server.kubeconfig, cache_dir / "admin.json")


@pytest.fixture(scope="module")
def signatures(client: Any) -> Any:
    return client.resources.get(api_version=IMAGE_GV, kind="ImageSignature")


@pytest.fixture(scope="module")
def images(client: Any) -> Any:
    return client.resources.get(api_version=IMAGE_GV, kind="Image")


@pytest.fixture
def image(admin: httpx.Client) -> str:
    name = random_digest()
    create_image(admin, name)
    return name


def status_of(error: dynamic_errors.DynamicApiError) -> dict[str, Any]:
    """The Status body behind a raised error; the clients build their message from it."""
    body: dict[str, Any] = json.loads(error.body or "")
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    return body


def stored_signatures(admin: httpx.Client, image: str) -> list[dict[str, Any]]:
    r = admin.get(f"{GV}/images/{image}")
    assert r.status_code == 200, r.text
    return r.json().get("signatures") or []


# --- kubernetes.dynamic: imagesignatures -------------------------------------------------


def test_create_answers_201_with_the_signature(
    signatures: Any, admin: httpx.Client, image: str
) -> None:
    name = f"{image}@py"
    response = signatures.create(body=signature_body(name, b"py-bytes"), serialize=False)
    assert response.status == 201
    obj = signatures.create(body=signature_body(f"{image}@py2", b"py2-bytes"))
    assert obj.kind == "ImageSignature"
    assert obj.apiVersion == IMAGE_GV
    assert obj.metadata.name == f"{image}@py2"
    assert obj.metadata.uid
    assert obj.type == "atomic"
    assert base64.b64decode(obj.content) == b"py2-bytes"
    assert [s["metadata"]["name"] for s in stored_signatures(admin, image)] == [
        name,
        f"{image}@py2",
    ]


def test_delete_answers_success_status(signatures: Any, admin: httpx.Client, image: str) -> None:
    name = f"{image}@todelete"
    signatures.create(body=signature_body(name))
    result = signatures.delete(name=name)
    assert result.kind == "Status"
    assert result.status == "Success"
    assert stored_signatures(admin, image) == []


def test_duplicate_create_raises_conflict_error(signatures: Any, image: str) -> None:
    body = signature_body(f"{image}@dup")
    signatures.create(body=body)
    with pytest.raises(dynamic_errors.ConflictError) as raised:
        signatures.create(body=body)
    status = status_of(raised.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == f'imageSignatures.image.openshift.io "{image}@dup" already exists'


def test_create_for_missing_image_raises_not_found_error(signatures: Any) -> None:
    missing = random_digest()
    with pytest.raises(dynamic_errors.NotFoundError) as raised:
        signatures.create(body=signature_body(f"{missing}@sig"))
    assert status_of(raised.value)["message"] == f'images.image.openshift.io "{missing}" not found'


def test_delete_of_missing_signature_raises_not_found_error(signatures: Any, image: str) -> None:
    with pytest.raises(dynamic_errors.NotFoundError) as raised:
        signatures.delete(name=f"{image}@doesnotexist")
    status = status_of(raised.value)
    assert (
        status["message"] == f'imageSignatures.image.openshift.io "{image}@doesnotexist" not found'
    )
    assert status["details"]["kind"] == "imageSignatures"


def test_delete_name_without_at_raises_bad_request_error(signatures: Any) -> None:
    with pytest.raises(dynamic_errors.BadRequestError) as raised:
        signatures.delete(name="no-at-sign")
    assert status_of(raised.value)["message"] == (
        "ImageSignatures must be accessed with <imageName>@<signatureName>"
    )


def test_list_imagesignatures_raises_method_not_allowed_error(signatures: Any) -> None:
    with pytest.raises(dynamic_errors.MethodNotAllowedError) as raised:
        signatures.get()
    assert status_of(raised.value)["reason"] == "MethodNotAllowed"


def test_invalid_signature_raises_unprocessible_entity_error(signatures: Any, image: str) -> None:
    name = f"{image}@nocontent"
    body = signature_body(name)
    del body["content"]
    with pytest.raises(dynamic_errors.UnprocessibleEntityError) as raised:
        signatures.create(body=body)
    status = status_of(raised.value)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        f'ImageSignature.image.openshift.io "{name}" is invalid: content: Required value'
    )
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "content"}
    ]


def test_nobody_raises_forbidden_error(
    server: ServerProcess, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    kubeconfig = kubeconfig_with_token(server.kubeconfig, server.token("nobody"), tmp_path / "kc")
    # A fresh discovery: any valid token may read it.
    nobody = dynamic_client(kubeconfig, tmp_path / "discovery.json")
    signatures = nobody.resources.get(api_version=IMAGE_GV, kind="ImageSignature")
    with pytest.raises(dynamic_errors.ForbiddenError) as raised:
        signatures.create(body=signature_body(f"{image}@nobody"))
    assert status_of(raised.value)["message"] == (
        'imagesignatures.image.openshift.io is forbidden: User "nobody" cannot create '
        "imagesignatures.image.openshift.io at the cluster scope"
    )
    assert stored_signatures(admin, image) == []


def test_bad_token_raises_unauthorized_error(
    server: ServerProcess, signatures: Any, cache_dir: Path, image: str, tmp_path: Path
) -> None:
    kubeconfig = kubeconfig_with_token(server.kubeconfig, "not-a-token", tmp_path / "kc")
    # Discovery itself is refused ...
    with pytest.raises(dynamic_errors.UnauthorizedError):
        dynamic_client(kubeconfig, tmp_path / "discovery.json")
    # ... and so is the create, given the admin's cached discovery (the `signatures`
    # fixture has filled it with image.openshift.io/v1).
    bad = dynamic_client(kubeconfig, cache_dir / "admin.json")
    bad_signatures = bad.resources.get(api_version=IMAGE_GV, kind="ImageSignature")
    with pytest.raises(dynamic_errors.UnauthorizedError) as raised:
        bad_signatures.create(body=signature_body(f"{image}@bad"))
    assert status_of(raised.value)["message"] == "Unauthorized"


# --- kubernetes.dynamic: images ------------------------------------------------------------


def test_get_image_shows_its_signature(images: Any, signatures: Any, image: str) -> None:
    signatures.create(body=signature_body(f"{image}@seen", b"seen-bytes"))
    obj = images.get(name=image)
    assert obj.kind == "Image"
    assert obj.metadata.name == image
    [sig] = obj.signatures
    assert sig.metadata.name == f"{image}@seen"
    assert base64.b64decode(sig.content) == b"seen-bytes"


def test_list_images_includes_the_image(images: Any, image: str) -> None:
    listed = images.get()
    assert listed.kind == "ImageList"
    assert image in [item.metadata.name for item in listed.items]


def test_merge_patch_labels_then_label_selector_filters(
    images: Any, admin: httpx.Client, image: str
) -> None:
    create_image(admin)  # an unlabelled image the selector must leave out
    value = random_digest()[7:19]  # unique: the server is shared
    patched = images.patch(
        name=image,
        body={"metadata": {"labels": {"python-test": value}}},
        content_type="application/merge-patch+json",
    )
    assert patched.to_dict()["metadata"]["labels"] == {"python-test": value}
    names = [item.metadata.name for item in images.get(label_selector=f"python-test={value}").items]
    assert names == [image]


def test_missing_image_get_raises_not_found_error(images: Any) -> None:
    missing = random_digest()
    with pytest.raises(dynamic_errors.NotFoundError) as raised:
        images.get(name=missing)
    assert status_of(raised.value)["message"] == f'images.image.openshift.io "{missing}" not found'


# --- openshift 0.13 ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openshift_signatures(server: ServerProcess, cache_dir: Path) -> Any:
    # openshift 0.13 is old; if it stops importing with this kubernetes, say so, never skip.
    try:
        openshift_dynamic = importlib.import_module("openshift.dynamic")
    except Exception as error:  # any import failure is the finding
        import kubernetes

        pytest.fail(
            f"the openshift client cannot be imported with kubernetes {kubernetes.__version__}: "
            f"{type(error).__name__}: {error}"
        )
    client = dynamic_client(
        server.kubeconfig, cache_dir / "openshift.json", openshift_dynamic.DynamicClient
    )
    return client.resources.get(api_version=IMAGE_GV, kind="ImageSignature")


def test_openshift_client_creates_conflicts_and_deletes(
    openshift_signatures: Any, admin: httpx.Client, image: str
) -> None:
    from openshift.dynamic import exceptions as openshift_errors

    name = f"{image}@openshift"
    response = openshift_signatures.create(body=signature_body(name, b"oc-bytes"), serialize=False)
    assert response.status == 201
    with pytest.raises(openshift_errors.ConflictError):
        openshift_signatures.create(body=signature_body(name, b"oc-bytes"))
    assert openshift_signatures.delete(name=name).status == "Success"
    assert stored_signatures(admin, image) == []
