"""The gateway tables arrive by their own migration step, keeping an older database's rows."""

from __future__ import annotations

from playhouse.migrate import SqliteMigrator
from playhouse.migrate import migrate as run_operations

from appliance.gateways import service as gateways
from appliance.model import migrations
from appliance.model.database import close_database, database, open_database
from appliance.model.models import Gateway
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


def test_gateways_adopted_before_credentials_get_one_and_no_open_window(tmp_path):
    """Upgrading must not leave an adopted gateway's file (its SIP passwords) open to anonymous fetches."""
    path = tmp_path / "old.db"
    db = database_before(migrations._v14_console_sessions_and_provisioning_credentials, path)
    migrator = SqliteMigrator(db)
    run_operations(*(migrator.drop_column("gateway", name) for name in ("credential", "adoption_until",
                                                                        "bound_address")),
                   migrator.drop_column("apitoken", "expires"))
    db.execute_sql("INSERT INTO gateway (mac, model, name, address, created) "
                   "VALUES ('000b82000002', 'ht801', '', '', '2026-01-01 00:00:00')")
    db.execute_sql("INSERT INTO gatewayport (gateway_id, number, kind, extension, trunk) "
                   "SELECT id, 1, 'fxs', '100', '' FROM gateway WHERE mac = '000b82000002'")
    db.close()
    try:
        open_database(path)
        row = Gateway.get(Gateway.mac == "000b82000002")
        assert gateways.get_gateway("000b82000002")["ports"][0]["extension"] == "100"  # bindings kept
        assert len(row.credential) >= 24 and row.adoption_until is None
        anonymous = gateways.provisioning_file("cfg000b82000002.xml", "192.168.1.2", address="192.168.1.50")
        assert anonymous.status == 403 and "Abcdefgh12345678" not in anonymous.body
        own = gateways.provisioning_file("cfg000b82000002.xml", "192.168.1.2", address="192.168.1.50",
                                         password=row.credential)
        assert own.status == 200 and "Abcdefgh12345678" in own.body
        assert {"consolesession", "throttlefailure", "throttlelock"} <= set(database.obj.get_tables())
    finally:
        close_database()
