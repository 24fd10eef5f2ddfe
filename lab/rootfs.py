"""Build and cache the lab's Debian forky root file system holding Debian's Asterisk 22.

Debian bookworm ships no Asterisk, and installing forky's packages onto
bookworm would replace libc; so the lab runs Asterisk from a separate forky
root file system entered with chroot.  Building it takes about a minute and
forky changes daily, so the tree is cached under a key derived from what
built it (suite + package list + this module's recipe version) and its
``dpkg -l`` is kept beside it: when a test that passed yesterday fails, the
package list shows what moved upstream.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUITE = "forky"
PACKAGES: tuple[str, ...] = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
    "sqlite3",
    "procps",
    # Ansible's chroot connection runs its modules with the target's python3 (apt needs python3-apt),
    # and enabling units offline needs systemctl: tests/ansible runs the roles against a copy of this tree.
    "python3",
    "python3-apt",
    "systemd",
)
RECIPE_VERSION = "1"
DEFAULT_CACHE = Path(os.environ.get("LINEBOX_LAB_CACHE", "/var/cache/linebox/lab"))


@dataclass(frozen=True)
class Recipe:
    """What decides a root file system's content: its folder prefix, Debian suite, packages and recipe version.

    The lab's tree (Asterisk under chroot) and the image's guest tree (kernel, DKMS-built DAHDI, bootable)
    are built by the same code from two recipes.
    """

    prefix: str
    suite: str
    packages: tuple[str, ...]
    version: str
    description: str = "about a minute"

    def key(self) -> str:
        recipe = "\n".join([self.suite, self.version, *sorted(self.packages)])
        return hashlib.sha256(recipe.encode()).hexdigest()[:16]

    def path(self, cache: Path) -> Path:
        return cache / f"{self.prefix}-{self.suite}-{self.key()}"


LAB = Recipe("rootfs", SUITE, PACKAGES, RECIPE_VERSION)


def cache_key() -> str:
    """Key the cached tree by everything that decides its content."""
    return LAB.key()


def rootfs_path(cache: Path = DEFAULT_CACHE) -> Path:
    return LAB.path(cache)


def is_built(cache: Path = DEFAULT_CACHE) -> bool:
    return (rootfs_path(cache) / ".linebox-complete").exists()


def build(cache: Path = DEFAULT_CACHE, log=print) -> Path:
    """Build the lab's root file system once; return its path."""
    return build_recipe(LAB, cache, log)


def build_recipe(recipe: Recipe, cache: Path, log=print) -> Path:
    """Build the root file system of ``recipe`` once; return its path.

    The tree is built in a temporary sibling folder and renamed into place
    only when complete, so an interrupted build never leaves a half tree
    that a later run would trust.
    """
    target = recipe.path(cache)
    if (target / ".linebox-complete").exists():
        return target
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap is not installed: run 'apt-get install mmdebstrap'")
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    log(f"building {recipe.suite} root file system {target.name} ({len(recipe.packages)} packages, "
        f"{recipe.description})")
    subprocess.run(
        [
            "mmdebstrap",
            "--variant=apt",
            "--aptopt=Acquire::Check-Valid-Until \"false\"",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            f"--include={','.join(recipe.packages)}",
            recipe.suite,
            str(partial),
        ],
        check=True,
    )
    listing = subprocess.run(
        ["chroot", str(partial), "dpkg-query", "-W", "-f", "${Package} ${Version}\n"],
        check=True, capture_output=True, text=True,
    ).stdout
    (cache / f"{target.name}.dpkg-list").write_text(listing)
    (partial / ".linebox-complete").write_text(listing)
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    log(f"root file system ready at {target}")
    return target


def package_version(rootfs: Path, package: str) -> str:
    """A Debian package's version in a built tree (from the list kept at build time), for reports."""
    for line in (rootfs / ".linebox-complete").read_text().splitlines():
        name, _, version = line.partition(" ")
        if name == package:
            return version
    return "unknown"


def asterisk_version(rootfs: Path) -> str:
    """Debian's packaged Asterisk version in the tree, for reports."""
    return package_version(rootfs, "asterisk")
