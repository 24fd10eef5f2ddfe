"""Where this install keeps things, and the per-install facts derived from them.

An install is described by ``<home>/appliance.json`` (home defaults to
``/var/lib/linebox``, or ``$LINEBOX_HOME``): the database file, the folder
holding Asterisk config generations, the directories Asterisk is told to
use, and its log file.  The packaged appliance, the lab and ``make run``
differ only in this file, so every command works the same on all three.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.asterisk.layout import DEFAULT_DIRECTORIES, DEFAULT_SOUNDS_DIR
from appliance.model import sealed
from appliance.model.database import open_database
from appliance.model.engine import is_url
from appliance.provisioning import dahdi_reload
from appliance.site import stored

# The AMI client (pyst2), the renderer (jinja2) and the schemas (pydantic) are imported where used:
# every service and the CLI load this module, few of them talk to Asterisk or render
# (tests/agi/test_footprint.py).
if TYPE_CHECKING:
    from appliance.asterisk.ami import Ami
    from appliance.provisioning import render
    from appliance.provisioning.prompts import Place
    from appliance.provisioning.target import Target

DEFAULT_HOME = Path("/var/lib/linebox")


def home_dir() -> Path:
    return Path(os.environ.get("LINEBOX_HOME", str(DEFAULT_HOME)))


@dataclass
class Install:
    home: Path
    database: Path
    config_root: Path
    asterisk_directories: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DIRECTORIES))
    asterisk_log: Path | None = Path("/var/log/asterisk/messages.log")
    manage_asterisk: bool = True
    # The root Asterisk runs in, as this host sees it: "/" on the appliance, the forky tree in the lab.
    asterisk_root: Path = Path("/")
    # DAHDI: where dahdi_cfg and the dahdi start-up unit read their files, where modprobe reads options,
    # and the dahdi_cfg command apply runs ("" = never: a development machine without DAHDI).
    dahdi_root: Path = Path("/etc/dahdi")
    modprobe_dir: Path = Path("/etc/modprobe.d")
    dahdi_cfg_command: str = "dahdi_cfg"
    # Who makes DAHDI's links and runs dahdi_cfg.  "direct": apply itself (the lab, make run: it may write
    # dahdi_root and run dahdi_cfg_command).  "service": the appliance, where apply runs as the linebox user:
    # Ansible (roles/dahdi) made the links as root, apply only checks them and asks the root
    # linebox-dahdi-reload service to run dahdi_cfg, through dahdi_requests_dir / dahdi_status_file.
    dahdi_cfg_via: str = "direct"
    dahdi_requests_dir: Path = dahdi_reload.REQUESTS_DIR
    dahdi_status_file: Path = dahdi_reload.STATUS_FILE
    # Uploaded and spoken sounds (IVR greetings), as Asterisk sees the folder; see appliance.provisioning.sounds.
    sounds_dir: str = DEFAULT_SOUNDS_DIR
    # PostgreSQL instead of the SQLite file ``database`` ("": SQLite, the default): a ``postgresql://`` URL,
    # for large and multi-node sites (docs/admin-guide.md).  The key file sealing the secret columns stays
    # beside ``database`` in either case.  ``linebox db migrate-to-postgresql`` moves a site over.
    database_url: str = ""
    # The AMI user this process logs in as when it does not name one (appliance.asterisk.ami_users): the
    # technician's CLI unless the process says otherwise (the console sets its own).  Not saved.
    ami_user: str = field(default="linebox-cli", compare=False)

    def __post_init__(self) -> None:
        if self.database_url and not is_url(self.database_url):
            raise ValueError(f"{self.home / 'appliance.json'}: database_url must be a postgresql:// URL")
        if self.dahdi_cfg_via not in ("direct", "service"):
            raise ValueError(f"{self.home / 'appliance.json'}: dahdi_cfg_via must be \"direct\" or \"service\", "
                             f"not {self.dahdi_cfg_via!r}")

    @classmethod
    def create(cls, home: Path, **overrides) -> Install:
        home.mkdir(parents=True, exist_ok=True)
        values = {"database": home / "linebox.db", "config_root": home / "asterisk", **overrides}
        install = cls(home=home, **values)
        install.save()
        return install

    @classmethod
    def load(cls, home: Path | None = None) -> Install:
        home = home or home_dir()
        path = home / "appliance.json"
        if not path.exists():
            raise FileNotFoundError(f"no Linebox install at {home} (missing {path}); run 'linebox init' first")
        data = json.loads(path.read_text())
        return cls(
            home=home, database=Path(data["database"]), config_root=Path(data["config_root"]),
            asterisk_directories=data["asterisk_directories"],
            asterisk_log=Path(data["asterisk_log"]) if data.get("asterisk_log") else None,
            manage_asterisk=data.get("manage_asterisk", True),
            asterisk_root=Path(data.get("asterisk_root", "/")),
            dahdi_root=Path(data.get("dahdi_root", "/etc/dahdi")),
            modprobe_dir=Path(data.get("modprobe_dir", "/etc/modprobe.d")),
            dahdi_cfg_command=data.get("dahdi_cfg_command", "dahdi_cfg"),
            dahdi_cfg_via=data.get("dahdi_cfg_via", "direct"),
            dahdi_requests_dir=Path(data.get("dahdi_requests_dir", str(dahdi_reload.REQUESTS_DIR))),
            dahdi_status_file=Path(data.get("dahdi_status_file", str(dahdi_reload.STATUS_FILE))),
            sounds_dir=data.get("sounds_dir", DEFAULT_SOUNDS_DIR),
            database_url=data.get("database_url", ""),
        )

    def save(self) -> None:
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()
                if k not in ("home", "ami_user")}
        (self.home / "appliance.json").write_text(json.dumps(data, indent=1) + "\n")

    @property
    def asterisk_log_dir(self) -> Path:
        """Asterisk's log folder as this host sees it (queue_log, the CDR database, messages.log)."""
        return (self.asterisk_log or Path("/var/log/asterisk/messages.log")).parent

    def asterisk_path(self, directory: str) -> Path:
        """One of Asterisk's ``[directories]`` (e.g. ``astspooldir``) as this host sees it."""
        return self.asterisk_root / self.asterisk_directories[directory].lstrip("/")

    @property
    def sounds_path(self) -> Path:
        """The sounds folder as this host sees it (inside the lab's root file system in the lab)."""
        return self.asterisk_root / self.sounds_dir.lstrip("/")

    def prompt_place(self) -> Place:
        """Where this install's prompts go: Asterisk's language folders, and the admin's recordings of them."""
        from appliance.provisioning.prompts import Place  # lazy: see the note at the imports
        return Place(self.asterisk_root, f"{self.asterisk_directories['astdatadir']}/sounds",
                     self.sounds_path / "prompts")

    @property
    def inventory_file(self) -> Path:
        """The last hardware scan (``linebox hardware scan``): which cards are here and their drivers."""
        return self.home / "hardware-inventory.json"

    @property
    def recordings_dir(self) -> Path:
        return self.asterisk_path("astspooldir") / "monitor"

    @property
    def database_target(self) -> str:
        """What this install's database is opened from: the PostgreSQL URL, or the SQLite file's path."""
        return self.database_url or str(self.database)

    def open(self):
        """Open (and migrate) this install's database: PostgreSQL when ``database_url`` names it, else the
        SQLite file; the secret columns are sealed with the key file beside ``database`` either way."""
        if self.database_url:
            return open_database(self.database_url, sealed.ring_for(self.database))
        return open_database(self.database)

    def ami_secret(self) -> str:
        def new_secret() -> str:
            from appliance.site import schemas  # lazy: see the note at the imports
            return schemas.strong_secret(32)
        return stored.internal_secret("ami", new_secret)

    def facts(self) -> render.InstallFacts:
        from appliance.provisioning import render  # lazy: see the note at the imports
        return render.InstallFacts(ami_secret=self.ami_secret(), directories=self.asterisk_directories,
                                   sounds_dir=self.sounds_dir)

    def ami_user_secret(self, user: str) -> str:
        """The secret of one of Linebox's AMI users (``appliance.asterisk.ami_users``)."""
        from appliance.asterisk import ami_users  # lazy: see the note at the imports
        return ami_users.secret_for(self.ami_secret(), user)

    def connect_ami(self, timeout: float = 30, user: str | None = None) -> Ami:
        """An AMI session as ``user`` (default: this process's ``ami_user``), with only that user's classes."""
        from appliance.asterisk.ami import Ami  # lazy: see the note at the imports
        name = user or self.ami_user
        return Ami("127.0.0.1", stored.number("ami_port"), name, self.ami_user_secret(name), timeout=timeout)

    def connect_apply_ami(self, timeout: float = 30) -> Ami:
        return self.connect_ami(timeout, user="linebox-apply")

    def connect_module_loader(self, timeout: float = 30) -> Ami:
        """The session apply loads a module with (one an upgrade added, chan_dahdi once cards appear)."""
        return self.connect_ami(timeout, user="linebox-status")

    def target(self) -> Target:
        from appliance.provisioning.target import Target  # lazy: pyst2 through the AMI client
        by_service = self.dahdi_cfg_via == "service"
        return Target(config_root=self.config_root, log_file=self.asterisk_log,
                      connect=self.connect_apply_ami if self.manage_asterisk else None,
                      connect_module_loader=self.connect_module_loader if self.manage_asterisk else None,
                      sounds_dir=self.sounds_path, prompts=self.prompt_place(),
                      dahdi_root=self.dahdi_root, modprobe_dir=self.modprobe_dir,
                      dahdi_cfg=tuple(self.dahdi_cfg_command.split()) if self.dahdi_cfg_command and not by_service
                      else None,
                      inventory_file=self.inventory_file, dahdi_link=not by_service,
                      dahdi_service=dahdi_reload.Service(self.dahdi_requests_dir, self.dahdi_status_file)
                      if by_service else None)
