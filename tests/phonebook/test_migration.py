"""The phonebook tables arrive by their own migration step (schema v9), keeping an older database's rows."""

from __future__ import annotations

from appliance.model import migrations
from appliance.model.database import close_database, database, open_database
from appliance.model.models import Extension
from appliance.phonebook import contacts as phonebook
from appliance.phonebook.lookup import lookup
from tests.old_database import database_before


def test_a_database_from_before_the_phonebook_gains_its_tables_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    db = database_before(migrations._v9_phonebook, path)
    assert "contact" not in db.get_tables()
    db.close()
    try:
        open_database(path)
        assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
        assert {"contact", "contactnumber"} <= set(database.obj.get_tables())
        assert [e.number for e in Extension.select()] == ["100"]
        saved = phonebook.create_contact({"name": "Anna Berg", "numbers": ["+44 20 7946 0018"]}, "test")
        assert lookup("+442079460018")["id"] == saved["id"]
        # opening again runs nothing more
        assert migrations.migrate(database.obj) == migrations.CURRENT_VERSION
    finally:
        close_database()
