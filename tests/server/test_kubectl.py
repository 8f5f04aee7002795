"""The real ``kubectl`` against the real server: what clients.md promises kubectl users."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import GV, create_image, random_digest, require_tool, signature_body
from tests.imagesig_server import ServerProcess
from tests.server.kubeconfigs import kubeconfig_with_token


@dataclass(frozen=True)
class Kubectl:
    path: str
    kubeconfig: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.path, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """stdout of a command that must succeed."""
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def fails(self, *args: str) -> str:
        """stderr of a command that must fail with a non-zero exit."""
        result = self.run(*args)
        assert result.returncode != 0, result.stdout
        return result.stderr

    def as_user(self, kubeconfig: Path, home: Path) -> Kubectl:
        """The same kubectl with another kubeconfig and its own, empty discovery cache."""
        return replace(self, kubeconfig=kubeconfig, env=_env(home))


def _env(home: Path) -> dict[str, str]:
    # Only what kubectl needs: no KUBECONFIG from the caller, and a discovery and
    # OpenAPI cache that belongs to this run alone.
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "KUBECACHEDIR": str(home / "cache"),
    }


@pytest.fixture(scope="module")
def kubectl(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    # Module-scoped home: discovery and /openapi/v3 are fetched once, then cached.
    return Kubectl(
        require_tool("kubectl"), server.kubeconfig, _env(tmp_path_factory.mktemp("kubectl-home"))
    )


@pytest.fixture
def image(admin: httpx.Client) -> str:
    name = random_digest()
    create_image(admin, name)
    return name


@pytest.fixture
def nobody_kubectl(server: ServerProcess, kubectl: Kubectl, tmp_path: Path) -> Kubectl:
    config = kubeconfig_with_token(
        server.kubeconfig, server.token("nobody"), tmp_path / "nobody.kubeconfig"
    )
    return kubectl.as_user(config, tmp_path / "home")


def write_yaml(tmp_path: Path, obj: Mapping[str, object]) -> Path:
    path = tmp_path / f"obj-{os.urandom(4).hex()}.yaml"
    path.write_text(yaml.safe_dump(obj))
    return path


def signature_names(admin: httpx.Client, image: str) -> list[str]:
    r = admin.get(f"{GV}/images/{image}")
    assert r.status_code == 200, r.text
    return [s["metadata"]["name"] for s in r.json().get("signatures") or []]


# --- imagesignatures: create ----------------------------------------------------------


def test_create_from_yaml_file_prints_created_and_stores_signature(
    kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    name = f"{image}@kubectl"
    out = kubectl.ok("create", "-f", str(write_yaml(tmp_path, signature_body(name))))
    assert out == f"imagesignature.image.openshift.io/{name} created\n"
    assert signature_names(admin, image) == [name]


def test_second_create_is_already_exists_with_nonzero_exit(
    kubectl: Kubectl, image: str, tmp_path: Path
) -> None:
    name = f"{image}@twice"
    path = write_yaml(tmp_path, signature_body(name))
    kubectl.ok("create", "-f", str(path))
    err = kubectl.fails("create", "-f", str(path))
    assert (
        f'Error from server (AlreadyExists): error when creating "{path}": '
        f'imageSignatures.image.openshift.io "{name}" already exists'
    ) in err.splitlines()


def test_create_for_missing_image_is_not_found(kubectl: Kubectl, tmp_path: Path) -> None:
    missing = random_digest()
    path = write_yaml(tmp_path, signature_body(f"{missing}@sig"))
    err = kubectl.fails("create", "-f", str(path))
    assert (
        f'Error from server (NotFound): error when creating "{path}": '
        f'images.image.openshift.io "{missing}" not found'
    ) in err.splitlines()


def test_dry_run_server_create_answers_created_and_persists_nothing(
    kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    name = f"{image}@dry"
    out = kubectl.ok(
        "create", "--dry-run=server", "-f", str(write_yaml(tmp_path, signature_body(name)))
    )
    assert out == f"imagesignature.image.openshift.io/{name} created (server dry run)\n"
    assert signature_names(admin, image) == []


def test_dry_run_server_still_reports_a_duplicate(
    kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    name = f"{image}@dup"
    path = write_yaml(tmp_path, signature_body(name))
    kubectl.ok("create", "-f", str(path))
    err = kubectl.fails("create", "--dry-run=server", "-f", str(path))
    assert "Error from server (AlreadyExists)" in err
    assert signature_names(admin, image) == [name]


def test_unknown_field_is_a_strict_decoding_error_by_default(
    kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path, {**signature_body(f"{image}@bogus"), "bogus": 1})
    err = kubectl.fails("create", "-f", str(path))
    assert (
        f'Error from server (BadRequest): error when creating "{path}": '
        'strict decoding error: unknown field "bogus"'
    ) in err.splitlines()
    assert signature_names(admin, image) == []


def test_validate_warn_creates_and_prints_the_servers_warning(
    kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    name = f"{image}@warn"
    path = write_yaml(tmp_path, {**signature_body(name), "bogus": 1})
    result = kubectl.run("create", "--validate=warn", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"imagesignature.image.openshift.io/{name} created\n"
    assert 'Warning: unknown field "bogus"' in result.stderr.splitlines()
    assert signature_names(admin, image) == [name]


def test_validate_false_creates_and_drops_unknown_field_silently(
    kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    name = f"{image}@ignore"
    path = write_yaml(tmp_path, {**signature_body(name), "bogus": 1})
    result = kubectl.run("create", "--validate=false", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"imagesignature.image.openshift.io/{name} created\n"
    assert "Warning" not in result.stderr
    assert signature_names(admin, image) == [name]
    stored = admin.get(f"{GV}/images/{image}").json()["signatures"][0]
    assert "bogus" not in stored


def test_signature_without_content_is_invalid_content_required(
    kubectl: Kubectl, image: str, tmp_path: Path
) -> None:
    name = f"{image}@nocontent"
    body = signature_body(name)
    del body["content"]
    err = kubectl.fails("create", "-f", str(write_yaml(tmp_path, body)))
    assert f'The ImageSignature "{name}" is invalid: content: Required value' in err.splitlines()


# --- imagesignatures: delete, get --------------------------------------------------------


def test_delete_prints_deleted_and_a_second_delete_is_not_found(
    kubectl: Kubectl, admin: httpx.Client, image: str
) -> None:
    keep, gone = f"{image}@keep", f"{image}@gone"
    for name in (keep, gone):
        r = admin.post(f"{GV}/imagesignatures", json=signature_body(name, name.encode()))
        assert r.status_code == 201, r.text
    out = kubectl.ok("delete", "imagesignature", gone)
    assert out == f'imagesignature.image.openshift.io "{gone}" deleted\n'
    assert signature_names(admin, image) == [keep]
    err = kubectl.fails("delete", "imagesignature", gone)
    assert (
        f'Error from server (NotFound): imageSignatures.image.openshift.io "{gone}" not found'
        in err.splitlines()
    )


def test_delete_name_without_at_is_bad_request(kubectl: Kubectl) -> None:
    err = kubectl.fails("delete", "imagesignature", "no-at-sign")
    assert (
        "Error from server (BadRequest): "
        "ImageSignatures must be accessed with <imageName>@<signatureName>"
    ) in err.splitlines()


def test_get_imagesignatures_is_method_not_allowed(kubectl: Kubectl) -> None:
    err = kubectl.fails("get", "imagesignatures")
    assert err.startswith("Error from server (MethodNotAllowed):"), err


# --- discovery and OpenAPI -----------------------------------------------------------------


def test_api_resources_lists_both_resources_with_their_verbs(kubectl: Kubectl) -> None:
    out = kubectl.ok(
        "api-resources", "--api-group=image.openshift.io", "-o", "wide", "--no-headers"
    )
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert set(rows) == {"images", "imagesignatures"}
    # columns: NAME APIVERSION NAMESPACED KIND VERBS (no SHORTNAMES, no CATEGORIES)
    assert rows["imagesignatures"][1:4] == ["image.openshift.io/v1", "false", "ImageSignature"]
    assert rows["imagesignatures"][4] == "create,delete"
    assert rows["images"][1:4] == ["image.openshift.io/v1", "false", "Image"]


def test_explain_imagesignature_shows_its_fields(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "imagesignature")
    assert "KIND:       ImageSignature" in out
    assert "GROUP:      image.openshift.io" in out
    for field in (
        "type",
        "content",
        "conditions",
        "imageIdentity",
        "signedClaims",
        "created",
        "issuedBy",
        "issuedTo",
        "metadata",
    ):
        assert f"\n  {field}\t<" in out, field
    assert "\n  content\t<string> -required-" in out
    assert "\n  type\t<string> -required-" in out


def test_explain_imagesignature_conditions_shows_condition_fields(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "imagesignature.conditions")
    assert "FIELD: conditions <[]SignatureCondition>" in out
    for field in ("type", "status", "lastProbeTime", "lastTransitionTime", "reason", "message"):
        assert f"\n  {field}\t<" in out, field


# --- images ------------------------------------------------------------------------------


def test_create_image_from_yaml_then_get_images_lists_it(kubectl: Kubectl, tmp_path: Path) -> None:
    name = random_digest()
    body = {
        "apiVersion": "image.openshift.io/v1",
        "kind": "Image",
        "metadata": {"name": name},
        "dockerImageReference": f"registry.example.com/ns/app@{name}",
    }
    assert kubectl.ok("create", "-f", str(write_yaml(tmp_path, body))) == (
        f"image.image.openshift.io/{name} created\n"
    )
    out = kubectl.ok("get", "images")
    assert out.splitlines()[0].split() == ["NAME", "AGE"]
    assert name in [line.split()[0] for line in out.splitlines()[1:]]


def test_get_image_json_shows_the_signature_inside(
    kubectl: Kubectl, admin: httpx.Client, image: str
) -> None:
    name = f"{image}@inside"
    r = admin.post(f"{GV}/imagesignatures", json=signature_body(name, b"inside-bytes"))
    assert r.status_code == 201, r.text
    got = json.loads(kubectl.ok("get", "image", image, "-o", "json"))
    assert got["kind"] == "Image"
    assert got["metadata"]["name"] == image
    [sig] = got["signatures"]
    assert sig["metadata"]["name"] == name
    assert sig["type"] == "atomic"
    assert sig["content"] == signature_body(name, b"inside-bytes")["content"]


def test_label_image_then_get_images_with_selector_filters(
    kubectl: Kubectl, admin: httpx.Client, image: str
) -> None:
    other = create_image(admin)["metadata"]["name"]  # type: ignore[index]
    value = os.urandom(4).hex()  # the server is shared: only this test uses this value
    out = kubectl.ok("label", "image", image, f"kubectl-test={value}")
    assert out == f"image.image.openshift.io/{image} labeled\n"
    assert admin.get(f"{GV}/images/{image}").json()["metadata"]["labels"] == {"kubectl-test": value}
    listed = kubectl.ok("get", "images", "-l", f"kubectl-test={value}", "-o", "name")
    assert listed == f"image.image.openshift.io/{image}\n"
    assert other not in listed


def test_delete_image_then_get_is_not_found(kubectl: Kubectl, image: str) -> None:
    assert kubectl.ok("delete", "image", image) == f'image.image.openshift.io "{image}" deleted\n'
    err = kubectl.fails("get", "image", image)
    assert (
        f'Error from server (NotFound): images.image.openshift.io "{image}" not found'
        in err.splitlines()
    )


# --- authentication and authorization ------------------------------------------------------


def test_nobody_is_forbidden_with_the_api_md_message(
    nobody_kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    # A fresh discovery cache: discovery and /openapi/v3 must be open to any valid token.
    name = f"{image}@nobody"
    path = write_yaml(tmp_path, signature_body(name))
    err = nobody_kubectl.fails("create", "-f", str(path))
    assert (
        f'Error from server (Forbidden): error when creating "{path}": '
        'imagesignatures.image.openshift.io is forbidden: User "nobody" cannot create '
        "imagesignatures.image.openshift.io at the cluster scope"
    ) in err.splitlines(), err
    assert signature_names(admin, image) == []

    r = admin.post(f"{GV}/imagesignatures", json=signature_body(name))
    assert r.status_code == 201, r.text
    err = nobody_kubectl.fails("delete", "imagesignature", name)
    assert (
        f'Error from server (Forbidden): imagesignatures.image.openshift.io "{name}" is forbidden: '
        'User "nobody" cannot delete imagesignatures.image.openshift.io at the cluster scope'
    ) in err.splitlines(), err
    assert signature_names(admin, image) == [name]


def test_bad_token_must_log_in(server: ServerProcess, kubectl: Kubectl, tmp_path: Path) -> None:
    # With the warm discovery cache the requests reach the resources and kubectl shows
    # the 401 Status message; a cold cache fails earlier, inside kubectl's discovery.
    kubectl.ok("api-resources", "--api-group=image.openshift.io")
    config = kubeconfig_with_token(server.kubeconfig, "not-a-token", tmp_path / "bad.kubeconfig")
    bad = replace(kubectl, kubeconfig=config)
    for args in (("get", "images"), ("delete", "imagesignature", f"{random_digest()}@x")):
        err = bad.fails(*args)
        assert (
            err.splitlines()[-1] == "error: You must be logged in to the server (Unauthorized)"
        ), err


def test_signer_creates_and_deletes_signatures_but_cannot_list_images(
    server: ServerProcess, kubectl: Kubectl, admin: httpx.Client, image: str, tmp_path: Path
) -> None:
    config = kubeconfig_with_token(server.kubeconfig, server.token("signer"), tmp_path / "kc")
    signer = replace(kubectl, kubeconfig=config)
    name = f"{image}@signer"
    signer.ok("create", "-f", str(write_yaml(tmp_path, signature_body(name))))
    assert signature_names(admin, image) == [name]
    signer.ok("delete", "imagesignature", name)
    assert signature_names(admin, image) == []
    err = signer.fails("get", "images")
    assert (
        'Error from server (Forbidden): images.image.openshift.io is forbidden: User "signer" '
        "cannot list images.image.openshift.io at the cluster scope"
    ) in err.splitlines()


def test_get_images_pages_through_with_chunk_size(kubectl: Kubectl, admin: httpx.Client) -> None:
    value = os.urandom(4).hex()
    names = sorted(random_digest() for _ in range(3))
    for name in names:
        create_image(admin, name, metadata={"name": name, "labels": {"chunk": value}})
    out = kubectl.ok("get", "images", "-l", f"chunk={value}", "--chunk-size=1", "-o", "name")
    assert sorted(out.split()) == [f"image.image.openshift.io/{name}" for name in names]


def test_kubeconfig_with_insecure_skip_tls_verify_works(
    server: ServerProcess, kubectl: Kubectl, image: str, tmp_path: Path
) -> None:
    config = yaml.safe_load(server.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"] = {"server": server.url, "insecure-skip-tls-verify": True}
    insecure = tmp_path / "insecure.kubeconfig"
    insecure.write_text(yaml.safe_dump(config))
    out = replace(kubectl, kubeconfig=insecure).ok("get", "image", image, "-o", "name")
    assert out == f"image.image.openshift.io/{image}\n"
