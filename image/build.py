"""``make image``: the bootable Linebox disk image, built from the guest tree with the same Ansible roles.

Steps (each timed; the figures go to ``benchmarks/results/image.json``):

1. the guest tree (:mod:`image.guest`: kernel, DKMS-built DAHDI, Asterisk; cached by package list);
2. a copy of it, into which ``ansible/site.yml`` installs Linebox through the chroot connection with
   ``linebox_init: false`` (no secrets are made at build time: every box makes its own at first boot)
   and ``linebox_dahdi: true``;
3. what only an image needs (:func:`customise`): file system table, host name, DHCP on every wired
   interface, an empty machine id, no SSH host keys, the first-boot unit that makes the box's secrets
   and shows the console URL and the one-time passwords on the screen and on ``ttyS0``;
4. the disk (:mod:`image.disk`): GPT with GRUB for BIOS and UEFI.

The image is cached under ``/var/cache/linebox/image/`` keyed by the guest tree and every source file
(Linebox's code, the roles, this folder), so a rerun with nothing changed takes no time, and any change
rebuilds it.  ``make image`` copies it to ``build/linebox.img``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from image import disk, guest
from image.ansible_chroot import ROOT, build_wheel, in_namespace, run_playbook, source_files, write_inventory
from lab.rootfs import package_version

FIRSTBOOT = Path(__file__).parent / "firstboot"
RESULTS = ROOT / "benchmarks" / "results" / "image.json"
# what ends up in the image (the qemu driver, the DAHDI lab and the tests do not)
IMAGE_INPUTS = ("appliance/", "hardware/", "ansible/", "image/firstboot/", "image/build.py", "image/disk.py",
                "image/guest.py", "image/ansible_chroot.py", "pyproject.toml")


def image_key() -> str:
    """Everything that decides the image's content: the guest recipe and every source file's bytes."""
    digest = hashlib.sha256(guest.GUEST.key().encode())
    for name in sorted(source_files()):
        if not name.startswith(IMAGE_INPUTS):
            continue
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def image_path(cache: Path = guest.CACHE) -> Path:
    return cache / f"linebox-{image_key()}.img"


def facts_path(image: Path) -> Path:
    return image.with_suffix(".json")


def customise(tree: Path) -> None:
    """What only an installed-from-image box needs (the roles describe what every Linebox box needs)."""
    (tree / "etc/fstab").write_text(
        "# Linebox image: the root file system, found by its label\n"
        "LABEL=linebox-root  /  ext4  errors=remount-ro  0  1\n")
    (tree / "etc/hostname").write_text("linebox\n")
    (tree / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tlinebox\n::1\tlocalhost ip6-localhost\n")
    network = tree / "etc/systemd/network"
    network.mkdir(parents=True, exist_ok=True)
    (network / "20-wired.network").write_text(
        "# Linebox image: DHCP on every wired interface (set a static address in this file or another)\n"
        "[Match]\nType=ether\n\n[Network]\nDHCP=yes\n")
    # the box's identity is made at its first boot, never shared between boxes made from one image
    (tree / "etc/machine-id").write_text("")
    for key in (tree / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    for name in ("linebox-firstboot", "linebox-console-banner", "linebox-growroot"):
        shutil.copy(FIRSTBOOT / name, tree / "usr/local/sbin" / name)
        (tree / "usr/local/sbin" / name).chmod(0o755)
    for unit in ("linebox-firstboot.service", "linebox-console-banner.service", "linebox-growroot.service"):
        shutil.copy(FIRSTBOOT / unit, tree / "etc/systemd/system" / unit)
    (tree / "etc/systemd/system/serial-getty@ttyS0.service.d").mkdir(parents=True, exist_ok=True)
    (tree / "etc/systemd/system/serial-getty@ttyS0.service.d/linebox.conf").write_text(
        "# the console banner (URL and first-boot passwords) is written before the login prompt\n"
        "[Unit]\nAfter=linebox-console-banner.service\n")
    # the serial console waits for its device as long as a slow box needs: on a busy machine udev announced
    # ttyS0 after systemd's 90 s device timeout, the getty's dependency failed and the box had no login prompt
    (tree / "etc/systemd/system/dev-ttyS0.device.d").mkdir(parents=True, exist_ok=True)
    (tree / "etc/systemd/system/dev-ttyS0.device.d/linebox.conf").write_text(
        "# a technician's serial console must come up however slowly udev announces the port\n"
        "[Unit]\nJobRunningTimeoutSec=15min\n")
    for unit in ("linebox-firstboot.service", "linebox-console-banner.service", "linebox-growroot.service",
                 "systemd-networkd.service", "systemd-resolved.service"):
        subprocess.run(["chroot", str(tree), "systemctl", "enable", "--quiet", unit], check=True)
    resolv = tree / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.symlink_to("../run/systemd/resolve/stub-resolv.conf")
    # nothing from the build left behind: package caches, pip's cache, logs
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists", "root/.cache", "var/log/journal"):
        for entry in (tree / folder).glob("*"):
            if entry.is_file():
                entry.unlink()
            elif entry.is_dir() and entry.name != "partial":
                shutil.rmtree(entry)


def build(cache: Path = guest.CACHE, log=print) -> tuple[Path, dict]:
    """Build the image (or find it cached); return its path and its facts (sizes, build times)."""
    output = image_path(cache)
    if output.exists() and facts_path(output).exists():
        return output, json.loads(facts_path(output).read_text())
    times: dict[str, float] = {}
    start = time.monotonic()
    base = guest.build(cache, log)
    times["guest_tree_seconds"] = round(time.monotonic() - start, 1)
    kernel, initrd, release = guest.kernel_files(base)
    modules = guest.dahdi_modules(base, release)
    if "dahdi" not in modules:
        raise RuntimeError(f"DKMS built no DAHDI modules for kernel {release} in {base}")

    # the prepared tree is kept until the disk is written: a failure in the last step costs no Ansible rerun
    work = cache / f"prepared-{output.stem}"
    tree = work / "root"
    if not (work / "prepared").exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        step = time.monotonic()
        subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(tree)], check=True)
        (tree / ".linebox-complete").unlink()
        # systemd-resolved made resolv.conf a link into /run, empty in a chroot: the build uses this machine's
        # resolver (customise() puts the link back for the box)
        resolv = tree / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)
        shutil.copy("/etc/resolv.conf", resolv)
        times["copy_seconds"] = round(time.monotonic() - step, 1)

        step = time.monotonic()
        log("image: running ansible/site.yml inside the image (chroot connection)")
        wheel = build_wheel(work / "wheel")
        inventory = write_inventory(work / "inventory.json", tree, {
            "linebox_package": str(wheel), "linebox_init": False, "linebox_dahdi": True})
        logs = ROOT / "build"
        logs.mkdir(exist_ok=True)
        try:
            run_playbook(tree, inventory, work / "ansible.log")
        finally:
            if (work / "ansible.log").exists():
                shutil.copy(work / "ansible.log", logs / "image-ansible.log")
        times["ansible_seconds"] = round(time.monotonic() - step, 1)

        customise(tree)
        # the initramfs must find the root file system by label on a virtio or SATA/NVMe disk: regenerate it
        # with every storage driver (MODULES=most is Debian's default) now that fstab is final
        step = time.monotonic()
        in_namespace(tree, ["chroot", str(tree), "update-initramfs", "-u", "-k", release], check=True,
                     capture_output=True)
        times["initramfs_seconds"] = round(time.monotonic() - step, 1)
        (work / "times.json").write_text(json.dumps(times))
        (work / "prepared").touch()
    times = {**json.loads((work / "times.json").read_text()), **times}

    step = time.monotonic()
    partial = output.with_suffix(".img.partial-disk")
    facts = disk.assemble(tree, partial, kernel.name, initrd.name, log=log)
    partial.rename(output)
    times["disk_seconds"] = round(time.monotonic() - step, 1)
    shutil.rmtree(work, ignore_errors=True)
    times["total_seconds"] = round(time.monotonic() - start, 1)
    facts = {**facts, **times, "kernel": release, "dahdi_modules": modules,
             "asterisk": package_version(base, "asterisk"), "dahdi": package_version(base, "dahdi")}
    facts_path(output).write_text(json.dumps(facts, indent=2) + "\n")
    for old in cache.glob("linebox-*.img"):
        if old != output:
            old.unlink()
            facts_path(old).unlink(missing_ok=True)
    for old in cache.glob("prepared-linebox-*"):
        shutil.rmtree(old, ignore_errors=True)
    for old in cache.glob("linebox-*.partial*"):  # a disk left by an interrupted build (2.5 GB each)
        if time.time() - old.stat().st_mtime > 3600:  # not one another checkout is writing now
            old.unlink(missing_ok=True)
    return output, facts


def main(argv: list[str]) -> int:
    image, facts = build()
    out = ROOT / "build" / "linebox.img"
    out.parent.mkdir(exist_ok=True)
    if "--copy" in argv:
        subprocess.run(["cp", "--sparse=always", str(image), str(out)], check=True)
        image = out
    print(f"image: {image}")
    print(f"  disk {facts['disk_bytes'] / 2**20:.0f} MiB ({facts['allocated_bytes'] / 2**20:.0f} MiB allocated), "
          f"built in {facts['total_seconds']:.0f} s; kernel {facts['kernel']}, Asterisk {facts['asterisk']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["build"] = facts
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
