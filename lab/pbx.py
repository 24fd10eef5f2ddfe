"""The appliance's own Asterisk in the lab: Linebox's install layout pointed at a lab instance.

``start_pbx`` makes an install whose database and generations live beside
the instance, applies the site once before Asterisk starts (as the
appliance does at boot), then starts Debian's Asterisk on those files.
Everything after that goes through the ordinary apply, over AMI.

``keep=True`` (``make run``) keeps what a box keeps across restarts in the
home: the generations (``home/asterisk``, which Asterisk sees through a bind
mount, so numbering and rollback history go on from run to run), and an
instance folder named after the home, so Asterisk's own directories, hence
the ``asterisk.conf`` Linebox renders, are the same at every run and a
restart on an unchanged site makes no new generation.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from pathlib import Path

from appliance.install import Install
from appliance.model.models import Setting
from appliance.provisioning import apply
from appliance.services import agi as agi_service
from appliance.site import service, stored
from lab import instance as lab


def _agi_port(keep: bool) -> int:
    """A free port for the in-process FastAGI server; ``keep`` (``make run``) reuses the one its last run
    stored while it is free, so an unchanged site renders the same dialplan and makes no new generation."""
    if keep and Setting.get_or_none(Setting.key == stored.SETTINGS_PREFIX + "agi_port") is not None:
        port = stored.number("agi_port")
        with socket.socket() as probe:
            # as the server binds (allow_reuse_address): a connection of the last run still in TIME_WAIT
            # does not make the port look taken
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    return lab.free_port()


def start_pbx(home: Path, rootfs: Path | None = None, bind: str = "127.0.0.1", *, keep: bool = False,
              sip_port: int | None = None, ami_port: int | None = None,
              before_start: Callable[[lab.AsteriskInstance], object] | None = None,
              ) -> tuple[Install, lab.AsteriskInstance]:
    home = home.resolve()
    kept = home / "asterisk"
    if keep:
        kept.mkdir(parents=True, exist_ok=True)
    instance = lab.prepare("pbx", rootfs, config="linebox", sip_port=sip_port, ami_port=ami_port,
                           folder=f"pbx-home-{hashlib.sha256(str(home).encode()).hexdigest()[:12]}" if keep else None,
                           binds={"config": kept} if keep else None)
    install = Install.create(
        home,
        config_root=kept if keep else instance.host_dir / "config",
        asterisk_directories=lab.directories(instance),
        asterisk_log=instance.log_dir / "messages.log",
        asterisk_root=instance.rootfs,
        sounds_dir=f"{instance.inner_dir}/sounds",  # inside the instance folder: removed with it
        # the lab's Asterisk has no DAHDI: never link or configure the host's /etc/dahdi
        dahdi_root=instance.host_dir / "etc-dahdi", modprobe_dir=instance.host_dir / "etc-modprobe.d",
        dahdi_cfg_command="",
    )
    install.open()
    # TLS beside UDP: a fixed neighbour for make run (the same pjsip.conf from run to run), else any free port
    tls_port = instance.sip_port + 1 if keep else lab.free_port()
    service.save_settings(
        {"sip_bind": bind, "sip_port": instance.sip_port, "sip_tls_port": tls_port,
         "ami_port": instance.ami_port,
         "rtp_start": instance.rtp_start, "rtp_end": instance.rtp_end, "agi_port": _agi_port(keep)},
        user="lab",
    )
    # no Asterisk to reload yet; the greetings are spoken now, as the instance's sounds folder is new
    first = apply.apply(service.snapshot(), install.facts(),
                        apply.Target(config_root=install.config_root, sounds_dir=install.sounds_path), user="lab")
    if not first.ok:
        raise RuntimeError(f"first apply failed: {first.error}")
    if before_start is not None:  # e.g. mount a small file system Asterisk's own mount namespace must see
        before_start(instance)
    lab.start(instance)
    # The FastAGI scripts as linebox-agi.service serves them on a box (the dial guard before every outbound
    # call, the caller-name lookup), in this process: on the database this process opened.
    server = agi_service.make_server().start()
    instance.cleanups.append(server.close)
    return install, instance
