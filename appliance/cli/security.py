"""``linebox bans``: who is banned, why, since and until when; ban and unban by hand; the ban service.

A thin click layer over ``appliance.security.bans`` (listing, ``ban``, ``unban``) and
``appliance.services.bans`` (``watch``: what ``linebox-bans.service`` runs).  Unbans and bans made here
are in the audit log as user ``cli``; the command runs as user ``linebox``, without ``CAP_NET_ADMIN``, so
the ban service puts them in the firewall (within a second).  Output fits an 80-column console.
"""

from __future__ import annotations

import sys
from datetime import timedelta

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


COMMANDS = [bans_group]
