"""Boot a Linebox disk under qemu and talk to it over its serial console, as a technician would.

Facts this relies on (LAB.md): KVM guests hang on this kind of machine, so the guest runs under TCG;
a forky guest reaches a login prompt in about a minute.  The disk is attached with ``snapshot=on``, so
a boot never changes the built image (its writes go to a temporary overlay qemu removes).

The serial console is a Unix socket qemu serves; a reader thread keeps everything the guest prints
(also written to a log file for the test artefacts) and :meth:`Guest.expect` waits for a pattern in
what arrived since the last match.  The qemu process is stopped by its PID, always.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from image.traffic import GUEST_MAC

# One host thread for every vCPU: under multi-threaded TCG the kernel's int3-based live code patching
# raced with another vCPU and panicked a UEFI boot ("Oops: int3" in get_random_u32).  Slower, never flaky.
ACCELERATOR = "tcg,thread=single"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")


class GuestError(Exception):
    """The guest did not do what was expected; the message carries the console's last lines."""


@dataclass
class Guest:
    """One qemu guest booted from ``disk`` with ``firmware`` "bios" (SeaBIOS) or "uefi" (OVMF)."""

    disk: Path
    log: Path
    firmware: str = "bios"
    memory_mb: int = 1024
    cpus: int = 2
    forwards: dict[int, int] = field(default_factory=dict)  # host port on 127.0.0.1 -> guest TCP port
    # a disk bigger than the image, as when it is written to a real disk: a qcow2 overlay of this size
    disk_gib: int | None = None
    # direct kernel boot (no bootloader): a bare file system image as ``disk``, with this kernel and initrd
    kernel: Path | None = None
    initrd: Path | None = None
    append: str = "root=/dev/vda rw console=ttyS0,115200n8"
    # every frame of the guest's network written here (qemu's filter-dump, pcap format) when set
    capture: Path | None = None
    process: subprocess.Popen | None = None
    _buffer: str = ""
    _seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workdir: Path | None = None
    _socket: socket.socket | None = None
    started_at: float = 0.0

    def command(self, serial_socket: Path) -> list[str]:
        qemu = shutil.which("qemu-system-x86_64")
        if qemu is None:
            raise GuestError("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86")
        hostfwd = "".join(f",hostfwd=tcp:127.0.0.1:{host}-:{guest}" for host, guest in self.forwards.items())
        command = [
            qemu, "-accel", ACCELERATOR, "-machine", "q35", "-smp", str(self.cpus), "-m", str(self.memory_mb),
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-chardev", f"socket,id=console,path={serial_socket},server=on,wait=off,logfile={self.log}",
            "-serial", "chardev:console",
            "-drive", self._drive(),
            "-netdev", f"user,id=net0{hostfwd}", "-device", f"virtio-net-pci,netdev=net0,mac={GUEST_MAC}",
        ]
        if self.capture is not None:
            command += ["-object", f"filter-dump,id=dump0,netdev=net0,file={self.capture}"]
        if self.kernel is not None:
            command += ["-kernel", str(self.kernel), "-append", self.append]
            if self.initrd is not None:
                command += ["-initrd", str(self.initrd)]
        if self.firmware == "uefi":
            assert self._workdir is not None
            variables = self._workdir / "OVMF_VARS.fd"
            shutil.copy(OVMF_VARS, variables)
            command += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                        "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]
        elif self.firmware != "bios":
            raise ValueError(f"firmware must be 'bios' or 'uefi', not {self.firmware!r}")
        return command

    def _drive(self) -> str:
        """The disk: the image itself with qemu's throw-away overlay, or a bigger qcow2 overlay of it."""
        if self.disk_gib is None:
            return f"file={self.disk},format=raw,if=virtio,snapshot=on"
        assert self._workdir is not None
        overlay = self._workdir / "disk.qcow2"
        if shutil.which("qemu-img") is None:
            raise GuestError("qemu-img is not installed: apt-get install qemu-utils")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(self.disk), str(overlay),
                        f"{self.disk_gib}G"], check=True)
        return f"file={overlay},format=qcow2,if=virtio"

    def start(self) -> Guest:
        self._workdir = Path(tempfile.mkdtemp(prefix="linebox-qemu-"))
        serial_socket = self._workdir / "console.sock"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(self.command(serial_socket), stdin=subprocess.DEVNULL,
                                        stdout=self.log.with_suffix(".qemu.log").open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not serial_socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise GuestError(f"qemu did not start: {self.log.with_suffix('.qemu.log').read_text()[-2000:]}")
            time.sleep(0.05)
        self._socket = socket.socket(socket.AF_UNIX)
        self._socket.connect(str(serial_socket))
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self._socket is not None
        while True:
            try:
                data = self._socket.recv(65536)
            except OSError:
                return
            if not data:
                return
            # answer the cursor-position query (DSR) as any real terminal would: systemd and agetty ask it on a
            # serial console to learn the screen size, and read the next typed characters as the answer otherwise
            if b"\x1b[6n" in data:
                with contextlib.suppress(OSError):
                    self._socket.sendall(b"\x1b[24;80R" * data.count(b"\x1b[6n"))
            with self._lock:
                self._buffer += data.decode("utf-8", "replace")

    @property
    def output(self) -> str:
        with self._lock:
            return self._buffer

    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    def expect(self, pattern: str, timeout: float) -> re.Match:
        """Wait for ``pattern`` (a regex) in what the console printed since the last match."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                match = compiled.search(self._buffer, self._seen)
                if match:
                    self._seen = match.end()
                    return match
            if self.process is not None and self.process.poll() is not None:
                raise GuestError(f"the guest stopped while waiting for {pattern!r}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise GuestError(f"no {pattern!r} on the console after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def send(self, text: str) -> None:
        assert self._socket is not None
        self._socket.sendall(text.encode())

    def run(self, command: str, timeout: float = 60, prompt: str = r"root@[\w-]+:[^#]*# ") -> tuple[str, int]:
        """Type ``command`` at a root shell prompt; return (its output, its exit status).

        The output is framed by unique markers so that the echo of the typed line and the prompt never
        mix with it; long outputs are fine (the serial line is slow under TCG, allow for it).
        """
        token = f"{time.monotonic_ns():x}"
        self.send(f"echo BEGIN-{token}; {command}; echo END-{token}-$?\n")
        self.expect(rf"BEGIN-{token}\r?\n", timeout)  # the typed line echoes "BEGIN-token;", not a newline
        start = self._seen
        match = self.expect(rf"END-{token}-(\d+)", timeout)
        body = self.output[start:match.start()]
        self.expect(prompt, 10)
        return body.replace("\r\n", "\n"), int(match.group(1))

    def stop(self) -> None:
        """Power the guest off now (by qemu's PID); idempotent."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def wait_for_poweroff(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GuestError(f"the guest did not power off within {timeout:.0f} s:\n{self.tail()}") from None

    def __enter__(self) -> Guest:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

