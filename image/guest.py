"""The guest's base root file system: everything a booted Linebox box runs, before Linebox itself.

One mmdebstrap tree, cached under ``/var/cache/linebox/image`` and keyed by its package list (as the
lab's tree is), holds Debian's kernel and headers, DAHDI with its modules built by DKMS for that kernel
inside the tree, Asterisk with chan_dahdi and libpri, GRUB's BIOS and UEFI images, and the packages the
Ansible roles install (so running them in the image build is quick and offline-safe).  Building it takes
about four minutes on two cores (most of it DKMS compiling DAHDI); the image and the virtual DAHDI lab
start from a copy of it.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.rootfs import SUITE, Recipe, build_recipe

PACKAGES: tuple[str, ...] = (
    # booting: kernel, initramfs, init, udev, mounts, bootloader images for both firmwares
    "systemd-sysv", "udev", "kmod", "mount", "util-linux", "e2fsprogs", "initramfs-tools",
    "linux-image-amd64", "linux-headers-amd64", "grub-pc-bin", "grub-efi-amd64-bin",
    # telephony: DAHDI tools and DKMS-built modules, Asterisk with chan_dahdi and libpri
    "dahdi", "dahdi-dkms", "asterisk", "asterisk-modules", "asterisk-dahdi", "libpri1.4",
    "asterisk-core-sounds-en-gsm", "asterisk-moh-opsound-gsm",
    # what the Ansible roles install (base, asterisk, dahdi, linebox) and run with
    "python3", "python3-apt", "python3-venv", "python3-systemd", "python3-packaging",
    "nftables", "systemd-timesyncd", "systemd-resolved", "openssh-server", "ca-certificates", "sqlite3",
    "espeak-ng", "sox",
    # a technician's basic tools on the serial console
    "procps", "iproute2", "iputils-ping", "less", "tcpdump", "sudo",
    # growing the root partition to the whole disk at the first boot (sfdisk)
    "fdisk",
)
RECIPE_VERSION = "1"
CACHE = Path(os.environ.get("LINEBOX_IMAGE_CACHE", "/var/cache/linebox/image"))
GUEST = Recipe("guest", SUITE, PACKAGES, RECIPE_VERSION, description="about four minutes: DKMS builds DAHDI")


def build(cache: Path = CACHE, log=print) -> Path:
    """The cached guest tree (built on first use)."""
    return build_recipe(GUEST, cache, log)


def kernel_files(tree: Path) -> tuple[Path, Path, str]:
    """(vmlinuz, initrd.img, kernel release) of the tree's single installed kernel."""
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise RuntimeError(f"expected one kernel in {tree}/boot, found {[k.name for k in kernels]}")
    release = kernels[0].name.removeprefix("vmlinuz-")
    initrd = tree / "boot" / f"initrd.img-{release}"
    if not initrd.exists():
        raise RuntimeError(f"no initramfs for kernel {release} in {tree}/boot")
    return kernels[0], initrd, release


def dahdi_modules(tree: Path, release: str) -> list[str]:
    """Names of the kernel modules DKMS built for ``release`` (DAHDI's core and card drivers; empty: DKMS failed)."""
    root = tree / "lib/modules" / release / "updates" / "dkms"
    return sorted(p.name.split(".ko")[0] for p in root.rglob("*.ko*"))
