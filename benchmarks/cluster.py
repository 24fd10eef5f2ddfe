"""How long new calls take to reach a node's standby after the node dies (``node_failover_s``).

In the multi-node lab (``lab.cluster``: a real Kamailio edge rendered by ``appliance.provisioning.cluster``,
two lab Asterisk nodes, each the other's standby, every host in a network namespace of its own): a phone
registered at the edge calls queue 701 (on node a) until node a answers; node a's Asterisk is killed (-9);
the phone calls 701 again and again, and ``node_failover_s`` is the time from the kill to the first call
answered by node b, the slowest of the samples (a bound, not an average; the p50 too).
``node_marked_down_s`` is the time from the kill until the edge's dispatcher has node a down in every set
(the failed call marks it at once in its own set; OPTIONS probing, every second, in the other).  Node a is
started again and taken back by the edge between samples.  Not measured here yet: ``two_node_capacity_ratio``
(issue 25), which needs the nodes to run Linebox's own configuration.  Figures go to
``benchmarks/results/cluster.json``.
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.sites import run_header, save_figures

GOAL_S = 3.0
PASSWORD = "BenchEdgeCallerSecret7x"
LINKS = {"a": ("192.0.2.1", "192.0.2.2"), "b": ("192.0.2.5", "192.0.2.6"), "ph1": ("192.0.2.9", "192.0.2.10")}
SITE = f"""
linebox: 1
settings:
  cluster_edge: 198.51.100.1
extensions:
- {{number: '201', name: Caller, password: {PASSWORD}}}
queues:
- {{number: '701', name: Orders}}
cluster_nodes:
- {{name: a, address: {LINKS['a'][1]}, standby: b, queues: ['701']}}
- {{name: b, address: {LINKS['b'][1]}, standby: a}}
"""


def _answered_by(response) -> str:
    """The address of the node that answered (its 200 OK's Contact host); "" when no node did."""
    if response is None or response.status != 200:
        return ""
    match = re.search(r"sip:(?:[^@>;]*@)?([0-9.]+)", response.headers.get("contact", ""))
    return match.group(1) if match else ""


def measure(samples: int = 5) -> dict:
    from lab import rootfs
    from lab.cluster import cluster_lab

    tmp = Path(tempfile.mkdtemp(prefix="linebox-cluster-bench-"))
    failovers, marked = [], []
    try:
        with cluster_lab(tmp / "home", SITE, LINKS, rootfs.build()) as rig:
            phone = rig.client("ph1")
            try:
                assert phone.register("201", PASSWORD).status == 200
                for _ in range(samples):
                    first = _answered_by(phone.invite("201", PASSWORD, "701"))
                    assert first == LINKS["a"][1], f"queue 701's call answered by {first!r}, not node a"
                    rig.nodes["a"].process.kill()
                    killed = time.monotonic()
                    rig.nodes["a"].process.wait(timeout=10)
                    while _answered_by(phone.invite("201", PASSWORD, "701")) != LINKS["b"][1]:
                        assert time.monotonic() - killed < 30, "the standby never answered"
                    failovers.append(time.monotonic() - killed)
                    rig.wait_destinations({"a": "IP"}, timeout=10)
                    marked.append(time.monotonic() - killed)
                    rig.restart_node("a")
                    rig.wait_destinations({"a": "AP"}, timeout=20)
            finally:
                phone.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "node_failover_s": round(max(failovers), 3),
        "node_failover_p50_s": round(statistics.median(failovers), 3),
        "node_marked_down_s": round(max(marked), 3),
        "node_failover_samples": samples,
    }


def main() -> dict:
    figures: dict = run_header()
    figures.update(measure())
    figures["goals"] = {"node_failover_s": GOAL_S}
    save_figures("cluster", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:34} {value}")
