"""Encrypted SIP: the box's certificate, the admin's own (checked before it replaces anything), the site's
encryption default and its per-extension and per-trunk overrides in what Asterisk reads.

Real files: certificates made with ``cryptography``, the CLI through click on a real install, the rows and
pjsip.conf rendered from a real SQLite site.
"""

from __future__ import annotations

import datetime
import stat

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance import certificates
from appliance.cli.linebox import main as cli_main
from appliance.errors import SiteError
from appliance.model.models import AuditEntry
from appliance.provisioning import projection, render, sip_tls
from appliance.site import service, stored

FACTS = render.InstallFacts(ami_secret="x", directories={"astetcdir": "/etc/asterisk/live"})


def _pair(days: int = 30, start_days: int = -1) -> tuple[bytes, bytes]:
    """A certificate valid from ``start_days`` to ``days`` from now, and its key, as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pbx.example.lan")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=start_days))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_a_good_pair_is_accepted_with_its_summary_and_fingerprint():
    cert, key = _pair()
    checked = certificates.check_pair(cert, key)
    assert "CN=pbx.example.lan" in checked.summary and "self-signed" in checked.summary
    assert checked.fingerprint == certificates.fingerprint(cert)


@pytest.mark.parametrize("case, expected", [
    ("other key", "private key: it does not belong to the certificate"),
    ("expired", "certificate: expired on"),
    ("not yet valid", "certificate: not valid before"),
    ("garbage certificate", "certificate: not a PEM certificate"),
    ("garbage key", "private key: not a PEM private key"),
    ("encrypted key", "private key: it is encrypted with a passphrase"),
])
def test_a_pair_that_cannot_serve_is_refused_saying_which_file_and_why(case, expected):
    cert, key = _pair(days=-1, start_days=-30) if case == "expired" else _pair(start_days=2) \
        if case == "not yet valid" else _pair()
    if case == "other key":
        key = _pair()[1]
    elif case == "garbage certificate":
        cert = b"hello"
    elif case == "garbage key":
        key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    elif case == "encrypted key":
        loaded = serialization.load_pem_private_key(key, None)
        key = loaded.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.BestAvailableEncryption(b"secret"))
    with pytest.raises(certificates.CertificateError) as error:
        certificates.check_pair(cert, key)
    assert expected in str(error.value)


def test_the_sip_certificate_is_made_once_and_its_key_is_not_world_readable(tmp_path):
    first = sip_tls.ensure(tmp_path)
    assert sip_tls.ensure(tmp_path) == first == sip_tls.current(tmp_path)
    key = sip_tls.folder(tmp_path) / certificates.KEY_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o640


def test_cli_install_refuses_a_mismatched_pair_and_changes_nothing(install, tmp_path):
    config_root = install.config_root
    before = sip_tls.ensure(config_root)
    cert, _ = _pair()
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(_pair()[1])
    result = CliRunner().invoke(cli_main, ["--home", str(install.home), "tls", "install", str(tmp_path / "c.pem"),
                                           str(tmp_path / "k.pem"), "--no-apply"])
    assert result.exit_code == 1
    assert "refused, nothing changed: private key: it does not belong to the certificate" in result.output
    assert sip_tls.current(config_root) == before

    good_cert, good_key = _pair()
    (tmp_path / "c.pem").write_bytes(good_cert)
    (tmp_path / "k.pem").write_bytes(good_key)
    result = CliRunner().invoke(cli_main, ["--home", str(install.home), "tls", "install", str(tmp_path / "c.pem"),
                                           str(tmp_path / "k.pem"), "--no-apply"])
    assert result.exit_code == 0, result.output
    assert sip_tls.current(config_root) == certificates.fingerprint(good_cert) != before
    row = AuditEntry.select().where(AuditEntry.kind == "sip_certificate").order_by(AuditEntry.id.desc()).get()
    assert row.user == "cli" and certificates.fingerprint(good_cert) in str(row.after)


def test_encryption_follows_the_site_unless_the_extension_or_trunk_says_otherwise(install):
    service.save_settings({**stored.load_settings().model_dump(), "sip_encryption": "preferred"}, user="test")
    service.save_object("extension", {"number": "100", "name": "Site default"}, user="test", create=True)
    service.save_object("extension", {"number": "101", "name": "Required", "encryption": "required"},
                        user="test", create=True)
    service.save_object("extension", {"number": "102", "name": "Old phone", "encryption": "plain"},
                        user="test", create=True)
    ca, _ = _pair()
    service.save_object("trunk", {"name": "secure", "host": "sip.example.net", "port": 5061, "transport": "tls",
                                  "tls_ca": ca.decode(), "encryption": "required"}, user="test", create=True)
    rows = projection.site_rows(service.snapshot())["ps_endpoints"]
    column = projection.TABLES["ps_endpoints"].index("media_encryption")
    assert [rows[n][column:column + 2] for n in ("100", "101", "102")] == [
        ("sdes", "yes"), ("sdes", "no"), ("no", "no")]
    pjsip = render.render_file("pjsip.conf", service.snapshot(), FACTS)
    trunk = pjsip.split("; trunk secure", 1)[1]
    assert "transport = transport-tls" in trunk and "contact = sip:sip.example.net:5061;transport=tls" in trunk
    assert "media_encryption = sdes\nmedia_encryption_optimistic = no" in trunk
    assert "verify_server = yes" in pjsip and "ca_list_file = /etc/asterisk/tls/trunk-ca.pem" in pjsip
    assert sip_tls.trunk_cas(service.list_objects("trunk")) == ca.decode()  # its own CA only


def test_a_trunk_ca_that_is_not_a_certificate_is_refused_naming_the_field(install):
    with pytest.raises(SiteError) as error:
        service.save_object("trunk", {"name": "secure", "host": "sip.example.net", "transport": "tls",
                                      "tls_ca": "-----BEGIN CERTIFICATE-----\nnope\n"}, user="test", create=True)
    assert "tls_ca" in str(error.value) and "not a PEM certificate" in str(error.value)
    assert service.get_object("trunk", "secure") is None
