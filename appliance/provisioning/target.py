"""Where a configuration is applied: the folders of an install and how to reach its Asterisk and DAHDI.

Every step of an apply (:mod:`.generations`, :mod:`.dahdi`, :mod:`.reload`, :mod:`.verify`) reads the
same :class:`Target`, so it has a module of its own below them; :mod:`.apply` hands it on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.asterisk.ami import Ami
from appliance.provisioning import dahdi_reload
from appliance.provisioning.prompts import Place


@dataclass
class Target:
    """Where a configuration is applied: its folders and how to reach its Asterisk."""

    config_root: Path
    log_file: Path | None = None
    connect: Callable[[], Ami] | None = None
    # a session allowed to load a module (AMI's ModuleLoad, class system), which the apply user may not
    # hold beside its CLI commands (appliance.asterisk.ami_users); None: the apply session tries itself
    connect_module_loader: Callable[[], Ami] | None = None
    keep: int = 10
    sounds_dir: Path | None = None  # where spoken IVR greetings are rendered (None: not here, e.g. a dry run)
    prompts: Place | None = None  # where the prompts in other languages go (None: not here)
    # DAHDI: where its files are linked from (None: they stay in the generation, e.g. the lab), the
    # modprobe.d folder, the dahdi_cfg command (None: not run here) and the last hardware scan.
    dahdi_root: Path | None = None
    modprobe_dir: Path | None = None
    dahdi_cfg: tuple[str, ...] | None = None
    inventory_file: Path | None = None
    # The appliance: the links were made by root (Ansible) and apply only checks them (dahdi_link False),
    # and dahdi_cfg runs in the root reload service, asked through dahdi_service (instead of dahdi_cfg).
    dahdi_link: bool = True
    dahdi_service: dahdi_reload.Service | None = None
    # How long an apply or rollback waits for another one (any process) to finish before giving up.
    lock_wait: float = 120.0

    @property
    def dahdi_managed(self) -> bool:
        """Whether apply gets dahdi_cfg run here (itself or through the root service)."""
        return self.dahdi_service is not None or self.dahdi_cfg is not None

    @property
    def generations_dir(self) -> Path:
        return self.config_root / "generations"

    @property
    def projection_file(self) -> Path:
        """The extensions' rows Asterisk reads at run time (:mod:`.projection`), beside the generations."""
        return self.config_root / "objects.sqlite3"

    @property
    def live_link(self) -> Path:
        return self.config_root / "live"

    @property
    def loaded_link(self) -> Path:
        """Points at the generation Asterisk was last seen to take (verified after its reload)."""
        return self.config_root / "loaded"

    def live_generation(self) -> Path | None:
        if self.live_link.is_symlink():
            return self.live_link.resolve()
        return None

    def loaded_generation(self) -> Path | None:
        """The generation Asterisk runs; None when unknown (an install older than the ``loaded`` link)."""
        if self.loaded_link.is_symlink():
            return self.loaded_link.resolve()
        return None
