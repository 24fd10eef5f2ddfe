"""Small sites with analog ports and spans, built from the real schemas (no database needed)."""

from __future__ import annotations

from appliance.site import schemas
from appliance.site.checks import Site


def site(*, extensions=(), trunks=(), ports=(), spans=(), sip_trunks=(), zone: str = "us", routes=()) -> Site:
    out = Site(settings=schemas.Settings(tone_zone=zone))
    out.objects["extension"] = [schemas.Extension(number=n, name=f"Phone {n}", **extra)
                                for n, extra in (e if isinstance(e, tuple) else (e, {}) for e in extensions)]
    out.objects["dahdi_trunk"] = [schemas.DahdiTrunk(**t) for t in trunks]
    out.objects["analog_port"] = [schemas.AnalogPort(**p) for p in ports]
    out.objects["span"] = [schemas.Span(**s) for s in spans]
    out.objects["trunk"] = [schemas.Trunk(**t) for t in sip_trunks]
    out.objects["outbound_route"] = [schemas.OutboundRoute(**r) for r in routes]
    return out


def lab_pri() -> Site:
    """LAB.md's verified recipe: two loc spans back to back, network side on 1:0, CPE side on 1:1."""
    return site(
        trunks=[{"name": "pri-net", "group": 1, "destination": "hangup"},
                {"name": "pri-cpe", "group": 2, "destination": "extension:200"}],
        extensions=["200"],
        spans=[{"span": 1, "source": "loc", "loc": "1:0", "line_type": "t1", "switch_type": "national",
                "side": "network", "trunk": "pri-net"},
               {"span": 2, "source": "loc", "loc": "1:1", "line_type": "t1", "switch_type": "national",
                "side": "cpe", "trunk": "pri-cpe"}])
