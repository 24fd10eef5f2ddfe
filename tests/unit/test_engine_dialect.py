"""The SQL the services write in SQLite's dialect, as appliance.model.engine hands it to PostgreSQL (the
both-engine tests run it on a real server; these pin the translation's edges)."""

from __future__ import annotations

from appliance.model.engine import shown_url, to_postgres

KEYS = {"setting": ["key"], "throttlelock": ["scope", "key"]}


def test_parameters_become_psycopg2_s_and_a_percent_stays_a_percent():
    assert to_postgres("SELECT strftime('%Y-%m', x) FROM t WHERE a = ? AND b LIKE 'a?%'", KEYS) == \
        "SELECT strftime('%%Y-%%m', x) FROM t WHERE a = %s AND b LIKE 'a?%%'"
    # no parameter: psycopg2 is given none and reads '%' as itself, so the text is left alone
    assert to_postgres("SELECT key FROM setting WHERE key LIKE 'secret.%'", KEYS) == \
        "SELECT key FROM setting WHERE key LIKE 'secret.%'"
    # peewee's own statements for PostgreSQL pass unchanged
    built = 'SELECT "t1"."id" FROM "extension" AS "t1" WHERE ("t1"."number" = %s)'
    assert to_postgres(built, KEYS) == built


def test_insert_or_ignore_and_or_replace_become_upserts_on_the_replaced_key():
    assert to_postgres("INSERT OR IGNORE INTO setting (key, value) VALUES (?, ?)", KEYS) == \
        "INSERT INTO setting (key, value) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    assert to_postgres('INSERT OR REPLACE INTO throttlelock ("scope", "key", "until") VALUES (?, ?, ?)', KEYS) == \
        'INSERT INTO throttlelock ("scope", "key", "until") VALUES (%s, %s, %s)' \
        ' ON CONFLICT ("scope", "key") DO UPDATE SET "until" = excluded."until"'


def test_json_lists_and_is_not():
    assert to_postgres("SELECT 1 FROM q WHERE callid IN (SELECT value FROM json_each(?))", KEYS) == \
        "SELECT 1 FROM q WHERE callid IN (SELECT value FROM json_array_elements_text(%s::json))"
    assert to_postgres("SELECT value ->> 0 FROM json_each(?) WHERE a IS NOT ? AND b IS NOT NULL", KEYS) == \
        "SELECT value ->> 0 FROM json_array_elements(%s::json) WHERE a IS DISTINCT FROM %s AND b IS NOT NULL"


def test_a_url_is_shown_without_its_password():
    assert shown_url("postgresql://linebox:s3cret@db:5432/linebox") == "postgresql://linebox@db:5432/linebox"
    assert shown_url("postgresql:///linebox?host=/run/postgresql") == "postgresql:///linebox?host=/run/postgresql"
