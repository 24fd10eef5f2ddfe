"""Telephony hardware: card catalogue, udev detection, DAHDI state and config, FXO/FXS gateways.

Not built yet (issue 3); the package exists so the layout in DESIGN.md is visible from the start.
"""
