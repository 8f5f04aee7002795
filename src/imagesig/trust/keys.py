"""The trusted keys: OpenPGP certificates a signature must come from.

Loaded from a file, a directory or bytes (the policy's ``keyData``); indexed by
the primary fingerprint and by every key ID and fingerprint of every (sub)key,
so a signature's issuer resolves to its primary certificate, which is what
counts. The server keeps one instance and calls ``reload_if_changed`` now and
then, so key changes apply without a restart; a failed reload trusts nothing
rather than keeping keys that may have been removed on purpose.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pysequoia
import pysequoia.packet as pgp_packet

from imagesig.trust.errors import KeyringError

_ARMOR_BLOCK_RE = re.compile(rb"-----BEGIN PGP [^\r\n]*-----.*?-----END PGP [^\r\n]*-----", re.S)

_SIG = pgp_packet.SignatureType
_CERTIFICATIONS = frozenset(
    int(t)
    for t in (
        _SIG.GenericCertification,
        _SIG.PersonaCertification,
        _SIG.CasualCertification,
        _SIG.PositiveCertification,
        _SIG.DirectKey,
    )
)
_SUBKEY_BINDING = int(_SIG.SubkeyBinding)
_REVOCATIONS = frozenset(int(t) for t in (_SIG.KeyRevocation, _SIG.SubkeyRevocation))
_TAG = pgp_packet.Tag
_PRIMARY_TAGS = frozenset(int(t) for t in (_TAG.PublicKey, _TAG.SecretKey))
_SUBKEY_TAGS = frozenset(int(t) for t in (_TAG.PublicSubkey, _TAG.SecretSubkey))
_COMPONENT_TAGS = frozenset(int(t) for t in (_TAG.UserID, _TAG.UserAttribute))
_TAG_SIGNATURE = int(_TAG.Signature)


@dataclass(frozen=True, slots=True)
class KeyValidity:
    """A primary key or subkey with the lifetimes its self-signatures gave it over time."""

    fingerprint: str
    key_id: str
    created: datetime
    # (self-signature creation time, key validity period or None = no expiry)
    lifetimes: tuple[tuple[datetime, timedelta | None], ...]

    def expires_at(self, when: datetime) -> datetime | None:
        """When the key expires according to the newest self-signature made by ``when``."""
        current = [entry for entry in self.lifetimes if entry[0] <= when]
        if not current:
            return None
        period = max(current, key=lambda entry: entry[0])[1]
        return None if period is None else self.created + period

    def expired_at(self, when: datetime) -> bool:
        """True when the key had expired at ``when``."""
        expiry = self.expires_at(when)
        return expiry is not None and expiry <= when


@dataclass(frozen=True, eq=False)
class TrustedCert:
    """One trusted certificate with what verification needs to know about it."""

    fingerprint: str  # the primary key's, 40 upper-case hex digits
    user_id: str | None  # the primary user ID
    keys: tuple[KeyValidity, ...]  # the primary key first
    data: bytes = field(repr=False)  # the certificate as loaded (binary)
    cert: Any = field(repr=False)  # pysequoia.Cert
    # The same certificate without revocation signatures, or None if it has none:
    # verifying against it tells a revoked key from a bad signature.
    unrevoked: Any = field(repr=False)

    @property
    def handles(self) -> frozenset[str]:
        """Every key ID and fingerprint of the primary key and its subkeys."""
        return frozenset(h for key in self.keys for h in (key.fingerprint, key.key_id))

    def key(self, handle: str) -> KeyValidity | None:
        """The (sub)key with this key ID or fingerprint, in any case."""
        wanted = handle.upper()
        for key in self.keys:
            if wanted in (key.fingerprint, key.key_id):
                return key
        return None


def _upper(value: Any) -> str | None:
    return None if value is None else str(value).upper()


def _describe(cert: Any, data: bytes) -> TrustedCert:
    primary_fpr = str(cert.fingerprint).upper()
    primary_id = primary_fpr[-16:]
    keys: list[tuple[Any, list[tuple[datetime, timedelta | None]]]] = []
    revocations = False
    primary_uid: str | None = None
    uid: str | None = None
    for packet in pgp_packet.PacketPile.from_bytes(data):
        tag = int(packet.tag)
        if tag in _PRIMARY_TAGS or tag in _SUBKEY_TAGS:
            keys.append((packet, []))
            uid = None
        elif tag in _COMPONENT_TAGS:
            uid = packet.user_id
        elif tag == _TAG_SIGNATURE and keys:
            kind = int(packet.signature_type)
            issuer = _upper(packet.issuer_fingerprint) or _upper(packet.issuer_key_id)
            if kind in _REVOCATIONS:
                revocations = True
            if issuer not in (primary_fpr, primary_id) or packet.signature_created is None:
                continue
            own_key = len(keys) == 1
            if (own_key and kind in _CERTIFICATIONS) or (not own_key and kind == _SUBKEY_BINDING):
                keys[-1][1].append((packet.signature_created, packet.key_validity_period))
            if own_key and uid is not None and packet.primary_userid:
                primary_uid = uid
    valid_uids = [str(u) for u in cert.user_ids]
    if primary_uid not in valid_uids:
        primary_uid = valid_uids[0] if valid_uids else None
    unrevoked = None
    if revocations:
        kept = [
            p
            for p in pgp_packet.PacketPile.from_bytes(data)
            if not (int(p.tag) == _TAG_SIGNATURE and int(p.signature_type) in _REVOCATIONS)
        ]
        unrevoked = pysequoia.Cert.from_packets(kept)
    return TrustedCert(
        fingerprint=primary_fpr,
        user_id=primary_uid,
        keys=tuple(
            KeyValidity(
                fingerprint=str(p.fingerprint).upper(),
                key_id=str(p.key_id).upper(),
                created=p.key_created,
                lifetimes=tuple(lifetimes),
            )
            for p, lifetimes in keys
        ),
        data=data,
        cert=cert,
        unrevoked=unrevoked,
    )


def _split(data: bytes, origin: str) -> list[Any]:
    if data.lstrip().startswith(b"-----BEGIN PGP"):
        blocks = _ARMOR_BLOCK_RE.findall(data)  # split_bytes reads only the first block
    else:
        blocks = [data]
    certs: list[Any] = []
    try:
        for block in blocks:
            certs.extend(pysequoia.Cert.split_bytes(block))
    except Exception:
        raise KeyringError(f"{origin}: not an OpenPGP certificate or keyring") from None
    except BaseException as exc:  # pyo3 panics derive from BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise KeyringError(f"{origin}: not an OpenPGP certificate or keyring") from None
    if not certs:
        raise KeyringError(f"{origin}: no OpenPGP certificate found")
    return certs


@dataclass(frozen=True)
class _Snapshot:
    """An immutable key set; reloads replace it whole, so readers never see half of one."""

    certs: dict[str, TrustedCert]
    index: dict[str, tuple[TrustedCert, ...]]
    generation: str


def _snapshot(certs: Iterable[Any]) -> _Snapshot:
    merged: dict[str, Any] = {}
    for cert in certs:
        fpr = str(cert.fingerprint).upper()
        merged[fpr] = merged[fpr].merge(cert) if fpr in merged else cert
    trusted = {fpr: _describe(cert, bytes(cert)) for fpr, cert in sorted(merged.items())}
    index: dict[str, tuple[TrustedCert, ...]] = {}
    digest = hashlib.sha256()
    for fpr, tc in trusted.items():
        digest.update(fpr.encode() + len(tc.data).to_bytes(8, "big") + tc.data)
        for handle in tc.handles:
            index[handle] = (*index.get(handle, ()), tc)
    return _Snapshot(certs=trusted, index=index, generation=digest.hexdigest())


_EMPTY = _snapshot(())


def _files(source: Path) -> list[Path]:
    if source.is_dir():
        # Hidden entries are skipped: Kubernetes volumes keep their plumbing there.
        return sorted(p for p in source.iterdir() if not p.name.startswith(".") and p.is_file())
    return [source]


def _stamp(sources: Sequence[Path]) -> tuple[Any, ...]:
    """What changes when any loaded file changes: names, sizes, times, inodes."""
    stamp: list[Any] = []
    for source in sources:
        try:
            for path in _files(source):
                st = path.stat()
                stamp.append((str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
        except OSError as exc:
            stamp.append((str(source), "error", exc.errno))
    return tuple(stamp)


def _load(sources: Sequence[Path], allow_empty_dirs: bool = False) -> _Snapshot:
    certs: list[Any] = []
    for source in sources:
        try:
            files = _files(source)
        except OSError as exc:
            raise KeyringError(f"{source}: cannot read: {exc.strerror}") from None
        if not files and not allow_empty_dirs:
            raise KeyringError(f"{source}: no key files in directory")
        for path in files:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise KeyringError(f"{path}: cannot read: {exc.strerror}") from None
            certs.extend(_split(data, str(path)))
    return _snapshot(certs)


class TrustedKeys:
    """A set of trusted OpenPGP certificates, reloadable from the files it came from."""

    def __init__(self) -> None:
        """An empty set (trusts nothing); use the ``from_*`` constructors to load keys."""
        self._reset()

    def _reset(self) -> None:
        self._sources: tuple[Path, ...] = ()
        self._stamp_value: tuple[Any, ...] = ()
        self._snap: _Snapshot = _EMPTY
        self._lock = threading.Lock()
        self._allow_empty_dirs = False
        self.error: str | None = None

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, allow_empty_dirs: bool = False
    ) -> TrustedKeys:
        """Keys from a certificate or keyring file, or from every file of a directory."""
        return cls.from_paths([path], allow_empty_dirs=allow_empty_dirs)

    @classmethod
    def from_paths(
        cls, paths: Iterable[str | os.PathLike[str]], *, allow_empty_dirs: bool = False
    ) -> TrustedKeys:
        """Keys from several files or directories (a policy's ``keyPaths``).

        ``allow_empty_dirs``: a directory with no key files trusts nothing yet instead of
        being an error (a server's trust directory, filled later).
        """
        keys = cls()
        keys._allow_empty_dirs = allow_empty_dirs
        keys._sources = tuple(Path(p) for p in paths)
        keys._stamp_value = _stamp(keys._sources)
        keys._snap = _load(keys._sources, allow_empty_dirs)
        return keys

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "keyData") -> TrustedKeys:
        """Keys from armored or binary certificate bytes (``name`` appears in errors)."""
        keys = cls()
        keys._snap = _snapshot(_split(bytes(data), name))
        return keys

    @property
    def generation(self) -> str:
        """A hash of the loaded certificates: equal generations mean equal key sets."""
        return self._snap.generation

    @property
    def fingerprints(self) -> frozenset[str]:
        """The primary fingerprints of the trusted certificates."""
        return frozenset(self._snap.certs)

    @property
    def certs(self) -> tuple[TrustedCert, ...]:
        """The trusted certificates, ordered by fingerprint."""
        return tuple(self._snap.certs.values())

    def __len__(self) -> int:
        return len(self._snap.certs)

    def __contains__(self, fingerprint: object) -> bool:
        return isinstance(fingerprint, str) and fingerprint.upper() in self._snap.certs

    def get(self, fingerprint: str) -> TrustedCert | None:
        """The certificate with this primary fingerprint."""
        return self._snap.certs.get(fingerprint.upper())

    def resolve(self, handles: Iterable[str]) -> tuple[TrustedCert, ...]:
        """The certificates holding a (sub)key with any of these key IDs or fingerprints."""
        snap = self._snap
        found: dict[str, TrustedCert] = {}
        for handle in handles:
            for tc in snap.index.get(handle.upper(), ()):
                found[tc.fingerprint] = tc
        return tuple(found.values())

    def reload_if_changed(self) -> bool:
        """Re-read the files if any changed; True when the key set changed.

        On a read error the set becomes empty (nothing is trusted), ``error``
        says why, and ``KeyringError`` is raised.
        """
        if not self._sources:
            return False
        with self._lock:
            stamp = _stamp(self._sources)
            if stamp == self._stamp_value:
                return False
            self._stamp_value = stamp
            old = self._snap.generation
            try:
                snap = _load(self._sources, self._allow_empty_dirs)
            except KeyringError as exc:
                self._snap = _EMPTY
                self.error = str(exc)
                raise
            self._snap = snap
            self.error = None
            return snap.generation != old

    def __getstate__(self) -> dict[str, Any]:
        # pysequoia objects do not pickle; ship the certificate bytes and re-parse them.
        return {
            "sources": self._sources,
            "stamp": self._stamp_value,
            "blobs": [tc.data for tc in self._snap.certs.values()],
            "error": self.error,
            "allow_empty_dirs": self._allow_empty_dirs,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._reset()
        self._sources = state["sources"]
        self._stamp_value = state["stamp"]
        self.error = state["error"]
        self._allow_empty_dirs = state.get("allow_empty_dirs", False)
        self._snap = _snapshot(pysequoia.Cert.from_bytes(blob) for blob in state["blobs"])

    def __repr__(self) -> str:
        return f"<TrustedKeys {sorted(self._snap.certs)} generation={self.generation[:12]}>"
