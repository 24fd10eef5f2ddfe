"""Encrypted calls with a softphone nobody here wrote: Debian's baresip over TLS with SRTP.

What a customer's security officer checks: a phone registers over TLS, a call between two such phones
carries its voice (heard at the far end), and a capture of the wire shows neither a SIP request in clear
text nor a plain RTP payload; a phone whose extension requires encryption and offers plain RTP is refused.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance import certificates
from appliance.cli.linebox import main as cli_main
from appliance.provisioning import sip_tls
from appliance.site import service, stored
from appliance.support import diagnostics
from lab import softphone
from tests.lab.helpers import add, loud_seconds, update

pytestmark = pytest.mark.lab


def _capture(pbx, path: Path) -> subprocess.Popen:
    """tcpdump on the loopback, only this pbx's SIP (UDP and TLS) and RTP ports: the other lab instances'
    traffic stays out.  Returns once tcpdump listens."""
    s = stored.load_settings()
    expr = (f"(udp port {s.sip_port}) or (tcp port {s.sip_tls_port}) or "
            f"(udp portrange {s.rtp_start}-{s.rtp_end})")
    proc = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "-w", str(path), expr],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()  # "listening on lo, ..." once capturing
    assert "listening" in line, line
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def _udp_payloads(pcap: Path, low: int, high: int) -> list[bytes]:
    """The payloads of UDP packets to or from a port in [low, high] (a pcap of Ethernet/IPv4 on lo)."""
    data = pcap.read_bytes()
    little = data[:4] == b"\xd4\xc3\xb2\xa1"
    header = "<IIII" if little else ">IIII"
    offset, payloads = 24, []
    while offset + 16 <= len(data):
        _sec, _usec, incl, _orig = struct.unpack(header, data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ihl = (frame[14] & 0x0F) * 4
        sport, dport = struct.unpack(">HH", frame[14 + ihl:14 + ihl + 4])
        if low <= sport <= high or low <= dport <= high:
            payloads.append(frame[14 + ihl + 8:])
    return payloads


def _looks_plain(rtp: bytes) -> bool:
    """An RTP packet whose G.711 payload is readable: a tone or silence uses a handful of byte values, an
    SRTP payload (AES counter mode) looks random, nearly every one of 160 bytes different."""
    payload = rtp[12:172]
    return len(payload) >= 80 and len(set(payload)) < 64


def _rx_packets(pbx) -> list[int]:
    """Packets received per PJSIP channel on the pbx now (``pjsip show channelstats``)."""
    counts = []
    for line in pbx.cli("pjsip show channelstats").splitlines():
        parts = line.split()
        # "763b51a9 200-00000000 00:00:21 ulaw 1004 0 ...": bridge, channel, up time, codec, received
        if len(parts) > 5 and re.fullmatch(r"\S+-[0-9a-f]{8}", parts[1]) and parts[4].isdigit():
            counts.append(int(parts[4]))
    return counts


def test_tls_phones_make_an_srtp_call_nothing_crosses_in_clear(pbx, tmp_path):
    service.save_settings({**stored.load_settings().model_dump(), "sip_encryption": "required"}, user="test")
    a = add("extension", number="200", name="Alice")
    b = add("extension", number="201", name="Bob")
    plain = add("extension", number="202", name="Old phone")
    pbx.apply()
    settings = stored.load_settings()
    tls = f"127.0.0.1:{settings.sip_tls_port}"
    cert = sip_tls.folder(pbx.install.config_root) / "cert.pem"
    pcap = tmp_path / "lo.pcap"
    capture = _capture(pbx, pcap)
    phones = []
    try:
        alice = softphone.start(tmp_path / "alice", "200", a.password, tls, cafile=cert, tone_hz=1000)
        bob = softphone.start(tmp_path / "bob", "201", b.password, tls, cafile=cert, tone_hz=600)
        old = softphone.start(tmp_path / "old", "202", plain.password, tls, cafile=cert, mediaenc="")
        phones = [alice, bob, old]
        for phone in phones:
            phone.wait_log(r"\b200 OK\b")  # the REGISTER's answer, over TLS
        for number in ("200", "201", "202"):
            aor = pbx.cli(f"pjsip show aor {number}")
            assert "transport=tls" in aor.lower(), aor

        alice.command(f"/dial sip:201@{tls};transport=tls")
        bob.wait_log(r"[Cc]all established", timeout=20)
        alice.wait_log(r"[Cc]all established", timeout=20)
        _wait_rx(pbx, 150)  # 3 s of audio each way
        alice.command("/hangup")
        bob.wait_log(r"[Cc]losed|terminated|BYE", timeout=10)

        # a phone that offers plain RTP on an extension that requires SRTP: refused, and it says why
        mark = len(old.log())
        old.command(f"/dial sip:201@{tls};transport=tls")
        refused = old.wait_log(r"\b488 [^\n]*", timeout=15, after=mark)  # the status, not a port like 48889
        assert "Not Acceptable" in refused.group(0), refused.group(0)
        # and the technician's `linebox diag` says which phone and what to do
        deadline = time.monotonic() + 10
        while not any("202: call refused (488)" in f.advice
                      for f in diagnostics.recent_errors(pbx.install.asterisk_log)):
            assert time.monotonic() < deadline, diagnostics.recent_errors(pbx.install.asterisk_log)
            time.sleep(0.1)
    finally:
        for phone in phones:
            phone.stop()
        _stop(capture)

    recordings = bob.recordings()
    assert recordings, f"bob kept no recording: {list(bob.folder.iterdir())}"
    assert max(loud_seconds(r, after=0.5) for r in recordings) >= 1.0  # alice's tone reached bob

    raw = pcap.read_bytes()
    for request in (b"REGISTER sip:", b"INVITE sip:", b"SIP/2.0 200 OK"):
        assert request not in raw, f"clear-text SIP on the wire: {request!r}"
    rtp = [p for p in _udp_payloads(pcap, settings.rtp_start, settings.rtp_end) if len(p) > 100 and p[0] >> 6 == 2]
    assert len(rtp) > 200, f"only {len(rtp)} RTP packets captured"
    readable = [p for p in rtp if _looks_plain(p)]
    assert not readable, f"{len(readable)} of {len(rtp)} RTP packets carry plain audio"


def _served_fingerprint(port: int) -> str:
    """The SHA-256 of the certificate a new TLS connection to the pbx is shown (what a phone registering
    now sees)."""
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=5)
    return certificates.fingerprint(pem.encode())


def test_certificate_rotation_keeps_the_call_up_and_new_connections_see_the_new_one(pbx, tmp_path):
    service.save_settings({**stored.load_settings().model_dump(), "sip_encryption": "required"}, user="test")
    a = add("extension", number="210", name="Alice")
    b = add("extension", number="211", name="Bob")
    c = add("extension", number="212", name="Carol")
    pbx.apply()
    port = stored.load_settings().sip_tls_port
    tls = f"127.0.0.1:{port}"
    config_root = pbx.install.config_root
    old_cert = tmp_path / "old-cert.pem"
    old_cert.write_bytes((sip_tls.folder(config_root) / "cert.pem").read_bytes())
    old = sip_tls.current(config_root)
    assert _served_fingerprint(port) == old
    phones = []
    try:
        alice = softphone.start(tmp_path / "alice", "210", a.password, tls, cafile=old_cert)
        bob = softphone.start(tmp_path / "bob", "211", b.password, tls, cafile=old_cert, tone_hz=600)
        phones = [alice, bob]
        for phone in phones:
            phone.wait_log(r"\b200 OK\b")
        alice.command(f"/dial sip:211@{tls};transport=tls")
        bob.wait_log(r"[Cc]all established", timeout=20)
        before = _wait_rx(pbx, 50)

        result = CliRunner().invoke(cli_main, ["--home", str(pbx.install.home), "tls", "renew"])
        assert result.exit_code == 0, result.output
        new = sip_tls.current(config_root)
        assert new != old and new in result.output and "applied generation" in result.output, result.output
        assert _served_fingerprint(port) == new  # a phone connecting now is shown the new certificate

        # the call goes on: both legs keep receiving audio, and its end still crosses the old connections
        _wait_rx(pbx, max(before) + 100)
        mark = len(bob.log())
        alice.command("/hangup")
        bob.wait_log(r"[Cc]losed|terminated", timeout=10, after=mark)

        # the next registration meets the new certificate, and a phone trusting only it registers
        carol = softphone.start(tmp_path / "carol", "212", c.password, tls,
                                cafile=sip_tls.folder(config_root) / "cert.pem")
        phones.append(carol)
        carol.wait_log(r"\b200 OK\b")
    finally:
        for phone in phones:
            phone.stop()
    assert any(r.stat().st_size > 1000 for r in bob.recordings())


def _wait_rx(pbx, at_least: int, timeout: float = 20) -> list[int]:
    """Until both legs of the one call up have received ``at_least`` RTP packets each; their counts."""
    deadline = time.monotonic() + timeout
    while not ((counts := _rx_packets(pbx)) and len(counts) == 2 and min(counts) >= at_least):
        assert time.monotonic() < deadline, pbx.cli("pjsip show channelstats")
        time.sleep(0.2)
    return counts


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]) -> tuple[bytes, bytes]:
    """The carrier's certificate for 127.0.0.1, signed by ``ca``; (certificate, key) PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "telco")]))
            .issuer_name(ca[1].subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca[0], hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_tls_trunk_verifies_the_provider_and_carries_srtp_calls(pbx, rootfs, tmp_path):
    from lab.carrier import start_carrier
    telco_ca, stranger_ca = _ca("Telco CA"), _ca("Someone else's CA")
    carrier = start_carrier(stored.load_settings().sip_port, [], rootfs, tls=_leaf(telco_ca))
    phones = []
    try:
        a = add("extension", number="220", name="Alice", encryption="required")
        add("trunk", name="telco", host="127.0.0.1", port=carrier.telco_tls_port, transport="tls",
            tls_ca=_pem(stranger_ca[1]), encryption="required", qualify_seconds=2,
            match=[f"127.0.0.1:{carrier.telco_tls_port}"])  # not every 127.0.0.1 source: the phones are there too
        add("outbound_route", name="out", patterns=[{"match": "_9X.", "strip": 1}], trunks=["telco"])
        pbx.apply()
        # a provider whose certificate the trunk's CA did not sign: unreachable, and diag says why
        deadline = time.monotonic() + 15
        while True:
            findings = diagnostics.run_checks(pbx.install)
            trunk = [f for f in findings if f.area == "Trunk" and "telco" in f.text]
            refused = [f for f in findings if f.area == "Log" and "The certificate is untrusted" in f.text]
            if trunk and refused:
                break
            assert time.monotonic() < deadline, "\n".join(map(str, findings))
            time.sleep(0.5)
        assert "TLS" in trunk[0].advice and "CA" in trunk[0].advice
        assert "did not sign the provider's certificate" in refused[-1].advice
        assert not [e for e in carrier.events if e.get("UserEvent") == "CarrierIncoming"]

        # the provider's own CA: the trunk comes up, and an SRTP call crosses it with its audio
        update("trunk", "telco", tls_ca=_pem(telco_ca[1]))
        pbx.apply()
        deadline = time.monotonic() + 15
        while "Avail" not in pbx.cli("pjsip show aor telco"):
            assert time.monotonic() < deadline, pbx.cli("pjsip show aor telco")
            time.sleep(0.3)
        tls = f"127.0.0.1:{stored.load_settings().sip_tls_port}"
        alice = softphone.start(tmp_path / "alice", "220", a.password, tls,
                                cafile=sip_tls.folder(pbx.install.config_root) / "cert.pem")
        phones.append(alice)
        alice.wait_log(r"\b200 OK\b")
        mark = carrier.mark()
        alice.command(f"/dial sip:95551234@{tls};transport=tls")
        incoming = carrier.wait_for("CarrierIncoming", since=mark)
        assert incoming["Endpoint"] == "pbx-tls"  # over the TLS line, with SRTP (the trunk requires it)
        alice.wait_log(r"[Cc]all established", timeout=15)
        alice.wait_log(r"[Cc]losed|terminated", timeout=20)  # the carrier hangs up after its tone
    finally:
        for phone in phones:
            phone.stop()
        carrier.stop()
    assert max(loud_seconds(r, after=0.5) for r in alice.recordings()) >= 1.0  # the carrier's tone was heard
