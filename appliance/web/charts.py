"""Charts drawn on the server as SVG with pygal: one look for every report, and no script in them.

pygal always adds a small config script for its optional tooltips: a chart shown as an image never runs
it, and it has no place in a console that runs no third-party script, so it is taken out.  The charts are
served with ``SVG_CSP`` (pygal styles its SVG inline).
"""

from __future__ import annotations

import re

from pygal.style import CleanStyle

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def chart_config() -> dict:
    """pygal's settings for a console chart (a new style each time: pygal keeps state in it)."""
    # pygal's default 64 px "no data" text is wider than the chart: 24 px fits the 800 px width
    return {"style": CleanStyle(no_data_font_size=24), "js": [], "width": 800, "height": 320, "show_legend": True,
            "legend_at_bottom": True, "x_label_rotation": 0, "print_values": False,
            "disable_xml_declaration": False}


def without_script(svg: bytes) -> bytes:
    """The rendered chart without pygal's tooltip script."""
    return re.sub(rb"<script\b.*?</script>", b"", svg, flags=re.S)
