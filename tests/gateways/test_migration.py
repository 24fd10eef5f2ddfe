"""The gateway tables arrive by their own migration step, keeping an older database's rows."""

from __future__ import annotations

import peewee

from appliance import gateways
from appliance.model import migrations
from appliance.model.database import close_database, database, open_database
from appliance.model.models import Extension


def test_a_database_from_before_gateways_gains_the_tables_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    db = peewee.SqliteDatabase(str(path))
    database.initialize(db)
    index = migrations.MIGRATIONS.index(migrations._v5_gateways)
    for number, step in enumerate(migrations.MIGRATIONS[:index], start=1):
        step(db)
        db.execute_sql(f"PRAGMA user_version = {number}")
    # a row written as that schema version would have (saving through the service now also looks at
    # kinds whose tables this old database does not have yet)
    Extension.create(number="100", name="Old", password="Abcdefgh12345678", voicemail_pin="1234")
    assert "gateway" not in db.get_tables()
    db.close()
    try:
        open_database(path)
        assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
        assert {"gateway", "gatewayport", "provisioningrequest"} <= set(database.obj.get_tables())
        gateways.adopt("000b82000001", "ht801", "test")
        gateways.bind_fxs("000b82000001", 1, "100", "test")
        assert gateways.get_gateway("000b82000001")["ports"][0]["extension"] == "100"
    finally:
        close_database()
