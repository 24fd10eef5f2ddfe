"""A real softphone for the lab: Debian's baresip, headless, driven over its UDP console.

It registers over TLS (``;transport=tls`` in its account), offers SRTP (``mediaenc=srtp-mand`` or
``srtp``) or plain RTP, sends a tone (``aufile``, made by sox), answers on its own (``answermode=auto``) and
keeps what it heard (``sndfile``: one WAV per call and direction in its folder).  Its output, with
``-v`` for the TLS and media details, is kept in ``baresip.log`` for the tests to read.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab import instance as lab

MODULE_PATH = "/usr/lib/baresip/modules"
MODULES = ("g711.so", "srtp.so", "aufile.so", "sndfile.so", "cons.so", "menu.so", "account.so")


@dataclass
class Softphone:
    folder: Path
    number: str
    console_port: int
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.folder / "baresip.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def command(self, text: str) -> None:
        """One console command (``/dial sip:...``, ``/hangup``), as typed at baresip's prompt."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(text.encode() + b"\n", ("127.0.0.1", self.console_port))

    def wait_log(self, pattern: str, timeout: float = 20, after: int = 0) -> re.Match:
        """Until ``pattern`` (a regular expression) appears in the output (from character ``after`` on)."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log()[after:])
            if found:
                return found
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"baresip {self.number} exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"baresip {self.number}: no {pattern!r} after {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def recordings(self) -> list[Path]:
        return sorted(self.folder.glob("dump-*-dec.wav"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def start(folder: Path, number: str, password: str, registrar: str, *, mediaenc: str = "srtp-mand",
          transport: str = "tls", cafile: Path | None = None, tone_hz: int = 1000,
          register: bool = True) -> Softphone:
    """A baresip for extension ``number`` registering at ``registrar`` (host:port of that transport)."""
    folder.mkdir(parents=True, exist_ok=True)
    tone = folder / "tone.wav"  # a minute of tone at 8 kHz, as aufile wants it (ausine only does 48 kHz)
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone), "synth", "60", "sine",
                    str(tone_hz), "vol", "0.5"], check=True)
    console = lab.free_port(socket.SOCK_DGRAM)
    listen = lab.free_port()
    config = [
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{listen}",
        f"module_path {MODULE_PATH}",
        *(f"module {m}" for m in MODULES),
        f"audio_source aufile,{tone}",
        f"snd_path {folder}",  # no sound card: what is heard is kept by sndfile
        f"cons_listen 127.0.0.1:{console}",
        "rtp_timeout 0",
    ]
    if cafile is not None:
        config.append(f"sip_cafile {cafile}")
    (folder / "config").write_text("\n".join(config) + "\n")
    params = [f"auth_pass={password}", "answermode=auto", "ptime=20", "audio_codecs=PCMU"]
    if mediaenc:
        params.append(f"mediaenc={mediaenc}")
    if not register:
        params.append("regint=0")
    uri = f"sip:{number}@{registrar};transport={transport}"
    (folder / "accounts").write_text(f"<{uri}>;{';'.join(params)};outbound=\"sip:{registrar};transport={transport}\"\n")
    phone = Softphone(folder, number, console)
    out = open(phone.log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
    try:
        phone.process = subprocess.Popen(["baresip", "-v", "-f", str(folder)], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=folder)
    finally:
        out.close()
    return phone
