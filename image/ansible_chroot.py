"""Run Linebox's Ansible roles against a root file system tree through Ansible's chroot connection.

Used by the image build (the roles are the single description of an installed system, DESIGN.md) and by
the playbook test.  ``ansible-playbook`` runs inside a private mount namespace (``unshare --mount``) in
which the tree's ``/dev`` and ``/proc`` are mounted, so nothing stays mounted on the host whatever happens.
apt's downloads and pip's cache are kept between runs in ``/var/cache/linebox/ansible-test-cache``
(bind-mounted into the tree), so only a cold machine downloads them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANSIBLE = ROOT / "ansible"
CACHE = Path(os.environ.get("LINEBOX_ANSIBLE_TEST_CACHE", "/var/cache/linebox/ansible-test-cache"))
BIN = Path(sys.executable).parent

# Run a command inside a private mount namespace with the target's /dev and /proc mounted; the
# mounts vanish with the namespace.  $1: target root, $2: apt archive cache, $3: pip cache, then the command.
NAMESPACE_SCRIPT = r"""
set -eu
target=$1; apt_cache=$2; pip_cache=$3; shift 3
mount --rbind /dev "$target/dev"
mount -t proc proc "$target/proc"
mkdir -p "$target/var/cache/apt/archives" "$target/root/.cache/pip"
mount --bind "$apt_cache" "$target/var/cache/apt/archives"
mount --bind "$pip_cache" "$target/root/.cache/pip"
# the CAs this machine trusts (a TLS-inspecting proxy's too), for the target's pip: see linebox_pip_environment
cp /etc/ssl/certs/ca-certificates.crt "$target/tmp/controller-ca.crt"
exec "$@"
"""


def in_namespace(target: Path, command: list[str], **kwargs) -> subprocess.CompletedProcess:
    for sub in ("apt", "pip"):
        (CACHE / sub).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", NAMESPACE_SCRIPT, "sh", str(target),
         str(CACHE / "apt"), str(CACHE / "pip"), *command], **kwargs)


def source_files() -> list[str]:
    """The work tree as it is: tracked and new (not ignored) files."""
    files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    return [name for name in files if name and (ROOT / name).is_file()]


def build_wheel(out: Path) -> Path:
    """A wheel of the work tree as it is, built outside the work tree (reproducibly)."""
    src = out / "src"
    for name in source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out / "dist"), str(src)],
                   check=True, capture_output=True, env={**os.environ, "SOURCE_DATE_EPOCH": "315532800"})
    return next((out / "dist").glob("linebox-*.whl"))


def write_inventory(path: Path, root: Path, variables: dict) -> Path:
    """An inventory (JSON is YAML) with one host, the tree, reached through the chroot connection."""
    path.write_text(json.dumps({"linebox": {"hosts": {"target": {
        "ansible_connection": "community.general.chroot", "ansible_host": str(root),
        "ansible_python_interpreter": "/usr/bin/python3",
        "linebox_pip_environment": {"SSL_CERT_FILE": "/tmp/controller-ca.crt"},
        **variables,
    }}}}))
    return path


def run_playbook(target: Path, inventory: Path, log: Path, timeout: float = 900) -> tuple[str, dict[str, int]]:
    """Run site.yml; return its output and the recap's counts.  Raises with the output's tail on failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}  # chroot passes env through
    env = {**env, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_HOME": str(log.parent / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(log.parent / "ansible-tmp"),
           "PATH": f"{BIN}:{os.environ['PATH']}"}
    result = in_namespace(target, [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ANSIBLE / "site.yml")],
                          cwd=ANSIBLE, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    log.write_text(output)
    if result.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed ({log}):\n{output[-6000:]}")
    recap = re.search(r"^target\s*:\s*(.*)$", output, re.MULTILINE)
    if not recap:
        raise RuntimeError(f"no play recap in ansible-playbook's output ({log}):\n{output[-3000:]}")
    return output, {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}


def changed_tasks(output: str) -> list[str]:
    tasks, current = [], None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            current = line
        elif line.startswith("changed:") and current:
            tasks.append(current)
    return tasks
