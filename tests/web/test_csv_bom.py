"""CSV exports a Chinese Excel opens correctly (issue 18): UTF-8 with a byte-order mark for Chinese readers.

Without the BOM, Excel on a Chinese Windows reads a CSV file as GBK and shows UTF-8 Chinese as mojibake.
Every CSV download of the console (extensions, phonebook, reports) and ``linebox report --csv`` starts
with the BOM when its reader is Chinese (the user's language, or a zh site), and the importers take the
file back as it is: the round trip keeps the Chinese text.  English readers get the files as before.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from click.testing import CliRunner

from appliance.access import accounts
from appliance.cli.linebox import main
from appliance.model.models import Contact, QueueCall
from appliance.phonebook import contacts as phonebook
from appliance.site import service
from tests.web.test_backups import _post_file
from tests.web.test_pages import login

BOM = "\ufeff"


def _gbk_excel_would_break(text: str) -> bool:
    """What a Chinese Excel does with a file without a BOM: reads its bytes as GBK (mojibake for UTF-8)."""
    raw = text.encode("utf-8")
    return raw.decode("gbk", errors="replace") != text


def test_a_chinese_admin_exports_the_phonebook_with_a_bom_and_imports_it_back(console):
    phonebook.create_contact({"name": "王小明", "company": "上海贸易有限公司", "numbers": ["+86 21 6288 0000"],
                              "note": "大客户，优先接听"}, "test")
    accounts.set_language("admin", "zh_CN", actor="test")
    admin = login(console, "admin")
    exported = admin.get("/contacts/export.csv")
    assert exported.status == 200 and exported.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert exported.body.startswith(BOM), "a Chinese Excel would read this file as GBK"
    rows = list(csv.reader(io.StringIO(exported.body.removeprefix(BOM))))
    assert rows[1][:2] == ["王小明", "上海贸易有限公司"] and rows[1][3] == "大客户，优先接听"

    # the very file goes back in (after the phonebook was emptied): same contact, same Chinese
    Contact.delete().execute()
    token = admin.get("/contacts/import").csrf_token()
    back = _post_file(admin, "/contacts/import", "phonebook.csv", exported.body.encode("utf-8"), {"csrf_token": token})
    assert back.status == 302, back.body
    (contact,) = phonebook.all_contacts()
    assert (contact["name"], contact["company"], contact["note"]) == ("王小明", "上海贸易有限公司", "大客户，优先接听")


def test_an_english_reader_gets_no_bom_unless_asked(console):
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["100"]}, "test")
    admin = login(console, "admin")
    assert admin.get("/contacts/export.csv").body.startswith("name,company")
    assert admin.get("/contacts/export.csv?bom=1").body.startswith(BOM + "name,company")
    accounts.set_language("admin", "zh_CN", actor="test")
    assert admin.get("/contacts/export.csv?bom=0").body.startswith("name,company")


def test_a_chinese_site_exports_extensions_and_reports_with_a_bom(console):
    service.save_settings({"language": "zh"}, "test")  # an English-speaking admin of a Chinese site
    service.save_object("extension", {"number": "102", "name": "前台 张丽"}, "test", create=True)
    now = int(datetime.now(UTC).timestamp())
    QueueCall.insert(callid="a", queue="700", entered=now - 60, caller="+8613800000000", outcome="answered",
                     wait_seconds=10, talk_seconds=100, agent="102").execute()
    admin = login(console, "admin")
    exported = admin.get("/extensions/export.csv")
    assert exported.body.startswith(BOM + "number,name")
    assert "102,前台 张丽," in exported.body and _gbk_excel_would_break(exported.body)

    # the extensions file goes back in unchanged (a BOM before the header is no unknown column)
    service.delete_object("extension", "102", "test")
    token = admin.get("/extensions/import").csrf_token()
    back = _post_file(admin, "/extensions/import", "ext.csv", exported.body.encode("utf-8"), {"csrf_token": token})
    assert back.status == 302, back.body
    assert service.get_object("extension", "102").name == "前台 张丽"

    for table in ("queues", "agents"):
        report = admin.get(f"/reports/{table}.csv")
        assert report.status == 200 and report.body.startswith(BOM), table

    runner = CliRunner()
    home = str(console.app.extensions["linebox.install"].home)
    out = runner.invoke(main, ["--home", home, "report", "--csv"])
    assert out.exit_code == 0, out.output
    assert out.stdout_bytes.startswith(BOM.encode("utf-8") + b"queue,offered")
    plain = runner.invoke(main, ["--home", home, "report", "--csv", "--no-bom"])
    assert plain.stdout_bytes.startswith(b"queue,offered")
