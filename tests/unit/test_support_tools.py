"""The technician's tools without Asterisk: redaction, the support bundle, log reading, network and call tables."""

from __future__ import annotations

import re
import tarfile
from datetime import datetime

import pytest
import yaml
from click.testing import CliRunner

from appliance import config_file
from appliance.cli import main
from appliance.gateways import service as gateways
from appliance.model.models import Gateway
from appliance.support import calls, debug_bundle, logs, network
from tests.conftest import REFERENCE_SITE

SECRETS = ["Rcpt7fQ2mXw9LpA4", "Mnz3Kd8sPq1VbT6e", "4711", "8025"]  # from the reference site


def test_redactor_masks_known_values_secret_keys_and_private_keys():
    redactor = debug_bundle.Redactor(["Rcpt7fQ2mXw9LpA4", "4711"])
    text = ("password = Rcpt7fQ2mXw9LpA4\nauth: user Rcpt7fQ2mXw9LpA4 failed\n100 => 4711,Reception\n"
            "call 1700004711.5 at 14711\nsecret=whatever-it-is\n"
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n")
    out = redactor.text(text)
    assert "Rcpt7fQ2mXw9LpA4" not in out and "whatever-it-is" not in out and "MHcCAQEEIB" not in out
    assert "100 => ********,Reception" in out
    assert "1700004711.5" in out  # a short PIN is masked as a number, not inside call ids and times
    assert "[private key removed]" in out


def test_support_bundle_without_asterisk_notes_what_it_could_not_read_and_leaks_nothing(install, tmp_path):
    config_file.import_text(REFERENCE_SITE.read_text(), "test")
    from appliance.provisioning import apply
    from appliance.site import service
    assert apply.apply(service.snapshot(), install.facts(), install.target(), user="test").ok
    service.save_settings({"ami_port": 1}, "test")  # nothing listens there
    install.asterisk_log = tmp_path / "messages.log"
    install.asterisk_log.write_text("[2026-11-23 08:00:00.000] ERROR[1] res_pjsip: auth failed for "
                                    "Rcpt7fQ2mXw9LpA4\n")
    output = tmp_path / "bundle.tar.gz"
    parts = debug_bundle.collect(install, output, say=lambda _line: None)
    assert {p.name: p.ok for p in parts}["Asterisk (AMI)"] is False
    assert all(p.ok for p in parts if p.name in ("versions", "generated config", "logs", "site (secrets masked)"))
    with tarfile.open(output) as tar:
        names = {m.name.split("/", 1)[1]: m for m in tar.getmembers()}
        # Each file's text, not the archive's bytes: tar headers hold times and sizes where "4711" can turn up.
        contents = "\n".join(tar.extractfile(m).read().decode(errors="replace") for m in names.values() if m.isfile())
    for secret in [*SECRETS, install.ami_secret()]:
        # A short PIN counts as leaked as a whole number only, not inside a longer one (a call id, a time).
        pattern = rf"(?<!\d){re.escape(secret)}(?!\d)" if secret.isdigit() else re.escape(secret)
        assert not re.search(pattern, contents), secret
    with tarfile.open(output) as tar:
        readme = tar.extractfile(names["README.txt"]).read().decode()
        site = yaml.safe_load(tar.extractfile(names["site.yaml"]).read())
    assert "NOT collected: Asterisk (AMI)" in readme
    assert site["extensions"][0]["password"] == "********"  # still a valid YAML file
    assert output.stat().st_mode & 0o777 == 0o600


def test_since_words():
    now = datetime(2026, 11, 23, 10, 30)
    assert logs.parse_since("10m", now) == datetime(2026, 11, 23, 10, 20)
    assert logs.parse_since("2h", now) == datetime(2026, 11, 23, 8, 30)
    assert logs.parse_since("today", now) == datetime(2026, 11, 23)
    assert logs.parse_since("yesterday", now) == datetime(2026, 11, 22)
    assert logs.parse_since("2026-11-01 07:15", now) == datetime(2026, 11, 1, 7, 15)
    with pytest.raises(logs.LogsError, match="cannot read the time 'soon'"):
        logs.parse_since("soon", now)


def test_tail_reads_the_end_and_keeps_continuation_lines_with_their_entry(tmp_path):
    log = tmp_path / "messages.log"
    lines = [f"[2026-11-23 08:{m:02}:00.000] NOTICE[1] x.c: line {m}" for m in range(60)]
    lines.insert(51, "  a continuation of line 50")
    log.write_text("\n".join(lines) + "\n")
    assert logs.tail(log, 3, block=64) == lines[-3:]
    since = logs.tail(log, 100, datetime(2026, 11, 23, 8, 50), block=64)
    assert since[0].endswith("line 50") and since[1] == "  a continuation of line 50" and len(since) == 11


def test_journal_is_asked_for_the_units_without_pager_or_colour():
    command = logs.journal_command(logs.unit_names(["web", "asterisk"]), datetime(2026, 11, 23, 8, 0), 20, True)
    assert command == ["journalctl", "--no-pager", "--output=short-iso", "--lines", "20",
                       "--unit", "linebox-web.service", "--unit", "asterisk.service",
                       "--since", "2026-11-23 08:00:00", "--follow"]
    assert logs.journal_env(False)["SYSTEMD_COLORS"] == "0"


def test_default_routes_and_resolvers_from_the_kernel_and_resolv_conf(tmp_path):
    route = tmp_path / "route"
    route.write_text("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                     "eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                     "eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# generated\nnameserver 192.168.2.1\nnameserver 9.9.9.9 # backup\nsearch office.lan\n")
    assert network.default_gateways(route, tmp_path / "none") == [("192.168.2.1", "eth0")]
    assert network.resolvers(resolv) == (["192.168.2.1", "9.9.9.9"], ["office.lan"])
    state = network.NetworkState([network.Interface("eth0", True, 1000, 1500, addresses=["192.168.2.10/24"])],
                                 [("192.168.2.1", "eth0")], ["192.168.2.1"], [],
                                 [network.Listener("udp", "0.0.0.0", 5060, "asterisk", 42, "SIP (phones, trunks)")])
    lines = network.render(state)
    assert "  eth0        UP   1000 Mb/s  192.168.2.10/24" in lines
    assert "Default route: 192.168.2.1 via eth0" in lines
    assert any(line.startswith("  udp 0.0.0.0:5060") and line.endswith("SIP (phones, trunks)") for line in lines)


def test_active_calls_group_channels_of_one_call_and_fit_80_columns():
    channels = [
        {"Channel": "PJSIP/100-00000001", "Uniqueid": "1.1", "Linkedid": "1.1", "CallerIDNum": "100",
         "Exten": "101", "ChannelStateDesc": "Up", "Duration": "00:01:05"},
        {"Channel": "PJSIP/101-00000002", "Uniqueid": "1.2", "Linkedid": "1.1", "CallerIDNum": "101",
         "Exten": "s", "ChannelStateDesc": "Up", "Duration": "00:01:04"},
        {"Channel": "PJSIP/telco-00000003", "Uniqueid": "2.1", "Linkedid": "2.1", "CallerIDNum": "+4930123456789",
         "Exten": "s", "ChannelStateDesc": "Ring", "Duration": "00:00:03"},
    ]
    found = calls.group_channels(channels)
    assert [(c.caller, c.called, c.state, len(c.channels)) for c in found] == [
        ("100", "101", "Up", 2), ("+4930123456789", "", "Ring", 1)]
    lines = calls.active_lines(found)
    assert lines[0] == "Active calls: 2" and all(len(line) <= 80 for line in lines)


def test_calls_lists_todays_records_newest_first(install):
    from appliance.model.models import CallRecord
    today = datetime.now().strftime("%Y-%m-%d")
    for i, (src, dst, disposition) in enumerate([("100", "101", "ANSWERED"), ("+15550001111", "100", "NO ANSWER"),
                                                 ("101", "102", "BUSY")]):
        CallRecord.create(uniqueid=f"17.{i}", sequence=i, linkedid=f"17.{i}", start=f"{today} 0{i}:00:00",
                          src=src, dst=dst, disposition=disposition, billsec=65 if i == 0 else 0, duration=70)
    CallRecord.create(uniqueid="16.0", sequence=9, linkedid="16.0", start="2001-01-01 00:00:00", src="100",
                      dst="103", disposition="ANSWERED")
    result = CliRunner().invoke(main, ["--home", str(install.home), "calls", "--today", "--number", "100"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Call records from or to 100 since ") and all(len(x) <= 80 for x in lines)
    assert [line.split()[2] for line in lines[2:]] == ["+15550001111", "100"]
    assert lines[3].split()[4:] == ["ANSWERED", "1:05", "1:10"]


def test_follow_prints_appended_lines_and_survives_rotation(tmp_path):
    import threading
    import time

    log = tmp_path / "messages.log"
    log.write_text("old line\n")
    seen: list[str] = []
    stop = threading.Event()
    worker = threading.Thread(target=logs.follow, args=([logs.LogFile("asterisk", log)],
                                                        lambda _name, line: seen.append(line), stop.is_set, 0.05))
    worker.start()
    try:
        time.sleep(0.2)
        with open(log, "a") as handle:
            handle.write("new line 1\nhalf")
        time.sleep(0.3)
        with open(log, "a") as handle:
            handle.write(" a line\n")
        time.sleep(0.3)
        log.rename(tmp_path / "messages.log.1")  # logrotate
        log.write_text("after rotation\n")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "after rotation" not in seen:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
    assert seen == ["new line 1", "half a line", "after rotation"]


def test_backup_to_an_unwritable_place_says_so(install):
    result = CliRunner().invoke(main, ["--home", str(install.home), "backup", "-o", "/proc/linebox.tar.gz",
                                          "--no-passphrase"])
    assert result.exit_code == 1 and "cannot write /proc/linebox.tar.gz" in result.output
    assert "Traceback" not in result.output


def test_listening_ports_of_this_asterisk_even_when_their_owner_cannot_be_seen():
    import socket as sock
    from collections import namedtuple

    import psutil

    Conn = namedtuple("Conn", "fd family type laddr raddr status pid")
    Addr = namedtuple("Addr", "ip port")
    udp, tcp = sock.SOCK_DGRAM, sock.SOCK_STREAM
    roles = {("udp", 5060): "SIP (phones, trunks)", ("tcp", 5038): "AMI (Linebox control)", ("rtp", 0): "10000-20000",
             ("tcp", 443): "web console (HTTPS)"}
    connections = [
        Conn(3, 2, udp, Addr("0.0.0.0", 5060), (), psutil.CONN_NONE, 10),
        Conn(4, 2, tcp, Addr("127.0.0.1", 5038), (), psutil.CONN_LISTEN, 10),
        Conn(5, 2, udp, Addr("0.0.0.0", 10002), (), psutil.CONN_NONE, 10),
        Conn(6, 2, udp, Addr("0.0.0.0", 10004), (), psutil.CONN_NONE, 10),
        Conn(7, 2, tcp, Addr("0.0.0.0", 5060), ("1.2.3.4", 5), psutil.CONN_ESTABLISHED, 10),
        Conn(8, 2, tcp, Addr("0.0.0.0", 22), (), psutil.CONN_LISTEN, 20),  # sshd: not shown
        Conn(9, 2, udp, Addr("127.0.0.1", 5070), (), psutil.CONN_NONE, 30),  # another Asterisk (the lab's)
        Conn(10, 2, tcp, Addr("0.0.0.0", 443), (), psutil.CONN_LISTEN, None),  # the console, seen by a non-root user
    ]
    names = {10: "asterisk", 20: "sshd", 30: "asterisk"}
    found = network.listeners(roles, {5038, 5060}, connections, names.__getitem__)
    assert [(x.process, x.port, x.role) for x in found] == [
        ("-", 443, "web console (HTTPS)"),
        ("asterisk", 5038, "AMI (Linebox control)"),
        ("asterisk", 5060, "SIP (phones, trunks)"),
        ("asterisk", 10002, "RTP (media), 2 port(s) open now"),
    ]
    lines = network.render(network.NetworkState([], [], [], [], found))
    assert any("only root sees which process" in line for line in lines)


def test_network_show_names_the_provisioning_and_fastagi_ports(tmp_path, monkeypatch):
    import socket as sock
    from collections import namedtuple

    import psutil

    from appliance.site.schemas import Settings

    monkeypatch.delenv("LINEBOX_PROVISION_PORT", raising=False)
    env = tmp_path / "provision.env"
    env.write_text("LINEBOX_PROVISION_ADDRESS=0.0.0.0\nLINEBOX_PROVISION_PORT=8088\n")
    assert network.provision_port(env) == 8088  # the technician's shell has no EnvironmentFile: read it
    assert network.provision_port(tmp_path / "none") == 8080
    roles = network.roles_from_settings(Settings(), web_port=443, provision_port=8088)
    Conn = namedtuple("Conn", "fd family type laddr raddr status pid")
    Addr = namedtuple("Addr", "ip port")
    connections = [Conn(3, 2, sock.SOCK_STREAM, Addr("0.0.0.0", 8088), (), psutil.CONN_LISTEN, 40),
                   Conn(4, 2, sock.SOCK_STREAM, Addr("127.0.0.1", 4573), (), psutil.CONN_LISTEN, 50)]
    found = network.listeners(roles, set(), connections, {40: "provision", 50: "agi"}.__getitem__)
    assert [(x.process, x.port, x.role) for x in found] == [
        ("agi", 4573, "FastAGI (caller names)"), ("provision", 8088, "gateway provisioning (HTTP)")]


def test_gateway_credentials_are_known_secrets(install):
    """A credential in a provisioning URL (request log, journal) must be masked in a support bundle too."""
    gateways.adopt("000b82000009", "ht801", "test")
    gateways.set_provisioning_password("shared-provisioning-pw", "test")
    found = debug_bundle.known_secrets(install)
    assert Gateway.get().credential in found and "shared-provisioning-pw" in found
