"""Shared test material: the containers/image fixtures and a gpg home with real test keys."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imagesig.trust import TrustedKeys, make_payload

from .gnupg import GnuPG

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "containers-image"
MANIFEST = (FIXTURES / "image.manifest.json").read_bytes()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
IDENTITY = "registry.example.com/ns/app:v1"
PAYLOAD = make_payload(MANIFEST_DIGEST, IDENTITY, creator="imagesig tests", timestamp=1609459200)

# Times, relative to the keys' birth on 2021-01-01 (see gnupg.BIRTH).
ONE_HOUR_LATER = "20210101T010000"
HALF_DAY_LATER = "20210101T120000"
ONE_DAY_LATER = "20210102T000000"
TWO_DAYS_LATER = "20210103T000000"
ONE_MONTH_LATER = "20210201T000000"
TWO_MONTHS_LATER = "20210301T000000"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class World:
    """Test keys in one gpg home, and signatures that had to be made at a certain moment."""

    gpg: GnuPG
    signer: str = ""  # ed25519, signs with its primary key
    other: str = ""  # another such key, for "wrong key" cases
    split: str = ""  # a certification-only primary key ...
    split_sub: str = ""  # ... with a signing subkey
    split_revoked: str = ""  # ... and a signing subkey revoked after it signed
    late_expiry: str = ""  # a key whose expiry, set later, predates its signature
    short_lived: str = ""  # a key valid for one day in 2021
    rsa: str = ""  # RSA-2048, for hand-made V3 signatures
    signatures: dict[str, bytes] = field(default_factory=dict)

    def keys(self, *fingerprints: str) -> TrustedKeys:
        return TrustedKeys.from_bytes(self.gpg.export(*fingerprints))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    gpg = GnuPG(tmp_path_factory.mktemp("gnupg"))
    w = World(gpg)
    w.signer = gpg.gen_key("Test Signer <signer@example.invalid>")
    w.other = gpg.gen_key("Other Signer <other@example.invalid>")
    w.split = gpg.gen_key("Split Key <split@example.invalid>", usage="cert")
    w.split_sub = gpg.add_subkey(w.split)
    w.split_revoked = gpg.add_subkey(w.split)
    w.late_expiry = gpg.gen_key("Late Expiry <late@example.invalid>")
    w.short_lived = gpg.gen_key("Short Lived <short@example.invalid>", expire="1d")
    w.rsa = gpg.gen_key("RSA Signer <rsa@example.invalid>", algo="rsa2048")

    sigs = w.signatures
    sigs["revoked_subkey"] = gpg.sign(PAYLOAD, w.split_revoked + "!", at=ONE_MONTH_LATER)
    gpg.revoke_subkey(w.split, 2, at=TWO_MONTHS_LATER)
    sigs["made_after_key_expired"] = gpg.sign(PAYLOAD, w.late_expiry, at=TWO_DAYS_LATER)
    gpg.set_expire(w.late_expiry, "1d", at=HALF_DAY_LATER)  # now expires 1.5 days after birth
    sigs["made_while_key_alive"] = gpg.sign(PAYLOAD, w.short_lived, at=ONE_HOUR_LATER)
    sigs["expired_signature"] = gpg.sign(
        PAYLOAD, w.signer, at=ONE_DAY_LATER, args=("--default-sig-expire", "1d")
    )
    yield w
    gpg.close()
