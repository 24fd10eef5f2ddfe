"""The console's TLS certificate: generated self-signed on first start, replaceable by the admin's own.

The files are ``<home>/tls/cert.pem`` (the certificate, followed by any intermediate certificates) and
``<home>/tls/key.pem`` (its private key, mode 0600).  They are only generated when neither exists; an
admin who wants a certificate from their own CA replaces both files and restarts ``linebox-web``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
VALID_DAYS = 3650  # a self-signed certificate is trusted by exception, not by expiry: ten years, like a device


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    private_key: Path
    created: bool = False


def paths(folder: Path) -> tuple[Path, Path]:
    return folder / CERT_NAME, folder / KEY_NAME


def _names(hostname: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for dns in dict.fromkeys([hostname, hostname.split(".")[0], "localhost"]):
        if dns:
            names.append(x509.DNSName(dns))
    names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    return names


def generate(folder: Path, hostname: str | None = None) -> TlsFiles:
    """Write a new self-signed certificate and key into ``folder`` (key 0600, folder 0700)."""
    hostname = hostname or socket.gethostname() or "linebox"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    cert_path, key_path = paths(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Linebox appliance (self-signed)"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hostname)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    _write(key_path, key_bytes, 0o600)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return TlsFiles(cert_path, key_path, created=True)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically; the file never exists with a wider mode than ``mode``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure(folder: Path, hostname: str | None = None) -> TlsFiles:
    """The certificate and key in ``folder``: kept when both exist, generated when neither does.

    One without the other is an admin's half-finished replacement: refuse rather than overwrite it.
    """
    cert_path, key_path = paths(folder)
    if cert_path.exists() and key_path.exists():
        return TlsFiles(cert_path, key_path)
    if cert_path.exists() or key_path.exists():
        present, missing = (cert_path, key_path) if cert_path.exists() else (key_path, cert_path)
        raise FileNotFoundError(f"{present} exists but {missing} does not: put both back (or remove both to have "
                                "a new self-signed certificate generated)")
    return generate(folder, hostname)


def describe(certificate: Path) -> str:
    """One line for logs: subject, issuer when not self-signed, expiry."""
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    subject = cert.subject.rfc4514_string()
    issuer = "self-signed" if cert.issuer == cert.subject else f"issued by {cert.issuer.rfc4514_string()}"
    return f"{subject}, {issuer}, valid until {cert.not_valid_after_utc:%Y-%m-%d}"
