"""``linebox bans``: who is banned, why, since and until when; ban and unban by hand; the ban service.
``linebox tls``: the box's SIP certificate (show, install the admin's own, renew).

A thin click layer over ``appliance.security.bans`` (listing, ``ban``, ``unban``) and
``appliance.services.bans`` (``watch``: what ``linebox-bans.service`` runs).  Unbans and bans made here
are in the audit log as user ``cli``; the command runs as user ``linebox``, without ``CAP_NET_ADMIN``, so
the ban service puts them in the firewall (within a second).  Output fits an 80-column console.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click

from appliance.errors import SiteError
from appliance.install import Install

USER = "cli"


def _install(ctx: click.Context) -> Install:
    try:
        install = Install.load(ctx.obj["home"])
    except FileNotFoundError as error:
        click.secho(str(error), fg="red", err=True)
        sys.exit(1)
    install.open()
    return install


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


@click.group("bans", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also the bans that have ended (the latest 50).")
@click.pass_context
def bans_group(ctx: click.Context, show_all: bool) -> None:
    """Sources banned after failed authentications (times in UTC); `linebox bans unban ADDRESS` lifts one."""
    if ctx.invoked_subcommand is not None:
        return
    from appliance.security import bans

    _install(ctx)
    rows = bans.recent(50) if show_all else bans.active()
    if not rows:
        click.echo("no ban in force" if not show_all else "no ban recorded")
    for row in rows:
        ended = f"ended {_when(row.ended or row.until)} ({row.ended_by or 'expired'})"
        state = "in force" if bans.in_force(row) else ended
        click.echo(f"{row.source:<39} since {_when(row.since)}  until {_when(row.until)}  {state}")
        click.echo(f"    {row.reason} (by {row.by})")
    counts = bans.failure_counts(timedelta(hours=1))
    if counts:
        click.echo("failed authentications in the last hour: " +
                   ", ".join(f"{source} {count} ({service})" for source, service, count in counts[:5]))


@bans_group.command("unban")
@click.argument("address")
@click.pass_context
def unban_cmd(ctx: click.Context, address: str) -> None:
    """Lift the ban of ADDRESS now (recorded in the audit log)."""
    from appliance.security import bans

    _install(ctx)
    try:
        lifted = bans.unban(address, user=USER, enforce=False)
    except SiteError as error:
        click.secho(str(error), fg="red", err=True)
        sys.exit(1)
    click.echo(f"unbanned {bans.address(address)} (in the firewall within a second)" if lifted
               else f"{bans.address(address)} was not banned")


@bans_group.command("ban")
@click.argument("address")
@click.option("--seconds", type=int, default=None, help="How long (default: as the ban settings say).")
@click.option("--reason", default="banned by hand", show_default=True)
@click.pass_context
def ban_cmd(ctx: click.Context, address: str, seconds: int | None, reason: str) -> None:
    """Ban ADDRESS now (never one on the allow-list; recorded in the audit log)."""
    from appliance.security import bans

    _install(ctx)
    try:
        row = bans.ban(address, reason, user=USER, seconds=seconds, enforce=False)
    except SiteError as error:
        click.secho(str(error), fg="red", err=True)
        sys.exit(1)
    click.echo(f"banned {row.source} until {_when(row.until)} UTC (in the firewall within a second)")


@bans_group.command("watch")
@click.pass_context
def watch_cmd(ctx: click.Context) -> None:
    """Run the ban service: count Asterisk's security events, ban, keep the firewall in step."""
    from appliance.services import bans as ban_service

    install = _install(ctx)
    ban_service.run(install, say=click.echo, warn=lambda message: click.echo(message, err=True))


@click.group("tls")
def tls_group() -> None:
    """The box's SIP certificate (the TLS transport phones and trunks use): show, install your own, renew."""


def _apply_now(install: Install) -> None:
    """Load the new certificate: the apply reloads res_pjsip, which restarts the TLS listener only
    (registered phones and calls up stay)."""
    from appliance.provisioning import apply as apply_mod
    from appliance.site import service
    result = apply_mod.apply(service.snapshot, install.facts(), install.target(), user=USER)
    if not result.ok:
        click.secho(f"the certificate is in place but the apply failed at {result.error}; run `linebox apply`",
                    fg="red", err=True)
        sys.exit(1)
    click.echo(f"applied generation {result.generation}: new TLS connections get the new certificate"
               if result.changed else "applied: Asterisk already had it")


@tls_group.command("show")
@click.pass_context
def tls_show(ctx: click.Context) -> None:
    """Subject, issuer, expiry and SHA-256 fingerprint of the SIP certificate (what a phone is told to trust)."""
    from appliance.provisioning import sip_tls
    click.echo(sip_tls.describe(_install(ctx).config_root))


@tls_group.command("install")
@click.argument("certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-apply", is_flag=True, help="Put the files in place only; the next apply loads them.")
@click.pass_context
def tls_install(ctx: click.Context, certificate: Path, key: Path, no_apply: bool) -> None:
    """Replace the SIP certificate with CERTIFICATE (PEM, intermediates after it) and its KEY (PEM,
    unencrypted); checked first: nothing changes if they do not belong together or are not valid now."""
    from appliance.certificates import CertificateError
    from appliance.provisioning import sip_tls
    install = _install(ctx)
    try:
        checked = sip_tls.install(install.config_root, certificate.read_bytes(), key.read_bytes(), user=USER)
    except CertificateError as error:
        click.secho(f"refused, nothing changed: {error}", fg="red", err=True)
        sys.exit(1)
    click.echo(f"installed: {checked.summary}; SHA-256 {checked.fingerprint}")
    if not no_apply:
        _apply_now(install)


@tls_group.command("renew")
@click.option("--no-apply", is_flag=True, help="Put the files in place only; the next apply loads them.")
@click.pass_context
def tls_renew(ctx: click.Context, no_apply: bool) -> None:
    """A new self-signed SIP certificate (phones that pinned the old one must be told the new fingerprint)."""
    from appliance.provisioning import sip_tls
    install = _install(ctx)
    fingerprint = sip_tls.renew(install.config_root, user=USER)
    click.echo(f"new self-signed certificate, SHA-256 {fingerprint}")
    if not no_apply:
        _apply_now(install)


COMMANDS = [bans_group, tls_group]
