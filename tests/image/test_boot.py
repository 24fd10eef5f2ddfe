"""``make boot-test``: the Linebox image boots under qemu (TCG) and is a working appliance.

The image is built by the session fixture (cached by content: a cold machine builds it, about ten
minutes).  One boot on BIOS firmware checks what an installer meets:

* the first-boot banner on the serial console shows the web console URL and the one-time passwords;
* every Linebox unit is active (or, for DAHDI, correctly skipped), Asterisk is fully booted;
* the web console answers over HTTPS on the forwarded port and accepts the first-boot password, and
  asks for a new one;
* ``linebox diag`` typed on the serial console reports no fault;
* nothing leaves the box: qemu captures the guest's network from power-on, through first boot and a
  simulated hour (every timer's unit started by hand), and the capture holds no connection and no DNS
  lookup except the NTP servers the box is configured with (:mod:`image.traffic`);

and measures boot-to-ready time and the RSS of every Linebox service (kept in
``benchmarks/results/image.json``).  A second boot on UEFI firmware (OVMF) proves the other boot
path reaches the login prompt.  The disk is attached read-only-with-overlay (``snapshot=on``), so
boots never change the cached image.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests
import urllib3

from image import build as image_build
from image.qemu import ACCELERATOR, Guest, GuestError
from image.traffic import outbound
from lab.instance import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "image"
LINEBOX_UNITS = ("linebox-apply.service", "linebox-web.service", "linebox-collector.service",
                 "linebox-agi.service", "linebox-provision.service", "linebox-bans.service",
                 "linebox-dahdi-reload.path",
                 "linebox-firstboot.service", "linebox-console-banner.service", "linebox-growroot.service")
SERVICES_WITH_PROCESSES = ("linebox-web.service", "linebox-collector.service", "linebox-agi.service",
                           "linebox-provision.service", "linebox-bans.service")

pytestmark = [pytest.mark.lab, pytest.mark.image, pytest.mark.timeout(3600)]


@pytest.fixture(scope="session")
def image():
    path, facts = image_build.build()
    return path, facts


def record(section: str, figures: dict) -> None:
    results_file = image_build.RESULTS
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results[section] = figures
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2) + "\n")


def login_as_root(guest: Guest, password: str) -> None:
    """Log in on the serial console.  agetty queries the terminal (cursor position) before its prompt and
    may take typed characters as the answer, so the user name is typed again until the password prompt."""
    for _ in range(5):
        guest.send("\n")
        try:
            guest.expect(r"login: ", 30)
            time.sleep(2)
            guest.send("root\n")
            guest.expect(r"Password: ", 15)
            break
        except GuestError:
            continue
    else:
        raise AssertionError(f"no password prompt on the serial console:\n{guest.tail()}")
    guest.send(password + "\n")
    guest.expect(r"root@linebox:~# ", 60)
    guest.run("stty cols 80 rows 24; export TERM=vt100 SYSTEMD_PAGER= PAGER=cat")


def wait_for_console(port: int, timeout: float) -> float:
    """Seconds until the web console's login page answers over HTTPS on the forwarded port."""
    start = time.monotonic()
    deadline = start + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"https://127.0.0.1:{port}/login", verify=False, timeout=5)
            if response.status_code == 200 and 'name="password"' in response.text:
                return time.monotonic() - start
            last = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last = str(error)
        time.sleep(1)
    raise AssertionError(f"the web console did not answer within {timeout:.0f} s: {last}")


def console_login(port: int, password: str) -> requests.Response:
    # verify per request: a Session's verify=False loses to REQUESTS_CA_BUNDLE in the environment
    session = requests.Session()
    page = session.get(f"https://127.0.0.1:{port}/login", verify=False, timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    # a browser sends the Referer the console's CSRF check requires over HTTPS (same origin)
    return session.post(f"https://127.0.0.1:{port}/login", verify=False, timeout=30, allow_redirects=True,
                        headers={"Referer": f"https://127.0.0.1:{port}/login"},
                        data={"csrf_token": token, "username": "admin", "password": password})


def service_memory(guest: Guest, unit: str) -> tuple[int, int]:
    """Memory (bytes) of every process in the unit's control group: resident (RSS) and proportional (PSS).

    RSS counts the pages of the Python interpreter and of shared libraries once per process; PSS
    shares them out between the processes that map them, so PSS adds up to what the box really spends.
    """
    out, status = guest.run(
        f"cg=$(systemctl show -P ControlGroup {unit}); "
        "for p in $(cat /sys/fs/cgroup$cg/cgroup.procs); do "
        "awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r, p}' /proc/$p/smaps_rollup; done")
    assert status == 0 and out.split(), out
    values = [int(v) for v in out.split()]
    return sum(values[0::2]) * 1024, sum(values[1::2]) * 1024


def simulate_an_hour(guest: Guest) -> list[str]:
    """Start, by hand, the unit of every timer the box has (as if a day of timers had fired); their names."""
    out, status = guest.run("systemctl list-units --type=timer --all --no-legend --plain | "
                            "while read timer rest; do systemctl show -P Triggers $timer; done", timeout=120)
    assert status == 0, out
    units = sorted(set(out.split()))
    for unit in units:
        # a unit that waits for the network gives up quickly without internet; three minutes bound a stuck one
        guest.run(f"timeout 180 systemctl start {unit}", timeout=240)
    return units


def configured_ntp_servers(guest: Guest) -> set[str]:
    """The NTP servers systemd-timesyncd is configured with (the admin's choice, the installer's default)."""
    out, status = guest.run("systemd-analyze cat-config systemd/timesyncd.conf | sed -n 's/^NTP=//p'")
    assert status == 0, out
    return {name.lower() for name in out.split()}


def test_image_boots_to_a_working_appliance(image):
    disk, facts = image
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    port, provision_port = free_port(), free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    forwards = {port: 443, provision_port: 8080}
    # written to a disk bigger than the image (2.4 GiB), as an installer does: the root file system must take it all;
    # a first boot under TCG takes minutes (growing ext4 online among them): the banner gets ten
    capture = ARTIFACTS / "bios-network.pcap"
    with Guest(disk, ARTIFACTS / "bios-console.log", firmware="bios", forwards=forwards, disk_gib=4,
               capture=capture) as guest:
        # the banner above the login prompt: URL and the first-boot passwords
        admin = guest.expect(r"First login on the web console: admin / (\S+)", 600).group(1)
        root = guest.expect(r"Technician login on this console: root / (\S+)", 30).group(1)
        guest.expect(r"Web console: https://[0-9.]+/|login: ", 60)
        to_login_prompt = guest.uptime()

        console_seconds = wait_for_console(port, 240)
        login_as_root(guest, root)
        out, status = guest.run("timeout 120 asterisk -rx 'core waitfullybooted'", timeout=150)
        assert status == 0 and "fully booted" in out, out
        for unit in LINEBOX_UNITS + ("asterisk.service",):
            # a unit still starting (TCG is slow) gets two minutes; its journal tells why it is not active
            out, _ = guest.run(f"timeout 120 sh -c 'until [ \"$(systemctl show -P ActiveState {unit})\" != "
                               f"activating ]; do sleep 2; done'; systemctl show -P ActiveState {unit}", timeout=150)
            journal = "" if out.strip() == "active" else guest.run(
                f"journalctl -b -u {unit} --no-pager -o cat -n 40 | cut -c1-200", timeout=60)[0]
            assert out.strip() == "active", f"{unit}: {out.strip()}\n{journal}"
        out, status = guest.run("findmnt -n -b -o SIZE /")
        assert status == 0 and int(out.split()[-1]) > 3.5 * 2**30, f"root file system not grown to the disk: {out}"
        # DAHDI's start-up runs only once a configuration exists (a site with ports or spans)
        out, _ = guest.run("systemctl show -P ActiveState,ConditionResult linebox-dahdi.service")
        assert out.split() in (["active", "yes"], ["inactive", "no"]), out
        out, status = guest.run("lsmod | grep -c '^dahdi' || modprobe -n -v dahdi")
        assert status == 0, f"no DAHDI kernel module for this kernel: {out}"
        ready = guest.uptime()

        response = console_login(port, admin)
        assert response.status_code == 200 and "/password" in response.url, (response.status_code, response.url)
        assert "new password" in response.text.lower()
        # gateways reach the provisioning server over plain HTTP through the firewall
        alive = requests.get(f"http://127.0.0.1:{provision_port}/-/alive", timeout=10)
        assert alive.status_code == 200, alive.status_code

        out, status = guest.run("linebox diag", timeout=120)
        (ARTIFACTS / "diag.txt").write_text(out)
        assert status in (0, 1), f"linebox diag reports a fault (exit {status}):\n{out}"
        assert "FAIL" not in out, out
        # the serial console is a terminal: diag colours its levels; what must fit is the visible text
        screen = re.sub(r"\x1b\[[0-9;]*m", "", out).rstrip("\n").splitlines()
        assert len(screen) <= 24 and max(map(len, screen)) <= 80, out
        assert not [line for line in screen if line.startswith("WARN Log")], out  # Asterisk started cleanly

        memory = {unit: service_memory(guest, unit) for unit in SERVICES_WITH_PROCESSES}
        out, _ = guest.run("systemd-analyze time; free -m | head -2")
        (ARTIFACTS / "boot-time.txt").write_text(out)
        fired = simulate_an_hour(guest)
        ntp_servers = configured_ntp_servers(guest)

    traffic = outbound(capture)
    (ARTIFACTS / "bios-network.txt").write_text(
        f"# units started by hand (a simulated hour of timers): {' '.join(fired)}\n"
        + "".join(f"{flow}: {count}\n" for flow, count in sorted(traffic.flows.items()))
        + "".join(f"DNS {name}\n" for name in sorted(traffic.dns_names)))
    assert traffic.flows, "the capture holds nothing from the guest: is the capture on the guest's network?"
    assert not traffic.unexpected(ntp_servers), (
        f"the box reached out beyond its configured NTP servers {sorted(ntp_servers)} during first boot and "
        f"the timers ({', '.join(fired)}): {traffic.unexpected(ntp_servers)}")

    record("boot_bios", {
        "to_login_prompt_seconds": round(to_login_prompt, 1),
        "web_console_answering_seconds": round(to_login_prompt + console_seconds, 1),
        "to_ready_seconds": round(ready, 1),
        "service_rss_mib": {unit: round(rss / 2**20, 1) for unit, (rss, _) in memory.items()},
        "linebox_services_rss_total_mib": round(sum(rss for rss, _ in memory.values()) / 2**20, 1),
        "service_pss_mib": {unit: round(pss / 2**20, 1) for unit, (_, pss) in memory.items()},
        "linebox_services_pss_total_mib": round(sum(pss for _, pss in memory.values()) / 2**20, 1),
        "accelerator": ACCELERATOR,
    })
    print(f"\nimage: {facts['disk_bytes'] / 2**20:.0f} MiB disk, login prompt at {to_login_prompt:.0f} s, ready at "
          f"{ready:.0f} s, Linebox services {sum(r for r, _ in memory.values()) / 2**20:.0f} MiB RSS, "
          f"{sum(p for _, p in memory.values()) / 2**20:.0f} MiB PSS")


def test_image_boots_on_uefi(image):
    disk, _ = image
    with Guest(disk, ARTIFACTS / "uefi-console.log", firmware="uefi") as guest:
        guest.expect(r"Technician login on this console: root / \S+", 600)
        guest.expect(r"login: ", 60)
        record("boot_uefi", {"to_login_prompt_seconds": round(guest.uptime(), 1), "accelerator": ACCELERATOR})
