"""The steps of an apply or a rollback: each one timed and reported as it happens, or failed with a reason.

Shared by the orchestration (:mod:`.apply`) and the steps it runs (:mod:`.dahdi`, :mod:`.reload`,
:mod:`.verify`): a step raises :class:`ApplyFailed` to stop the apply and have it rolled back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from appliance.asterisk.ami import AmiError
from appliance.catalog import N_
from appliance.errors import Message

#: The words the steps are named with, marked for the console's catalog (a step is "word" or "word: what",
#: e.g. "reload: dialplan reload", "rollback: swap"; the console translates the words it knows).
STEP_WORDS = frozenset({
    N_("repair"), N_("check"), N_("sounds"), N_("prompts"), N_("render"), N_("diff"), N_("objects"),
    N_("asterisk"), N_("stage"), N_("swap"), N_("expire"), N_("rollback"), N_("connect"), N_("reload"),
    N_("re-register"), N_("verify"), N_("dahdi"), N_("link files"), N_("note"), N_("dahdi_cfg"),
})
#: A step's detail when Asterisk answered the first AMI request.
ANSWERS = Message(N_("Asterisk answers over AMI"))


@dataclass
class Step:
    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        detail = f": {self.detail}" if self.detail else ""
        return f"[{mark}] {self.name} ({self.seconds * 1000:.0f} ms){detail}"


class ApplyFailed(Exception):
    """A step failed.  ``dahdi_untouched``: DAHDI never read the new files (no dahdi_cfg to undo)."""

    def __init__(self, step: str, message: str, dahdi_untouched: bool = False):
        self.step = step
        self.dahdi_untouched = dahdi_untouched
        self.message = message  # a ``Message`` keeps its catalog form for the console
        super().__init__(message)

    def summary(self) -> Message:
        """"step: what failed", as an apply's result says it (the step's word translated by the console)."""
        return Message(N_("%(step)s: %(error)s"), step=self.step, error=self.message)


class Run:
    """One apply or rollback in progress: times and reports each step."""

    def __init__(self, progress: Callable[[Step], None] | None):
        self.steps: list[Step] = []
        self.progress = progress

    def step(self, name: str, action: Callable[[], str | None]) -> str | None:
        start = time.monotonic()
        try:
            detail = action()
        except ApplyFailed as error:
            self.record(Step(name, False, error.message, time.monotonic() - start))
            raise
        except (AmiError, OSError) as error:
            self.record(Step(name, False, str(error), time.monotonic() - start))
            raise ApplyFailed(name, str(error)) from error
        self.record(Step(name, True, detail or "", time.monotonic() - start))
        return detail

    def record(self, step: Step) -> None:
        self.steps.append(step)
        if self.progress:
            self.progress(step)
