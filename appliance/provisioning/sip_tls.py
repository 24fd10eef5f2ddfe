"""The box's SIP certificate: what phones and trunks meet on the TLS transport (pjsip.conf's transport-tls).

Made at the first apply like the console's (:mod:`appliance.certificates`: self-signed ECDSA, ten
years), or the admin's own (:func:`install`, checked first).  It lives in ``<config root>/tls/`` beside the
generations and the projection file, where Asterisk reads it (inside the lab's root too), key mode 0640
group asterisk (Asterisk reads it, nobody else).

Rotation keeps the file names: Asterisk 22 restarts a TLS transport's listener on a reload when its
certificate or key file changed on disk under the same name, without touching the connections already up
(registered phones, calls); a new file name would need the transport rebuilt (``allow_reload``, which
drops them).  pjsip.conf names the certificate's fingerprint in a comment, so a new certificate changes
the file and the apply reloads res_pjsip.
"""

from __future__ import annotations

import contextlib
import grp
import os
import posixpath
from pathlib import Path

from appliance import certificates
from appliance.model import audit

FOLDER = "tls"
TRUNK_CA_NAME = "trunk-ca.pem"
ASTERISK_GROUP = "asterisk"
# Debian's bundle of public CAs: trunks without a CA of their own are verified against it
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def folder(config_root: Path) -> Path:
    return config_root / FOLDER


def inner_paths(astetcdir: str) -> dict[str, str]:
    """The files as Asterisk sees them (beside its ``live`` generation link, like the projection file)."""
    base = posixpath.join(posixpath.dirname(astetcdir.rstrip("/")), FOLDER)
    return {"cert": posixpath.join(base, certificates.CERT_NAME), "key": posixpath.join(base, certificates.KEY_NAME),
            "trunk_ca": posixpath.join(base, TRUNK_CA_NAME)}


def _share_key(path: Path) -> None:
    """The key readable by Asterisk's group (the appliance runs Asterisk as its own user), by no one else."""
    with contextlib.suppress(KeyError, PermissionError):
        os.chown(path, -1, grp.getgrnam(ASTERISK_GROUP).gr_gid)
    path.chmod(0o640)
    path.parent.chmod(0o750)


def ensure(config_root: Path) -> str:
    """The SIP certificate's fingerprint, the certificate made now if there is none yet."""
    files = certificates.ensure(folder(config_root))
    if files.created:
        _share_key(files.private_key)
    return certificates.fingerprint(files.certificate.read_bytes())


def current(config_root: Path) -> str:
    """The fingerprint of the certificate in place, "" when none was made yet."""
    cert, _key = certificates.paths(folder(config_root))
    return certificates.fingerprint(cert.read_bytes()) if cert.exists() else ""


def install(config_root: Path, certificate_pem: bytes, key_pem: bytes, user: str) -> certificates.Checked:
    """The admin's certificate and key, checked (:func:`certificates.check_pair`), in place of the box's;
    the next apply loads them.  Raises ``certificates.CertificateError`` and changes nothing when they cannot serve."""
    checked = certificates.check_pair(certificate_pem, key_pem)
    before = current(config_root)
    files = certificates.install_pair(folder(config_root), checked)
    _share_key(files.private_key)
    audit.record(user, "update", "sip_certificate", "sip", {"sha256": before} if before else None,
                 {"sha256": checked.fingerprint, "certificate": checked.summary})
    return checked


def renew(config_root: Path, user: str, hostname: str | None = None) -> str:
    """A new self-signed certificate in place of the present one; its fingerprint."""
    before = current(config_root)
    files = certificates.generate(folder(config_root), hostname)
    _share_key(files.private_key)
    after = certificates.fingerprint(files.certificate.read_bytes())
    audit.record(user, "update", "sip_certificate", "sip", {"sha256": before} if before else None,
                 {"sha256": after, "certificate": certificates.describe(files.certificate)})
    return after


def describe(config_root: Path) -> str:
    cert, _key = certificates.paths(folder(config_root))
    if not cert.exists():
        return "no SIP certificate yet (made at the next apply)"
    return f"{certificates.describe(cert)}; SHA-256 {certificates.fingerprint(cert.read_bytes())}"


def write_trunk_cas(config_root: Path, cas: list[str], with_public: bool = False) -> None:
    """The CAs trunks' providers are verified against: the TLS trunks' own CAs, and Debian's public ones
    when a TLS trunk names none (``with_public``)."""
    text = "".join(cas)
    if with_public and SYSTEM_CA_BUNDLE.exists():
        text += SYSTEM_CA_BUNDLE.read_text()
    path = folder(config_root) / TRUNK_CA_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text)
        tmp.chmod(0o644)
        os.replace(tmp, path)
