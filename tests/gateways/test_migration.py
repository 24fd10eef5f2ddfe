"""The gateway tables arrive by their own migration step, keeping an older database's rows."""

from __future__ import annotations

from appliance.gateways import service as gateways
from appliance.model import migrations
from appliance.model.database import close_database, database, open_database
from tests.old_database import database_before


def test_a_database_from_before_gateways_gains_the_tables_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    # its extension is written as that schema version would have (saving through the service now also
    # looks at kinds whose tables this old database does not have yet)
    db = database_before(migrations._v5_gateways, path)
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
