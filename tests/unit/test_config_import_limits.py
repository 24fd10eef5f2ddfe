"""``linebox config import`` of a file that is not what it should be: another encoding, binary data, a YAML
alias bomb, a huge file.  Each is refused with a clear message and the stored site is left as it was.

The command runs in a child process under a memory limit (``RLIMIT_AS``) and a timeout, as a user runs it:
a regression cannot eat the machine's memory, it fails the test.
"""

from __future__ import annotations

import codecs
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import config_file
from appliance.site import service
from tests.conftest import REFERENCE_SITE

REFERENCE = REFERENCE_SITE.read_text(encoding="utf-8")
MEMORY_LIMIT = 1536 * 1024 * 1024  # the CLI with its imports takes about 150 MiB; a 10,000-extension file, 500 MiB
ROOT = Path(__file__).resolve().parents[2]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_import(install, path: Path, *options: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``linebox config import PATH`` in a child process bounded in memory and time."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "appliance.cli", "--home", str(install.home), "config", "import", str(path),
             *options],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout, preexec_fn=_limit_memory,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"linebox config import {path.name} did not finish in {timeout} s")


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr, result.stderr
    assert "nothing was stored" in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def stored(install):
    """An install holding the reference site; yields a function returning the stored site's export."""
    config_file.import_text(REFERENCE, "alice")
    before = config_file.export_text()
    yield config_file.export_text
    assert config_file.export_text() == before, "a refused import changed the stored site"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_utf16_or_utf32_file_is_refused_saying_its_encoding(install, stored, encoding, tmp_path):
    path = tmp_path / "site.yaml"
    path.write_bytes(REFERENCE.encode(encoding))
    result = run_import(install, path)
    assert_refused(result, "UTF-8")
    expected = "UTF-32" if encoding == "utf-32" else "UTF-16" if encoding == "utf-16" else "NUL"
    assert expected in result.stderr


def test_a_binary_file_is_refused_naming_the_byte_its_offset_and_line(install, stored, tmp_path):
    text = REFERENCE.encode()
    line = REFERENCE[:400].count("\n") + 1
    path = tmp_path / "site.yaml"
    path.write_bytes(text[:400] + b"\xff\xfe\x00\x89PNG" + text[400:])
    result = run_import(install, path)
    assert_refused(result, "not UTF-8", "0xff", "offset 400", f"line {line}")


def test_a_gzip_file_is_refused_as_not_text(install, stored, tmp_path):
    import gzip
    path = tmp_path / "site.yaml.gz"
    path.write_bytes(gzip.compress(REFERENCE.encode()))
    assert_refused(run_import(install, path), "not UTF-8", "offset 1", "line 1")


def test_utf8_with_or_without_a_bom_imports(install, tmp_path):
    for name, data in (("plain.yaml", REFERENCE.encode()), ("bom.yaml", codecs.BOM_UTF8 + REFERENCE.encode())):
        path = tmp_path / name
        path.write_bytes(data.replace(b"name: Reception", b"name: " + name.encode()[:4] + b"Reception"))
        result = run_import(install, path)
        assert result.returncode == 0, result.stderr
    assert service.get_object("extension", "100").name == "bom.Reception"  # the BOM is not part of the text


BOMB = """\
linebox: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize("section", ["top", "contacts"])
def test_a_yaml_alias_bomb_is_refused_in_bounded_memory_and_time(install, stored, tmp_path, section):
    """The 306-byte "billion laughs": PyYAML shares the aliased nodes, but walking them expands 9**9 values."""
    text = BOMB if section == "top" else BOMB + "contacts: *i\n"  # as a list the import validates
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert len(text) < 400
    result = run_import(install, path, timeout=60)
    assert_refused(result, "alias", "line ")


def test_a_self_referencing_alias_is_refused(install, stored, tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("linebox: 1\ncontacts: &a\n- name: x\n  numbers: *a\n")
    assert_refused(run_import(install, path, timeout=60), "alias (*name) to itself", "line 2")


def test_a_few_aliases_for_shared_values_still_import(install, tmp_path):
    """A hand-written file may share a block through an anchor: bounded expansion, not a ban."""
    text = ("linebox: 1\nextensions:\n- number: '201'\n  name: Agent Fang\n  options: &opts {}\n"
            "- number: '202'\n  name: Agent Li\n  options: *opts\n")
    path = tmp_path / "shared.yaml"
    path.write_text(text)
    result = run_import(install, path)
    assert result.returncode == 0, result.stderr
    assert [e.number for e in service.list_objects("extension")] == ["201", "202"]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(install, stored, tmp_path):
    path = tmp_path / "huge.yaml"
    entry = b"- number: '1000'\n  name: Agent\n"
    with open(path, "wb") as out:
        out.write(b"linebox: 1\nextensions:\n")
        out.write(entry * (config_file.MAX_FILE_BYTES // len(entry) + 1))
    result = run_import(install, path, timeout=60)
    megabytes = config_file.MAX_FILE_BYTES // (1024 * 1024)
    assert_refused(result, "too large", f"{megabytes} MiB")


def test_deeply_nested_yaml_is_refused_not_a_recursion_traceback(install, stored, tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("linebox: 1\ncontacts: " + "[" * 20000 + "]" * 20000 + "\n")
    assert_refused(run_import(install, path, timeout=60), "nested", "line 2")
