"""Trusted keys load from files, directories and bytes, resolve subkeys, and reload on change."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from imagesig.trust import KeyringError, Status, TrustedKeys, verify_signature

from .conftest import FIXTURES, PAYLOAD, World, fixture_bytes

FIXTURE_FPR = "08CD26E446E2E95249B7A405E932F44B23E8DD43"
FIXTURE2_FPR = "F2B501009F78B0B340221A12A3CD242DA6028093"


def test_armored_certificate_file_loads_with_its_primary_user_id() -> None:
    keys = TrustedKeys.from_path(FIXTURES / "public-key.gpg")
    assert keys.fingerprints == {FIXTURE_FPR}
    cert = keys.get(FIXTURE_FPR.lower())
    assert cert is not None
    assert cert.user_id == "skopeo testing key"
    assert FIXTURE_FPR in keys


def test_binary_certificate_file_loads() -> None:
    keys = TrustedKeys.from_path(FIXTURES / "public-key-2.gpg")
    assert keys.fingerprints == {FIXTURE2_FPR}


def test_concatenated_armored_blocks_all_load(world: World) -> None:
    data = fixture_bytes("public-key.gpg") + world.gpg.run("--armor", "--export", world.signer)
    assert TrustedKeys.from_bytes(data).fingerprints == {FIXTURE_FPR, world.signer}


def test_binary_keyring_with_several_certificates_loads_them_all(world: World) -> None:
    keys = TrustedKeys.from_bytes(world.gpg.export(world.signer, world.other))
    assert keys.fingerprints == {world.signer, world.other}


def test_directory_loads_every_visible_file(tmp_path: Path, world: World) -> None:
    (tmp_path / "a.gpg").write_bytes(fixture_bytes("public-key.gpg"))
    (tmp_path / "b.gpg").write_bytes(world.gpg.export(world.signer))
    (tmp_path / ".hidden").write_bytes(b"not a key")
    keys = TrustedKeys.from_path(tmp_path)
    assert keys.fingerprints == {FIXTURE_FPR, world.signer}


def test_several_paths_load_together(tmp_path: Path, world: World) -> None:
    (tmp_path / "one.gpg").write_bytes(world.gpg.export(world.signer))
    keys = TrustedKeys.from_paths([tmp_path / "one.gpg", FIXTURES / "public-key-2.gpg"])
    assert keys.fingerprints == {world.signer, FIXTURE2_FPR}


def test_every_subkey_handle_resolves_to_the_primary_certificate(world: World) -> None:
    keys = world.keys(world.split)
    for handle in (world.split_sub, world.split_sub[-16:], world.split_sub[-16:].lower()):
        (cert,) = keys.resolve([handle])
        assert cert.fingerprint == world.split
    assert keys.resolve(["0" * 16]) == ()


def test_secret_key_material_can_serve_as_a_trusted_key(world: World) -> None:
    keys = TrustedKeys.from_bytes(world.gpg.export_secret(world.signer))
    assert keys.fingerprints == {world.signer}
    assert verify_signature(world.gpg.sign(PAYLOAD, world.signer), keys).trusted


def test_generation_depends_on_content_not_order(world: World) -> None:
    a, b = world.gpg.export(world.signer), world.gpg.export(world.other)
    assert TrustedKeys.from_bytes(a + b).generation == TrustedKeys.from_bytes(b + a).generation
    assert TrustedKeys.from_bytes(a).generation != TrustedKeys.from_bytes(a + b).generation
    assert TrustedKeys().generation == TrustedKeys().generation


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"\x99\x00", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"]
)
def test_unreadable_key_bytes_raise_a_keyring_error(data: bytes) -> None:
    with pytest.raises(KeyringError, match="keyData"):
        TrustedKeys.from_bytes(data)


def test_missing_file_and_empty_directory_raise_keyring_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="cannot read"):
        TrustedKeys.from_path(tmp_path / "missing.gpg")
    with pytest.raises(KeyringError, match="no key files"):
        TrustedKeys.from_path(tmp_path)


def test_empty_key_set_trusts_nothing() -> None:
    verdict = verify_signature(fixture_bytes("image.signature"), TrustedKeys())
    assert verdict.status is Status.UNTRUSTED


def test_reload_picks_up_added_replaced_and_broken_files(tmp_path: Path, world: World) -> None:
    (tmp_path / "a.gpg").write_bytes(world.gpg.export(world.signer))
    keys = TrustedKeys.from_path(tmp_path)
    generation = keys.generation
    assert keys.reload_if_changed() is False

    (tmp_path / "b.gpg").write_bytes(world.gpg.export(world.other))
    assert keys.reload_if_changed() is True
    assert keys.fingerprints == {world.signer, world.other}
    assert keys.generation != generation

    (tmp_path / "b.gpg").write_bytes(b"oops, not a key")
    with pytest.raises(KeyringError, match=r"b\.gpg"):
        keys.reload_if_changed()
    assert len(keys) == 0  # fail closed: a broken key directory trusts nothing
    assert keys.error is not None
    assert keys.reload_if_changed() is False  # nothing changed since

    (tmp_path / "b.gpg").unlink()
    assert keys.reload_if_changed() is True
    assert keys.fingerprints == {world.signer}
    assert keys.error is None
    assert keys.generation == generation


def test_reload_of_single_file_sees_replacement(tmp_path: Path, world: World) -> None:
    path = tmp_path / "key.gpg"
    path.write_bytes(world.gpg.export(world.signer))
    keys = TrustedKeys.from_path(path)
    replacement = tmp_path / "new.gpg"
    replacement.write_bytes(world.gpg.export(world.other))
    replacement.replace(path)
    assert keys.reload_if_changed() is True
    assert keys.fingerprints == {world.other}


def test_bytes_keys_never_reload(world: World) -> None:
    assert world.keys(world.signer).reload_if_changed() is False


def test_keys_survive_pickling_and_still_verify(world: World, tmp_path: Path) -> None:
    keys = world.keys(world.split)
    clone = pickle.loads(pickle.dumps(keys))
    assert clone.fingerprints == keys.fingerprints
    assert clone.generation == keys.generation
    assert verify_signature(world.gpg.sign(PAYLOAD, world.split_sub + "!"), clone).trusted
    revoked = verify_signature(world.signatures["revoked_subkey"], clone)
    assert revoked.revoked

    (tmp_path / "k.gpg").write_bytes(world.gpg.export(world.signer))
    from_file = pickle.loads(pickle.dumps(TrustedKeys.from_path(tmp_path / "k.gpg")))
    (tmp_path / "k.gpg").write_bytes(world.gpg.export(world.signer, world.other))
    assert from_file.reload_if_changed() is True


def test_an_empty_directory_trusts_nothing_when_allowed_and_fills_later(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="no key files"):
        TrustedKeys.from_path(tmp_path)
    keys = TrustedKeys.from_path(tmp_path, allow_empty_dirs=True)
    assert len(keys) == 0
    shutil.copy(FIXTURES / "public-key.gpg", tmp_path / "k.gpg")
    assert keys.reload_if_changed()
    assert "08CD26E446E2E95249B7A405E932F44B23E8DD43" in keys
    (tmp_path / "k.gpg").unlink()
    assert keys.reload_if_changed()
    assert len(keys) == 0
