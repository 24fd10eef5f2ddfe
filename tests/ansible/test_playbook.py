"""``ansible/site.yml`` run for real against a Debian forky root file system, twice.

The target is a copy of the lab's forky root file system, reached through Ansible's chroot
connection (community.general.chroot, shipped in the pinned ``ansible`` package).  The whole
``ansible-playbook`` runs inside a private mount namespace (``unshare --mount``) in which ``/dev`` and
``/proc`` are mounted into the copy, so nothing is left mounted on the host whatever happens; the
copy is removed at the end, even on failure.  Services cannot start in a chroot: the roles install
and enable them only, and this test checks the result on disk:

* the first run succeeds; the second reports ``changed=0`` (idempotence);
* the linebox user, the venv, the units and their enablement links, the asterisk.service drop-in,
  the firewall rules, the install in /var/lib/linebox with its owners and modes;
* ``systemd-analyze verify --root`` on the installed units;
* DAHDI (roles/dahdi, without Debian's packages): /etc/dahdi/* and the
  modprobe option link to the live generation, the reload units and their root script are installed,
  and an apply run as the linebox user gets dahdi_cfg run by that script (run as root with only
  CAP_SYS_ADMIN and group asterisk, as its unit does) without writing to /etc;
* the installed console really serves: ``linebox serve`` started inside the copy as the linebox
  user answers HTTPS and tells (a fake) systemd READY=1; Asterisk's user can read its live
  configuration and not Linebox's database.

The playbook's output is kept in test-artifacts/ansible/.  apt's downloads and pip's cache are kept
between runs in /var/cache/linebox/ansible-test-cache (bind-mounted into the copy), so only a cold
machine downloads them (a cold run took 93 s here, a warm one about the same: the time is dpkg's).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from image.ansible_chroot import (
    ANSIBLE,
    BIN,
    CACHE,
    ROOT,
    build_wheel,
    changed_tasks,
    in_namespace,
    run_playbook,
    write_inventory,
)

pytestmark = [
    pytest.mark.lab,  # needs root and the lab's forky root file system (built by make lab)
    pytest.mark.timeout(900),
]


@pytest.fixture(autouse=True)
def _real_tools():
    """Root and ansible are what this test proves the roles with: without them it fails, never skips."""
    assert os.geteuid() == 0, "chroot and mount namespaces need root"
    assert (BIN / "ansible-playbook").exists(), "ansible is not installed: pip install -e '.[test]'"

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def target():
    """A copy of the lab's forky root file system, removed at the end whatever happens."""
    from lab import rootfs
    source = rootfs.build()
    work = Path(tempfile.mkdtemp(prefix="ansible-test-", dir=CACHE.parent if CACHE.parent.exists() else None))
    try:
        start = time.monotonic()
        subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(work / "root")], check=True)
        print(f"\nansible test: copied the forky root file system in {time.monotonic() - start:.1f} s")
        yield work
    finally:
        artifacts = ROOT / "test-artifacts" / "ansible"
        artifacts.mkdir(parents=True, exist_ok=True)
        for log in work.glob("*.log"):
            shutil.copy(log, artifacts / log.name)
        # nothing is mounted here on the host side: the mounts lived only in the namespaces
        shutil.rmtree(work, ignore_errors=True)


def test_site_playbook_installs_linebox_idempotently(target):
    root = target / "root"
    wheel = build_wheel(target / "build")
    # LINEBOX_ANSIBLE_TEST_PACKAGE=source: hand the role the source tree (a copy) instead, to build the wheel itself
    package = wheel.parents[1] / "src" if os.environ.get("LINEBOX_ANSIBLE_TEST_PACKAGE") == "source" else wheel
    inventory = write_inventory(target / "inventory.json", root, {
        "linebox_package": str(package),
        "linebox_admin_networks": ["192.168.10.0/24", "fd00:10::/64"],  # checked by nft -c in the target
        # roles/dahdi without Debian's packages (apt would pick dahdi-dkms and build modules in the copy):
        # its links, units, script and request folder are what is checked here
        "linebox_dahdi": True,
        "linebox_dahdi_packages": [],
    })

    start = time.monotonic()
    first, counts = run_playbook(root, inventory, target / "first.log")
    first_seconds = time.monotonic() - start
    assert counts["failed"] == 0 and counts["changed"] > 0

    start = time.monotonic()
    second, counts = run_playbook(root, inventory, target / "second.log")
    second_seconds = time.monotonic() - start
    assert counts["changed"] == 0, "not idempotent, changed again:\n" + "\n".join(changed_tasks(second))
    print(f"ansible test: first run {first_seconds:.0f} s, second run {second_seconds:.0f} s (changed=0)")

    # --- what is on disk ----------------------------------------------------------------------
    passwd = (root / "etc/passwd").read_text()
    user = re.search(r"^linebox:x:(\d+):(\d+):[^:]*:/var/lib/linebox:/usr/sbin/nologin$", passwd, re.MULTILINE)
    assert user, passwd
    uid = int(user.group(1))
    asterisk_group = re.search(r"^asterisk:x:(\d+):(.*)$", (root / "etc/group").read_text(), re.MULTILINE)
    assert "linebox" in asterisk_group.group(2).split(",")

    assert (root / "opt/linebox/bin/linebox").is_file()
    # the Mandarin prompts, spoken at install into Asterisk's zh folder, with their manifest
    zh = root / "usr/share/asterisk/sounds/zh"
    assert (zh / "digits/wan.sln").stat().st_size > 1000 and (zh / "queue-thereare.sln").is_file()
    assert '"queue-thereare"' in (zh / "linebox-prompts.json").read_text()
    assert list((root / "opt/linebox/dist").glob("linebox-*.whl"))
    systemd_dir = root / "etc/systemd/system"
    for unit in ("linebox-web.service", "linebox-apply.service"):
        assert (systemd_dir / unit).read_text() == (ANSIBLE / "roles/linebox/files" / unit).read_text()
    assert "-C /var/lib/linebox/asterisk/live/asterisk.conf" in (
        systemd_dir / "asterisk.service.d/linebox.conf").read_text()
    for link in ("multi-user.target.wants/linebox-web.service", "asterisk.service.wants/linebox-apply.service",
                 "multi-user.target.wants/asterisk.service", "sysinit.target.wants/nftables.service"):
        assert (systemd_dir / link).is_symlink(), f"not enabled: {link}"
    # the host's own name resolves without DNS (Asterisk looks it up at every call): the chroot's is this machine's
    hosts = (root / "etc/hosts").read_text()
    assert re.search(rf"^127\.0\.1\.1\s+{re.escape(socket.gethostname())}$", hosts, re.MULTILINE), hosts
    nft = (root / "etc/nftables.conf").read_text()
    assert 'ip saddr { 192.168.10.0/24 } tcp dport 443 accept comment "web console"' in nft
    assert 'ip6 saddr { fd00:10::/64 } tcp dport 22 accept comment "SSH"' in nft
    assert 'udp dport 10000-20000 accept comment "RTP"' in nft
    # banned sources dropped first, even on established flows (linebox-bans.service fills the sets)
    assert nft.index("ip saddr @banned4 drop") < nft.index("ct state established,related accept")
    assert "set banned6 {" in nft and "flags timeout" in nft
    assert (systemd_dir / "linebox-bans.service").read_text() == (
        ANSIBLE / "roles/linebox/files/linebox-bans.service").read_text()
    assert (systemd_dir / "multi-user.target.wants/linebox-bans.service").is_symlink()
    assert "LINEBOX_WEB_PORT=443" in (root / "etc/linebox/web.env").read_text()
    # the gateway provisioning server: its unit, settings (read by the console too) and firewall rule
    assert (systemd_dir / "linebox-provision.service").read_text() == (
        ANSIBLE / "roles/linebox/files/linebox-provision.service").read_text()
    assert (systemd_dir / "multi-user.target.wants/linebox-provision.service").is_symlink()
    assert not (systemd_dir / "linebox-provision.service.d/low-port.conf").exists()  # 8080: no capability
    assert "LINEBOX_PROVISION_PORT=8080" in (root / "etc/linebox/provision.env").read_text()
    assert 'tcp dport 8080 accept comment "gateway provisioning (plain HTTP)"' in nft
    live = "/var/lib/linebox/asterisk/live"
    for link, points_at in (("etc/dahdi/system.conf", f"{live}/dahdi/system.conf"),
                            ("etc/dahdi/assigned-spans.conf", f"{live}/dahdi/assigned-spans.conf"),
                            ("etc/dahdi/modules", f"{live}/dahdi/modules"),
                            ("etc/modprobe.d/linebox-dahdi.conf", f"{live}/modprobe.d/linebox-dahdi.conf")):
        assert os.readlink(root / link) == points_at, link
    assert "options dahdi auto_assign_spans=1" in (root / "var/lib/linebox/asterisk/live/modprobe.d/"
                                                           "linebox-dahdi.conf").read_text()
    for unit in ("linebox-dahdi.service", "linebox-dahdi-reload.service", "linebox-dahdi-reload.path"):
        assert (systemd_dir / unit).read_text() == (ANSIBLE / "roles/dahdi/files" / unit).read_text()
    for link in ("multi-user.target.wants/linebox-dahdi-reload.path", "asterisk.service.wants/linebox-dahdi.service"):
        assert (systemd_dir / link).is_symlink(), f"not enabled: {link}"
    script = root / "usr/local/sbin/linebox-dahdi-reload"
    assert script.stat().st_uid == 0 and stat.S_IMODE(script.stat().st_mode) == 0o755
    assert "d /run/linebox-dahdi 0770 linebox root -" in (root / "etc/tmpfiles.d/linebox-dahdi.conf").read_text()
    assert '"dahdi_cfg_via": "service"' in (root / "var/lib/linebox/appliance.json").read_text()

    home = root / "var/lib/linebox"
    assert home.stat().st_uid == uid and stat.S_IMODE(home.stat().st_mode) == 0o751
    key = home / "tls/key.pem"
    assert key.stat().st_uid == uid and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (home / "asterisk/live/asterisk.conf").is_file()
    first_login = root / "root/linebox-first-login.txt"
    assert first_login.stat().st_uid == 0 and stat.S_IMODE(first_login.stat().st_mode) == 0o600
    password = re.search(r"password: (\S+)", first_login.read_text()).group(1)

    # --- the units as installed, with the target's own binaries -----------------------------------
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", "linebox-web.service",
                             "linebox-apply.service", "asterisk.service"], capture_output=True, text=True)
    # the host's systemd (252) warns about newer keys in forky's own units (262): only ours must be clean
    ours = re.compile(r"(^|/)(linebox-web\.service|linebox-apply\.service|asterisk\.service(\.d/linebox\.conf)?):")
    problems = [line for line in verify.stderr.splitlines() if ours.search(line)]
    assert verify.returncode == 0 and not problems, verify.stderr

    # --- it runs: permissions, the boot step, and the console itself -------------------------------
    port = _free_port()
    check = target / "check.sh"
    check.write_text(f"""
set -eu
r={root}
as_asterisk() {{ chroot --userspec=asterisk:asterisk "$r" "$@"; }}
as_linebox() {{ chroot --userspec=linebox:linebox --groups=asterisk "$r" env HOME=/var/lib/linebox "$@"; }}
as_asterisk cat /var/lib/linebox/asterisk/live/pjsip.conf > /dev/null
if as_asterisk cat /var/lib/linebox/linebox.db > /dev/null 2>&1; then echo "asterisk can read the database"; exit 1; fi
as_linebox /opt/linebox/bin/python -m appliance.services.boot --home /var/lib/linebox
as_linebox /opt/linebox/bin/python -c "import systemd.daemon, cheroot, cryptography"
rm -f "$r/tmp/notify.sock"
python3 - "$r/tmp/notify.sock" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)
while b"READY=1" not in (data := s.recv(4096)):
    pass
print("notify:", data.decode().replace("\\n", " | "))
EOF
listener=$!
sleep 0.5
chmod 666 "$r/tmp/notify.sock"
# timeout(1) bounds the server's life whatever happens to this script, and passes SIGTERM on
timeout 60 chroot --userspec=linebox:linebox --groups=asterisk "$r" env HOME=/var/lib/linebox \\
    NOTIFY_SOCKET=/tmp/notify.sock LINEBOX_WEB_ADDRESS=127.0.0.1 LINEBOX_WEB_PORT={port} \\
    /opt/linebox/bin/linebox --home /var/lib/linebox serve &
server=$!
wait $listener
python3 - "$r/var/lib/linebox/tls/cert.pem" <<'EOF'
import ssl, sys, urllib.request
context = ssl.create_default_context(cafile=sys.argv[1])
page = urllib.request.urlopen("https://127.0.0.1:{port}/login", context=context, timeout=10).read().decode()
print("login page:", 'name="password"' in page)
EOF
kill -TERM $server
wait $server
echo "serve exited $?"

# DAHDI: apply as the linebox user; the reload script as its unit runs it (root, only CAP_SYS_ADMIN,
# group asterisk), started by a loop standing in for linebox-dahdi-reload.path; dahdi_cfg a stand-in
chroot "$r" systemd-tmpfiles --create /etc/tmpfiles.d/linebox-dahdi.conf
mkdir -p "$r/run/linebox-dahdi-reload"
printf '#!/bin/sh\\ncat "$2" > /tmp/dahdi-seen\\n' > "$r/tmp/fake-dahdi_cfg"
chmod 755 "$r/tmp/fake-dahdi_cfg"
(
    i=0
    while [ "$i" -lt 300 ] && [ ! -e "$r/tmp/dahdi-done" ]; do
        if ls "$r"/run/linebox-dahdi/request.* > /dev/null 2>&1; then
            chroot "$r" env LINEBOX_DAHDI_CTL=/dev/null LINEBOX_DAHDI_CFG=/tmp/fake-dahdi_cfg \\
                setpriv --groups asterisk --bounding-set -all,+sys_admin --inh-caps -all \\
                /usr/local/sbin/linebox-dahdi-reload
        fi
        sleep 0.1; i=$((i + 1))
    done
) &
watcher=$!
as_linebox /opt/linebox/bin/python - <<'EOF'
from pathlib import Path
from appliance.install import Install
from appliance.provisioning import apply
from appliance.site import service
install = Install.load(Path("/var/lib/linebox"))
install.open()
target = install.target()
target.connect = None  # no Asterisk running here
service.save_object("extension", {{"number": "100", "name": "Desk"}}, "test", create=True)
service.save_object("analog_port", {{"channel": 1, "kind": "fxs", "extension": "100"}}, "test", create=True)
result = apply.apply(service.snapshot(), install.facts(), target, user="test")
for step in result.steps:
    print("dahdi apply step:", step)
print("dahdi apply:", result.ok, result.error)
EOF
touch "$r/tmp/dahdi-done"
wait $watcher
grep -c fxoks=1 "$r/tmp/dahdi-seen" | sed 's/^/dahdi seen fxoks: /'
""")
    result = in_namespace(root, ["sh", str(check)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notify: READY=1" in result.stdout and "serve exited 0" in result.stdout, result.stdout + result.stderr
    assert "login page: True" in result.stdout and password and "Traceback" not in result.stderr
    assert "dahdi apply: True" in result.stdout, result.stdout + result.stderr
    assert "already linked to the live generation" in result.stdout  # checked, not made: /etc untouched
    assert "linebox-dahdi-reload.service: dahdi_cfg -c /etc/dahdi/system.conf: ok" in result.stdout
    assert "dahdi seen fxoks: 1" in result.stdout, result.stdout + result.stderr
    assert os.readlink(root / "etc/dahdi/system.conf") == f"{live}/dahdi/system.conf"

