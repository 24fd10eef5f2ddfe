"""What the benchmarks share: the large site they measure and the folder their figures go to.

Kept apart from ``benchmarks.run`` (``make bench``), which runs the other benchmarks, so that they
import these without importing the runner back.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from appliance.site import schemas
from appliance.site.checks import Site

RESULTS = Path(__file__).parent / "results"


def run_header() -> dict:
    """What every results file starts with: when it was measured, and how busy the machine was then."""
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_at_start": round(os.getloadavg()[0], 2)}


def save_figures(name: str, figures: dict) -> None:
    """Keep ``figures`` as ``benchmarks/results/<name>.json``."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=1) + "\n")


def big_site(extensions: int = 10_000, trunks: int = 200, routes: int = 1_000) -> Site:
    site = Site()
    site.objects["extension"] = [
        schemas.Extension(number=str(10000 + i), name=f"User {i}", password=f"benchPassword{i:06d}",
                          voicemail=i % 2 == 0, voicemail_pin="1234")
        for i in range(extensions)
    ]
    site.objects["trunk"] = [
        schemas.Trunk(name=f"trunk{i}", host=f"10.1.{i // 250}.{i % 250 + 1}", username=f"u{i}",
                      password=f"p{i:08d}", registration=i % 2 == 0, qualify_seconds=0)
        for i in range(trunks)
    ]
    site.objects["ring_group"] = [
        schemas.RingGroup(number=str(600 + i), name=f"Group {i}",
                          members=[str(10000 + i * 10 + k) for k in range(5)], fallback="hangup")
        for i in range(100)
    ]
    site.objects["inbound_route"] = [
        schemas.InboundRoute(name=f"did{i}", did=str(5550000 + i), destination=f"extension:{10000 + i}")
        for i in range(routes // 2)
    ]
    site.objects["outbound_route"] = [
        schemas.OutboundRoute(name=f"out{i}", position=i,
                              patterns=[{"match": f"_{i:03d}X.", "strip": 3, "prepend": "+1"}],
                              trunks=[f"trunk{i % trunks}", f"trunk{(i + 1) % trunks}"])
        for i in range(routes // 2)
    ]
    return site
