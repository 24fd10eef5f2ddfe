"""Self-signed ECDSA certificates (the console's HTTPS, the SIP TLS transport) and admin-supplied ones, checked.

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


class CertificateError(ValueError):
    """An uploaded certificate or key that cannot serve: the message says which file and why."""


@dataclass(frozen=True)
class Checked:
    """A certificate and key that belong together, as PEM text ready to write."""

    certificate_pem: bytes
    key_pem: bytes
    summary: str
    fingerprint: str  # SHA-256 of the leaf certificate, hex


def fingerprint(certificate_pem: bytes) -> str:
    """SHA-256 of the first certificate in ``certificate_pem`` (what a phone shows to trust it), hex."""
    cert = x509.load_pem_x509_certificate(certificate_pem)
    return cert.fingerprint(hashes.SHA256()).hex()


def check_pair(certificate_pem: bytes, key_pem: bytes, now: datetime.datetime | None = None) -> Checked:
    """The admin's certificate (leaf first, then intermediates) and private key, checked before they replace
    the box's: both readable, the key unencrypted and the certificate's own, the certificate valid now.

    A wrong pair would take the TLS transport down at the next reload: refuse it here with the reason."""
    try:
        chain = x509.load_pem_x509_certificates(certificate_pem)
    except ValueError:
        raise CertificateError("certificate: not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CertificateError("private key: it is encrypted with a passphrase; give it unencrypted "
                               "(openssl pkey -in key.pem -out plain.pem)") from None
    except ValueError:
        raise CertificateError("private key: not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')") from None
    leaf = chain[0]
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    if leaf.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo) != public:
        raise CertificateError("private key: it does not belong to the certificate (their public keys differ)")
    now = now or datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc <= now:
        raise CertificateError(f"certificate: expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    if leaf.not_valid_before_utc > now:
        raise CertificateError(f"certificate: not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC "
                               "(check the box's clock)")
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    key_out = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    subject = leaf.subject.rfc4514_string()
    issuer = "self-signed" if leaf.issuer == leaf.subject else f"issued by {leaf.issuer.rfc4514_string()}"
    return Checked(pem, key_out, f"{subject}, {issuer}, valid until {leaf.not_valid_after_utc:%Y-%m-%d}",
                   leaf.fingerprint(hashes.SHA256()).hex())


def install_pair(folder: Path, checked: Checked) -> TlsFiles:
    """Put a checked pair in ``folder`` in place of the present one (each file replaced atomically, key first:
    a reader between the two renames sees the old certificate with the new key only for that instant, and
    Asterisk reads them at a reload, after both)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = paths(folder)
    _write(key_path, checked.key_pem, 0o600)
    _write(cert_path, checked.certificate_pem, 0o644)
    return TlsFiles(cert_path, key_path, created=True)


def check_ca(pem: str) -> str:
    """A CA certificate (or several) given as PEM text, checked readable; returned as clean PEM text."""
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise CertificateError("not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')") from None
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)
