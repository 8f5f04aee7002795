"""Our signatures and skopeo's are interchangeable, and both verifiers agree on a matrix."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pysequoia
import pytest

from imagesig.trust import (
    MatchExact,
    SigningError,
    Status,
    check_image,
    digest_of,
    make_payload,
    parse_reference,
    sign_image,
    sign_payload,
    verify_signature,
)
from imagesig.trust.packets import (
    TAG_LITERAL,
    TAG_ONE_PASS_SIGNATURE,
    TAG_SIGNATURE,
    inflate,
    read_packets,
)

from .conftest import FIXTURES, IDENTITY, MANIFEST, PAYLOAD, World

SKOPEO = shutil.which("skopeo")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
MODIFIED_MANIFEST = FIXTURES / "dir-img-modified-manifest" / "manifest.json"


@pytest.fixture(scope="module")
def tsk(world: World) -> Any:
    return pysequoia.Tsk.from_bytes(world.gpg.export_secret(world.signer))


def test_sign_payload_writes_gpgs_message_shape(tsk: Any) -> None:
    blob = sign_payload(PAYLOAD, tsk)
    assert blob[:2] == b"\xa3\x01"  # ZIP-compressed, like gpg and skopeo
    (compressed,) = read_packets(blob)
    inner = [p.tag for p in read_packets(inflate(compressed))]
    assert inner == [TAG_ONE_PASS_SIGNATURE, TAG_LITERAL, TAG_SIGNATURE]


def test_sign_payload_verifies_with_ours_and_with_gpg(world: World, tsk: Any) -> None:
    blob = sign_payload(PAYLOAD, tsk)
    verdict = verify_signature(blob, world.keys(world.signer))
    assert verdict.status is Status.TRUSTED
    assert verdict.signer_fingerprint == world.signer
    assert world.gpg.run("--decrypt", stdin=blob) == PAYLOAD


def test_sign_payload_refuses_a_certificate_without_secrets(world: World) -> None:
    public = pysequoia.Cert.from_bytes(world.gpg.export(world.signer))
    with pytest.raises(SigningError):
        sign_payload(PAYLOAD, public)


def test_sign_image_signs_the_manifest_digest(world: World, tsk: Any) -> None:
    blob = sign_image(MANIFEST, "quay.io/ns/app:v1", tsk, timestamp=1700000000)
    payload = verify_signature(blob, world.keys(world.signer)).payload
    assert payload is not None
    assert payload.manifest_digest == digest_of(MANIFEST)
    assert (payload.docker_reference, payload.timestamp) == ("quay.io/ns/app:v1", 1700000000)


# --- skopeo -------------------------------------------------------------------------


def _skopeo(world: World, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert SKOPEO is not None
    return subprocess.run(
        [SKOPEO, *args], env=world.gpg.env, capture_output=True, check=False, timeout=60
    )


def _skopeo_sign(world: World, tmp_path: Path, reference: str, manifest: Path) -> bytes:
    out = tmp_path / "skopeo.sig"
    proc = _skopeo(world, "standalone-sign", str(manifest), reference, world.signer, "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    return out.read_bytes()


def _skopeo_accepts(
    world: World, tmp_path: Path, manifest: Path, reference: str, fpr: str, blob: bytes
) -> bool:
    sig = tmp_path / "check.sig"
    sig.write_bytes(blob)
    proc = _skopeo(world, "standalone-verify", str(manifest), reference, fpr, str(sig))
    return proc.returncode == 0


def _we_accept(world: World, manifest: Path, reference: str, fpr: str, blob: bytes) -> bool:
    verdict = verify_signature(blob, world.keys(fpr))
    digest = digest_of(manifest.read_bytes())
    return check_image(verdict, digest, parse_reference(reference), MatchExact()).accepted


@needs_skopeo
def test_skopeo_signature_verifies_with_ours(world: World, tmp_path: Path) -> None:
    manifest = FIXTURES / "image.manifest.json"
    blob = _skopeo_sign(world, tmp_path, IDENTITY, manifest)
    verdict = verify_signature(blob, world.keys(world.signer))
    assert verdict.status is Status.TRUSTED, verdict.message
    assert verdict.payload is not None
    assert verdict.payload.docker_reference == IDENTITY
    assert verdict.payload.manifest_digest == digest_of(MANIFEST)


@needs_skopeo
def test_make_payload_matches_skopeo_payload_bytes(world: World, tmp_path: Path) -> None:
    blob = _skopeo_sign(world, tmp_path, IDENTITY, FIXTURES / "image.manifest.json")
    signed = world.gpg.run("--decrypt", stdin=blob)
    payload = verify_signature(blob, world.keys(world.signer)).payload
    assert payload is not None
    assert payload.creator is not None
    assert payload.creator.startswith("atomic ")
    made = make_payload(digest_of(MANIFEST), IDENTITY, payload.creator, payload.timestamp)
    assert made == signed


@needs_skopeo
def test_our_signature_verifies_with_skopeo(world: World, tmp_path: Path, tsk: Any) -> None:
    blob = sign_image(MANIFEST, IDENTITY, tsk)
    manifest = FIXTURES / "image.manifest.json"
    assert _skopeo_accepts(world, tmp_path, manifest, IDENTITY, world.signer, blob)


MATRIX = [
    # (signed as, checked as, manifest, expected key, accepted)
    ("registry.example.com/ns/app:v1", "registry.example.com/ns/app:v1", "good", "signer", True),
    ("busybox:1", "docker.io/library/busybox:1", "good", "signer", True),
    ("registry.example.com/ns/app:v1", "registry.example.com/ns/app:v2", "good", "signer", False),
    ("registry.example.com/ns/app:v1", "other.example.com/ns/app:v1", "good", "signer", False),
    (
        "registry.example.com/ns/app:v1",
        "registry.example.com/ns/app:v1",
        "modified",
        "signer",
        False,
    ),
    ("registry.example.com/ns/app:v1", "registry.example.com/ns/app:v1", "good", "other", False),
]


@needs_skopeo
@pytest.mark.parametrize("made_by", ["skopeo", "imagesig"])
@pytest.mark.parametrize(("signed", "checked", "manifest", "key", "accepted"), MATRIX)
def test_skopeo_and_imagesig_agree(
    world: World,
    tmp_path: Path,
    tsk: Any,
    made_by: str,
    signed: str,
    checked: str,
    manifest: str,
    key: str,
    accepted: bool,
) -> None:
    good = FIXTURES / "image.manifest.json"
    if made_by == "skopeo":
        blob = _skopeo_sign(world, tmp_path, signed, good)
    else:
        blob = sign_image(MANIFEST, signed, tsk)
    path = good if manifest == "good" else MODIFIED_MANIFEST
    fpr = world.signer if key == "signer" else world.other
    theirs = _skopeo_accepts(world, tmp_path, path, checked, fpr, blob)
    ours = _we_accept(world, path, checked, fpr, blob)
    assert (theirs, ours) == (accepted, accepted)


@needs_skopeo
def test_subkey_signature_counts_as_its_primary_unlike_skopeo_1_9(
    world: World, tmp_path: Path
) -> None:
    """signatures.md §7: skopeo 1.9 reports the subkey; current containers/image and we the primary."""
    manifest = FIXTURES / "image.manifest.json"
    payload = make_payload(digest_of(MANIFEST), IDENTITY, "atomic test", 1700000000)
    blob = world.gpg.sign(payload, world.split_sub + "!")
    assert _skopeo_accepts(world, tmp_path, manifest, IDENTITY, world.split_sub, blob)
    assert not _skopeo_accepts(world, tmp_path, manifest, IDENTITY, world.split, blob)
    assert _we_accept(world, manifest, IDENTITY, world.split, blob)


def test_sign_payload_accepts_a_certificate_holding_secrets(world: World) -> None:
    cert = pysequoia.Cert.from_bytes(world.gpg.export_secret(world.signer))
    blob = sign_payload(PAYLOAD, cert)
    assert verify_signature(blob, world.keys(world.signer)).trusted
