"""The ``linebox`` command's root group and its core commands: a thin click layer over the service functions.

The technician's commands live in ``appliance.cli.support`` and the hardware ones in
``appliance.cli.hardware``; this module registers them.

Output is plain text that fits an 80-column serial console; click drops
colour by itself when stdout is not a terminal.  Exit status: 0 done,
1 refused (bad input, failed apply), 2 usage error.
"""

from __future__ import annotations

# Each command imports what it uses inside its function, so a small command (and the services
# started through this CLI: agi, collect, provision-serve) loads only its own modules, never
# pydantic, the renderer or udev for nothing.
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from appliance.cli import hardware, security, support
from appliance.errors import SiteError
from appliance.install import Install, home_dir

if TYPE_CHECKING:
    from appliance.callcenter.reports import AgentKpis, QueueKpis
    from appliance.provisioning import apply as apply_mod

USER = "cli"


def _install(ctx: click.Context) -> Install:
    install = Install.load(ctx.obj["home"])
    install.open()
    return install


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def _print_step(step: apply_mod.Step) -> None:
    click.secho(str(step), fg=None if step.ok else "red")


@click.group()
@click.option("--home", type=click.Path(path_type=Path), default=None,
              help="Install folder (default $LINEBOX_HOME or /var/lib/linebox).")
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """Linebox: an on-premises PBX and call center on Debian's Asterisk."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home or home_dir()


@main.command()
@click.option("--database-url", default="", metavar="URL",
              help="PostgreSQL instead of the SQLite file: postgresql://user@host:port/database (an empty database).")
@click.pass_context
def init(ctx: click.Context, database_url: str) -> None:
    """Create an install: database, settings, first admin."""
    home: Path = ctx.obj["home"]
    if (home / "appliance.json").exists():
        click.echo(f"already initialised: {home}")
    else:
        try:
            Install.create(home, database_url=database_url)
        except ValueError as error:
            _fail(str(error))
        click.echo(f"initialised {home}")
    install = _install(ctx)
    install.ami_secret()
    from appliance.site import service
    service.save_settings({}, "init")  # every setting's row: the small services read rows (appliance.site.stored)
    from appliance.access import accounts
    password = accounts.ensure_first_admin()
    if password:
        click.echo(f"first login: admin / {password}  (change it at first login)")


@main.group("db")
def db_group() -> None:
    """The site's database: SQLite (the default) or PostgreSQL."""


@db_group.command("migrate-to-postgresql")
@click.argument("url")
@click.pass_context
def db_migrate_to_postgresql(ctx: click.Context, url: str) -> None:
    """Move the site's data from SQLite into the empty PostgreSQL database URL, and switch to it.

    Every table is copied and compared (row counts and checksums); if anything fails the site stays on
    SQLite.  Restart Linebox's services afterwards."""
    from appliance.model.engine import shown_url
    from appliance.support import database_move
    install = Install.load(ctx.obj["home"])
    try:
        checks = database_move.migrate_to_postgresql(install, url, USER, say=click.echo)
    except database_move.MoveError as error:
        _fail(str(error))
    click.echo(f"moved {sum(c.rows for c in checks)} rows in {len(checks)} tables to "
               f"{shown_url(url)}; restart Linebox's services")


@main.group()
def config() -> None:
    """The whole site as one YAML file."""


@config.command("export")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="File (default: stdout).")
@click.option("--example", is_flag=True,
              help="The documented example site (a customer-service line) instead of this one.")
@click.pass_context
def config_export(ctx: click.Context, output: Path | None, example: bool) -> None:
    """Write the whole site (with its secrets) as YAML, or the example site (--example)."""
    from appliance import config_file
    if example:
        text = config_file.example_text()  # needs no install: it is the shipped file
    else:
        _install(ctx)
        text = config_file.export_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        output.chmod(0o600)
        click.echo(f"wrote {output}")


@config.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate; store nothing.")
@click.option("--dry-run", is_flag=True, help="Say what the import would change; store nothing.")
@click.option("--reset", "resets", multiple=True, metavar="SECTION",
              help="Start SECTION from empty (settings: from the defaults) instead of keeping what the file "
                   "leaves out; repeatable; 'all' makes the install exactly the file.")
@click.pass_context
def config_import(ctx: click.Context, file: Path, check: bool, dry_run: bool, resets: tuple[str, ...]) -> None:
    """Validate FILE and store it (all of it, or nothing).

    A section the file does not have is left as it is; a section it has is made exactly what it
    lists; settings not named in 'settings:' keep their values.  --reset SECTION drops what the file
    leaves out of SECTION.
    """
    from appliance import config_file
    _install(ctx)
    try:
        text = config_file.read_file(file)
        if check:
            config_file.parse_text(text, resets)
            click.echo(f"{file}: valid")
            return
        summary = config_file.import_text(text, USER, reset=resets, dry_run=dry_run)
    except SiteError as error:
        for problem in error.problems:
            click.secho(f"{file}: {problem}", fg="red", err=True)
        _fail(f"{file}: {len(error.problems)} problem(s); nothing was stored")
    for line in summary.lines():
        click.echo(line)
    if not dry_run:
        click.echo("Run 'linebox apply' to make it live.")


@main.command("apply")
@click.option("--dry-run", is_flag=True, help="Show the diff; change nothing.")
@click.option("--diff", is_flag=True, help="Also print the configuration diff (a dry run always does).")
@click.pass_context
def apply_cmd(ctx: click.Context, dry_run: bool, diff: bool) -> None:
    """Make the stored site live in Asterisk: each step reported, rolled back on failure."""
    from appliance.provisioning import apply as apply_mod
    from appliance.site import service
    install = _install(ctx)
    result = apply_mod.apply(service.snapshot, install.facts(), install.target(), user=USER,
                             dry_run=dry_run, progress=_print_step, with_diff=diff)
    if result.diff:
        click.echo(result.diff, nl=False)
    if not result.ok:
        if result.rolled_back:
            click.secho("rolled back: the previous configuration is live", fg="yellow")
        _fail(f"apply failed at {result.error}")
    if not result.changed:
        click.echo("nothing to apply: Asterisk already runs this configuration")
    elif dry_run:
        click.echo(f"dry run: {len(result.changed)} file(s) would change; nothing applied")
    else:
        click.echo(f"applied generation {result.generation}")


@main.command()
@click.argument("generation", required=False)
@click.pass_context
def rollback(ctx: click.Context, generation: str | None) -> None:
    """Put an earlier generation back live (default: the one before the live one)."""
    from appliance.provisioning import apply as apply_mod
    install = _install(ctx)
    result = apply_mod.rollback(install.target(), generation, progress=_print_step, user=USER)
    if not result.ok:
        _fail(f"rollback failed: {result.error}")
    click.echo(f"generation {result.generation} is live")


@main.group()
def cluster() -> None:
    """Multi-node mode: the Kamailio edge in front of several Asterisk nodes (the installer's guide)."""


@cluster.command("render")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def cluster_render(ctx: click.Context, folder: Path) -> None:
    """Write the edge's kamailio.cfg and dispatcher.list and each node's PJSIP side under FOLDER."""
    from appliance.provisioning import cluster as cluster_mod
    from appliance.site import service
    _install(ctx)
    problems = service.check()
    if problems:
        _fail("the site has problems:\n" + "\n".join(f"  {p}" for p in problems))
    site = service.snapshot()
    if not cluster_mod.is_cluster(site):
        _fail("the site is one box: set cluster_edge and add cluster nodes first (see the installer's guide)")
    for path in cluster_mod.write_all(site, folder):
        click.echo(str(path))


@main.command()
@click.pass_context
def generations(ctx: click.Context) -> None:
    """List the kept configuration generations."""
    from appliance.provisioning import apply as apply_mod
    install = _install(ctx)
    for g in apply_mod.list_generations(install.target()):
        live = "live" if g["live"] else "    "
        click.echo(f"{g['id']}  {live}  {g.get('when', '?'):25}  {g.get('user', '?'):8}  "
                   f"{', '.join(g.get('changed', []))[:30]}")


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Asterisk's state, endpoints and trunk registrations."""
    from appliance.support import diagnostics
    from appliance.support import status as box_status
    install = _install(ctx)
    st = box_status.asterisk_status(install, timeout=30)  # a technician at the console can wait longer than the page
    config = diagnostics.check_config(install)  # which generation is live, and which one Asterisk runs
    config_line = f"Config:   {config.text}" + (f" ({config.advice})" if config.level == "fail" else "")
    if not st.reachable:
        click.echo(config_line[:80])
        _fail(f"Asterisk: DOWN ({st.error})")
    click.echo(f"Asterisk: up, version {st.version}, {st.active_calls} active call(s), up {st.uptime}"[:80])
    click.secho(config_line[:80], fg="red" if config.level == "fail" else None)
    click.echo(f"Trunks ({len(st.endpoints)}):")
    for e in st.endpoints:
        click.echo(f"  {e.name:<16} {e.state:<12} {'; '.join(e.contacts)[:48]}")
    phones = sorted(st.contacts, key=lambda c: (len(c.aor), c.aor))
    click.echo(f"Phones registered ({len({c.aor for c in phones})}):")
    for c in phones:
        click.echo(f"  {c.aor:<16} {c.status:<12} {c.address[:48]}")
    if st.registrations:
        click.echo("Trunk registrations:")
        for r in st.registrations:
            click.secho(f"  {r.name:<16} {r.status:<12} {r.server[:48]}",
                        fg=None if r.status == "Registered" else "yellow")


@main.command()
@click.option("--all", "show_all", is_flag=True, help="Do not cut the report to one 24-line screen.")
@click.pass_context
def diag(ctx: click.Context, show_all: bool) -> None:
    """What is wrong with this box? Exit status: 0 fine, 1 warnings, 2 faults."""
    from appliance.support import diagnostics
    install = _install(ctx)
    findings = diagnostics.run_checks(install)
    for line in diagnostics.render(findings, height=10_000 if show_all else 23):
        level = line[:4]
        click.secho(line, fg={"FAIL": "red", "WARN": "yellow"}.get(level))
    sys.exit(diagnostics.exit_status(findings))


@main.command("reset-admin")
@click.pass_context
def reset_admin(ctx: click.Context) -> None:
    """Give the admin user a new one-time password (from the console or SSH)."""
    _install(ctx)
    from appliance.access import accounts
    click.echo(f"admin / {accounts.reset_admin(USER)}  (change it at first login)")


@main.command()
@click.option("--once", is_flag=True, help="One round, then exit (default: follow until stopped).")
@click.pass_context
def collect(ctx: click.Context, once: bool) -> None:
    """Copy Asterisk's queue_log and call records into the database (safe to repeat)."""
    from appliance.services import collector
    install = _install(ctx)
    if once:
        click.echo(collector.collect_once(install))
        return
    collector.run(install, say=click.echo, warn=lambda message: click.echo(message, err=True))


@main.command()
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (default today).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day, included.")
@click.option("--queue", default=None, help="One queue number.")
@click.option("--service-seconds", type=click.IntRange(1, 3600), default=None,
              help="Service-level threshold for every queue (default: each queue's own setting).")
@click.option("--agents", is_flag=True, help="Per-agent figures instead of per-queue.")
@click.option("--dispositions", "by_disposition", is_flag=True,
              help="Answered calls per queue, agent and disposition (wrap-up code) instead.")
@click.option("--missed", "by_missed", is_flag=True,
              help="The follow-up of missed queue calls per queue (reached, called in again, still open) instead.")
@click.option("--callbacks", "by_callback", is_flag=True,
              help="Queue callbacks per queue (asked for, completed, failed, time to callback) instead.")
@click.option("--survey", "by_survey", is_flag=True,
              help="Satisfaction-survey ratings per queue and agent (count, average, each digit) instead.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table.")
@click.option("--bom/--no-bom", default=None,
              help="Start the CSV with a UTF-8 byte-order mark, for Excel (default: when the site's language is zh).")
@click.pass_context
def report(ctx: click.Context, start, end, queue, service_seconds: int | None, agents: bool,
           by_disposition: bool, by_missed: bool, by_callback: bool, by_survey: bool, as_csv: bool,
           bom: bool | None) -> None:
    """Call-center KPIs (definitions in docs/reports.md), from collected data; days are the site's local
    days (the timezone setting)."""
    from appliance.callcenter import reports
    _install(ctx)
    from appliance.site import localtime
    zone = localtime.site_zone()  # days are the site's: --from 2026-11-23 starts at midnight in its time zone
    first = start.date() if start else datetime.now(zone).date()
    start, end = localtime.days(first, end.date() if end else first, zone)
    if as_csv and bom is None:
        from appliance.site import service
        bom = service.load_settings().language == "zh"
    if by_survey:
        from appliance.callcenter import survey
        scores = survey.survey_report(start, end, queue)
        if as_csv:
            _csv_out(reports.to_csv(scores), bool(bom))
        else:
            click.echo(f"{'queue':<8}{'agent':<10}{'ratings':>8}{'average':>8}{'1':>5}{'2':>5}{'3':>5}{'4':>5}{'5':>5}")
            for r in scores:
                click.echo(f"{r.queue:<8}{r.agent or '(all)':<10}{r.ratings:>8}{_num(r.average):>8}{r.ones:>5}"
                           f"{r.twos:>5}{r.threes:>5}{r.fours:>5}{r.fives:>5}")
        return
    if by_disposition:
        from appliance.callcenter import dispositions
        counted = dispositions.disposition_report(start, end, queue)
        if as_csv:
            _csv_out(reports.to_csv(counted), bool(bom))
        else:
            click.echo(f"{'queue':<8}{'agent':<10}{'calls':>7}  disposition")
            for d in counted:
                click.echo(f"{d.queue:<8}{d.agent:<10}{d.calls:>7}  {d.disposition or '(none)'}")
        return
    if by_callback:
        from appliance.callcenter import callbacks
        asked = callbacks.report(start, end, queue)
        if as_csv:
            _csv_out(reports.to_csv(asked), bool(bom))
        else:
            click.echo(f"{'queue':<8}{'asked':>7}{'done':>6}{'failed':>8}{'pending':>9}  median / longest to callback")
            for c in asked:
                median = "-" if c.median_seconds_to_callback is None else f"{c.median_seconds_to_callback} s"
                longest = "-" if c.max_seconds_to_callback is None else f"{c.max_seconds_to_callback} s"
                click.echo(f"{c.queue:<8}{c.requested:>7}{c.completed:>6}{c.failed:>8}{c.pending:>9}"
                           f"  {median} / {longest}")
        return
    if by_missed:
        from appliance.callcenter import missed
        followed = missed.report(start, end, queue)
        if as_csv:
            _csv_out(reports.to_csv(followed), bool(bom))
        else:
            click.echo(f"{'queue':<8}{'missed':>7}{'reached':>9}{'again':>7}{'closed':>8}{'open':>6}  median follow-up")
            for m in followed:
                median = "-" if m.median_follow_up_seconds is None else f"{m.median_follow_up_seconds} s"
                click.echo(f"{m.queue:<8}{m.missed:>7}{m.reached:>9}{m.called_again:>7}{m.dismissed:>8}"
                           f"{m.still_open:>6}  {median}")
        return
    if agents:
        agent_rows = reports.agent_report(start, end, queue)
        if as_csv:
            _csv_out(reports.to_csv(agent_rows), bool(bom))
        else:
            _agent_table(agent_rows)
        return
    queue_rows = reports.queue_report(start, end, queue, service_seconds=service_seconds)
    if as_csv:
        _csv_out(reports.to_csv(queue_rows), bool(bom))
    else:
        _queue_table(queue_rows)


def _csv_out(text: str, bom: bool) -> None:
    """A CSV file on standard output, as bytes (UTF-8, after a BOM when asked: whatever the terminal's locale)."""
    from appliance.csvfile import file_bytes
    sys.stdout.flush()
    sys.stdout.buffer.write(file_bytes(text, bom))
    sys.stdout.buffer.flush()


def _agent_table(rows: list[AgentKpis]) -> None:
    click.echo(f"{'agent':<10}{'answered':>9}{'talk s':>9}{'avg talk':>9}{'avg wait':>9}{'login s':>9}"
               f"{'pause s':>9}{'occup%':>7}  pauses")
    for r in rows:
        pauses = ", ".join(f"{reason or '-'} {seconds}s" for reason, seconds in r.pauses.items())
        click.echo(f"{r.agent:<10}{r.answered:>9}{r.talk_seconds:>9}{_num(r.avg_talk_seconds):>9}"
                   f"{_num(r.avg_wait_of_answered):>9}{r.logged_in_seconds:>9}{r.paused_seconds:>9}"
                   f"{_num(r.occupancy_pct):>7}  {pauses}")


def _queue_table(rows: list[QueueKpis]) -> None:
    click.echo(f"{'queue':<8}{'offered':>8}{'answ':>6}{'aband':>6}{'short':>6}{'SL%':>7}{'ASA s':>7}"
               f"{'AHT s':>7}{'aband%':>7}{'FCR%':>7}{'cut':>5}")
    for r in rows:
        click.echo(f"{r.queue:<8}{r.offered:>8}{r.answered:>6}{r.abandoned:>6}{r.short_abandons:>6}"
                   f"{_num(r.service_level_pct):>7}{_num(r.asa_seconds):>7}{_num(r.aht_seconds):>7}"
                   f"{_num(r.abandon_rate_pct):>7}{_num(r.fcr_pct):>7}{r.interrupted:>5}")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@main.group("recordings")
def recordings_group() -> None:
    """Call recordings."""


@recordings_group.command("list")
@click.option("--day", default=None, help="YYYY-MM-DD")
@click.pass_context
def recordings_list(ctx: click.Context, day: str | None) -> None:
    """List recordings (newest first)."""
    from appliance.callcenter import recordings
    install = _install(ctx)
    for r in recordings.list_recordings(install.recordings_dir, day):
        click.echo(f"{r.day}  {r.uniqueid:<20} {r.who:<14} {r.seconds:>6.0f} s  {r.path}"[:80])


@recordings_group.command("purge")
@click.pass_context
def recordings_purge(ctx: click.Context) -> None:
    """Delete recordings older than the site's retention (recording_retention_days; 0 keeps all)."""
    from appliance.callcenter import recordings
    from appliance.site import service
    install = _install(ctx)
    days = service.load_settings().recording_retention_days
    deleted = recordings.purge(install.recordings_dir, days, user=USER)
    click.echo(f"deleted {deleted} recording(s) older than {days} day(s)" if days else "retention is off (0 days)")


@main.group("rates")
def rates_group() -> None:
    """Trunks' rate tables: what each call costs (docs/admin-guide.md, "Call cost")."""


def _day(text: str | None, option: str) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option}: '{text[:20]}' is not a date (YYYY-MM-DD)")
        raise  # unreachable: _fail exits


@rates_group.command("import")
@click.argument("trunk")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "valid_from", default=None, help="YYYY-MM-DD the table applies from (default today).")
@click.pass_context
def rates_import(ctx: click.Context, trunk: str, file: Path, valid_from: str | None) -> None:
    """Make FILE (CSV) the trunk's rate table from a date on; nothing is stored if a line is wrong."""
    from appliance.billing import rates_csv
    _install(ctx)
    day = _day(valid_from, "--from")
    try:
        stored = rates_csv.import_bytes(trunk, file.read_bytes(), day, USER)
    except SiteError as error:
        _fail(f"nothing imported:\n{error}")
    click.echo(f"trunk {trunk}: {stored} rate line(s) from {day.isoformat()}")


@rates_group.command("export")
@click.argument("trunk")
@click.option("--on", "day", default=None, help="YYYY-MM-DD: the table in force that day (default today).")
@click.pass_context
def rates_export(ctx: click.Context, trunk: str, day: str | None) -> None:
    """Print the trunk's rate table as CSV."""
    from appliance.billing import rates_csv
    _install(ctx)
    click.echo(rates_csv.export_text(trunk, _day(day, "--on")), nl=False)


@rates_group.command("price")
@click.argument("trunk")
@click.argument("number")
@click.argument("seconds", type=click.IntRange(0, 86400))
@click.option("--on", "day", default=None, help="YYYY-MM-DD: price with that day's table (default today).")
@click.pass_context
def rates_price(ctx: click.Context, trunk: str, number: str, seconds: int, day: str | None) -> None:
    """What a call of SECONDS answered seconds to NUMBER through TRUNK costs, and why."""
    from appliance.billing import rates
    from appliance.site.numbering import NumberPlan, classify
    _install(ctx)
    classified = classify(number, NumberPlan.stored())
    start, lines = rates.table_in_force(trunk, _day(day, "--on"))
    click.echo(f"{number}: {classified.number_class} ({classified.reason})")
    line = rates.Table(lines).line_for(number, classified.number_class) if start else None
    if line is None:
        _fail(f"no rate: trunk {trunk} has {'no line for this number' if start else 'no rate table that day'}")
        return
    charge = rates.price(seconds, line)
    which = (f"prefix {line.prefix}" if line.prefix else f"class {line.number_class}" if line.number_class
             else "default line")
    click.echo(f"rate: {which} of the table from {start}: {line.per_minute} {line.currency}/min, "
               f"increment {line.increment}, connection fee {line.connection_fee}")
    click.echo(f"charged {charge.charged_seconds} s: {charge.cost} {charge.currency}")


@rates_group.command("reprice")
@click.option("--from", "first", required=True, help="YYYY-MM-DD: the first day to price again.")
@click.option("--to", "last", default=None, help="YYYY-MM-DD: the last day (default the first).")
@click.pass_context
def rates_reprice(ctx: click.Context, first: str, last: str | None) -> None:
    """Price the calls of a period again with the rate tables in force on their days (audited)."""
    from appliance.billing import calls
    _install(ctx)
    first_day = _day(first, "--from")
    last_day = _day(last, "--to") if last else first_day
    if last_day < first_day:
        _fail("--to: the last day is before the first")
    priced = calls.reprice(first_day, last_day, USER)
    click.echo(f"priced {priced} call record(s) from {first_day} to {last_day} again")


@main.group("cost")
def cost_group() -> None:
    """What calls cost: sums of the priced call records (docs/reports.md, "Call cost")."""


def _cost_range(first: str | None, last: str | None) -> tuple[date, date]:
    today = date.today()
    first_day = _day(first, "--from") if first else today.replace(day=1)
    last_day = _day(last, "--to") if last else today
    if last_day < first_day:
        _fail("--to: the last day is before the first")
    return first_day, last_day


@cost_group.command("report")
@click.option("--by", type=click.Choice(["extension", "department", "agent", "queue", "trunk", "class", "inbound"]),
              default="department", show_default=True)
@click.option("--period", type=click.Choice(["day", "month", "total"]), default="month", show_default=True)
@click.option("--from", "first", default=None, help="YYYY-MM-DD (default the first of this month).")
@click.option("--to", "last", default=None, help="YYYY-MM-DD, included (default today).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table.")
@click.pass_context
def cost_report(ctx: click.Context, by: str, period: str, first: str | None, last: str | None,
                as_csv: bool) -> None:
    """Cost per extension, department, agent, queue, trunk or number class, per day or month; inbound:
    what trunks charge for the calls they receive."""
    from appliance.billing import reports
    from appliance.csvfile import write_csv
    _install(ctx)
    first_day, last_day = _cost_range(first, last)
    rows = reports.cost_report(first_day, last_day, by, period)  # type: ignore[arg-type]
    if as_csv:
        click.echo(write_csv(("period", by, "currency", "calls", "seconds", "cost"),
                             ((r.period, r.key, r.currency, r.calls, r.seconds, r.cost) for r in rows)), nl=False)
        return
    click.echo(f"{'period':<10} {by:<20} {'calls':>7} {'minutes':>9} {'cost':>14}")
    for r in rows:
        click.echo(f"{r.period or 'all':<10} {(r.key or '(none)')[:20]:<20} {r.calls:>7} {r.seconds / 60:>9.1f} "
                   f"{r.cost:>10} {r.currency}")
    unpriced = reports.unpriced_calls(first_day, last_day)
    if unpriced:
        click.secho(f"{unpriced} answered call(s) had no rate: a trunk's rate table misses a line", fg="yellow")


@cost_group.command("top")
@click.option("--from", "first", default=None, help="YYYY-MM-DD (default the first of this month).")
@click.option("--to", "last", default=None, help="YYYY-MM-DD, included (default today).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def cost_top(ctx: click.Context, first: str | None, last: str | None, limit: int) -> None:
    """The numbers that cost the most."""
    from appliance.billing import reports
    _install(ctx)
    for d in reports.top_destinations(*_cost_range(first, last), limit=limit):
        click.echo(f"{d.number:<20} {d.number_class:<13} {d.calls:>6} {d.seconds / 60:>9.1f} min "
                   f"{d.cost:>10} {d.currency}")


@main.command("trace")
@click.option("--did", default="", help="The number called (as the carrier sends it).")
@click.option("--caller", default="", help="The caller's number (caller ID); empty: none sent.")
@click.option("--at", "at", default="", help="'YYYY-MM-DD HH:MM' in the site's time zone (default now).")
@click.option("--digits", default="", help="The caller's keys, one per menu: 1,2 (t: no key).")
@click.option("--no-answer", is_flag=True, help="Nobody answers: follow every no-answer fallback.")
@click.option("--trunk", default="", help="A DAHDI trunk the call comes in on (default: a SIP trunk).")
@click.option("--reaches", "target", default="", help="The reverse question: which calls reach this "
                                                       "destination (queue:701, ivr:main ...).")
@click.option("--outbound", default="", help="A number an extension dials: its outbound route and the trunks "
                                             "in the order they are tried (least-cost routing), on --at's day.")
@click.pass_context
def trace_cmd(ctx: click.Context, did: str, caller: str, at: str, digits: str, no_answer: bool, trunk: str,
              target: str, outbound: str) -> None:
    """Where a call from a trunk goes, step by step, with why; which calls reach a destination; or where a
    number dialled out goes."""
    from appliance.provisioning import trace, trace_outbound
    _install(ctx)
    try:
        if outbound:
            for line in trace_outbound.trace_outbound_stored(outbound, at[:10]).lines():
                click.echo(line)
            return
        if target:
            ways = trace.reaches_stored(target)
            if not ways:
                click.echo(f"no call reaches {trace.describe(target)}")
            for way in ways:
                click.echo(f"- {way.text()}")
            return
        if not did and not trunk:
            _fail("give --did NUMBER (the number called), or --reaches DESTINATION")
        result = trace.trace_stored(did, caller, at, digits, answered=not no_answer, trunk=trunk)
    except SiteError as error:
        _fail(str(error))
        return
    for line in result.lines():
        click.echo(line)
    if result.loop:
        sys.exit(1)


@main.group()
def token() -> None:
    """REST API tokens."""


@token.command("create")
@click.argument("username")
@click.argument("name")
@click.option("--days", type=int, default=90, show_default=True,
              help="Days until the token expires (1-730); 0 makes a token that never expires.")
@click.pass_context
def token_create(ctx: click.Context, username: str, name: str, days: int) -> None:
    """Make an API token for USERNAME (it acts with that user's role); printed once."""
    from appliance.access import apitokens
    _install(ctx)
    try:
        click.echo(apitokens.create_token(username, name, USER, expires_days=days))
    except SiteError as error:
        _fail(str(error))


@token.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
@click.pass_context
def token_list(ctx: click.Context, username: str | None) -> None:
    """List API tokens: user, name, when made, last used and expiring (UTC); never the token itself."""
    from appliance.access import apitokens
    _install(ctx)
    try:
        tokens = apitokens.list_tokens(username)
    except SiteError as error:
        _fail(str(error))
    if not tokens:
        click.echo(f"user {username} has no API tokens" if username else "no API tokens")
        return
    click.echo(f"{'user':<12} {'name':<20} {'created (UTC)':<17} {'last used (UTC)':<17} expires")
    for t in tokens:
        last_used = f"{t['last_used']:%Y-%m-%d %H:%M}" if t["last_used"] else "never"
        expires = "EXPIRED" if t["expired"] else f"{t['expires']:%Y-%m-%d}" if t["expires"] else "never"
        click.echo(f"{t['username']:<12} {t['name']:<20} {t['created']:%Y-%m-%d %H:%M}  {last_used:<16}  {expires}")


@token.command("revoke")
@click.argument("username")
@click.argument("name")
@click.pass_context
def token_revoke(ctx: click.Context, username: str, name: str) -> None:
    """Revoke USERNAME's token called NAME."""
    from appliance.access import apitokens
    _install(ctx)
    try:
        apitokens.revoke_token(username, name, USER)
    except SiteError as error:
        _fail(str(error))
    click.echo(f"revoked {username}/{name}")


@main.command()
@click.option("--address", envvar="LINEBOX_WEB_ADDRESS", default="0.0.0.0", show_default=True,
              help="Address to listen on ('::' for IPv6 and IPv4). Env: LINEBOX_WEB_ADDRESS.")
@click.option("--port", envvar="LINEBOX_WEB_PORT", type=click.IntRange(0, 65535), default=443, show_default=True,
              help="Port to listen on. Env: LINEBOX_WEB_PORT.")
@click.option("--tls/--no-tls", "use_tls", envvar="LINEBOX_WEB_TLS", default=True, show_default=True,
              help="Serve HTTPS with HOME/tls/cert.pem and key.pem (self-signed ones are made if both are missing).")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding cert.pem and key.pem (default HOME/tls).")
@click.option("--http-port", envvar="LINEBOX_WEB_HTTP_PORT", type=click.IntRange(0, 65535), default=0,
              show_default=True, help="Also listen for plain HTTP here and redirect it to HTTPS (0: don't). "
                                      "Env: LINEBOX_WEB_HTTP_PORT.")
@click.pass_context
def serve(ctx: click.Context, address: str, port: int, use_tls: bool, tls_dir: Path | None, http_port: int) -> None:
    """Serve the web console until stopped (what linebox-web.service runs)."""
    from appliance.services import web
    sys.exit(web.run(ctx.obj["home"], address, port, use_tls, tls_dir, http_port=http_port))


@main.command("agi")
@click.option("--address", envvar="LINEBOX_AGI_ADDRESS", default="127.0.0.1", show_default=True,
              help="Address to listen on (Asterisk on this box is the only client). Env: LINEBOX_AGI_ADDRESS.")
@click.option("--port", envvar="LINEBOX_AGI_PORT", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on (default: the site's agi_port setting, 4573). Env: LINEBOX_AGI_PORT.")
@click.pass_context
def agi(ctx: click.Context, address: str, port: int | None) -> None:
    """Serve FastAGI (caller-name lookup) until stopped (what linebox-agi.service runs)."""
    from appliance.services import agi as agi_service
    sys.exit(agi_service.run(ctx.obj["home"], address, port))


@main.command("robot")
@click.option("--port", envvar="LINEBOX_ROBOT_PORT", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on, on 127.0.0.1 (default: the site's robot_port setting, 4574). "
                   "Env: LINEBOX_ROBOT_PORT.")
@click.pass_context
def robot_cmd(ctx: click.Context, port: int | None) -> None:
    """Answer the voice robots' calls until stopped (what linebox-robot.service runs)."""
    from appliance.services import robot as robot_service
    sys.exit(robot_service.run(ctx.obj["home"], port))


@main.command("webhooks")
@click.pass_context
def webhooks_cmd(ctx: click.Context) -> None:
    """Send call events to the site's webhook receiver until stopped (what linebox-webhooks.service runs)."""
    from appliance.services import webhooks as webhooks_service
    sys.exit(webhooks_service.main(ctx.obj["home"]))


@main.command("init-system")
@click.option("--user", default="linebox", show_default=True, help="Service user that owns the install.")
@click.option("--asterisk-group", default="asterisk", show_default=True,
              help="Group that may read the configuration generations (Asterisk's).")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("/root/linebox-first-login.txt"), show_default=True,
              help="Root-only file that receives the first admin's one-time password.")
@click.pass_context
def init_system(ctx: click.Context, user: str, asterisk_group: str, password_file: Path) -> None:
    """As root: make (or check) the install the system's services run on; safe to run again."""
    from appliance.services import system
    try:
        system.init_system(ctx.obj["home"], user or None, asterisk_group or None, password_file, say=click.echo)
    except system.InitError as error:
        _fail(str(error))


def _add_support_commands() -> None:
    """backup, restore, logs, calls, network, debug: the technician's commands (appliance.cli.support)."""
    for command in support.COMMANDS:
        main.add_command(command)


_add_support_commands()


def _add_hardware_commands() -> None:
    """hardware scan/show, spans, gateways: telephony hardware (appliance.cli.hardware)."""
    for command in hardware.COMMANDS:
        main.add_command(command)


_add_hardware_commands()


def _add_security_commands() -> None:
    """bans: who is banned, unban, the ban service (appliance.cli.security)."""
    for command in security.COMMANDS:
        main.add_command(command)


_add_security_commands()


@main.group()
def prompts() -> None:
    """The prompts callers hear (queues, IVR, voicemail, numbers) in English and Mandarin."""


@prompts.command("list")
@click.option("--language", type=click.Choice(["en", "zh"]), default=None, help="One language only.")
@click.pass_context
def prompts_list(ctx: click.Context, language: str | None) -> None:
    """Every prompt: name, language, what callers hear (generated, the admin's recording, Debian's), text."""
    from appliance.provisioning import prompts as prompts_mod
    install = _install(ctx)
    for state in prompts_mod.states(install.prompt_place().recordings or Path()):
        if language in (None, state.language):
            click.echo(f"{state.prompt.name:26} {state.language:3} {state.source:10} {state.text}")


@prompts.command("generate")
@click.option("--language", "languages", multiple=True, type=click.Choice(["en", "zh"]),
              help="Only this language (default: every one).")
@click.pass_context
def prompts_generate(ctx: click.Context, languages: tuple[str, ...]) -> None:
    """Speak the prompts not spoken yet into Asterisk's language folders (the install does it once)."""
    from appliance.provisioning import prompts as prompts_mod
    install = _install(ctx)
    try:
        notes = prompts_mod.install(install.prompt_place(), languages or prompts_mod.LANGUAGES)
    except prompts_mod.PromptError as error:
        _fail(str(error))
    click.echo("\n".join(notes) or "every prompt is in place")


@prompts.command("replace")
@click.argument("name")
@click.argument("language", type=click.Choice(["en", "zh"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def prompts_replace(ctx: click.Context, name: str, language: str, file: Path) -> None:
    """Replace prompt NAME in LANGUAGE by a recording (WAV, MP3, OGG, FLAC; at most 120 s)."""
    from appliance.provisioning import prompts as prompts_mod
    install = _install(ctx)
    try:
        made = prompts_mod.replace_recorded(name, language, file.read_bytes(), file.name, install.prompt_place(),
                                            USER)
    except prompts_mod.PromptError as error:
        _fail(str(error))
    click.echo(f"{language}/{name}: callers now hear your recording ({made.seconds:g} s)")


@prompts.command("revert")
@click.argument("name")
@click.argument("language", type=click.Choice(["en", "zh"]))
@click.pass_context
def prompts_revert(ctx: click.Context, name: str, language: str) -> None:
    """Drop the recording of prompt NAME in LANGUAGE: the generated (or Debian's) prompt is played again."""
    from appliance.provisioning import prompts as prompts_mod
    install = _install(ctx)
    try:
        had = prompts_mod.revert_recorded(name, language, install.prompt_place(), USER)
    except prompts_mod.PromptError as error:
        _fail(str(error))
    click.echo(f"{language}/{name}: " + ("the generated prompt is played again" if had else "had no recording"))
