"""Write ``schema6-database.sql``: a database made by the first Linebox with backups (schema 6), as its own
code made it, with rows in every table.  Kept as a text dump so a restore test can build an old backup
without the old release; run it again only to regenerate the dump, with that release's code first on the path:

    git archive 29d01c6 | tar -x -C /tmp/linebox-29d01c6
    PYTHONPATH=/tmp/linebox-29d01c6 python tests/data/make_schema6_database.py /tmp/linebox-29d01c6

(29d01c6 is "linebox backup/restore: one checked tar.gz ...", the commit that introduced backups.)
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from appliance.accounts import create_user
from appliance.apitokens import create_token
from appliance.site.config_file import import_text

from appliance.install import Install
from appliance.model import migrations, models
from appliance.model.database import close_database, database

OLD = Path(sys.argv[1])
OUT = Path(__file__).with_name("schema6-database.sql")

with tempfile.TemporaryDirectory() as tmp:
    install = Install.create(Path(tmp) / "home", manage_asterisk=False)
    install.open()
    assert migrations.CURRENT_VERSION == 6, migrations.CURRENT_VERSION
    import_text((OLD / "tests" / "data" / "reference-site.yaml").read_text(), "alice")
    create_user("alice", "Old-release-pw-1", "admin", "setup")
    create_user("sam", "Old-release-pw-2", "supervisor", "alice")
    create_token("alice", "wallboard screen", "alice")
    models.Setting.get_or_create(key="secret.ami", defaults={"value": "old-box-ami-secret"})
    models.QueueEvent.create(time=1763884800, callid="1763884800.1", queue="500", agent="PJSIP/101",
                             event="CONNECT", data="4|1763884796.2|6")
    models.QueueCall.create(callid="1763884800.1", queue="500", entered=1763884796, caller="441632960001",
                            outcome="answered", wait_seconds=4, talk_seconds=62, agent="PJSIP/101", ended_by="caller",
                            next_call_seconds=3600)
    models.CallRecord.create(uniqueid="1763884796.1", sequence=1, linkedid="1763884796.1",
                             start="2025-11-23 08:00:00", answer="2025-11-23 08:00:04", end="2025-11-23 08:01:10",
                             src="441632960001", dst="500", dcontext="from-trunk", channel="PJSIP/telco-00000001",
                             dstchannel="PJSIP/101-00000002", lastapp="Queue", duration=70, billsec=66,
                             disposition="ANSWERED", userfield="")
    models.CollectorState.create(source="queue_log", position=4096, identity="inode:1234")
    gateway = models.Gateway.create(mac="00:0b:82:01:02:03", model="grandstream-ht802", name="Lobby ATA",
                                    address="192.0.2.40")
    models.GatewayPort.create(gateway=gateway, number=1, kind="fxs", extension="100")
    models.ProvisioningRequest.create(mac="00:0b:82:01:02:03", file="cfg000b82010203.xml", address="192.0.2.40",
                                      user_agent="Grandstream HT802", known=True, status=200)
    empty = [name for name in database.get_tables()
             if database.execute_sql(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] == 0]
    assert not empty, f"tables left empty: {empty}"
    close_database()
    with sqlite3.connect(install.database) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        lines = [f"-- Made by {Path(__file__).name} with the code of commit 29d01c6 (schema {version}).",
                 f"PRAGMA user_version = {version};", *db.iterdump()]
OUT.write_text("\n".join(lines) + "\n")
print(f"wrote {OUT}")
