"""DAHDI on the appliance: apply (unprivileged) asks the root reload service to run dahdi_cfg.

The root side here is the real script Ansible installs (``roles/dahdi/files/linebox-dahdi-reload``), run
as a subprocess; a small watcher thread stands in for ``linebox-dahdi-reload.path`` (it starts the
script whenever a ``request.*`` file exists, as ``PathExistsGlob=`` does), and ``dahdi_cfg`` is the fake
of test_apply.  What only a real box can show (systemd starting the units, the sandbox, DAHDI's kernel
taking the file) is the virtual DAHDI lab's part: see image/virtual_dahdi.py (``APPLIANCE_STEPS``).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from appliance.install import Install
from appliance.provisioning import apply, dahdi, dahdi_reload
from appliance.services import system
from appliance.site import service
from tests.dahdi.test_apply import FAKE_DAHDI_CFG, _with_fxs, step_names

SCRIPT = Path(__file__).resolve().parents[2] / "ansible/roles/dahdi/files/linebox-dahdi-reload"
U = "test"


class RootSide:
    """The reload script, started by a watcher thread whenever a request exists (the path unit's job)."""

    def __init__(self, tmp: Path, system_conf: Path):
        self.requests, self.answers = tmp / "run-linebox-dahdi", tmp / "run-linebox-dahdi-reload"
        self.requests.mkdir()
        self.answers.mkdir()
        self.ctl = tmp / "dev-dahdi-ctl"
        self.ctl.touch()
        self.devices = tmp / "sys-bus-dahdi_devices-devices"
        self.devices.mkdir()
        self.dahdi_cfg = tmp / "dahdi_cfg"
        self.paths = {"log": tmp / "dahdi_cfg.log", "seen": tmp / "seen", "refuse": tmp / "refuse"}
        self.dahdi_cfg.write_text(FAKE_DAHDI_CFG.format(**self.paths))
        self.dahdi_cfg.chmod(0o755)
        self.env = {**os.environ, "LINEBOX_DAHDI_REQUESTS": str(self.requests),
                    "LINEBOX_DAHDI_ANSWERS": str(self.answers), "LINEBOX_DAHDI_SYSTEM_CONF": str(system_conf),
                    "LINEBOX_DAHDI_CTL": str(self.ctl), "LINEBOX_DAHDI_CFG": str(self.dahdi_cfg),
                    "LINEBOX_DAHDI_DEVICES": str(self.devices)}
        self.runs: list[str] = []
        self._ran = threading.Condition()
        self.watching = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def service(self) -> dahdi_reload.Service:
        return dahdi_reload.Service(self.requests, self.answers / "status", pickup_timeout=2, answer_timeout=5)

    def run_once(self) -> str:
        done = subprocess.run([str(SCRIPT)], env=self.env, capture_output=True, text=True, timeout=30, check=True)
        with self._ran:
            self.runs.append(done.stdout)
            self._ran.notify_all()
        return done.stdout

    def finished_runs(self, count: int = 1, timeout: float = 30) -> list[str]:
        """The output of the first ``count`` runs of the script, once they have ended: the answer a request
        waits for is written before the script exits, so its output may not be in yet when the answer is."""
        with self._ran:
            assert self._ran.wait_for(lambda: len(self.runs) >= count, timeout), f"{len(self.runs)} run(s) ended"
            return list(self.runs)

    def watch(self) -> RootSide:
        def loop():
            while not self._stop.is_set():
                if any(self.requests.glob("request.*")):
                    self.run_once()
                time.sleep(0.02)
        self.watching = True
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def dahdi_cfg_calls(self) -> list[str]:
        return self.paths["log"].read_text().splitlines() if self.paths["log"].exists() else []


@pytest.fixture
def root_side(tmp_path):
    system_conf = tmp_path / "system.conf"
    system_conf.write_text("fxoks=1\n")
    side = RootSide(tmp_path, system_conf)
    yield side
    side.stop()


# --- the protocol ------------------------------------------------------------------------------


def test_a_request_is_taken_and_answered_with_dahdi_cfgs_result(root_side):
    root_side.watch()
    answer = dahdi_reload.request(root_side.service)
    assert answer.status == 0 and len(answer.requests) == 1 and answer.finished.endswith("Z")
    assert root_side.dahdi_cfg_calls() == [f"-c {root_side.env['LINEBOX_DAHDI_SYSTEM_CONF']}"]
    assert not list(root_side.requests.iterdir())  # taken
    assert "exit 0" in root_side.finished_runs()[0]  # what the journal shows
    status = root_side.answers / "status"
    assert oct(status.stat().st_mode & 0o777) == "0o644" and not list(root_side.answers.glob(".*"))


DYNAMIC_CONF = "dynamic=loc,1:0,24,0\ndynamic=loc,1:1,24,0\nspan=1,1,0,esf,b8zs\nbchan=1-23\n"


def test_existing_dynamic_spans_are_not_created_again(root_side):
    """A reload keeps the dynamic spans the boot made (creating them again fails: "File exists") and
    configures the rest; with another number of dynamic spans the file goes to dahdi_cfg as written."""
    system_conf = Path(root_side.env["LINEBOX_DAHDI_SYSTEM_CONF"])
    system_conf.write_text(DYNAMIC_CONF)
    for name in ("dynamic:loc:0", "dynamic:loc:1"):
        (root_side.devices / name).mkdir()
    root_side.run_once()
    seen = Path(f"{root_side.paths['seen']}.1").read_text()
    assert "dynamic=" not in seen and "span=1,1,0,esf,b8zs" in seen and "bchan=1-23" in seen
    assert not list(root_side.answers.glob(".*"))  # the trimmed copy is removed

    (root_side.devices / "dynamic:loc:1").rmdir()
    root_side.run_once()
    assert Path(f"{root_side.paths['seen']}.2").read_text() == DYNAMIC_CONF
    assert root_side.dahdi_cfg_calls()[1] == f"-c {system_conf}"


def test_dahdi_cfg_refusing_comes_back_in_its_own_words(root_side):
    root_side.paths["refuse"].touch()
    root_side.watch()
    with pytest.raises(dahdi_reload.Refused) as refused:
        dahdi_reload.request(root_side.service)
    assert refused.value.status == 1
    assert refused.value.said == ["DAHDI_CHANCONFIG failed on channel 2: Invalid argument"]


def test_nobody_watching_is_a_clear_bounded_failure_and_the_request_is_withdrawn(root_side):
    service = root_side.service
    service.pickup_timeout = 0.3
    start = time.monotonic()
    with pytest.raises(dahdi_reload.ReloadError) as error:
        dahdi_reload.request(service)
    assert time.monotonic() - start < 2
    assert str(error.value).startswith("DAHDI reload service did not answer: is linebox-dahdi-reload.path active?")
    assert not error.value.taken
    assert not list(root_side.requests.iterdir())  # no stray dahdi_cfg when the unit comes back


def test_a_request_taken_and_never_answered_points_at_the_journal(root_side):
    service = root_side.service
    service.answer_timeout = 0.3

    def take_and_hang():
        while not any(root_side.requests.glob("request.*")):
            time.sleep(0.01)
        for request in root_side.requests.glob("request.*"):
            request.unlink()
    thief = threading.Thread(target=take_and_hang, daemon=True)
    thief.start()
    with pytest.raises(dahdi_reload.ReloadError) as error:
        dahdi_reload.request(service)
    thief.join(5)
    assert error.value.taken
    assert "took the request but gave no answer" in str(error.value)
    assert "journalctl -u linebox-dahdi-reload.service" in str(error.value)


def test_no_request_folder_says_what_to_install(tmp_path):
    service = dahdi_reload.Service(tmp_path / "missing", tmp_path / "status")
    with pytest.raises(dahdi_reload.ReloadError, match=r"cannot leave a DAHDI reload request in .*roles/dahdi"):
        dahdi_reload.request(service)


def test_an_older_answer_is_not_taken_for_ours(root_side):
    (root_side.answers / "status").write_text("requests: 1-aaaa\nexit: 0\nfinished: x\n\n")
    service = root_side.service
    service.pickup_timeout = 0.2
    with pytest.raises(dahdi_reload.ReloadError):
        dahdi_reload.request(service)


def test_the_root_side_never_reads_what_the_user_wrote(root_side, tmp_path):
    """A request is only a name: a link to a secret, or a name with odd characters, is removed unread."""
    secret = tmp_path / "secret"
    secret.write_text("root:$6$hash\n")
    (root_side.requests / "request.evil").symlink_to(secret)
    (root_side.requests / "request.a b;rm").write_text("")
    (root_side.requests / "request.ok-1").write_text("")
    root_side.run_once()
    status = (root_side.answers / "status").read_text()
    assert status.startswith("requests: evil ok-1\nexit: 0\n")
    assert "hash" not in status and secret.read_text() == "root:$6$hash\n"
    assert not list(root_side.requests.iterdir())


def test_dahdi_not_loaded_is_said(root_side):
    root_side.ctl.unlink()
    (root_side.requests / "request.x").write_text("")
    root_side.run_once()
    answer = dahdi_reload.parse_status((root_side.answers / "status").read_text())
    assert answer.status == 3 and "DAHDI is not loaded" in answer.said[0] and not root_side.dahdi_cfg_calls()


# --- apply on an appliance-like install -----------------------------------------------------------


@pytest.fixture
def appliance(tmp_path, root_side):
    """An install set up like the appliance's: links made beforehand (as Ansible does), dahdi_cfg by request."""
    home = tmp_path / "home"
    install = Install.create(home, manage_asterisk=False, dahdi_root=tmp_path / "etc" / "dahdi",
                             modprobe_dir=tmp_path / "etc" / "modprobe.d", dahdi_cfg_via="service",
                             dahdi_requests_dir=root_side.requests, dahdi_status_file=root_side.answers / "status")
    install = Install.load(home)
    target = install.target()
    assert target.dahdi_cfg is None and target.dahdi_link is False and target.dahdi_service is not None
    target.dahdi_service.pickup_timeout, target.dahdi_service.answer_timeout = 2, 5
    for path, wanted in dahdi.dahdi_links(target, {name: "" for name in
                                                   ("dahdi/system.conf", "dahdi/assigned-spans.conf", "dahdi/modules",
                                                    "modprobe.d/linebox-dahdi.conf")}):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(wanted)
    # the root side reads DAHDI's file through the link, as on the box
    root_side.env["LINEBOX_DAHDI_SYSTEM_CONF"] = str(target.dahdi_root / "system.conf")
    install.open()
    yield install, target
    from appliance.model.database import close_database
    close_database()


def _etc_state(target) -> dict[str, str]:
    return {str(p): os.readlink(p) for p in sorted(target.dahdi_root.parent.rglob("*")) if p.is_symlink()}


def test_apply_asks_the_root_service_and_never_writes_etc(appliance, root_side):
    install, target = appliance
    root_side.watch()
    before = _etc_state(target)
    _with_fxs()
    result = apply.apply(service.snapshot(), install.facts(), target, user=U)
    assert result.ok, result.error
    steps = {s.name: s.detail for s in result.steps}
    assert steps["dahdi: link files"] == "already linked to the live generation"
    assert steps["dahdi_cfg"].startswith("linebox-dahdi-reload.service: dahdi_cfg -c /etc/dahdi/system.conf: ok")
    assert _etc_state(target) == before
    assert "fxoks=1" in Path(f"{root_side.paths['seen']}.1").read_text()  # the live generation, read via /etc


def test_refused_on_the_appliance_rolls_back_through_the_same_path(appliance, root_side):
    install, target = appliance
    root_side.watch()
    _with_fxs()
    first = apply.apply(service.snapshot(), install.facts(), target, user=U)
    assert first.ok, first.error
    service.save_object("dahdi_trunk", {"name": "pstn", "group": 1}, U, create=True)
    service.save_object("analog_port", {"channel": 2, "kind": "fxo", "trunk": "pstn"}, U, create=True)
    root_side.paths["refuse"].touch()
    result = apply.apply(service.snapshot(), install.facts(), target, user=U)
    assert not result.ok and result.rolled_back
    assert result.error == ("dahdi_cfg: dahdi_cfg refused system.conf (exit 1): "
                            "DAHDI_CHANCONFIG failed on channel 2: Invalid argument")
    assert target.live_generation().name == first.generation
    assert "rollback: dahdi_cfg" in step_names(result)
    assert len(root_side.dahdi_cfg_calls()) == 3  # first apply, refused apply, rollback
    assert "fxsks=2" not in Path(f"{root_side.paths['seen']}.3").read_text()  # the old files again


def test_reload_service_not_running_rolls_back_without_asking_again(appliance, root_side):
    install, target = appliance
    target.dahdi_service.pickup_timeout = 0.3
    _with_fxs()
    result = apply.apply(service.snapshot(), install.facts(), target, user=U)
    assert not result.ok
    assert result.error.startswith("dahdi_cfg: DAHDI reload service did not answer: "
                                   "is linebox-dahdi-reload.path active?")
    assert target.live_generation() is None  # a first apply: nothing live


def test_a_wrong_link_is_reported_not_fixed(appliance, root_side):
    install, target = appliance
    root_side.watch()
    system_conf = target.dahdi_root / "system.conf"
    system_conf.unlink()
    system_conf.write_text("# someone's own file\n")
    _with_fxs()
    result = apply.apply(service.snapshot(), install.facts(), target, user=U)
    assert not result.ok
    assert result.error.startswith(f"dahdi: link files: DAHDI would not read Linebox's files: {system_conf} is a file, "
                                   f"not a link to {target.live_link}/...")
    assert "roles/dahdi" in result.error
    assert system_conf.read_text() == "# someone's own file\n"  # left as found
    assert not root_side.dahdi_cfg_calls()


def test_the_lab_path_still_links_itself_and_runs_dahdi_cfg(install, tmp_path):
    """dahdi_cfg_via "direct" (the default: make run, the lab) keeps apply making its own links."""
    target = install.target()
    assert target.dahdi_link and target.dahdi_service is None
    install.dahdi_cfg_via = "nonsense"
    with pytest.raises(ValueError, match="dahdi_cfg_via must be"):
        install.save() or Install.load(install.home)


def test_init_system_puts_the_appliance_on_the_reload_service(tmp_path):
    home = tmp_path / "home"
    Install.create(home)  # an install made before dahdi_cfg_via existed: direct
    lines: list[str] = []
    system.init_system(home, user=None, asterisk_group=None, password_file=tmp_path / "pw", say=lines.append)
    assert Install.load(home).dahdi_cfg_via == "service"
    assert any("linebox-dahdi-reload.path" in line for line in lines)
    again: list[str] = []
    system.init_system(home, user=None, asterisk_group=None, password_file=tmp_path / "pw", say=again.append)
    assert again == [f"nothing to do: {home} is initialised"]


def test_ansibles_links_are_the_ones_apply_checks(tmp_path):
    """roles/dahdi makes exactly the links apply expects on the system install (through its live link)."""
    import yaml

    from appliance.services.system import SYSTEM_HOME
    from hardware.dahdi_config import DAHDI_FILES

    role = yaml.safe_load((SCRIPT.parents[1] / "vars/main.yml").read_text())["linebox_dahdi_links"]
    target = apply.Target(config_root=SYSTEM_HOME / "asterisk", dahdi_root=Path("/etc/dahdi"),
                          modprobe_dir=Path("/etc/modprobe.d"))
    expected = dahdi.dahdi_links(target, {name: "" for name in DAHDI_FILES})
    assert sorted((Path(link["path"]), Path(link["src"])) for link in role) == sorted(expected)


def test_the_virtual_dahdi_lab_lays_dahdi_out_as_the_appliance_has_it(tmp_path):
    """What the qemu lab boots on (run by the lead): links through live, the reload units, a refused generation."""
    from image import virtual_dahdi

    tree = tmp_path / "tree"
    virtual_dahdi.install_appliance_dahdi(tree, virtual_dahdi.render_lab_files())
    system_conf = tree / "etc/dahdi/system.conf"
    assert os.readlink(system_conf) == "/var/lib/linebox/asterisk/live/dahdi/system.conf"
    live = tree / "var/lib/linebox/asterisk/live"
    assert os.readlink(live) == "generations/000001"
    assert "dynamic=loc,1:0,24,0" in (live / "dahdi/system.conf").read_text()
    refused = (tree / "var/lib/linebox/asterisk/generations/000002/dahdi/system.conf").read_text()
    assert refused.endswith(virtual_dahdi.REFUSED_LINE)
    for unit in ("linebox-dahdi.service", "linebox-dahdi-reload.service", "linebox-dahdi-reload.path"):
        assert (tree / "etc/systemd/system" / unit).is_file()
    assert os.access(tree / "usr/local/sbin/linebox-dahdi-reload", os.X_OK)
    client = tree / virtual_dahdi.LAB_CLIENT_DIR / "dahdi_reload.py"
    code = f"import sys; sys.path.insert(0, {str(client.parent)!r}); import dahdi_reload as r; print(r.NOT_ANSWERED)"
    done = subprocess.run(["python3", "-I", "-c", code], capture_output=True, text=True)
    assert "linebox-dahdi-reload.path" in done.stdout, done.stderr  # standard library only
