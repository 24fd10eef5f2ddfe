"""Turn a prepared root file system tree into a disk image that boots on BIOS and on UEFI machines.

No loop devices and no mounts: every step works on plain files, so the build runs in containers and
on CI machines where ``losetup`` is not allowed, and nothing is left mounted when it fails.

Layout (GPT):

====  ===========  =======  ==========================================================
 #     type          size    content
====  ===========  =======  ==========================================================
 1     BIOS boot     1 MiB   GRUB's i386-pc core image (what the MBR's boot code loads)
 2     EFI system   64 MiB   FAT with ``/EFI/BOOT/BOOTX64.EFI`` (GRUB for x86_64-efi)
 3     Linux root    rest    ext4 made with ``mke2fs -d`` from the tree
====  ===========  =======  ==========================================================

Both GRUB images carry the same small embedded configuration: find the root file system by its UUID,
then read ``/boot/grub/grub.cfg`` there (written by :func:`write_grub_config`), whose menu entry
boots Debian's kernel with the console on the screen and on ``ttyS0``.

The BIOS path does by hand what ``grub-bios-setup`` does for a GPT disk (its ``util/setup.c``):
copy ``boot.img``'s code into the MBR's first 440 bytes (the protective partition table stays), store
the core image's first sector at ``boot.img`` offset 0x5c, force the boot drive byte to 0xff, replace
the floppy drive check (a 2-byte jmp at 0x66) with two NOPs, and fill the core image's first
block list (the last 12 bytes of ``diskboot.img``: start sector, sector count, load segment 0x820)
with the sectors that follow it in the BIOS boot partition.  No Reed-Solomon codes are added (their
length field stays 0, which GRUB's start-up code reads as "none").
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import uuid
from pathlib import Path

SECTOR = 512
MIB = 1024 * 1024
BIOS_BOOT_START = 1 * MIB
BIOS_BOOT_SIZE = 1 * MIB
ESP_SIZE = 64 * MIB
BIOS_BOOT_TYPE = "21686148-6449-6E6F-744E-656564454649"  # "Hah!IdontNeedEFI" as a little-endian GUID
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"  # Linux root (x86-64), discoverable-partitions spec

GRUB_MODULES_COMMON = ["part_gpt", "part_msdos", "ext2", "fat", "search", "search_fs_uuid", "normal", "configfile",
                       "linux", "echo", "test", "gzio", "serial", "terminal", "ls", "cat", "reboot", "halt"]
GRUB_MODULES = {
    "i386-pc": ["biosdisk", *GRUB_MODULES_COMMON],
    "x86_64-efi": ["efi_gop", "all_video", *GRUB_MODULES_COMMON],
}


def early_config(root_uuid: str) -> str:
    """Embedded in both GRUB images: find the root file system wherever the firmware enumerated it; GRUB's
    normal mode then reads ``$prefix/grub.cfg`` (as Debian's own signed GRUB does)."""
    return (f"search --no-floppy --fs-uuid --set=root {root_uuid}\n"
            "set prefix=($root)/boot/grub\n")


def write_grub_config(tree: Path, root_uuid: str, kernel: str, initrd: str, title: str = "Linebox") -> None:
    """``/boot/grub/grub.cfg`` in the tree, and GRUB's module folders next to it (for modules loaded later)."""
    grub = tree / "boot/grub"
    grub.mkdir(parents=True, exist_ok=True)
    for platform in GRUB_MODULES:
        source = tree / "usr/lib/grub" / platform
        if source.is_dir():
            shutil.copytree(source, grub / platform, dirs_exist_ok=True)
    (grub / "grub.cfg").write_text(
        "# Written by Linebox's image build (image/disk.py).\n"
        "serial --unit=0 --speed=115200\n"
        "terminal_input console serial\n"
        "terminal_output console serial\n"
        "set timeout=2\n"
        "set default=0\n"
        f"menuentry '{title}' {{\n"
        f"    linux /boot/{kernel} root=UUID={root_uuid} ro console=tty0 console=ttyS0,115200n8 quiet "
        "systemd.show_status=auto\n"
        f"    initrd /boot/{initrd}\n"
        "}\n"
    )


def grub_image(tree: Path, platform: str, root_uuid: str, output: Path) -> Path:
    """Build GRUB's core image for ``platform`` with the tree's own ``grub-mkimage`` (run under chroot: the
    host may have no GRUB, and the image's modules must match the image's tool)."""
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "early.cfg"
        config.write_text(early_config(root_uuid))
        fmt = "i386-pc" if platform == "i386-pc" else "x86_64-efi"
        inside = Path("/tmp") / f"linebox-grub-{uuid.uuid4().hex}"
        (tree / inside.relative_to("/")).mkdir(parents=True)
        try:
            shutil.copy(config, tree / inside.relative_to("/") / "early.cfg")
            _run(["chroot", str(tree), "grub-mkimage", "-O", fmt, "-d", f"/usr/lib/grub/{platform}",
                  "-c", str(inside / "early.cfg"), "-p", "/boot/grub", "-o", str(inside / "core.img"),
                  *GRUB_MODULES[platform]])
            shutil.copy(tree / inside.relative_to("/") / "core.img", output)
        finally:
            shutil.rmtree(tree / inside.relative_to("/"), ignore_errors=True)
    return output


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"{' '.join(command)} failed: {error.stderr or error.stdout}") from None


def root_filesystem(tree: Path, output: Path, root_uuid: str, free_bytes: int) -> int:
    """ext4 image of the tree with ``free_bytes`` room left; returns its size in bytes (MiB-aligned)."""
    used = int(_run(["du", "-sb", "--apparent-size", str(tree)]).stdout.split()[0])
    size = ((int(used * 1.15) + free_bytes) // MIB + 1) * MIB
    output.unlink(missing_ok=True)
    _run(["mke2fs", "-q", "-t", "ext4", "-d", str(tree), "-L", "linebox-root", "-U", root_uuid,
          "-E", "root_owner=0:0", str(output), str(size // 1024) + "k"])
    return size


def esp_filesystem(efi_binary: Path, output: Path) -> None:
    output.unlink(missing_ok=True)
    _run(["mkfs.vfat", "-n", "LINEBOX-ESP", "-C", str(output), str(ESP_SIZE // 1024)])
    _run(["mmd", "-i", str(output), "::/EFI", "::/EFI/BOOT"])
    _run(["mcopy", "-i", str(output), str(efi_binary), "::/EFI/BOOT/BOOTX64.EFI"])


def install_bios_boot(disk: Path, boot_img: bytes, core_img: bytes) -> None:
    """What ``grub-bios-setup`` does for a core image embedded in the BIOS boot partition (see the module doc)."""
    if len(boot_img) != SECTOR:
        raise RuntimeError(f"boot.img is {len(boot_img)} bytes, expected {SECTOR}")
    sectors = (len(core_img) + SECTOR - 1) // SECTOR
    if sectors * SECTOR > BIOS_BOOT_SIZE:
        raise RuntimeError(f"GRUB's core image ({len(core_img)} bytes) does not fit the BIOS boot partition")
    first = BIOS_BOOT_START // SECTOR
    core = bytearray(core_img.ljust(sectors * SECTOR, b"\0"))
    # diskboot.img's first block list: the last 12 bytes of the core image's first sector.
    struct.pack_into("<QHH", core, SECTOR - 12, first + 1, sectors - 1, 0x800 + (SECTOR >> 4))
    boot = bytearray(boot_img)
    struct.pack_into("<Q", boot, 0x5C, first)  # GRUB_BOOT_MACHINE_KERNEL_SECTOR
    boot[0x64] = 0xFF  # GRUB_BOOT_MACHINE_BOOT_DRIVE: use the drive the BIOS booted from
    boot[0x66:0x68] = b"\x90\x90"  # GRUB_BOOT_MACHINE_DRIVE_CHECK: a hard disk, not a floppy
    with disk.open("r+b") as f:
        f.seek(0)
        f.write(bytes(boot[:440]))  # keep the disk signature and the protective MBR's partition table
        f.seek(BIOS_BOOT_START)
        f.write(bytes(core))


def assemble(tree: Path, output: Path, kernel: str, initrd: str, free_bytes: int = 1024 * MIB,
             log=print) -> dict[str, int | str]:
    """Write the bootable disk image ``output`` from the prepared tree; return facts about it."""
    root_uuid = str(uuid.uuid4())
    write_grub_config(tree, root_uuid, kernel, initrd)
    with tempfile.TemporaryDirectory(dir=output.parent) as work_dir:
        work = Path(work_dir)
        log("image: GRUB core images for BIOS and UEFI")
        core = grub_image(tree, "i386-pc", root_uuid, work / "core.img")
        efi = grub_image(tree, "x86_64-efi", root_uuid, work / "BOOTX64.EFI")
        log("image: ESP (FAT) and root (ext4) file systems")
        esp_filesystem(efi, work / "esp.img")
        root_size = root_filesystem(tree, work / "root.img", root_uuid, free_bytes)

        esp_start = BIOS_BOOT_START + BIOS_BOOT_SIZE
        root_start = esp_start + ESP_SIZE
        total = root_start + root_size + MIB  # room for the backup GPT
        partial = output.with_name(output.name + ".partial")
        partial.unlink(missing_ok=True)
        with partial.open("wb") as f:
            f.truncate(total)
        table = (
            "label: gpt\n"
            f"start={BIOS_BOOT_START // SECTOR}, size={BIOS_BOOT_SIZE // SECTOR}, type={BIOS_BOOT_TYPE}, "
            "name=\"bios-boot\"\n"
            f"start={esp_start // SECTOR}, size={ESP_SIZE // SECTOR}, type={ESP_TYPE}, name=\"esp\"\n"
            f"start={root_start // SECTOR}, size={root_size // SECTOR}, type={ROOT_TYPE}, name=\"linebox-root\"\n"
        )
        _run(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", str(partial)], input=table)
        for image, offset in ((work / "esp.img", esp_start), (work / "root.img", root_start)):
            _run(["dd", f"if={image}", f"of={partial}", "bs=1M", f"seek={offset // MIB}", "conv=notrunc,sparse",
                  "status=none"])
        install_bios_boot(partial, (tree / "usr/lib/grub/i386-pc/boot.img").read_bytes(), core.read_bytes())
        partial.rename(output)
    allocated = output.stat().st_blocks * 512
    return {"disk_bytes": total, "allocated_bytes": allocated, "root_uuid": root_uuid,
            "root_filesystem_bytes": root_size}
