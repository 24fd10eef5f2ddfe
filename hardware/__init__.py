"""Telephony hardware: card catalogue, udev detection, DAHDI state and span diagnostics.

- :mod:`hardware.catalogue` — which PCI/USB IDs are which cards and drivers (data in ``data/cards.yaml``)
- :mod:`hardware.detect` — find cards through udev, diff inventories, follow hotplug (``python -m hardware.detect``)
- :mod:`hardware.dahdi_state` — read DAHDI devices/spans from sysfs and from dahdi_scan & co.
- :mod:`hardware.span_diagnostics` — turn span alarms and error counters into advice
- :mod:`hardware.advice` — every advice text, in one table
- :mod:`hardware.dahdi_config` — the DAHDI writers: system.conf, assigned-spans.conf, modules, the modprobe
  option and chan_dahdi.conf, from the site's ports and spans (``render_dahdi``)

FXO/FXS gateway models are in :mod:`hardware.gateways`. See docs/hardware.md.
"""
