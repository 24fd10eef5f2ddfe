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
import hashlib
import os
import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import certificates
from appliance.model import audit

if TYPE_CHECKING:
    from appliance.site import schemas

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


def share_key(path: Path) -> None:
    """A file of the folder readable by Asterisk's group (the appliance runs Asterisk as its own user), by no
    one else: 0640 like the generations (the services' UMask 0027), the folder 0750."""
    with contextlib.suppress(KeyError, PermissionError):
        os.chown(path, -1, grp.getgrnam(ASTERISK_GROUP).gr_gid)
    path.chmod(0o640)
    path.parent.chmod(0o750)


def _share_pair(folder_path: Path) -> None:
    for path in certificates.paths(folder_path):
        share_key(path)


def ensure(config_root: Path) -> str:
    """The SIP certificate's fingerprint, the certificate made now if there is none yet."""
    files = certificates.ensure(folder(config_root))
    if files.created:
        _share_pair(folder(config_root))
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
    _share_pair(files.certificate.parent)
    audit.record(user, "update", "sip_certificate", "sip", {"sha256": before} if before else None,
                 {"sha256": checked.fingerprint, "certificate": checked.summary})
    return checked


def renew(config_root: Path, user: str, hostname: str | None = None) -> str:
    """A new self-signed certificate in place of the present one; its fingerprint."""
    before = current(config_root)
    files = certificates.generate(folder(config_root), hostname)
    _share_pair(files.certificate.parent)
    after = certificates.fingerprint(files.certificate.read_bytes())
    audit.record(user, "update", "sip_certificate", "sip", {"sha256": before} if before else None,
                 {"sha256": after, "certificate": certificates.describe(files.certificate)})
    return after


def describe(config_root: Path) -> str:
    cert, _key = certificates.paths(folder(config_root))
    if not cert.exists():
        return "no SIP certificate yet (made at the next apply)"
    return f"{certificates.describe(cert)}; SHA-256 {certificates.fingerprint(cert.read_bytes())}"


def trunk_cas(trunks: Iterable[schemas.Trunk]) -> str:
    """The CAs trunks' providers are verified against: the TLS trunks' own CAs, and Debian's public ones
    when a TLS trunk names none (or there is no TLS trunk: the file is never empty)."""
    tls = [t for t in trunks if t.transport == "tls"]
    text = "".join(t.tls_ca for t in tls if t.tls_ca)
    if (not tls or any(not t.tls_ca for t in tls)) and SYSTEM_CA_BUNDLE.exists():
        text += SYSTEM_CA_BUNDLE.read_text()
    return text


def trunk_cas_digest(trunks: Iterable[schemas.Trunk]) -> str:
    return hashlib.sha256(trunk_cas(trunks).encode()).hexdigest()


def write_trunk_cas(config_root: Path, trunks: Iterable[schemas.Trunk]) -> str:
    """Write the trunks' CA file when it changed; its SHA-256.

    Asterisk reads a TLS transport's CA list again only when it restarts the listener, which it does on a
    reload that finds the certificate or key file changed on disk: so a new CA list rewrites the
    certificate too (same bytes, new file), and pjsip.conf names the CAs' digest so the apply reloads."""
    text = trunk_cas(trunks)
    path = folder(config_root) / TRUNK_CA_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        _replace(path, text.encode())
        cert, _key = certificates.paths(folder(config_root))
        if cert.exists():
            _replace(cert, cert.read_bytes())
    return hashlib.sha256(text.encode()).hexdigest()


def _replace(path: Path, data: bytes) -> None:
    """A new file in ``path``'s place (a new inode: Asterisk sees it changed), 0640 for Asterisk's group."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    share_key(tmp)
    os.replace(tmp, path)
