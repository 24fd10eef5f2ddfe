"""Every sentence Linebox says to a technician about cards and spans, in one table.

Keeping the texts here (not scattered through the detection and span code) lets them be
reviewed, translated and tested as a whole, and keeps the wording of the same fault identical
whether it comes from udev, sysfs or a tool's output.  Placeholders are ``str.format`` fields.
"""

from __future__ import annotations

import re
from functools import cache


def N_(text: str) -> str:  # noqa: N802 (gettext's own name for it)
    """``text`` unchanged: marks an advice text for the console's catalog (``make i18n-extract`` finds it
    by this name).  hardware imports nothing of appliance, so it has its own mark; the console translates
    a stored advice text through ``parse``."""
    return text


ADVICE: dict[str, str] = {
    # ---- cards (hardware.detect)
    "driver_not_loaded": N_("driver not loaded: modprobe {driver}"),
    "driver_not_in_debian": N_("modprobe {driver} alone will not bind this card with Debian's DAHDI: {note}"),
    "wrong_driver": N_(
        "bound to {bound} instead of {driver}: add 'blacklist {bound}' to a file in /etc/modprobe.d/, "
        "then unload {bound} and modprobe {driver} (or reboot)"
    ),
    "unknown_telephony": N_(
        "unknown {vendor} device {ids}: not in the Linebox card catalogue; note the IDs "
        "(lspci -nn / lsusb, dahdi_hardware) and send them in so the card can be added to hardware/data/cards.yaml"
    ),
    "astribank_no_firmware": N_(
        "Astribank waiting for firmware: check that the Astribank firmware files (USB_FW.hex, FPGA_*.hex in "
        "/usr/share/dahdi, from the dahdi firmware package) and fxload are installed and that the udev rule "
        "xpp.rules ran xpp_fxloader; then unplug and replug the unit"
    ),
    "astribank_usb_firmware": N_(
        "Astribank has its USB firmware but the FPGA is not loaded: check that FPGA_*.hex is in /usr/share/dahdi "
        "and run 'xpp_fxloader load' (it calls astribank_hexload); see the system log for astribank_hexload errors"
    ),
    "astribank_ready_no_driver": N_("Astribank firmware loaded but no driver bound: modprobe xpp_usb"),
    "astribank_twinstar": N_(
        "Astribank TwinStar monitor: the unit is under TwinStar control (see twinstar / xpp_sync)"
    ),
    "astribank_burner": N_(
        "Astribank in EEPROM-burner mode: it will not carry calls; it is waiting for astribank_tool "
        "(an interrupted upgrade?) — power-cycle it, and contact the vendor if it comes back in this mode"
    ),
    "unverified_id": N_("this card's ID is not verified against a driver source: {source}"),
    # ---- spans (hardware.dahdi_state)
    "alarm_red": N_("RED alarm on span {span}: no signal — check the cable and the line's framing ({framing_hint})"),
    "alarm_los": N_(
        "LOS on span {span}: loss of signal — nothing arrives on the receive pair: cable unplugged or in the wrong "
        "port, wrong pinout (straight vs crossover), or the carrier's line is down"
    ),
    "alarm_lof": N_(
        "LOF on span {span}: a signal arrives but frames do not line up — the framing/coding differ from the "
        "carrier's ({framing_hint})"
    ),
    "alarm_lmfa": N_(
        "loss of CRC4 multiframe alignment on span {span}: the far end does not send CRC4 — "
        "remove crc4 from this span's span= line in /etc/dahdi/system.conf (or ask the carrier to enable it)"
    ),
    "alarm_yellow": N_(
        "YELLOW (RAI) on span {span}: the far end does not see our signal — check our transmit pair and the "
        "far end's framing"
    ),
    "alarm_blue": N_("BLUE (AIS) on span {span}: the line is up but carries no service — call the carrier"),
    "alarm_recover": N_("span {span} is recovering from an alarm: wait a few seconds and look again"),
    "alarm_notopen": N_(
        "span {span} is not configured (NOTOPEN): run dahdi_cfg and check /etc/dahdi/system.conf has a span= "
        "line for it"
    ),
    "alarm_loop": N_(
        "span {span} is in loopback: turn it off with 'dahdi_maint -s {span} --loopback off' unless a test is running"
    ),
    "alarm_unknown": N_("span {span} shows an alarm DAHDI does not name (UUU): reload the driver and look again"),
    "span_unconfigured": N_("span {span} has no configured channels: run dahdi_cfg (check /etc/dahdi/system.conf)"),
    "span_unassigned": N_(
        "local span {local} of {device} is not assigned to a span number: run 'dahdi_span_assignments auto' "
        "(or add it to /etc/dahdi/assigned-spans.conf)"
    ),
    "port_failed": N_(
        "channel {channel} on span {span} FAILED: the module did not start — check the card's power connector "
        "(FXS modules need it), reseat the module, then reload the driver"
    ),
    "counter_bpv": N_(
        "code violations (BPV/CV) growing on span {span} (+{delta}): line coding does not match the carrier "
        "(AMI vs B8ZS/HDB3) or the cable is noisy or too long"
    ),
    "counter_crc4": N_("CRC4 errors growing on span {span} (+{delta}): check crc4 setting matches the carrier"),
    "counter_ebit": N_(
        "E-bit errors growing on span {span} (+{delta}): the far end signals CRC4 errors in what we send — check our "
        "transmit pair and that both ends agree on crc4"
    ),
    "counter_fas": N_(
        "framing (FAS) errors growing on span {span} (+{delta}): check the framing matches the carrier "
        "({framing_hint}) and the cable"
    ),
    "counter_slips": N_(
        "timing slips growing on span {span} (+{delta}): the clocks disagree — take timing from the carrier's span "
        "(span=N,1,... in /etc/dahdi/system.conf) and give every other span a lower priority or 0"
    ),
    "counter_errsec": N_(
        "errored seconds growing on span {span} (+{delta}): the line is dropping bits — check the cable"
    ),
}

FRAMING_HINTS: dict[str, str] = {
    "E1": N_("CCS/HDB3 for E1, with or without CRC4 as the carrier says"),
    "T1": N_("ESF/B8ZS for T1"),
    "J1": N_("ESF/B8ZS for J1"),
    "": N_("CCS/HDB3 for E1, ESF/B8ZS for T1"),
}


def advise(key: str, **values: object) -> str:
    """The advice text ``key`` with its placeholders filled in (KeyError on an unknown key)."""
    if "framing_hint" not in values:
        values["framing_hint"] = FRAMING_HINTS.get(str(values.get("spantype", "") or "").upper(), FRAMING_HINTS[""])
    return ADVICE[key].format(**values)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression that reads the values back out of a text ``template`` made."""
    out, seen, at = [], set(), 0
    for field in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[at:field.start()]))
        name = field.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
        at = field.end()
    out.append(re.escape(template[at:]))
    return re.compile("".join(out) + r"\Z", re.S)


def parse(text: str) -> tuple[str, dict[str, str]] | None:
    """The template and values an advice text was made of (``advise``), or None for another text.

    Scans store their advice as text (the inventory file, a span's status); the console finds its
    template again to show it in the reader's language, with the values (span numbers, drivers) as they are."""
    for template in ADVICE.values():
        match = _pattern(template).match(text)
        if match:
            return template, match.groupdict()
    return None
