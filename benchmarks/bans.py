"""How long a password guesser keeps being answered after the failure that bans it.

In the ban lab (``lab.banlab``: Debian's Asterisk, the base role's nftables firewall and the ban service
in a network namespace, the attacker in another): the attacker sends wrong-password REGISTERs for an
existing extension, one after the other as fast as the pbx answers; from the moment the ``ban_failures``-th
401 arrives, it keeps probing with single OPTIONS requests to the extension (answered with a challenge,
which is no failure, so the probes never count towards the next ban).  ``ban_after_failures_s`` is the time from
that Nth failed attempt to the send time of the first probe the pbx no longer answers (its packets are
dropped from then on), the slowest of the samples (a bound, not an average); p50 and the guesses
answered after the Nth are given too.  The path measured: Asterisk's security event over AMI, the ban
service's count and ban in SQLite, ``nft`` adding the address to the set.  Between samples the ban is
lifted by hand.  The machine's load average at the start is recorded.  Figures go to
``benchmarks/results/bans.json``.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from appliance.provisioning import apply
from appliance.security import bans
from appliance.site import service
from benchmarks.sites import run_header, save_figures

FAILURES = 5
PASSWORD = "Bench7Secret5x9q"
GOAL_S = 1.0
PROBE_TIMEOUT_S = 0.5


def measure(samples: int = 7) -> dict:
    from lab import rootfs
    from lab.banlab import ban_lab

    tmp = Path(tempfile.mkdtemp(prefix="linebox-bans-bench-"))
    delays, leaked = [], []
    try:
        with ban_lab(tmp / "home", rootfs.build(), peers=("att",),
                     settings={"ban_failures": FAILURES, "ban_seconds": 600, "local_networks": "192.0.2.0/24"}) as rig:
            service.save_object("extension", {"number": "101", "name": "Target", "password": PASSWORD},
                                user="bench", create=True)
            assert apply.apply(service.snapshot(), rig.install.facts(), rig.install.target(), user="bench").ok
            attacker = rig.client("att", timeout=2.0)
            try:
                for sample in range(samples):
                    before = rig.last_ban_id()
                    for n in range(FAILURES):
                        response = attacker.register("101", f"guess-{sample}-{n}")
                        assert response is not None and response.status == 401, response
                    nth = time.monotonic()
                    attacker.timeout = PROBE_TIMEOUT_S
                    answered = 0
                    while True:
                        sent = time.monotonic()
                        if attacker.options("101") is None:  # challenged, not a failure: counts for nothing
                            break
                        answered += 1
                        assert sent - nth < 30, "never dropped"
                    delays.append(sent - nth)
                    leaked.append(answered)
                    rig.wait_ban("192.0.2.2", before, in_firewall=True)
                    bans.unban("192.0.2.2", user="bench")
                    attacker.timeout = 2.0
                    time.sleep(PROBE_TIMEOUT_S)  # late answers to the last probe drain
            finally:
                attacker.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "ban_after_failures_s": round(max(delays), 3),
        "ban_after_failures_p50_s": round(statistics.median(delays), 3),
        "ban_samples": samples,
        "ban_failures_setting": FAILURES,
        "probes_answered_after_nth_max": max(leaked),
    }


def main() -> dict:
    figures: dict = run_header()
    figures.update(measure())
    figures["goals"] = {"ban_after_failures_s": GOAL_S}
    save_figures("bans", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:34} {value}")
