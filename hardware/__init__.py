"""Telephony hardware: card catalogue, udev detection, DAHDI state and span diagnostics.

- :mod:`hardware.catalogue` — which PCI/USB IDs are which cards and drivers (data in ``data/cards.yaml``)
- :mod:`hardware.detect` — find cards through udev, diff inventories, follow hotplug (``python -m hardware.detect``)
- :mod:`hardware.dahdi_state` — read DAHDI devices/spans from sysfs and from dahdi_scan & co.
- :mod:`hardware.span_diagnostics` — turn span alarms and error counters into advice
- :mod:`hardware.advice` — every advice text, in one table

Still to come (issue 3): DAHDI config writers and FXO/FXS gateway models. See docs/hardware.md.
"""
