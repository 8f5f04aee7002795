"""Self-made TLS material for a server started without a certificate.

A small CA and a server certificate it signs are created in the data
directory at first start (private keys mode 0600) and reused after restarts,
so kubeconfigs that trust the CA keep working. A server certificate that does
not cover the listen address is re-issued from the same CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "apiserver.crt"
SERVER_KEY = "apiserver.key"


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path
    ca: Path  # what clients should trust


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _make_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imagesig-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(directory / CA_KEY, _key_pem(key))
    (directory / CA_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]):
        if not host or host in ("0.0.0.0", "::"):  # noqa: S104 - names, not a bind
            continue
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _covers(cert: x509.Certificate, hosts: list[str]) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = set(ext)
    return all(name in have for name in _sans(hosts)) and cert.not_valid_after_utc > _now()


def _make_server_cert(
    directory: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: list[str]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imagesig-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(directory / SERVER_KEY, _key_pem(key))
    (directory / SERVER_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_self_signed(directory: Path, hosts: list[str]) -> TLSFiles:
    """The CA and server certificate in ``directory``, created or re-issued as needed."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_cert_path, ca_key_path = directory / CA_CERT, directory / CA_KEY
    if ca_cert_path.exists() and ca_key_path.exists():
        ca = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{ca_key_path}: not an EC private key")
        ca_key = loaded
    else:
        ca, ca_key = _make_ca(directory)
    cert_path, key_path = directory / SERVER_CERT, directory / SERVER_KEY
    current = (
        x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert_path.exists() and key_path.exists()
        else None
    )
    if current is None or not _covers(current, hosts) or current.issuer != ca.subject:
        _make_server_cert(directory, ca, ca_key, hosts)
    return TLSFiles(cert_path, key_path, ca_cert_path)
