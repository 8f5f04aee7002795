"""A thin driver for a throw-away gpg home, to make real keys and signatures in tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Keys are born in the past so that signatures can be dated before and after
# expiry and revocation events without faking the verifier's clock.
BIRTH = "20210101T000000"


class GnuPG:
    """gpg with its own GNUPGHOME; every call is batch mode with an empty passphrase."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.chmod(0o700)
        self.env = {**os.environ, "GNUPGHOME": str(home)}
        self.env.pop("GPG_AGENT_INFO", None)

    def run(self, *args: str, stdin: bytes | None = None, at: str | None = None) -> bytes:
        cmd = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
        if at is not None:
            cmd += ["--faked-system-time", at]
        proc = subprocess.run(
            [*cmd, *args], input=stdin, env=self.env, capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout

    def fingerprints(self, user_id: str) -> list[str]:
        """Primary fingerprint first, then the subkeys', as gpg lists them."""
        out = self.run("--with-colons", "--list-keys", user_id).decode()
        return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]

    def gen_key(
        self, user_id: str, algo: str = "ed25519", usage: str = "sign", expire: str = "never"
    ) -> str:
        self.run("--quick-gen-key", user_id, algo, usage, expire, at=BIRTH)
        return self.fingerprints(user_id)[0]

    def add_subkey(self, primary: str, algo: str = "ed25519", usage: str = "sign") -> str:
        before = set(self.fingerprints(primary))
        self.run("--quick-add-key", primary, algo, usage, "never", at=BIRTH)
        (new,) = set(self.fingerprints(primary)) - before
        return new

    def revoke_subkey(self, primary: str, index: int, at: str) -> None:
        """Revoke subkey number ``index`` (1-based, gpg's order), reason "no reason"."""
        script = f"key {index}\nrevkey\ny\n0\n\ny\nsave\n".encode()
        self.run("--command-fd", "0", "--edit-key", primary, stdin=script, at=at)

    def set_expire(self, primary: str, expire: str, at: str) -> None:
        self.run("--quick-set-expire", primary, expire, at=at)

    def export(self, *fingerprints: str) -> bytes:
        return self.run("--export", *fingerprints)

    def export_secret(self, fingerprint: str) -> bytes:
        return self.run("--export-secret-keys", fingerprint)

    def sign(
        self, data: bytes, *signers: str, at: str | None = None, args: tuple[str, ...] = ()
    ) -> bytes:
        """A binary signed message (``gpg --sign``); ``KEY!`` forces that exact subkey."""
        users = [arg for signer in signers for arg in ("-u", signer)]
        return self.run(*users, *args, "--sign", stdin=data, at=at)

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, capture_output=True, check=False)
