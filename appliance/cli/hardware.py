"""``linebox hardware scan|show``, ``linebox spans`` and ``linebox gateways``: the technician's view of
telephony hardware, on an 80-column serial console; and ``linebox provision-serve``, the gateways'
provisioning server (what ``linebox-provision.service`` runs).

Thin click commands over :mod:`hardware.detect`, :mod:`hardware.dahdi_state`,
:mod:`hardware.span_diagnostics` and :mod:`appliance.gateways`; they live in their own module so
``appliance.cli.linebox`` only registers them.  Colour is only a hint (click drops it when stdout is not a
terminal); every state is also written as a word.
"""

from __future__ import annotations

# Each command imports what it uses inside its function, so a small command (and the services
# started through this CLI: agi, collect, provision-serve) loads only its own modules, never
# pydantic, the renderer or udev for nothing.
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from appliance.install import Install

if TYPE_CHECKING:
    from hardware import detect

WIDTH = 80


def _install(ctx: click.Context) -> Install:
    install = Install.load(ctx.obj["home"])
    install.open()
    return install


def _say(text: str, indent: str = "", fg: str | None = None) -> None:
    """One message, wrapped to the console width (an advice line is often longer than 80 columns)."""
    for line in textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                              break_on_hyphens=False) or [indent]:
        click.secho(line, fg=fg)


def _show_device(device: detect.DetectedDevice) -> None:
    """Two lines: where and what the card is; then its driver (bound or missing) and IDs."""
    what = f"{device.vendor_name} {device.model}" if device.model else f"unknown {device.vendor_name} device"
    _say(f"{device.key}  {what}")
    driver = f"driver {device.driver}" if device.driver else "no driver bound"
    if device.expected_driver and device.expected_driver != device.driver:
        driver += f" (needs {device.expected_driver})"
    state = f", firmware state {device.state}" if device.state else ""
    _say(f"{driver}, IDs {device.ids}{state}", "    ", fg=None if device.driver else "yellow")


@click.group("hardware")
def hardware_group() -> None:
    """Telephony cards: detect them, and see what is configured on them."""


@hardware_group.command("scan")
@click.pass_context
def hardware_scan(ctx: click.Context) -> None:
    """Detect telephony cards (udev), store the inventory and say what changed since the last scan."""
    install = _install(ctx)
    previous_exists = install.inventory_file.exists()
    from hardware import detect  # pyudev and the card catalogue: only for these commands
    previous = detect.load(install.inventory_file)
    try:
        inventory = detect.scan()
    except Exception as error:  # pyudev/libudev unavailable: say so, never a traceback
        click.secho(f"cannot read the devices from udev: {error}", fg="red", err=True)
        sys.exit(1)
    detect.save(inventory, install.inventory_file)
    if not inventory.devices:
        click.echo("no telephony cards found on the PCI or USB buses")
    for device in inventory.devices:
        _show_device(device)
        for advice in device.advice:
            _say(advice, "    ", fg="yellow")
    diff = detect.compare(previous, inventory)
    if not previous_exists:
        _say(f"first scan: {len(inventory.devices)} device(s) stored in {install.inventory_file}")
    elif not diff:
        click.echo("no change since the last scan")
    else:
        click.echo("changed since the last scan:")
        for device in diff.added:
            _say(f"added: {device.key} {device.model or device.ids}", "  ")
        for device in diff.removed:
            _say(f"removed: {device.key} {device.model or device.ids}", "  ", fg="yellow")
        for change in diff.changed:
            _say(change.message, "  ")
    if any(device.advice for device in inventory.devices):
        sys.exit(1)


@hardware_group.command("show")
@click.pass_context
def hardware_show(ctx: click.Context) -> None:
    """Cards from the last scan, and the spans and analog ports configured on each."""
    from appliance.site.telephony import overview
    install = _install(ctx)
    view = overview(install.inventory_file)
    if not view.scanned:
        click.echo("no hardware scan stored yet: run 'linebox hardware scan'")
    for card in view.cards:
        if card.device is not None:
            _show_device(card.device)
        else:
            _say(f"{card.key}  not found by the last scan", fg="yellow")
        _show_configured(card.spans, card.ports, view.layouts)
        if card.device is not None and not card.spans and not card.ports:
            click.echo("    nothing configured on this card")
    if view.loose_spans or view.loose_ports:
        click.echo("not tied to a card (dynamic spans, ports known by channel only):")
        _show_configured(view.loose_spans, view.loose_ports, view.layouts)
    if view.trunks:
        click.echo("DAHDI trunks:")
        for trunk in view.trunks:
            _say(f"{trunk.name}: {view.dial_string(trunk)}, {trunk.hunting.replace('_', ' ')}, "
                 f"calls in go to {trunk.destination.replace('_', ' ')}; "
                 f"{', '.join(view.members(trunk)) or 'no line yet'}", "    ")
    if not (view.cards or view.loose_spans or view.loose_ports):
        click.echo("no cards, spans or analog ports configured")


def _show_configured(spans: list, ports: list, layouts: dict) -> None:
    for span in spans:
        lay = layouts[span.span]
        where = f"loc {span.loc}" if span.source == "loc" else f"local span {span.local_span}"
        _say(f"span {span.span} ({where}): {span.line_type.upper()} PRI {span.side}, {span.switch_type}, "
             f"{span.framing}/{span.coding}{'/crc4' if span.crc4 else ''}, channels {lay.first}-{lay.last} "
             f"-> DAHDI trunk {span.trunk}", "    ")
    for port in ports:
        seat = f"port {port.port}, " if port.card else ""
        bound = f"extension {port.extension}" if port.kind == "fxs" else f"DAHDI trunk {port.trunk}"
        _say(f"{seat}channel {port.channel}: {port.kind.upper()} -> {bound}", "    ")


@click.command("spans")
@click.option("--sysfs", "sysfs", type=click.Path(file_okay=False, path_type=Path), default=Path("/sys"),
              show_default=True, help="Root of the sysfs tree to read (a copy, for support).")
@click.option("--proc", "proc", type=click.Path(file_okay=False, path_type=Path), default=Path("/proc/dahdi"),
              show_default=True, help="Folder of DAHDI's per-span counter files, when the kernel has it.")
@click.option("--watch", type=click.IntRange(0, 600), default=0, show_default=True,
              help="Read the error counters twice, this many seconds apart, and advise on those that grew.")
def spans_cmd(sysfs: Path, proc: Path, watch: int) -> None:
    """DAHDI spans: state, alarms, error counters and what to do. Exit 1 when a span needs attention."""
    from hardware import dahdi_state, span_diagnostics
    state = dahdi_state.read_sysfs(sysfs)
    if not state.spans:
        click.secho("no DAHDI spans: is the card's driver loaded ('linebox hardware scan'), "
                    "and has dahdi_cfg run?", fg="yellow")
        sys.exit(1)
    before = _counters(proc, state)
    after = None
    if watch and before:
        time.sleep(watch)
        after = _counters(proc, state)
    reports = span_diagnostics.diagnose(state, before if after else None, after)
    for report, span in zip(reports, state.spans, strict=True):
        verdict = "OK" if report.ok else ("ALARM " + ",".join(sorted(report.alarms)) if report.alarms else "CHECK")
        chans = f"{span.basechan}-{span.basechan + span.channels - 1}" if span.basechan and span.channels else "-"
        click.secho(f"span {report.span:<3} {report.name[:16]:<16} {report.spantype[:12]:<12} "
                    f"chans {chans:<7} {verdict}"[:WIDTH],
                    fg=None if report.ok else "red")
        if span.lineconfig:
            click.echo(f"    line {span.lineconfig}{', timing master' if span.is_sync_master else ''}")
        counters = (after or before or {}).get(span.number)
        if counters is not None:
            click.echo(f"    errors: bpv {counters.bpv}, crc4 {counters.crc4}, e-bit {counters.ebit}, "
                       f"fas {counters.fas}, slips {counters.timing_slips}")
        for advice in report.advice:
            _say(advice, "    ", fg="yellow")
    if not all(report.ok for report in reports):
        sys.exit(1)


def _counters(proc: Path, state) -> dict:
    from hardware import dahdi_state
    out = {}
    for span in state.spans:
        path = proc / str(span.number)
        try:
            out[span.number] = dahdi_state.parse_proc_span(path.read_text()).counters
        except (OSError, ValueError):
            continue
    return out


@click.command("gateways")
@click.pass_context
def gateways_cmd(ctx: click.Context) -> None:
    """FXO/FXS gateways, their ports, what each is bound to, and registration state (from Asterisk)."""
    from appliance.asterisk.ami import AmiError
    from appliance.gateways import port_state
    from appliance.gateways import service as gateways
    install = _install(ctx)
    listed = gateways.list_gateways()
    if not listed:
        click.echo("no gateways adopted (see the console's Gateways page)")
        return
    states: dict[tuple[str, int], str] = {}
    try:
        with install.connect_ami(timeout=5) as ami:
            states = {(s.gateway, s.number): s.state for s in port_state.port_states(ami)}
    except (AmiError, OSError) as error:
        _say(f"Asterisk not reachable ({error}): registration state unknown", fg="yellow")
    for gateway in listed:
        click.echo(f"{gateway['mac']}  {gateway['model']:<12} {gateway['name'][:24]:<24} "
                   f"{gateway['address'] or 'no address'}"[:WIDTH])
        for port in gateway["ports"]:
            bound = (f"extension {port['extension']}" if port["extension"] else
                     f"trunk {port['trunk']}" if port["trunk"] else "unbound")
            state = "unbound" if bound == "unbound" else states.get((gateway["mac"], port["number"]), "unknown")
            fg = None if state in ("registered", "trunk reachable", "unbound") else "yellow"
            click.secho(f"    port {port['number']:<2} {port['kind'].upper():<4} {bound:<24} {state}"[:WIDTH], fg=fg)


@click.command("gateway-window")
@click.argument("mac")
@click.option("--minutes", type=int, default=30, show_default=True, help="How long the window stays open (1-1440).")
@click.pass_context
def gateway_window_cmd(ctx: click.Context, mac: str, minutes: int) -> None:
    """Open gateway MAC's adoption window: its next fetch without its credential is served, once."""
    from appliance.errors import SiteError
    from appliance.gateways import service as gateways
    _install(ctx)
    try:
        until = gateways.open_adoption_window(mac, "cli", minutes)
    except SiteError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"adoption window for {mac} open until {until:%Y-%m-%d %H:%M} UTC: restart the gateway now")


@click.command("gateway-provisioning")
@click.option("--https/--no-https", default=None,
              help="Send the models that can fetch over HTTPS there (the console's HTTPS port); the rest stay on HTTP.")
@click.option("--networks", metavar="LIST",
              help="Networks whose devices may fetch files (192.168.1.0/24, comma- or space-separated); "
                   "'default' restores the private ranges.")
@click.pass_context
def gateway_provisioning_cmd(ctx: click.Context, https: bool | None, networks: str | None) -> None:
    """Show, or change, how gateways fetch their files: HTTPS for the models that can, and from which networks."""
    from appliance.errors import SiteError
    from appliance.gateways import service as gateways
    _install(ctx)
    try:
        if networks is not None:
            listed = [] if networks.strip() == "default" else [n for n in re.split(r"[\s,]+", networks) if n]
            gateways.set_provisioning_networks(listed, "cli")
        if https is not None:
            gateways.set_provisioning_https(https, "cli")
    except SiteError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"HTTPS for the models that can fetch over it: {'on' if gateways.provisioning_https() else 'off'}")
    _say(f"files served to: {' '.join(gateways.provisioning_networks())}")


@click.command("provision-serve")
@click.option("--address", envvar="LINEBOX_PROVISION_ADDRESS", default="0.0.0.0", show_default=True,
              help="Address to listen on ('::' for IPv6 and IPv4). Env: LINEBOX_PROVISION_ADDRESS.")
@click.option("--port", envvar="LINEBOX_PROVISION_PORT", type=click.IntRange(0, 65535), default=8080,
              show_default=True, help="Plain-HTTP port gateways fetch their files from. Env: LINEBOX_PROVISION_PORT.")
@click.pass_context
def provision_serve_cmd(ctx: click.Context, address: str, port: int) -> None:
    """Serve FXO/FXS gateways their provisioning files over plain HTTP until stopped."""
    from appliance.services import provision
    sys.exit(provision.run(ctx.obj["home"], address, port))


COMMANDS = (hardware_group, spans_cmd, gateways_cmd, gateway_window_cmd, gateway_provisioning_cmd,
            provision_serve_cmd)
