"""Apply with DAHDI: its files staged and swapped with Asterisk's, dahdi_cfg run, and all rolled back together.

``dahdi_cfg`` is a small script standing in for the real tool (there is no DAHDI kernel on a build
machine): it records how it was called and what system.conf said, and refuses on demand, as the real
one refuses a file its kernel cannot take.  The virtual DAHDI lab runs the real one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from appliance.provisioning import apply
from appliance.site import service

U = "test"
FAKE_DAHDI_CFG = """#!/bin/sh
# args: -c FILE
echo "$*" >> "{log}"
cat "$2" > "{seen}.$(wc -l < "{log}")"
if [ -e "{refuse}" ]; then echo "DAHDI_CHANCONFIG failed on channel 2: Invalid argument" >&2; exit 1; fi
exit 0
"""


@pytest.fixture
def dahdi(install, tmp_path):
    """A target whose DAHDI root, modprobe.d and dahdi_cfg are all under tmp_path."""
    script = tmp_path / "dahdi_cfg"
    paths = {"log": tmp_path / "dahdi_cfg.log", "seen": tmp_path / "seen", "refuse": tmp_path / "refuse"}
    script.write_text(FAKE_DAHDI_CFG.format(**paths))
    script.chmod(0o755)
    target = apply.Target(config_root=install.config_root, dahdi_root=tmp_path / "etc" / "dahdi",
                          modprobe_dir=tmp_path / "etc" / "modprobe.d", dahdi_cfg=(str(script),))
    return target, paths


def run(install, target) -> apply.ApplyResult:
    return apply.apply(service.snapshot(), install.facts(), target, user=U)


def step_names(result) -> list[str]:
    return [s.name for s in result.steps]


def _with_fxs() -> None:
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100"}, U, create=True)


def test_a_site_without_ports_leaves_dahdi_alone(install, dahdi):
    target, paths = dahdi
    result = run(install, target)
    assert result.ok
    assert not any(s.name.startswith("dahdi") for s in result.steps)
    assert not target.dahdi_root.exists() and not paths["log"].exists()
    assert "chan_dahdi.conf" in result.changed  # kept in the generation all the same (empty)
    assert "noload => chan_dahdi.so" in (target.live_link / "modules.conf").read_text()


def test_removing_the_last_port_says_what_happens_to_dahdi(install, dahdi):
    target, paths = dahdi
    _with_fxs()
    assert run(install, target).ok
    service.delete_object("analog_port", "1", U)
    result = run(install, target)
    assert result.ok
    [step] = [s for s in result.steps if s.name == "dahdi"]
    assert step.detail.startswith("no analog ports or spans any more: dahdi_cfg not run")
    assert len(paths["log"].read_text().splitlines()) == 1
    assert "fxoks=1" not in (target.dahdi_root / "system.conf").read_text()


def test_dahdi_files_are_linked_to_the_live_generation_and_dahdi_cfg_runs(install, dahdi):
    target, paths = dahdi
    (target.dahdi_root).mkdir(parents=True)
    (target.dahdi_root / "system.conf").write_text("# the package's sample\n")
    _with_fxs()
    result = run(install, target)
    assert result.ok, result.error
    assert step_names(result)[-3:] == ["dahdi: link files", "dahdi_cfg", "reload"]
    system = target.dahdi_root / "system.conf"
    assert system.is_symlink() and "fxoks=1" in system.read_text()
    assert (target.dahdi_root / "system.conf.linebox-orig").read_text() == "# the package's sample\n"
    for name in ("assigned-spans.conf", "modules"):
        assert (target.dahdi_root / name).resolve().parent == (target.live_link / "dahdi").resolve()
    modprobe = target.modprobe_dir / "linebox-dahdi.conf"
    assert "options dahdi auto_assign_spans=1" in modprobe.read_text()
    assert paths["log"].read_text() == f"-c {target.live_link / 'dahdi' / 'system.conf'}\n"
    assert "fxoks=1" in Path(f"{paths['seen']}.1").read_text()
    assert "signalling = fxo_ks" in (target.live_link / "chan_dahdi.conf").read_text()


def test_dahdi_cfg_refusing_puts_everything_back(install, dahdi):
    target, paths = dahdi
    _with_fxs()
    first = run(install, target)
    assert first.ok
    service.save_object("dahdi_trunk", {"name": "pstn", "group": 1}, U, create=True)
    service.save_object("analog_port", {"channel": 2, "kind": "fxo", "trunk": "pstn"}, U, create=True)
    paths["refuse"].touch()
    result = run(install, target)
    assert not result.ok and result.rolled_back
    assert result.error == ("dahdi_cfg: dahdi_cfg refused system.conf (exit 1): "
                            "DAHDI_CHANCONFIG failed on channel 2: Invalid argument")
    assert target.live_generation().name == first.generation
    system = (target.dahdi_root / "system.conf").read_text()
    assert "fxoks=1" in system and "fxsks=2" not in system  # DAHDI's file is the previous one again
    assert "fxs_ks" not in (target.live_link / "chan_dahdi.conf").read_text()
    assert "rollback: dahdi_cfg" in step_names(result)  # the previous configuration was loaded again
    assert len(paths["log"].read_text().splitlines()) == 3
    assert (target.generations_dir / result.generation / "FAILED").exists()


def test_a_failed_first_apply_leaves_nothing_live(install, dahdi):
    target, paths = dahdi
    paths["refuse"].touch()
    _with_fxs()
    result = run(install, target)
    assert not result.ok and result.error.startswith("dahdi_cfg: dahdi_cfg refused system.conf")
    assert target.live_generation() is None
    assert not os.path.exists(target.dahdi_root / "system.conf")  # a dangling link, not a configuration


def test_dahdi_cfg_missing_is_a_clear_failure(install, dahdi, tmp_path):
    target, _ = dahdi
    target.dahdi_cfg = (str(tmp_path / "no-such-dahdi_cfg"),)
    _with_fxs()
    result = run(install, target)
    assert not result.ok and result.error.startswith("dahdi_cfg: ")
    assert "No such file or directory" in result.error


def test_unchanged_dahdi_files_do_not_run_dahdi_cfg_again(install, dahdi):
    target, paths = dahdi
    _with_fxs()
    assert run(install, target).ok
    service.save_object("extension", {"number": "101", "name": "Other"}, U, create=True)
    result = run(install, target)
    assert result.ok and "dahdi_cfg" not in step_names(result)
    assert len(paths["log"].read_text().splitlines()) == 1


def test_without_a_dahdi_cfg_command_the_files_are_still_swapped(install, dahdi):
    target, paths = dahdi
    target.dahdi_cfg = None
    _with_fxs()
    result = run(install, target)
    assert result.ok
    assert [s.detail for s in result.steps if s.name == "dahdi_cfg"] == ["DAHDI not managed here: dahdi_cfg not run"]
    assert "fxoks=1" in (target.dahdi_root / "system.conf").read_text()


class ScriptedAmi:
    """Answers the CLI commands apply sends, as an Asterisk with or without chan_dahdi loaded would."""

    def __init__(self, chan_dahdi_loaded: bool):
        self.loaded = chan_dahdi_loaded
        self.sent: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def command(self, text: str) -> str:
        self.sent.append(text)
        if text == "module show like chan_dahdi":
            return ("Module  Description  Use Count  Status  Support Level\n"
                    + ("chan_dahdi.so  DAHDI Telephony  0  Running  core\n1 modules loaded" if self.loaded
                       else "0 modules loaded"))
        if text.startswith("pjsip show endpoint "):
            return f" Endpoint:  {text.split()[-1]}/100   Not in use    0 of inf\n"
        listed = re.fullmatch(r"pjsip list (endpoint|auth|aor)s like \^\((.*)\)\$", text)
        if listed:  # verify's look-up of the objects the apply changed: all of them loaded
            kind = listed.group(1).capitalize()
            names = listed.group(2).replace("\\", "").split("|")  # verify escapes ERE characters
            return "".join(f" {kind}:  {name}\n" for name in names)
        return ""

    def action(self, name: str, **headers: str) -> ScriptedResponse:
        """AMI's ModuleLoad (apply loads a module with it: AMI refuses "module load" as a command)."""
        assert (name, headers.get("LoadType")) == ("ModuleLoad", "load"), (name, headers)
        self.sent.append(f"module load {headers['Module']}")
        self.loaded = True
        return ScriptedResponse({"Response": "Success", "Message": "Module was loaded."})


class ScriptedResponse:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def get_header(self, name: str) -> str | None:
        return self.headers.get(name)


@pytest.mark.parametrize(("loaded", "expected"), [(False, "module load chan_dahdi.so"), (True, "dahdi restart")])
def test_chan_dahdi_is_loaded_or_restarted_after_dahdi_cfg(install, dahdi, loaded, expected):
    target, _ = dahdi
    ami = ScriptedAmi(loaded)
    target.connect = target.connect_module_loader = lambda: ami
    _with_fxs()
    result = run(install, target)
    assert result.ok, result.error
    assert expected in ami.sent and f"reload: {expected}" in step_names(result)
    assert step_names(result).index("dahdi_cfg") < step_names(result).index(f"reload: {expected}")
