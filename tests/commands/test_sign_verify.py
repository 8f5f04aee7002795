"""``imagesig sign`` and ``imagesig verify`` run as a user runs them, against a real server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysequoia
import pytest
import yaml

from imagesig.client import APIError, Client, load_kubeconfig
from imagesig.trust import digest_of, make_payload, sign_payload
from tests.conftest import GV, create_image, random_digest, require_tool
from tests.imagesig_server import FIXTURES, ServerProcess, free_port
from tests.trust.gnupg import GnuPG

IDENTITY = "registry.example.com/ns/app:v1"
FIXTURE_DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
FIXTURE_FINGERPRINT = "08CD26E446E2E95249B7A405E932F44B23E8DD43"


@dataclass
class Keys:
    gpg: GnuPG
    signer: str  # fingerprint of the key the server trusts
    other: str  # fingerprint of a key nobody trusts
    signer_secret: Path
    other_secret: Path
    signer_public: Path
    other_public: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    base = tmp_path_factory.mktemp("keys")
    (base / "gnupg").mkdir()
    gpg = GnuPG(base / "gnupg")
    signer = gpg.gen_key("Test Signer <signer@example.invalid>")
    other = gpg.gen_key("Other Signer <other@example.invalid>")
    paths = {}
    for name, fpr in (("signer", signer), ("other", other)):
        paths[f"{name}_secret"] = base / f"{name}.asc"
        paths[f"{name}_secret"].write_bytes(gpg.run("--armor", "--export-secret-keys", fpr))
        paths[f"{name}_public"] = base / f"{name}.gpg"
        paths[f"{name}_public"].write_bytes(gpg.export(fpr))
    yield Keys(gpg, signer, other, **paths)
    gpg.close()


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[ServerProcess]:
    """A server trusting only the signer's key."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("trusting") / "d",
        free_port(),
        ["--trusted-keys", str(keys.signer_public), "--verify-workers", "1"],
    )
    proc.start()
    yield proc
    proc.stop()


def imagesig(server: ServerProcess | None, *args: str) -> subprocess.CompletedProcess[str]:
    kubeconfig = ["--kubeconfig", str(server.kubeconfig)] if server is not None else []
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "imagesig.cli", *args, *kubeconfig],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def new_image(server: ServerProcess, tmp_path: Path) -> tuple[Path, str]:
    """A fresh image whose name is the digest of a manifest file written here."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": random_digest(), "size": 1},
                "layers": [],
            }
        )
    )
    digest = digest_of(manifest.read_bytes())
    with server.client() as admin:
        create_image(admin, digest)
    return manifest, digest


def signatures(server: ServerProcess, digest: str) -> list[dict[str, Any]]:
    with server.client() as admin:
        r = admin.get(f"{GV}/images/{digest}")
    assert r.status_code == 200, r.text
    sigs: list[dict[str, Any]] = r.json().get("signatures") or []
    return sigs


def conditions(signature: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in signature.get("conditions") or []}


def sign_args(keys: Keys, digest: str, *extra: str, key: Path | None = None) -> list[str]:
    key = key or keys.signer_secret
    return ["sign", "--image", digest, "--identity", IDENTITY, "--key", str(key), *extra]


# --- sign ----------------------------------------------------------------------------


def test_sign_with_trusted_key_is_trusted_for_the_image(
    trusting: ServerProcess, keys: Keys, tmp_path: Path
) -> None:
    manifest, digest = new_image(trusting, tmp_path)
    out = imagesig(trusting, *sign_args(keys, digest, "--manifest", str(manifest), "--name", "s1"))
    assert out.returncode == 0, out.stderr
    assert f"{digest}@s1 created" in out.stdout
    assert "Trusted: True" in out.stdout
    assert "ForImage: True" in out.stdout
    (sig,) = signatures(trusting, digest)
    assert sig["metadata"]["name"] == f"{digest}@s1"
    assert sig["type"] == "atomic"
    assert conditions(sig)["Trusted"]["status"] == "True"
    assert conditions(sig)["ForImage"]["status"] == "True"
    assert sig["imageIdentity"] == IDENTITY
    assert sig["issuedTo"]["publicKeyID"] == keys.signer


def test_sign_output_blob_verifies_with_skopeo(
    trusting: ServerProcess, keys: Keys, tmp_path: Path
) -> None:
    skopeo = require_tool("skopeo")
    manifest, digest = new_image(trusting, tmp_path)
    blob = tmp_path / "app.sig"
    out = imagesig(trusting, *sign_args(keys, digest, "--output", str(blob)))
    assert out.returncode == 0, out.stderr
    (sig,) = signatures(trusting, digest)
    assert base64.b64decode(sig["content"]) == blob.read_bytes()
    (tmp_path / "verifier-home").mkdir()
    verifier = GnuPG(tmp_path / "verifier-home")  # holds only the public key
    verifier.run("--import", stdin=keys.signer_public.read_bytes())
    check = subprocess.run(
        [skopeo, "standalone-verify", str(manifest), IDENTITY, keys.signer, str(blob)],
        env=verifier.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    verifier.close()
    assert check.returncode == 0, check.stderr
    assert digest in check.stdout


def test_skopeo_signature_uploaded_through_the_api_is_trusted(
    trusting: ServerProcess, keys: Keys, tmp_path: Path
) -> None:
    skopeo = require_tool("skopeo")
    manifest, digest = new_image(trusting, tmp_path)
    blob = tmp_path / "skopeo.sig"
    made = subprocess.run(
        [skopeo, "standalone-sign", str(manifest), IDENTITY, keys.signer, "-o", str(blob)],
        env=keys.gpg.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    with Client.from_kubeconfig(str(trusting.kubeconfig)) as client:
        created = client.create_signature(f"{digest}@skopeo", "atomic", blob.read_bytes())
    assert conditions(created)["Trusted"]["status"] == "True"
    assert conditions(created)["ForImage"]["status"] == "True"
    assert created["imageIdentity"] == IDENTITY


def test_sign_with_untrusted_key_is_stored_untrusted(
    trusting: ServerProcess, keys: Keys, tmp_path: Path
) -> None:
    _, digest = new_image(trusting, tmp_path)
    out = imagesig(trusting, *sign_args(keys, digest, key=keys.other_secret))
    assert out.returncode == 0, out.stderr
    assert "Trusted: False (UnknownKey)" in out.stdout
    (sig,) = signatures(trusting, digest)
    assert conditions(sig)["Trusted"]["status"] == "False"
    assert conditions(sig)["Trusted"]["reason"] == "UnknownKey"


def test_sign_for_missing_image_exits_1_with_the_servers_404_and_creates_nothing(
    trusting: ServerProcess, keys: Keys
) -> None:
    digest = random_digest()
    out = imagesig(trusting, *sign_args(keys, digest))
    assert out.returncode == 1
    assert f'images.image.openshift.io "{digest}" not found' in out.stderr
    assert "NotFound" in out.stderr
    with trusting.client() as admin:
        assert admin.get(f"{GV}/images/{digest}").status_code == 404


def test_sign_with_manifest_of_another_digest_exits_2_and_creates_nothing(
    trusting: ServerProcess, keys: Keys, tmp_path: Path
) -> None:
    _, digest = new_image(trusting, tmp_path)
    other = FIXTURES / "image.manifest.json"
    out = imagesig(trusting, *sign_args(keys, digest, "--manifest", str(other)))
    assert out.returncode == 2
    assert f"has digest {FIXTURE_DIGEST}, not --image {digest}" in out.stderr
    assert signatures(trusting, digest) == []


def test_sign_with_a_protected_key_needs_its_passphrase_file(
    trusting: ServerProcess, keys: Keys, tmp_path: Path
) -> None:
    home = tmp_path / "protected-home"
    home.mkdir(mode=0o700)
    (home / "gpg-agent.conf").write_text("s2k-count 65536\n")  # not seconds of calibration
    gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "s3cret"]
    env = {**os.environ, "GNUPGHOME": str(home)}
    uid = "Protected <protected@example.invalid>"
    subprocess.run([*gpg, "--quick-gen-key", uid, "ed25519", "sign", "never"], env=env, check=True)
    secret = tmp_path / "protected.gpg"
    secret.write_bytes(
        subprocess.run(
            [*gpg, "--export-secret-keys", uid], env=env, check=True, capture_output=True
        ).stdout
    )
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("s3cret\n")
    _, digest = new_image(trusting, tmp_path)

    out = imagesig(trusting, *sign_args(keys, digest, key=secret))
    assert out.returncode == 2
    assert "protected by a passphrase: give --passphrase-file" in out.stderr
    args = sign_args(keys, digest, "--passphrase-file", str(passphrase), key=secret)
    out = imagesig(trusting, *args)
    assert out.returncode == 0, out.stderr
    # A passphrase for a key that has none is not an error.
    args = sign_args(keys, digest, "--passphrase-file", str(passphrase))
    out = imagesig(trusting, *args)
    assert out.returncode == 0, out.stderr
    assert len(signatures(trusting, digest)) == 2


# --- verify --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_and_bad(
    trusting: ServerProcess, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """An image with one signature by the signer and one by the other key."""
    _, digest = new_image(trusting, tmp_path_factory.mktemp("good-and-bad"))
    payload = make_payload(digest, IDENTITY, creator="test", timestamp=1700000000)
    with Client.from_kubeconfig(str(trusting.kubeconfig)) as client:
        for name, secret in (("good", keys.signer_secret), ("bad", keys.other_secret)):
            blob = sign_payload(payload, pysequoia.Tsk.from_bytes(secret.read_bytes()))
            client.create_signature(f"{digest}@{name}", "atomic", blob)
    return digest


def verify_args(digest: str, keys_path: Path, *extra: str) -> list[str]:
    return ["verify", "--image", digest, "--keys", str(keys_path), "--identity", IDENTITY, *extra]


def test_verify_accepts_when_one_of_a_good_and_a_bad_signature_is_good(
    trusting: ServerProcess, keys: Keys, good_and_bad: str
) -> None:
    out = imagesig(trusting, *verify_args(good_and_bad, keys.signer_public))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"{good_and_bad}@good: ACCEPTED by {keys.signer} for {IDENTITY}" in lines
    (bad,) = [line for line in lines if line.startswith(f"{good_and_bad}@bad: ")]
    assert bad.startswith(f"{good_and_bad}@bad: REJECTED: signed by unknown key")


def test_verify_with_another_identity_exits_1_with_an_identity_mismatch(
    trusting: ServerProcess, keys: Keys, good_and_bad: str
) -> None:
    args = verify_args(good_and_bad, keys.signer_public)
    args[args.index(IDENTITY)] = "registry.example.com/ns/app:v2"
    out = imagesig(trusting, *args)
    assert out.returncode == 1
    assert f'REJECTED: the signature is for "{IDENTITY}", which does not match' in out.stdout
    assert "ACCEPTED" not in out.stdout


def test_verify_with_keys_of_another_signer_exits_1_unknown_key(
    trusting: ServerProcess, keys: Keys, good_and_bad: str
) -> None:
    """The server trusts the good signature; verify goes by the keys it is given."""
    out = imagesig(trusting, *verify_args(good_and_bad, FIXTURES / "public-key-2.gpg"))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    assert all("REJECTED: signed by unknown key" in line for line in lines)


def test_verify_json_output_is_a_list_of_verdicts(
    trusting: ServerProcess, keys: Keys, good_and_bad: str
) -> None:
    out = imagesig(trusting, *verify_args(good_and_bad, keys.signer_public, "-o", "json"))
    assert out.returncode == 0, out.stderr
    verdicts = {v["name"].rsplit("@", 1)[1]: v for v in json.loads(out.stdout)}
    assert verdicts["good"]["accepted"] is True
    assert verdicts["good"]["fingerprint"] == keys.signer
    assert verdicts["good"]["identity"] == IDENTITY
    assert verdicts["bad"]["accepted"] is False
    assert verdicts["bad"]["reason"] == "unknown_key"


def test_verify_image_without_signatures_exits_1_no_signatures(
    trusting: ServerProcess, keys: Keys, tmp_path: Path
) -> None:
    _, digest = new_image(trusting, tmp_path)
    out = imagesig(trusting, *verify_args(digest, keys.signer_public))
    assert out.returncode == 1
    assert out.stdout == ""
    assert "no signatures" in out.stderr


def test_verify_accepts_containers_image_fixture_signatures(trusting: ServerProcess) -> None:
    with trusting.client() as admin:
        create_image(admin, FIXTURE_DIGEST)
    files = ["image", "no-optional-fields", "corrupt", "unknown-key", "invalid-blob"]
    with Client.from_kubeconfig(str(trusting.kubeconfig)) as client:
        for name in files:
            blob = (FIXTURES / f"{name}.signature").read_bytes()
            client.create_signature(f"{FIXTURE_DIGEST}@{name}", "atomic", blob)
    args = ["verify", "--image", FIXTURE_DIGEST, "--keys", str(FIXTURES / "public-key.gpg")]
    out = imagesig(
        trusting, *args, "--identity", "testing/manifest", "--identity-rule", "matchRepository"
    )
    assert out.returncode == 0, out.stderr
    verdicts = {line.split("@", 1)[1].split(":", 1)[0]: line for line in out.stdout.splitlines()}
    for accepted in ("image", "no-optional-fields"):
        assert f"ACCEPTED by {FIXTURE_FINGERPRINT} for testing/manifest" in verdicts[accepted]
    for rejected in ("corrupt", "unknown-key", "invalid-blob"):
        assert "REJECTED" in verdicts[rejected]
    assert "unknown key" in verdicts["unknown-key"]
    # No default tag is added: under the default rule a name-only signature never matches.
    out = imagesig(trusting, *args, "--identity", "testing/manifest:latest")
    assert out.returncode == 1


# --- configuration errors ------------------------------------------------------------


@pytest.mark.parametrize("command", ["sign", "verify"])
def test_missing_kubeconfig_exits_2_naming_the_file(
    keys: Keys, tmp_path: Path, command: str
) -> None:
    missing = tmp_path / "nowhere.kubeconfig"
    digest = random_digest()
    args = sign_args(keys, digest) if command == "sign" else verify_args(digest, keys.signer_public)
    out = imagesig(None, *args, "--kubeconfig", str(missing))
    assert out.returncode == 2
    assert f"kubeconfig {missing} not found" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keys", "/nonexistent/keys.gpg"], "/nonexistent/keys.gpg: cannot read"),
        (["--identity", "Registry.example.com/NS/app"], "repository name must be lowercase"),
        (["--identity-rule", "exactReference"], 'missing member "dockerReference"'),
        (["--image", "sha256:abc"], "sha256 needs 64 lower-case hex digits"),
    ],
)
def test_verify_usage_errors_exit_2(
    keys: Keys, tmp_path: Path, args: list[str], message: str
) -> None:
    base = {"--image": random_digest(), "--keys": str(keys.signer_public), "--identity": IDENTITY}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    out = imagesig(None, "verify", *[x for kv in base.items() for x in kv])
    assert out.returncode == 2
    assert message in out.stderr


def test_malformed_kubeconfig_exits_2(keys: Keys, tmp_path: Path) -> None:
    config = tmp_path / "bad.kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    out = imagesig(
        None, *verify_args(random_digest(), keys.signer_public, "--kubeconfig", str(config))
    )
    assert out.returncode == 2
    assert f"{config}: no current-context is set" in out.stderr


def test_client_reads_a_ca_file_and_a_token_file_relative_to_the_kubeconfig(
    trusting: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "ca.crt").write_bytes(trusting.ca.read_bytes())
    (tmp_path / "token").write_text(trusting.admin_token + "\n")
    config = yaml.safe_load(trusting.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    del cluster["certificate-authority-data"]
    cluster["certificate-authority"] = "ca.crt"
    config["users"][0]["user"] = {"tokenFile": "token"}
    path = tmp_path / "files.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    digest = random_digest()
    with Client(load_kubeconfig(str(path))) as client, pytest.raises(APIError) as err:
        client.get_image(digest)
    assert (err.value.code, err.value.reason) == (404, "NotFound")
    assert err.value.message == f'images.image.openshift.io "{digest}" not found'
