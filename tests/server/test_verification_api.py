"""The server reads what it stores: verdicts, conditions and derived fields through the API."""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import GV, signature_body
from tests.imagesig_server import FIXTURES, ServerProcess, free_port

MANIFEST = (FIXTURES / "image.manifest.json").read_text()
DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
FINGERPRINT = "08CD26E446E2E95249B7A405E932F44B23E8DD43"


def start(tmp_path: Path, keys: Path) -> ServerProcess:
    proc = ServerProcess(tmp_path / "data", free_port(), ["--trusted-keys", str(keys)])
    proc.start()
    return proc


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(tmp_path_factory.mktemp("trusting"), FIXTURES / "public-key.gpg")
    with proc.client() as c:
        r = c.post(
            f"{GV}/images",
            json={
                "metadata": {"name": DIGEST},
                "dockerImageReference": f"docker.io/testing/manifest@{DIGEST}",
                "dockerImageManifest": MANIFEST,
            },
        )
        assert r.status_code == 201, r.text
    yield proc
    proc.stop()


def create(
    client: httpx.Client, name: str, content: bytes, type_: str = "atomic"
) -> dict[str, Any]:
    r = client.post(
        f"{GV}/imagesignatures", json=signature_body(f"{DIGEST}@{name}", content, type_)
    )
    assert r.status_code == 201, r.text
    stored = [
        s
        for s in client.get(f"{GV}/images/{DIGEST}").json()["signatures"]
        if s["metadata"]["name"] == f"{DIGEST}@{name}"
    ]
    assert len(stored) == 1
    body: dict[str, Any] = r.json()
    # What create answered is what the image holds.
    for field in ("conditions", "imageIdentity", "signedClaims", "created", "issuedBy", "issuedTo"):
        assert body.get(field) == stored[0].get(field), field
    return body


def conditions(sig: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in sig.get("conditions", [])}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_valid_fixture_is_trusted_with_its_claims(trusting: ServerProcess) -> None:
    with trusting.client() as c:
        sig = create(c, "image", fixture("image.signature"))
    assert conditions(sig) == {
        "Trusted": ("True", "Verified"),
        "ForImage": ("True", "DigestMatches"),
    }
    assert sig["imageIdentity"] == "testing/manifest"
    assert sig["signedClaims"] == {
        "docker-reference": "testing/manifest",
        "docker-manifest-digest": DIGEST,
        "creator": "atomic ",
        "timestamp": "1458239713",
    }
    assert sig["created"] == "2016-03-17T18:35:13Z"
    assert sig["issuedTo"]["publicKeyID"] == FINGERPRINT
    assert sig["issuedTo"]["commonName"] == sig["issuedBy"]["commonName"]
    assert "skopeo testing key" in sig["issuedBy"]["commonName"]
    for cond in sig["conditions"]:
        assert cond["lastProbeTime"]
        assert cond["lastTransitionTime"]


def test_no_optional_fields_fixture_is_trusted(trusting: ServerProcess) -> None:
    with trusting.client() as c:
        sig = create(c, "no-optional", fixture("no-optional-fields.signature"), "AtomicImageV1")
    assert conditions(sig)["Trusted"] == ("True", "Verified")
    assert set(sig["signedClaims"]) == {"docker-reference", "docker-manifest-digest"}
    assert sig["created"]  # from the OpenPGP signature's creation time


@pytest.mark.parametrize(
    ("file", "reason", "in_message"),
    [
        ("corrupt.signature", "BadSignature", FINGERPRINT),
        ("unknown-key.signature", "UnknownKey", "5F9470E3BC6C3B55"),
        ("invalid-blob.signature", "MalformedPayload", "not a container signature"),
    ],
)
def test_rejected_fixtures_say_why_and_claim_nothing(
    trusting: ServerProcess, file: str, reason: str, in_message: str
) -> None:
    with trusting.client() as c:
        sig = create(c, file.split(".")[0], fixture(file))
    assert conditions(sig) == {"Trusted": ("False", reason), "ForImage": ("Unknown", "NotVerified")}
    trusted = next(x for x in sig["conditions"] if x["type"] == "Trusted")
    assert in_message in trusted["message"]
    for field in ("imageIdentity", "signedClaims", "created", "issuedBy", "issuedTo"):
        assert field not in sig


def test_a_trusted_signature_for_another_manifest_is_not_for_this_image(
    trusting: ServerProcess,
) -> None:
    other = "sha256:" + "1" * 64
    with trusting.client() as c:
        r = c.post(
            f"{GV}/images", json={"metadata": {"name": other}, "dockerImageReference": "r/x"}
        )
        assert r.status_code == 201
        r = c.post(
            f"{GV}/imagesignatures",
            json=signature_body(f"{other}@moved", fixture("image.signature")),
        )
    assert r.status_code == 201
    assert conditions(r.json()) == {
        "Trusted": ("True", "Verified"),
        "ForImage": ("False", "DigestMismatch"),
    }


@pytest.mark.parametrize(
    ("content", "type_"),
    [
        (b"this is not a signature", "atomic"),
        (b"\x00sigstore-json\n{}", "atomic"),
        (fixture("image.signature"), "cosign"),
        (b"-----BEGIN PGP MESSAGE-----\n\nabc\n-----END PGP MESSAGE-----\n", "atomic"),
        (b"\xff" * (4 * 1024 * 1024), "atomic"),
    ],
)
def test_content_that_is_no_signature_we_read_is_stored_as_is(
    trusting: ServerProcess, content: bytes, type_: str
) -> None:
    with trusting.client() as c:
        name = f"opaque-{abs(hash((content[:64], type_, len(content))))}"
        sig = create(c, name, content, type_)
        stored = next(
            s
            for s in c.get(f"{GV}/images/{DIGEST}").json()["signatures"]
            if s["metadata"]["name"].endswith(name)
        )
    assert base64.b64decode(stored["content"]) == content
    assert "conditions" not in sig or conditions(sig)["Trusted"][0] == "False"
    for field in ("imageIdentity", "signedClaims", "issuedBy", "issuedTo"):
        assert field not in sig


def _wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def test_trust_follows_the_key_directory_without_a_restart(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()  # empty: the server starts trusting nothing
    proc = start(tmp_path, keys)
    try:
        with proc.client() as c:
            r = c.post(
                f"{GV}/images",
                json={
                    "metadata": {"name": DIGEST},
                    "dockerImageReference": "docker.io/testing/manifest",
                },
            )
            assert r.status_code == 201
            sig = create(c, "later", fixture("image.signature"))
            assert conditions(sig)["Trusted"] == ("False", "UnknownKey")

            def trusted_status() -> tuple[str, str]:
                (s,) = c.get(f"{GV}/images/{DIGEST}").json()["signatures"]
                t = next(x for x in s["conditions"] if x["type"] == "Trusted")
                return t["status"], t["lastTransitionTime"]

            shutil.copy(FIXTURES / "public-key-2.gpg", keys / "other.gpg")
            shutil.copy(FIXTURES / "public-key.gpg", keys / "skopeo.gpg")
            _wait_for(lambda: trusted_status()[0] == "True")
            (s,) = c.get(f"{GV}/images/{DIGEST}").json()["signatures"]
            assert s["imageIdentity"] == "testing/manifest"
            assert conditions(s)["ForImage"] == ("True", "DigestMatches")

            # Nothing changes while the keys stay: the image is not rewritten.
            rv = c.get(f"{GV}/images/{DIGEST}").json()["metadata"]["resourceVersion"]
            time.sleep(5)
            assert c.get(f"{GV}/images/{DIGEST}").json()["metadata"]["resourceVersion"] == rv

            (keys / "skopeo.gpg").unlink()
            _wait_for(lambda: trusted_status()[0] == "False")
            (s,) = c.get(f"{GV}/images/{DIGEST}").json()["signatures"]
            assert "imageIdentity" not in s
            assert conditions(s)["Trusted"] == ("False", "UnknownKey")
    finally:
        proc.stop()


def test_revoking_the_signing_subkey_and_expiry_show_as_conditions(tmp_path: Path) -> None:
    from tests.trust.conftest import ONE_DAY_LATER, ONE_MONTH_LATER, PAYLOAD, TWO_MONTHS_LATER
    from tests.trust.gnupg import GnuPG

    (tmp_path / "gnupg").mkdir()
    gpg = GnuPG(tmp_path / "gnupg")
    primary = gpg.gen_key("Release Key <release@example.invalid>", usage="cert")
    subkey = gpg.add_subkey(primary)
    by_subkey = gpg.sign(PAYLOAD, subkey + "!", at=ONE_MONTH_LATER)
    expiring = gpg.sign(
        PAYLOAD, subkey + "!", at=ONE_DAY_LATER, args=("--default-sig-expire", "1d")
    )
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "release.gpg").write_bytes(gpg.export(primary))
    proc = start(tmp_path, keys)
    try:
        with proc.client() as c:
            r = c.post(
                f"{GV}/images", json={"metadata": {"name": DIGEST}, "dockerImageReference": "r/x"}
            )
            assert r.status_code == 201
            sig = create(c, "subkey", by_subkey)
            assert conditions(sig) == {
                "Trusted": ("True", "Verified"),
                "ForImage": ("True", "DigestMatches"),
            }
            assert sig["issuedTo"]["publicKeyID"] == primary  # the primary, not the subkey
            assert sig["imageIdentity"] == "registry.example.com/ns/app:v1"

            expired = create(c, "expired", expiring)
            assert conditions(expired)["Trusted"] == ("False", "ExpiredSignature")
            assert conditions(expired)["Expired"][0] == "True"

            gpg.revoke_subkey(primary, 1, at=TWO_MONTHS_LATER)
            (keys / "release.gpg").write_bytes(gpg.export(primary))

            def revoked() -> bool:
                stored = c.get(f"{GV}/images/{DIGEST}").json()["signatures"]
                s = next(x for x in stored if x["metadata"]["name"].endswith("@subkey"))
                return conditions(s).get("Revoked", ("", ""))[0] == "True"

            _wait_for(revoked)
            stored = c.get(f"{GV}/images/{DIGEST}").json()["signatures"]
            s = next(x for x in stored if x["metadata"]["name"].endswith("@subkey"))
            assert conditions(s)["Trusted"] == ("False", "RevokedKey")
            assert "imageIdentity" not in s
    finally:
        proc.stop()
        gpg.close()
