"""Versioned schema migrations, tracked in SQLite's ``user_version`` (a one-row table on PostgreSQL).

Each step runs once, in order, inside a transaction, and only ever adds to
the schema (new tables, new columns with defaults) or mends a value Linebox
itself wrote by default that turned out wrong, so upgrading an existing
database keeps every row.  Append new steps; never edit a released one.

The same steps run on SQLite and on PostgreSQL: what differs between the engines (the version's place,
the schema migrator, SQLite's ``INSERT OR IGNORE`` and ``?`` parameters) is in ``appliance.model.engine``.
On PostgreSQL, a new database, the first step makes every table from today's models, so the steps that
add a column to an older table find it there and do nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee
from playhouse.migrate import migrate as run_operations

from appliance.model import engine, models, sealed


def _v1_initial(db: peewee.Database) -> None:
    db.create_tables(models.ALL_TABLES, safe=True)


def _v2_api_tokens(db: peewee.Database) -> None:
    db.create_tables([models.ApiToken], safe=True)


def _v3_call_center(db: peewee.Database) -> None:
    db.create_tables(models.CALL_CENTER_TABLES, safe=True)


def _v4_collector(db: peewee.Database) -> None:
    db.create_tables(models.COLLECTOR_TABLES, safe=True)


def _v5_gateways(db: peewee.Database) -> None:
    db.create_tables(models.GATEWAY_TABLES, safe=True)


def _add_column_if_missing(db: peewee.Database, model: type[peewee.Model], name: str) -> None:
    """Add one column to an existing table.  The earlier steps create tables from today's model
    definitions, so on a brand-new database the column is already there and nothing is done."""
    table = model._meta.table_name
    if name not in {column.name for column in db.get_columns(table)}:
        run_operations(engine.migrator(db).add_column(table, name, model._meta.fields[name]))


def _v6_queue_recording_and_autopause(db: peewee.Database) -> None:
    _add_column_if_missing(db, models.Queue, "recording")
    _add_column_if_missing(db, models.Queue, "autopause_after_missed")


def _v7_telephony_hardware(db: peewee.Database) -> None:
    db.create_tables(models.DAHDI_TABLES, safe=True)


def _v8_report_rollups(db: peewee.Database) -> None:
    """Daily roll-up tables for month-wide reports (the collector fills them from the stored calls),
    and IVR greetings spoken from text.  Safe to run twice, which matters while schema steps are
    added concurrently."""
    db.create_tables(models.ROLLUP_TABLES, safe=True)
    _add_column_if_missing(db, models.Ivr, "greeting_text")
    _add_column_if_missing(db, models.Ivr, "greeting_voice")


def _v9_phonebook(db: peewee.Database) -> None:
    """The phonebook (contacts and their numbers) for caller-name lookup and the screen pop."""
    db.create_tables(models.CONTACT_TABLES, safe=True)


def _v10_ivr_invalid_sound(db: peewee.Database) -> None:
    """The IVRs' first default invalid-key sound, ``option-is-invalid``, is not in Debian's sound set, so
    a caller who pressed a wrong key heard nothing: IVRs that still have it get ``invalid``, the default
    since ("That's not valid, try again").  Every other sound an admin chose is kept."""
    models.Ivr.update(invalid_sound="invalid").where(models.Ivr.invalid_sound == "option-is-invalid").execute()


def _v11_trunk_failover_seconds(db: peewee.Database) -> None:
    """Each trunk's failover time (``Trunk.failover_seconds``): how long a call waits for the trunk to ring
    before its route tries the next trunk.  Existing trunks get the default, so a primary that dies
    between two qualifies no longer holds callers for SIP's 32 s before the backup is tried."""
    _add_column_if_missing(db, models.Trunk, "failover_seconds")


def _v12_ivr_retry_counts(db: peewee.Database) -> None:
    """An IVR counts wrong keys and no keys apart (``invalid_retries``, ``timeout_retries``) where it had one
    ``retries`` for both: each count starts as the old one, and the old column goes (a column the model no
    longer writes, NOT NULL without a default, would refuse every new IVR)."""
    table = models.Ivr._meta.table_name
    if "retries" not in {column.name for column in db.get_columns(table)}:
        return  # made by today's model: the two counts are there already
    _add_column_if_missing(db, models.Ivr, "invalid_retries")
    _add_column_if_missing(db, models.Ivr, "timeout_retries")
    db.execute_sql(f'UPDATE "{table}" SET invalid_retries = retries, timeout_retries = retries')
    run_operations(engine.migrator(db).drop_column(table, "retries"))


def _v13_queue_service_level(db: peewee.Database) -> None:
    """Each queue's service-level threshold (seconds) and target (%): the report, the wallboard and
    Asterisk's ``servicelevel`` all read them, where a 20 s threshold and an 80 % target were fixed before;
    existing queues get those values, so their figures do not change."""
    _add_column_if_missing(db, models.Queue, "service_level_seconds")
    _add_column_if_missing(db, models.Queue, "service_level_target")


def _v14_console_sessions_and_provisioning_credentials(db: peewee.Database) -> None:
    """Server-side console sessions and the throttles' counters (so logout ends a session and a restart
    forgets no failed attempt), API tokens' expiry, and each gateway's own provisioning credential and
    adoption window.  Gateways adopted before get a credential and a closed window: an anonymous fetch of
    their file (their SIP passwords) is refused until the admin opens the window again."""
    import secrets

    db.create_tables(models.SESSION_TABLES, safe=True)
    # Plain ALTER TABLE: peewee's add_column rebuilds the table for a NOT NULL column, and dropping the
    # old gateway table would cascade (foreign_keys is on) and delete every port binding.
    for table, name, ddl in (("apitoken", "expires", "DATETIME"),
                             ("gateway", "credential", "VARCHAR(255) NOT NULL DEFAULT ''"),
                             ("gateway", "adoption_until", "DATETIME"),
                             ("gateway", "bound_address", "VARCHAR(255) NOT NULL DEFAULT ''")):
        if name not in {column.name for column in db.get_columns(table)}:
            db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
    for (gateway_id,) in db.execute_sql("SELECT id FROM gateway WHERE credential = ''").fetchall():
        db.execute_sql("UPDATE gateway SET credential = ? WHERE id = ?", (secrets.token_urlsafe(18), gateway_id))


def _v15_call_events(db: peewee.Database) -> None:
    """Asterisk's channel events (CEL: channel start, answer, call end), so a call Asterisk never wrote a
    record for, because it stopped under the call, is still recorded, as interrupted."""
    db.create_tables([models.CallEvent], safe=True)


def _v16_bans(db: peewee.Database) -> None:
    """Source addresses banned after failed authentications, and the failures counted (appliance.security)."""
    db.create_tables(models.SECURITY_TABLES, safe=True)


def _v17_extension_networks_and_accepted_risks(db: peewee.Database) -> None:
    """Each extension's permitted networks (empty: the site's ``local_networks`` setting, which then holds
    the private ranges until the admin says otherwise), and the risky settings an admin agreed to on
    extensions and trunks (``accepted_risks``; those stored before keep working: the policy checks what a
    change brings)."""
    _add_column_if_missing(db, models.Extension, "permitted_networks")
    _add_column_if_missing(db, models.Extension, "accepted_risks")
    _add_column_if_missing(db, models.Trunk, "accepted_risks")


def _v18_secrets_sealed(db: peewee.Database) -> None:
    """Secrets at rest (``appliance.model.sealed``): SIP and trunk passwords, voicemail PINs, gateways'
    credentials and the shared provisioning password sealed with the key file beside the database; the
    install's internal secrets (AMI master secret, session key) moved into that file, keeping their values
    (Asterisk runs with the AMI secrets derived from it) unless the key file already has its own (a restore
    onto a box keeps the box's)."""
    ring = sealed.current()
    for table, columns in sealed_columns().items():
        for column in columns:
            for row_id, value in db.execute_sql(f'SELECT id, "{column}" FROM "{table}"').fetchall():
                if isinstance(value, str) and value and not value.startswith(sealed.PREFIX):
                    db.execute_sql(f'UPDATE "{table}" SET "{column}" = ? WHERE id = ?', (ring.seal(value), row_id))
    for (value,) in db.execute_sql("SELECT value FROM setting WHERE key = ?", (SEALED_SETTING,)).fetchall():
        db.execute_sql("UPDATE setting SET value = ? WHERE key = ?", (ring.seal(value), SEALED_SETTING))
    internal = {key[len("secret."):]: value for key, value in
                db.execute_sql("SELECT key, value FROM setting WHERE key LIKE 'secret.%'").fetchall()}
    if internal:
        ring.adopt_internal(internal)
        db.execute_sql("DELETE FROM setting WHERE key LIKE 'secret.%'")


def sealed_columns() -> dict[str, list[str]]:
    """The columns stored sealed (``SealedField``), by table."""
    found: dict[str, list[str]] = {}
    for model in models.BaseModel.__subclasses__():
        for field in model._meta.sorted_fields:
            if isinstance(field, sealed.SealedField):
                found.setdefault(model._meta.table_name, []).append(field.column_name)
    return found


# The one setting whose value is a secret, sealed like the secret columns (appliance.gateways.service).
SEALED_SETTING = "gateways.provisioning_password"


def _v19_user_language(db: peewee.Database) -> None:
    """Each console user's language (empty for the users there before: they keep following the browser's
    Accept-Language until they choose one in the header).

    SQLite's own ``ADD COLUMN ... NOT NULL DEFAULT ''``, not peewee's migrator: for a NOT NULL column the
    migrator copies the table and drops the old one, and dropping ``user`` deletes every API token and
    console session of its users (their foreign keys cascade)."""
    if "language" not in {column.name for column in db.get_columns("user")}:
        db.execute_sql("ALTER TABLE \"user\" ADD COLUMN \"language\" VARCHAR(255) NOT NULL DEFAULT ''")


def _v20_rates(db: peewee.Database) -> None:
    """Trunks' rate tables (``appliance.billing.rates``): what each call costs."""
    db.create_tables(models.BILLING_TABLES, safe=True)


def _v21_call_cost(db: peewee.Database) -> None:
    """Each call record's extension, trunk, the number sent to it, its class and its price
    (``appliance.billing.calls``), and each extension's department.

    SQLite's own ``ADD COLUMN ... NOT NULL DEFAULT``: peewee's migrator would copy the whole table for a NOT
    NULL column, minutes on a site with millions of records."""
    present = {column.name for column in db.get_columns("callrecord")}
    text = "VARCHAR(255) NOT NULL DEFAULT ''"
    for name, ddl in (("extension", text), ("trunk", text), ("number", text), ("number_class", text),
                      ("cost_minor", "INTEGER"), ("currency", text), ("free_seconds", "INTEGER NOT NULL DEFAULT 0"),
                      ("rate_key", text)):
        if name not in present:
            db.execute_sql(f"ALTER TABLE callrecord ADD COLUMN {name} {ddl}")
    db.execute_sql("CREATE INDEX IF NOT EXISTS callrecord_extension_start ON callrecord (extension, start)")
    # and each extension's department, the team its costs are reported and budgeted by
    if "department" not in {column.name for column in db.get_columns("extension")}:
        db.execute_sql("ALTER TABLE extension ADD COLUMN department VARCHAR(255) NOT NULL DEFAULT ''")
    db.execute_sql("CREATE INDEX IF NOT EXISTS extension_department ON extension (department)")
    db.create_tables([models.CostDay], safe=True)  # the daily cost roll-up the reports read


def _v22_prompt_languages(db: peewee.Database) -> None:
    """The prompts' language of each IVR menu and queue ("" for those there before: they follow the site's,
    English unless changed, so callers hear what they heard)."""
    _add_column_if_missing(db, models.Ivr, "language")
    _add_column_if_missing(db, models.Queue, "language")


def _v23_dispositions_and_caller_history(db: peewee.Database) -> None:
    """Each queue's dispositions (wrap-up codes; none for the queues there before, nothing required), the
    agents' notes and dispositions of calls, and the index the screen pop's caller history reads a caller's
    calls through (newest first)."""
    _add_column_if_missing(db, models.Queue, "dispositions")
    _add_column_if_missing(db, models.Queue, "disposition_required")
    db.create_tables([models.CallNote], safe=True)
    db.execute_sql("CREATE INDEX IF NOT EXISTS queuecall_caller_entered ON queuecall (caller, entered)")


def _v24_dial_guard(db: peewee.Database) -> None:
    """Each extension's dial permission, call and minute limits and monthly budget; the guard's calls in
    progress and alerts (``appliance.billing.guard``).

    A new site blocks international and premium calls by default (the ``dial_permission_default``
    setting's default); a site already holding extensions keeps dialling what it dialled before the guard
    existed (every class), until its admin chooses otherwise."""
    present = {column.name for column in db.get_columns("extension")}
    for name, ddl in (("dial_permission", "VARCHAR(255) NOT NULL DEFAULT ''"),
                      ("max_outbound_calls", "INTEGER NOT NULL DEFAULT 0"),
                      ("daily_minutes", "REAL NOT NULL DEFAULT 0"), ("monthly_minutes", "REAL NOT NULL DEFAULT 0"),
                      ("monthly_budget", "VARCHAR(255) NOT NULL DEFAULT ''")):
        if name not in present:
            db.execute_sql(f"ALTER TABLE extension ADD COLUMN {name} {ddl}")
    db.create_tables(models.GUARD_TABLES, safe=True)
    if db.execute_sql("SELECT 1 FROM extension LIMIT 1").fetchone():
        db.execute_sql("INSERT OR IGNORE INTO setting (key, value) VALUES ('dial_permission_default', 'premium')")


def _v25_sip_encryption(db: peewee.Database) -> None:
    """Media encryption per extension and per trunk ("" for those there before: the site's, plain unless
    changed, so calls go on as they did), and a trunk's transport (UDP, as before) and provider CA."""
    _add_column_if_missing(db, models.Extension, "encryption")
    _add_column_if_missing(db, models.Trunk, "transport")
    _add_column_if_missing(db, models.Trunk, "tls_ca")
    _add_column_if_missing(db, models.Trunk, "encryption")


def _v26_missed_calls(db: peewee.Database) -> None:
    """The missed-call follow-up list (``appliance.callcenter.missed``); it fills itself from the queue calls
    already collected, the next time it is read."""
    db.create_tables([models.MissedCall], safe=True)


def _v27_queue_callbacks(db: peewee.Database) -> None:
    """Queue callbacks that keep the caller's place: off for every queue there before."""
    for name in ("callback", "callback_offer_seconds", "callback_retries", "callback_retry_seconds"):
        _add_column_if_missing(db, models.Queue, name)


def _v28_sla_alerts(db: peewee.Database) -> None:
    """Each queue's SLA alert thresholds (all off for the queues there before: their wallboard shows what it
    showed) and the table the breaches are kept in."""
    for name in ("alert_longest_wait_seconds", "alert_callers_waiting", "alert_min_agents"):
        _add_column_if_missing(db, models.Queue, name)
    db.create_tables(models.ALERT_TABLES, safe=True)


def _v29_queue_survey(db: peewee.Database) -> None:
    """Each queue's post-call satisfaction survey (off for the queues there before: callers hear nothing new)."""
    _add_column_if_missing(db, models.Queue, "survey")


def _v30_webhook_deliveries(db: peewee.Database) -> None:
    """The webhook delivery log (``appliance.callcenter.webhooks``): empty, and stays so unless the admin
    configures a webhook URL."""
    db.create_tables([models.WebhookDelivery], safe=True)




def _v31_least_cost_routing(db: peewee.Database) -> None:
    """An outbound route's least-cost routing switch (off for the routes there before: they keep their
    order)."""
    _add_column_if_missing(db, models.OutboundRoute, "least_cost")


def _v32_inbound_charges(db: peewee.Database) -> None:
    """Each call record's inbound trunk and inbound charge (``appliance.billing.calls``); SQLite's own
    ``ADD COLUMN`` (as in ``_v21_call_cost``): no copy of a table of millions of records."""
    present = {column.name for column in db.get_columns("callrecord")}
    text = "VARCHAR(255) NOT NULL DEFAULT ''"
    for name, ddl in (("inbound_trunk", text), ("inbound_cost_minor", "INTEGER"), ("inbound_currency", text)):
        if name not in present:
            db.execute_sql(f"ALTER TABLE callrecord ADD COLUMN {name} {ddl}")

def _v33_voice_robot(db: peewee.Database) -> None:
    """The voice FAQ robots (a site object kind) and the calls the robot service handled (``appliance.robot``)."""
    db.create_tables([models.Robot, models.RobotCall], safe=True)


def _v34_cluster_nodes(db: peewee.Database) -> None:
    """The Asterisk nodes of a multi-node site behind the Kamailio edge (a site object kind)."""
    db.create_tables([models.ClusterNode], safe=True)


MIGRATIONS: list[Callable[[peewee.Database], None]] = [
    _v1_initial,
    _v2_api_tokens,
    _v3_call_center,
    _v4_collector,
    _v5_gateways,
    _v6_queue_recording_and_autopause,
    _v7_telephony_hardware,
    _v8_report_rollups,
    _v9_phonebook,
    _v10_ivr_invalid_sound,
    _v11_trunk_failover_seconds,
    _v12_ivr_retry_counts,
    _v13_queue_service_level,
    _v14_console_sessions_and_provisioning_credentials,
    _v15_call_events,
    _v16_bans,
    _v17_extension_networks_and_accepted_risks,
    _v18_secrets_sealed,
    _v19_user_language,
    _v20_rates,
    _v21_call_cost,
    _v22_prompt_languages,
    _v23_dispositions_and_caller_history,
    _v24_dial_guard,
    _v25_sip_encryption,
    _v26_missed_calls,
    _v27_queue_callbacks,
    _v28_sla_alerts,
    _v29_queue_survey,
    _v30_webhook_deliveries,
    _v31_least_cost_routing,
    _v32_inbound_charges,
    _v33_voice_robot,
    _v34_cluster_nodes,
]

CURRENT_VERSION = len(MIGRATIONS)


def schema_version(db: peewee.Database) -> int:
    return engine.schema_version(db)


def migrate(db: peewee.Database) -> int:
    """Run the steps the database has not seen yet; return the resulting version."""
    version = schema_version(db)
    engine.prepare(db)
    if version > CURRENT_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this Linebox ({CURRENT_VERSION}): "
            "upgrade Linebox before opening it"
        )
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.atomic():
            step(db)
            engine.set_schema_version(db, number)
    if version > 0 and _v18_secrets_sealed in MIGRATIONS[version:]:
        # the secrets were in clear until now: rewrite the file so no free page keeps a copy, and fold the
        # write-ahead log in (it holds the pages as they were)
        engine.compact(db)
    return schema_version(db)
