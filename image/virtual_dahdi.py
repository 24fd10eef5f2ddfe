"""The virtual DAHDI lab: Linebox's generated DAHDI and Asterisk files proven on the real kernel stack.

A qemu guest (TCG) boots the guest tree (:mod:`image.guest`: forky's kernel, DAHDI 3.4 built by DKMS,
Asterisk 22 with chan_dahdi and libpri) directly from its kernel, with ``/etc/asterisk`` holding only
what Linebox rendered for :data:`LAB_SITE`: two dynamic local (``loc``) spans wired back to back as a
PRI link, span 1 the network side and span 2 the CPE side.

DAHDI is set up as on the appliance (:func:`install_appliance_dahdi`): its rendered files sit in a
generation of ``/var/lib/linebox/asterisk`` (owned by a ``linebox`` user, group ``asterisk``, modes as
``linebox init-system`` sets them), ``/etc/dahdi/*`` and ``/etc/modprobe.d/linebox-dahdi.conf`` link
through its ``live`` link exactly as roles/dahdi makes them, and roles/dahdi's own units run:
``linebox-dahdi.service`` at boot, ``linebox-dahdi-reload.path``/``.service`` with their root script.

At boot a oneshot unit (:data:`LAB_SCRIPT`, after linebox-dahdi.service) starts Asterisk on the
generated configuration, waits for both PRI spans to come up and places a call into span 1
(``DAHDI/g1/200``).  Then it takes the appliance's reload path (:data:`APPLIANCE_STEPS`): as the
``linebox`` user, with Linebox's own client (``appliance/provisioning/dahdi_reload.py``, standard library
only), it asks for a reload and Asterisk restarts chan_dahdi, as apply does; the spans come up again and
a second call goes through; the ``live`` link is swapped to a generation whose system.conf DAHDI refuses
(the refusal must come back in dahdi_cfg's words) and back (the rollback), and the spans come up once
more.  Everything is reported between markers on the serial console; then the guest powers off.  The
test reads the console and decides.

Why a site of two loc spans: it is the only PRI link a machine without cards can have, and LAB.md
records the traps the generated files must avoid (one ``dahdi_cfg`` with ``auto_assign_spans=1``).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from image import guest as guest_tree
from image.disk import root_filesystem
from image.qemu import Guest

LAB_SITE = """\
# The virtual DAHDI lab's site: a PRI link made of two dynamic local spans wired back to back.
linebox: 1
settings:
  tone_zone: us
announcements:
- name: answered
  sound: hello-world
  destination: hangup
dahdi_trunks:
- name: pri_net
  group: 1
- name: pri_cpe
  group: 2
spans:
- span: 1
  source: loc
  loc: '1:0'
  line_type: t1
  switch_type: national
  side: network
  timing: 0
  trunk: pri_net
- span: 2
  source: loc
  loc: '1:1'
  line_type: t1
  switch_type: national
  side: cpe
  timing: 0
  trunk: pri_cpe
inbound_routes:
- name: lab_did
  did: '200'
  destination: announcement:answered
"""

LAB_SCRIPT = r"""#!/bin/sh
# Linebox's virtual DAHDI lab, run once at boot by linebox-dahdi-lab.service; reports on the console.
exec > /dev/ttyS0 2>&1
mark() { echo "@@LAB $*"; }
section() { echo "@@BEGIN $1"; shift; "$@" 2>&1; echo "@@END rc=$?"; }
spans_up() {  # $1: the mark naming how many seconds both PRI spans took to be "Up, Active"
    i=0
    while [ "$i" -lt 60 ] && [ "$(asterisk -rx 'pri show spans' 2>/dev/null | grep -c 'Up, Active')" -lt 2 ]; do
        sleep 1; i=$((i + 1))
    done
    mark "$1" "$i"
}
as_linebox() { runuser -u linebox -- "$@"; }
swap_live() {  # as apply does: a new link renamed over 'live', as the linebox user
    as_linebox sh -c "cd /var/lib/linebox/asterisk && ln -sfn generations/$1 .live-lab && mv -T .live-lab live"
}
mark started $(cut -d' ' -f1 /proc/uptime)
# linebox-dahdi.service (roles/dahdi) loaded DAHDI and ran dahdi_cfg through the links before this unit
section dahdi_cfg systemctl status --no-pager --lines=20 linebox-dahdi.service
section assignments dahdi_span_assignments list
asterisk -g -C /etc/asterisk/asterisk.conf
# -rx fails until Asterisk's control socket exists; then waitfullybooted blocks until every module is in
i=0
until asterisk -rx 'core waitfullybooted' 2>/dev/null | grep -q 'fully booted' || [ "$i" -ge 180 ]; do
    sleep 1; i=$((i + 1))
done
mark asterisk-ready $(cut -d' ' -f1 /proc/uptime)
spans_up spans-waited
section pri_spans asterisk -rx 'pri show spans'
section dialplan asterisk -rx 'dialplan show from-dahdi-pri_cpe'
section call python3 /usr/local/sbin/linebox-dahdi-lab-call
# --- the appliance's reload path: the linebox user asks, linebox-dahdi-reload.path starts the root service
section reload_units systemctl status --no-pager --lines=0 linebox-dahdi-reload.path
section reload as_linebox python3 /usr/local/sbin/linebox-dahdi-lab-reload
section reload_status cat /run/linebox-dahdi-reload/status
asterisk -rx 'dahdi restart' > /dev/null 2>&1
spans_up spans-after-reload
section pri_spans_after_reload asterisk -rx 'pri show spans'
section call_after_reload python3 /usr/local/sbin/linebox-dahdi-lab-call
swap_live 000002
section refused as_linebox python3 /usr/local/sbin/linebox-dahdi-lab-reload
swap_live 000001
section rollback as_linebox python3 /usr/local/sbin/linebox-dahdi-lab-reload
asterisk -rx 'dahdi restart' > /dev/null 2>&1
spans_up spans-after-rollback
section pri_spans_after_rollback asterisk -rx 'pri show spans'
section reload_journal journalctl --no-pager -o cat -u linebox-dahdi-reload.service
section modules asterisk -rx 'module show like chan_dahdi'
section asterisk_log tail -n 60 /var/log/asterisk/messages.log
mark finished $(cut -d' ' -f1 /proc/uptime)
asterisk -rx 'core stop now' > /dev/null 2>&1
systemctl poweroff --no-block
"""

# Places the call and reports its events over AMI, standard library only (the guest has no pyst2). None of
# Linebox's own AMI users may originate calls (appliance.asterisk.ami_users): the lab adds a caller of its
# own to the rendered manager.conf (LAB_AMI_USER), which no box has.
LAB_AMI_USER = """
; the DAHDI lab's caller (a test harness, never on a box): places the PRI call and follows its events
[dahdi-lab]
secret = {secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = call
write = originate
"""
LAB_CALL = r"""import json, re, socket, time
secret = re.search(r"^\[dahdi-lab\]\nsecret = (\S+)", open("/etc/asterisk/manager.conf").read(), re.M).group(1)

def session(events):
    ami = socket.create_connection(("127.0.0.1", 5038), timeout=20)
    reader = ami.makefile("r", encoding="utf-8", newline="\r\n")
    reader.readline()
    def send(**fields):
        ami.sendall("".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n")
    def messages():
        block = {}
        for line in reader:
            line = line.rstrip("\r\n")
            if not line:
                yield block
                block = {}
            elif ": " in line:
                key, value = line.split(": ", 1)
                block[key] = value
    send(Action="Login", Username="dahdi-lab", Secret=secret, Events=events)
    print("login:", next(messages()).get("Response"))
    return ami, send, messages()

ami, send, incoming = session("call")
send(Action="Originate", Channel="DAHDI/g1/200", Application="Wait", Data="30", Async="true", ActionID="call")
ami.settimeout(10)
start = time.monotonic()
try:
    for message in incoming:
        if message.get("ActionID") == "call" and "Response" in message:
            print("originate:", message.get("Response"), message.get("Message"))
        elif message.get("Event") in ("Newchannel", "Newstate", "Hangup", "OriginateResponse", "DialEnd"):
            print("event:", json.dumps({k: message.get(k, "") for k in
                  ("Event", "Channel", "ChannelStateDesc", "Context", "Exten", "Response", "Reason", "Cause-txt")}))
        if time.monotonic() - start > 8:
            break
except OSError as error:
    print("events ended:", error)
ami.close()

"""

# Asks for a DAHDI reload the way apply does on the appliance (Linebox's own client module, copied to
# LAB_CLIENT_DIR), run as the linebox user; exit 0 answered ok, 1 refused, 2 not answered.
LAB_RELOAD = r"""import sys
sys.path.insert(0, "/usr/local/lib/linebox-lab")
import dahdi_reload
try:
    answer = dahdi_reload.request(dahdi_reload.Service())
except dahdi_reload.Refused as refused:
    print("reload: refused", refused.status, " / ".join(refused.said))
    sys.exit(1)
except dahdi_reload.ReloadError as error:
    print("reload: not answered:", error)
    sys.exit(2)
print("reload: ok", answer.status, " ".join(answer.requests))
"""
LAB_CLIENT_DIR = "usr/local/lib/linebox-lab"

# What the lab proves of the appliance's DAHDI path (see APPLIANCE_STEPS in the module docstring).
APPLIANCE_STEPS = (
    "roles/dahdi's units, root script, tmpfiles entry and /etc links installed as Ansible does",
    "linebox-dahdi.service at boot: DAHDI loaded, dahdi_cfg through the links (group asterisk, no DAC override)",
    "the linebox user's request taken by linebox-dahdi-reload.path; dahdi_cfg answered ok in the status file",
    "chan_dahdi restarted as apply does; both PRI spans up again; a second call answered",
    "a refused system.conf comes back in dahdi_cfg's words; the rollback's reload brings the spans back",
)
# A system.conf DAHDI refuses: channels no span has.
REFUSED_LINE = "bchan=60-70\n"

LAB_UNIT = """\
[Unit]
Description=Linebox virtual DAHDI lab (generated files on the real DAHDI and Asterisk)
After=systemd-modules-load.service local-fs.target linebox-dahdi.service linebox-dahdi-reload.path

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/linebox-dahdi-lab

[Install]
WantedBy=multi-user.target
"""


@dataclass
class LabReport:
    """What the guest printed, by section, and how long things took."""

    console: str
    sections: dict[str, tuple[str, int]]
    marks: dict[str, str]
    boot_seconds: float
    prepare_seconds: float

    def section(self, name: str) -> str:
        return self.sections.get(name, ("", -1))[0]

    def status(self, name: str) -> int:
        return self.sections.get(name, ("", -1))[1]


def render_lab_files(site_text: str = LAB_SITE) -> dict[str, str]:
    """Linebox's files for the site, keyed by path under ``/etc`` (``asterisk/*``, ``dahdi/*``, ``modprobe.d/*``).

    The site goes the way an admin's does: imported into a fresh install's database (with its checks),
    snapshotted and rendered; nothing here writes a line of configuration itself.
    """
    from appliance import config_file
    from appliance.asterisk import layout
    from appliance.install import Install
    from appliance.model.database import close_database
    from appliance.provisioning import render
    from appliance.site import service

    with tempfile.TemporaryDirectory() as home:
        install = Install.create(Path(home) / "home", manage_asterisk=False)
        install.open()
        try:
            config_file.import_text(site_text, user="virtual-dahdi-lab")
            site = service.snapshot()
            facts = render.InstallFacts(ami_secret=secrets.token_hex(16), directories=dict(layout.DEFAULT_DIRECTORIES),
                                        sounds_dir=layout.DEFAULT_SOUNDS_DIR)
            files = {f"asterisk/{name}": text for name, text in render.render_all(site, facts).items()}
            files["asterisk/manager.conf"] += LAB_AMI_USER.format(secret=secrets.token_hex(16))
            for name, text in render.render_dahdi_files(site).items():
                files[name if "/" in name else f"asterisk/{name}"] = text
        finally:
            close_database()
    return files


def install_appliance_dahdi(tree: Path, files: dict[str, str]) -> None:
    """Lay DAHDI out in ``tree`` as an installed box has it (files only; owners are set in the guest tree
    by :func:`prepare_disk`): generation 000001 with the rendered DAHDI files and 000002 with a
    system.conf DAHDI refuses, ``live`` -> 000001, roles/dahdi's links, units, script and tmpfiles entry,
    and Linebox's request client for the lab's reload helper."""
    import yaml

    from appliance.provisioning import dahdi_reload
    from appliance.services.units import ROLES

    dahdi_files = {path: text for path, text in files.items() if path.split("/")[0] in ("dahdi", "modprobe.d")}
    config_root = tree / "var/lib/linebox/asterisk"
    for generation, refused in (("000001", False), ("000002", True)):
        for path, text in dahdi_files.items():
            target = config_root / "generations" / generation / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text + (REFUSED_LINE if refused and path == "dahdi/system.conf" else ""))
    (config_root / "live").symlink_to("generations/000001")
    role = ROLES / "dahdi"
    for link in yaml.safe_load((role / "vars/main.yml").read_text())["linebox_dahdi_links"]:
        path = tree / link["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(link["src"])
    units = tree / "etc/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    for unit in ("linebox-dahdi.service", "linebox-dahdi-reload.service", "linebox-dahdi-reload.path"):
        shutil.copy(role / "files" / unit, units / unit)
    script = tree / "usr/local/sbin/linebox-dahdi-reload"
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(role / "files/linebox-dahdi-reload", script)
    script.chmod(0o755)
    (tree / "etc/tmpfiles.d").mkdir(parents=True, exist_ok=True)
    shutil.copy(role / "files/linebox-dahdi.tmpfiles", tree / "etc/tmpfiles.d/linebox-dahdi.conf")
    client = tree / LAB_CLIENT_DIR
    client.mkdir(parents=True, exist_ok=True)
    shutil.copy(dahdi_reload.__file__, client / "dahdi_reload.py")
    helper = tree / "usr/local/sbin/linebox-dahdi-lab-reload"
    helper.write_text(LAB_RELOAD)
    helper.chmod(0o755)


# Run in the guest tree (chroot) after install_appliance_dahdi: the linebox user, owners and modes as
# 'linebox init-system' sets them, roles/dahdi's units enabled.
APPLIANCE_OWNERS = """set -e
id linebox > /dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/linebox --no-create-home \
    --shell /usr/sbin/nologin linebox
chown linebox:linebox /var/lib/linebox && chmod 0751 /var/lib/linebox
chown -hR linebox:asterisk /var/lib/linebox/asterisk
find /var/lib/linebox/asterisk -type d -exec chmod 2750 {} +
find /var/lib/linebox/asterisk -type f -exec chmod 0640 {} +
systemctl enable --quiet linebox-dahdi.service linebox-dahdi-reload.path
"""


def prepare_disk(files: dict[str, str], work: Path, log=print) -> tuple[Path, Path, Path]:
    """A bare ext4 image of the guest tree with the lab's files; returns (disk, kernel, initrd)."""
    base = guest_tree.build(log=log)
    tree = work / "root"
    subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(tree)], check=True)
    shutil.rmtree(tree / "etc/asterisk")  # only Linebox's files configure Asterisk
    for path, text in files.items():
        if path.startswith("asterisk/"):
            target = tree / "etc" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    install_appliance_dahdi(tree, files)
    subprocess.run(["chroot", str(tree), "sh", "-c", APPLIANCE_OWNERS], check=True)
    script = tree / "usr/local/sbin/linebox-dahdi-lab"
    script.write_text(LAB_SCRIPT)
    script.chmod(0o755)
    (tree / "usr/local/sbin/linebox-dahdi-lab-call").write_text(LAB_CALL)
    (tree / "etc/systemd/system/linebox-dahdi-lab.service").write_text(LAB_UNIT)
    wants = tree / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "linebox-dahdi-lab.service").symlink_to("/etc/systemd/system/linebox-dahdi-lab.service")
    # the lab starts Asterisk itself, after dahdi_cfg; nothing else needs to run
    for unit in ("asterisk.service", "ssh.service", "nftables.service"):
        subprocess.run(["chroot", str(tree), "systemctl", "disable", "--quiet", unit], capture_output=True)
    # the serial console is the lab's report channel: a getty there would hang the line up under the script
    for unit in ("serial-getty@ttyS0.service", "getty@tty1.service"):
        subprocess.run(["chroot", str(tree), "systemctl", "mask", "--quiet", unit], capture_output=True)
    (tree / "etc/hostname").write_text("dahdi-lab\n")
    kernel, initrd, _ = guest_tree.kernel_files(tree)
    shutil.copy(kernel, work / "vmlinuz")
    shutil.copy(initrd, work / "initrd.img")
    disk = work / "root.ext4"
    root_filesystem(tree, disk, str(uuid.uuid4()), free_bytes=256 * 2**20)
    shutil.rmtree(tree)
    return disk, work / "vmlinuz", work / "initrd.img"


def parse_console(console: str) -> tuple[dict[str, tuple[str, int]], dict[str, str]]:
    sections: dict[str, tuple[str, int]] = {}
    marks: dict[str, str] = {}
    current, body = None, []
    for raw in console.replace("\r\n", "\n").splitlines():
        line = raw.rstrip()
        if line.startswith("@@BEGIN "):
            current, body = line.split(" ", 1)[1], []
        elif line.startswith("@@END rc=") and current is not None:
            sections[current] = ("\n".join(body), int(line.split("=", 1)[1]))
            current = None
        elif line.startswith("@@LAB "):
            name, _, value = line[6:].partition(" ")
            marks[name] = value
        elif current is not None:
            body.append(line)
    return sections, marks


def run_lab(log_file: Path, site_text: str = LAB_SITE, timeout: float = 600, log=print) -> LabReport:
    """Render, build the guest disk, boot it, wait for it to power off; return what it reported."""
    start = time.monotonic()
    files = render_lab_files(site_text)
    with tempfile.TemporaryDirectory(prefix="dahdi-lab-", dir=guest_tree.CACHE) as work_dir:
        disk, kernel, initrd = prepare_disk(files, Path(work_dir), log)
        prepared = time.monotonic() - start
        log(f"virtual DAHDI lab: guest disk ready in {prepared:.0f} s; booting under qemu (TCG)")
        guest = Guest(disk, log_file, kernel=kernel, initrd=initrd,
                      append="root=/dev/vda rw console=ttyS0,115200n8 quiet systemd.show_status=error")
        with guest:
            guest.expect(r"@@LAB finished", timeout)
            booted = guest.uptime()
            guest.wait_for_poweroff(60)
            console = guest.output
    sections, marks = parse_console(console)
    return LabReport(console, sections, marks, booted, prepared)
