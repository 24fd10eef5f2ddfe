"""``linebox robot``: the voice robots' AudioSocket service (``linebox-robot.service``, ``Type=notify``).

Start-up: open the install's database, bind 127.0.0.1 and the site's ``robot_port``, tell systemd
``READY=1``.  Each call is served on its own thread (``appliance.robot.server``); robots are read from the
database at each call, so a robot saved in the console answers the next call without a restart.  The
answers are spoken with espeak-ng into the install's sounds folder, as IVR greetings are (the apply
speaks them first; a text not spoken yet is spoken at the first call that needs it).  The watchdog pings
only while the server answers a health call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.install import Install
from appliance.provisioning import prompts, sounds
from appliance.robot import engines
from appliance.services import journal, notify, serving
from appliance.site import stored

if TYPE_CHECKING:
    from appliance.robot.server import RobotPlan, RobotServer

log = logging.getLogger("linebox.robot")

ADDRESS = "127.0.0.1"


def speaker(folder: Path) -> Callable[[str, str], bytes]:
    """``speak(text, language)``: the text's slin audio, spoken with espeak-ng once and kept in ``folder``."""
    def speak(text: str, language: str) -> bytes:
        wav, _ = sounds.render_tts(text, prompts.VOICES[language], folder)
        return wav.with_suffix(".sln").read_bytes()
    return speak


def make_server(sounds_dir: Path, port: int | None = None, address: str = ADDRESS,
                models_dir: Path | None = None) -> RobotServer:
    """The server on ``port`` (None: the site's ``robot_port``); the database must be open.  ``models_dir``:
    the speech models the admin placed (``appliance.robot.engines``; None: PocketSphinx's own only).

    Without the speech packages (the "robot" extra) it still serves, closing every call at once: Asterisk's
    ``AudioSocket()`` returns and the dialplan takes each robot's fallback, as when the service is down."""
    from appliance.robot.server import RobotServer
    if port is None:
        port = stored.number("robot_port")
    try:
        from appliance.robot import plans  # pocketsphinx, numpy (and rapidfuzz, at the first match)
    except ImportError as error:
        log.error("voice robot: the speech packages are not installed (%s): pip install 'linebox[robot]'; "
                  "robot calls go to their fallback", error.name,
                  extra={"LINEBOX_EVENT": "robot-unavailable"})
        return RobotServer(address, port, lambda: [], lambda name: None)
    speak = speaker(sounds_dir)
    grammars = sounds_dir / "robot-grammars"
    models = models_dir if models_dir is not None else sounds_dir / "no-speech-models"

    def recorded(sound: str) -> bytes:
        return sounds.uploaded_slin(sounds_dir, sound)

    def plan(name: str) -> RobotPlan | None:
        try:
            return plans.plan_named(name, speak, grammars, recorded, models)
        except sounds.SoundError as error:  # the apply refuses this; a sound deleted since: the fallback
            log.error("voice robot %s: %s; the call goes to the fallback", name, error.args[0],
                      extra={"LINEBOX_EVENT": "robot-unavailable"})
            return None

    return RobotServer(address, port, plans.names, plan)


def run(home: Path, port: int | None = None) -> int:
    """Serve AudioSocket for the install at ``home`` until SIGTERM/SIGINT; return the exit status."""
    journal.setup("linebox-robot")
    stop = serving.stop_event()
    notify.status("loading the install")
    try:
        install = Install.load(home)
        install.open()
        server = make_server(install.sounds_path, port, models_dir=engines.models_dir(install.home))
    except (OSError, ValueError, RuntimeError) as error:
        return serving.start_failed(log, "voice robot server", error)
    server.start()
    exit_code = serving.serve_until_stopped(stop, server, "voice robot server", home, log)
    log.info("voice robot served %d calls", server.served)
    return exit_code
