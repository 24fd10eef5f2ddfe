"""The technician's commands: backup, restore, logs, calls, network show, debug collect.

Each one is a thin click layer over its service module in ``appliance.support`` (``backup``, ``logs``,
``calls``, ``network``, ``debug_bundle``); ``appliance.cli.linebox`` adds them to the ``linebox`` group.
Output fits an 80-column console; click leaves colour out when stdout is not a terminal.
"""

from __future__ import annotations

# Each command imports what it uses inside its function, so a small command (and the services
# started through this CLI: agi, collect, provision-serve) loads only its own modules, never
# pydantic, the renderer or udev for nothing.
import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

import click

from appliance.install import Install

USER = "cli"


def _install(ctx: click.Context) -> Install:
    try:
        install = Install.load(ctx.obj["home"])
    except FileNotFoundError as error:
        _fail(str(error))
    install.open()
    return install


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# ---------------------------------------------------------------- backup / restore


def _passphrase_from(file: Path | None) -> str | None:
    """The passphrase in ``file`` (its first line), or None; never from the command line (``ps`` shows that)."""
    if file is None:
        return None
    try:
        lines = file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read the passphrase file {file}: {getattr(error, 'strerror', None) or error}")
    if not lines or not lines[0]:
        _fail(f"the passphrase file {file} is empty")
    return lines[0]


PASSPHRASE_FILE = click.option(
    "--passphrase-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
    help="Read the backup's passphrase from this file's first line instead of asking for it.")


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Archive to write (default HOME/backups/linebox-backup-HOST-DATE.tar.gz).")
@click.option("--with-recordings", is_flag=True, help="Include the call recordings (can be large).")
@PASSPHRASE_FILE
@click.option("--no-passphrase", is_flag=True,
              help="No passphrase: the backup restores only on this box (its key), never on new hardware.")
@click.pass_context
def backup(ctx: click.Context, output: Path | None, with_recordings: bool, passphrase_file: Path | None,
           no_passphrase: bool) -> None:
    """Back up the database, the site, the TLS certificate and the settings in one .tar.gz.

    Passwords and PINs stay encrypted in it; the passphrase (asked for, or --passphrase-file) lets it be
    restored onto another box: keep it apart from the backup."""
    from appliance.support import backup as backup_mod
    if no_passphrase and passphrase_file:
        _fail("--no-passphrase and --passphrase-file: choose one")
    install = _install(ctx)
    passphrase = _passphrase_from(passphrase_file)
    if passphrase is None and not no_passphrase:
        try:
            passphrase = click.prompt("Passphrase for this backup (needed to restore it on another box)",
                                      hide_input=True, confirmation_prompt=True, err=True)
        except click.Abort:
            _fail("no backup written: give a passphrase (or --passphrase-file, or --no-passphrase)")
    output = output or backup_mod.rollback_folder(install) / backup_mod.default_name()
    try:
        info = backup_mod.create_backup(install, output, with_recordings=with_recordings, passphrase=passphrase)
    except backup_mod.BackupError as error:
        _fail(f"no backup written: {error}")
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror or error}")
    counts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in info.manifest["counts"].items() if n)
    click.echo(f"wrote {info.path} ({_size(info.size)}, schema {info.manifest['schema_version']})")
    for line in textwrap.wrap(f"site: {counts or 'empty'}", 80, subsequent_indent="      "):
        click.echo(line)
    recordings = sum(1 for name in info.manifest["files"] if name.startswith(backup_mod.RECORDINGS))
    if with_recordings:
        click.echo(f"recordings: {recordings}")
    if passphrase is None:
        click.echo("Its passwords are encrypted with this box's key: it restores only on this box.")
    else:
        click.echo("Its passwords are encrypted: restoring it on another box needs the passphrase.")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Restore without asking (after the checks and the preview).")
@PASSPHRASE_FILE
@click.pass_context
def restore(ctx: click.Context, file: Path, yes: bool, passphrase_file: Path | None) -> None:
    """Check a backup, show what it would change, then restore it (the current state is kept).

    A backup made on another box asks for the passphrase it was made with (or --passphrase-file)."""
    from appliance.model.models import User
    from appliance.site import service
    from appliance.support import backup as backup_mod
    install = _install(ctx)
    passphrase = _passphrase_from(passphrase_file)
    try:
        try:
            archive = backup_mod.open_backup(file, backup_mod.rollback_folder(install), passphrase)
        except backup_mod.PassphraseNeeded as needed:
            if passphrase is not None:
                raise
            click.echo(f"{file.name}: {needed}.", err=True)
            try:
                passphrase = click.prompt("Passphrase", hide_input=True, err=True)
            except click.Abort:
                raise needed from None
            archive = backup_mod.open_backup(file, backup_mod.rollback_folder(install), passphrase)
    except backup_mod.BackupError as error:
        for line in textwrap.wrap(f"{file.name}: {error}.", 80, subsequent_indent="  "):
            click.secho(line, fg="red", err=True)
        _fail("Nothing was changed.")
    with archive:
        click.echo(f"{file.name}: valid"[:80])
        click.echo(backup_mod.describe(archive.manifest)[:80])
        change = backup_mod.preview(archive, service.snapshot(), {u.username for u in User.select(User.username)},
                                    install.database)
        click.echo("Restoring it changes the stored site:")
        for line in backup_mod.preview_lines(change):
            click.echo(line)
        click.echo("The whole database is replaced (console users, audit log and call records too).")
        try:
            answer = yes or click.confirm("Restore this backup?", default=False)
        except click.Abort:  # Ctrl-C, or no terminal to answer on (use --yes in scripts)
            answer = False
        if not answer:
            _fail("not restored: nothing was changed")
        result = backup_mod.restore(install, archive, USER)
    for line in textwrap.wrap(f"restored: {', '.join(result.restored)}", 80, subsequent_indent="  "):
        click.echo(line)
    click.echo(f"the previous state is kept in {result.rollback}")
    click.echo("Run 'linebox apply' to make the restored site live.")
    if any(part.startswith("tls/") for part in result.restored):
        click.echo("The console's certificate changed: systemctl restart linebox-web")


# ---------------------------------------------------------------- logs


@click.command()
@click.option("--unit", "units", multiple=True, metavar="UNIT",
              help="asterisk, web, collector, apply or dahdi (repeatable; default all).")
@click.option("--since", default=None, help="10m, 2h, 1d, today, yesterday or '2026-11-23 08:00'.")
@click.option("-n", "--lines", default=50, show_default=True, help="How many of the last lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.pass_context
def logs(ctx: click.Context, units: tuple[str, ...], since: str | None, lines: int, follow: bool) -> None:
    """The logs of Linebox's services and Asterisk (the journal under systemd, else the log files)."""
    from appliance.support import logs as logs_mod
    install = _install(ctx)
    try:
        wanted = logs_mod.unit_names(units)
        start = logs_mod.parse_since(since) if since else None
    except logs_mod.LogsError as error:
        _fail(str(error))
    if logs_mod.under_systemd():
        command = logs_mod.journal_command(wanted, start, lines, follow)
        if not logs_mod.journal_readable():
            click.echo("note: this user may only see part of the journal; the linebox user needs the "
                       "systemd-journal group", err=True)
        try:
            sys.exit(subprocess.call(command, env=logs_mod.journal_env(sys.stdout.isatty())))
        except KeyboardInterrupt:
            sys.exit(0)
    files = logs_mod.log_files(install, wanted)
    if not files:
        _fail("no log files for these units here (and no journal: not running under systemd)")

    def emit(name: str, line: str) -> None:
        level = logs_mod.level_of(line)
        click.secho(f"{name}: {line}" if len(files) > 1 else line,
                    fg={"error": "red", "warning": "yellow"}.get(level or ""))

    for f in files:
        if len(files) > 1:
            click.echo(f"==> {f.name} ({f.path}) <==")
        if not f.path.exists():
            click.echo(f"(no file {f.path} yet)")
        for line in logs_mod.tail(f.path, lines, start):
            click.secho(line, fg={"error": "red", "warning": "yellow"}.get(logs_mod.level_of(line) or ""))
    if follow:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a technician stops following
            logs_mod.follow(files, emit, stop=lambda: False)


# ---------------------------------------------------------------- calls


@click.command()
@click.option("--active", is_flag=True, help="Only the calls in progress.")
@click.option("--today", is_flag=True, help="Only today's call records.")
@click.option("--since", default=None, help="Call records since: 10m, 2h, 1d, yesterday or a date.")
@click.option("--until", default=None, help="Call records before: a date (included whole) or a date and time.")
@click.option("--number", default=None, help="Only records from or to this number.")
@click.option("-n", "--lines", "limit", default=20, show_default=True, help="At most this many records.")
@click.pass_context
def calls(ctx: click.Context, active: bool, today: bool, since: str | None, until: str | None, number: str | None,
          limit: int) -> None:
    """Calls in progress (from Asterisk) and the recent call records (from the database); days and times
    in the site's time zone."""
    from appliance.asterisk.ami import AmiError
    from appliance.site import localtime
    from appliance.support import calls as calls_mod
    from appliance.support import logs as logs_mod
    install = _install(ctx)
    records_only = today or since is not None or until is not None or number is not None
    status = 0
    if not records_only:
        try:
            with install.connect_ami(timeout=10) as ami:
                in_progress = calls_mod.active_calls(ami)
            for line in calls_mod.active_lines(in_progress):
                click.echo(line)
        except AmiError as error:
            click.secho("Active calls: unknown, Asterisk is not reachable", fg="red")
            click.echo(f"  {error}"[:80])
            status = 1
    if active:
        sys.exit(status)
    zone = localtime.site_zone()  # days and times are the site's (the timezone setting)
    try:
        start, end = calls_mod.record_window(since or "today", until, zone)
    except logs_mod.LogsError as error:
        _fail(str(error))
    records = calls_mod.recent_records(start, number, limit, until=end)
    what = f" from or to {number}" if number else ""
    upto = f" until {end:%Y-%m-%d %H:%M}" if end else ""
    title = f"Call records{what} since {start:%Y-%m-%d %H:%M}{upto} ({zone.key}, newest first):"
    if not records_only:
        click.echo("")
    for line in calls_mod.record_lines(records, title, zone=zone):
        click.echo(line)
    sys.exit(status)


# ---------------------------------------------------------------- network


@click.group()
def network() -> None:
    """The box's network: interfaces, routes, DNS, listening ports."""


@network.command("show")
@click.pass_context
def network_show(ctx: click.Context) -> None:
    """Interfaces, addresses, default route, DNS servers, and the ports Asterisk and the console use."""
    from appliance.site import service
    from appliance.support import network as network_mod
    _install(ctx)
    settings = service.load_settings()
    for line in network_mod.render(network_mod.install_state(settings)):
        click.echo(line)


# ---------------------------------------------------------------- debug collect


@click.group()
def debug() -> None:
    """Material for a support case."""


@debug.command("collect")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Tarball to write (default HOME/support/linebox-debug-HOST-DATE.tar.gz).")
@click.option("-n", "--lines", default=2000, show_default=True, help="Log lines to include per log.")
@click.pass_context
def debug_collect(ctx: click.Context, output: Path | None, lines: int) -> None:
    """One tarball with logs, config, diag, hardware, registrations and services; secrets masked."""
    from appliance.support import debug_bundle
    install = _install(ctx)
    output = output or install.home / "support" / debug_bundle.default_name()
    try:
        debug_bundle.collect(install, output, log_lines=lines, say=click.echo)
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror or error}")
    click.echo(f"wrote {output} ({_size(output.stat().st_size)}); passwords, PINs and keys are masked")


COMMANDS = [backup, restore, logs, calls, network, debug]
