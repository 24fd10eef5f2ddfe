"""The backups page over real HTTP: download, upload, preview, confirm; admins only; audited; CSRF on every form."""

from __future__ import annotations

import html
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from appliance.model.models import AuditEntry
from appliance.site import service
from appliance.support import backup
from tests.web.conftest import Response
from tests.web.test_pages import login


def _post_file(browser, path: str, filename: str, content: bytes, fields: dict) -> Response:
    """A multipart/form-data POST, as a browser sends a file input."""
    boundary = secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: application/gzip\r\n\r\n".encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(urllib.parse.urljoin(browser.base, path), data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with browser.opener.open(request, timeout=30) as resp:
            return Response(resp.status, request.full_url, resp.headers, resp.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Response(error.code, request.full_url, error.headers, error.read().decode(errors="replace"))


PASSPHRASE = "a passphrase for the backups page"


def _download(browser, passphrase: str = PASSPHRASE) -> tuple[int, str, bytes]:
    token = browser.get("/backups").csrf_token()
    fields = {"csrf_token": token, "passphrase": passphrase, "passphrase_again": passphrase}
    request = urllib.request.Request(urllib.parse.urljoin(browser.base, "/backups/download"),
                                     data=urllib.parse.urlencode(fields).encode(), method="POST")
    with browser.opener.open(request, timeout=30) as resp:
        data = resp.read()
        assert int(resp.headers["Content-Length"]) == len(data)
        return resp.status, resp.headers.get("Content-Disposition", ""), data


def _numbers() -> list[str]:
    return [e.number for e in service.list_objects("extension")]


def test_admin_downloads_then_restores_after_seeing_what_changes(console, tmp_path):
    browser = login(console, "admin")
    assert 'href="/backups"' in browser.get("/").body
    status, disposition, data = _download(browser)
    assert status == 200 and "attachment" in disposition and ".tar.gz" in disposition
    download = AuditEntry.select().where(AuditEntry.kind == "backup").order_by(AuditEntry.id.desc()).first()
    assert (download.user, download.action) == ("admin", "download")
    archive = tmp_path / "downloaded.tar.gz"
    archive.write_bytes(data)
    work = backup.rollback_folder(console.app.extensions["linebox.install"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and list(work.glob(".linebox-download-*")):
        time.sleep(0.05)
    assert not list(work.glob(".linebox-download-*"))  # the served copy is removed once sent
    with backup.open_backup(archive) as opened:  # what was downloaded is a whole, valid backup
        assert [e.number for e in opened.site.objects["extension"]] == ["100", "101"]

    service.save_object("extension", {"number": "150", "name": "Temp"}, "test", create=True)
    service.delete_object("extension", "101", "test")
    token = browser.get("/backups").csrf_token()
    uploaded = _post_file(browser, "/backups/upload", "downloaded.tar.gz", data, {"csrf_token": token})
    assert uploaded.status == 302 and "/backups/preview/" in uploaded.location, uploaded.body[:500]
    assert _numbers() == ["100", "150"]  # an upload alone changes nothing

    preview = browser.get(uploaded.location)
    assert preview.status == 200
    row = re.search(r'<tr id="change-extension">(.*?)</tr>', preview.body, re.S).group(1)
    cells = [html.unescape(c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells == ["Extensions", "101", "", "150"]
    assert re.search(r"<td>Audit entries</td><td colspan=\"3\">\d+ now, \d+ in the backup</td>", preview.body)

    confirmed = browser.submit(urllib.parse.urlparse(uploaded.location).path.replace("preview", "restore"), {},
                               form_page=uploaded.location)
    assert confirmed.status == 302 and confirmed.location.endswith("/apply")
    assert "Backup restored" in browser.get("/apply").body
    assert _numbers() == ["100", "101"]
    restored = AuditEntry.select().where(AuditEntry.kind == "backup").order_by(AuditEntry.id.desc()).first()
    assert (restored.user, restored.action) == ("admin", "restore")


def test_a_bad_upload_says_why_and_changes_nothing(console):
    browser = login(console, "admin")
    token = browser.get("/backups").csrf_token()
    response = _post_file(browser, "/backups/upload", "notes.tar.gz", b"not an archive", {"csrf_token": token})
    assert response.status == 422
    message = html.unescape(re.search(r'id="backup-error">(.*?)</p>', response.body, re.S).group(1))
    assert "notes.tar.gz: not a Linebox backup" in message and "Nothing was changed" in message
    assert _numbers() == ["100", "101"]
    assert "Traceback" not in response.body


def test_upload_and_restore_need_the_csrf_token(console):
    browser = login(console, "admin")
    status, _, data = _download(browser)
    service.delete_object("extension", "101", "test")
    response = _post_file(browser, "/backups/upload", "b.tar.gz", data, {})
    assert response.status == 400
    assert not list((backup.rollback_folder(console.app.extensions["linebox.install"]) / "uploads").glob("*"))
    token = browser.get("/backups").csrf_token()
    uploaded = _post_file(browser, "/backups/upload", "b.tar.gz", data, {"csrf_token": token})
    restore_path = urllib.parse.urlparse(uploaded.location).path.replace("preview", "restore")
    assert browser.request("POST", restore_path, {}).status == 400
    assert _numbers() == ["100"]


def test_only_admins_see_or_use_backups(console):
    for role in ("technician", "supervisor", "agent"):
        browser = login(console, role)
        token = browser.get("/").csrf_token()
        assert browser.get("/backups").status == 403, role
        assert browser.request("POST", "/backups/download", {"csrf_token": token}).status == 403, role
        assert 'href="/backups"' not in browser.get("/").body, role
    assert not AuditEntry.select().where(AuditEntry.kind == "backup").exists()


def test_a_backup_larger_than_the_consoles_form_limit_uploads(console):
    """Real backups (call records, audit log) pass the console's 1 MiB request limit; the upload allows them."""
    from appliance.model.database import database
    from appliance.model.models import CallRecord
    rows = [{"uniqueid": f"u{i}", "sequence": 0, "linkedid": f"u{i}", "start": "2026-11-23 08:00:00",
             "userfield": secrets.token_hex(40)} for i in range(30000)]
    with database.atomic():
        for i in range(0, len(rows), 2000):
            CallRecord.insert_many(rows[i:i + 2000]).execute()
    browser = login(console, "admin")
    _, _, data = _download(browser)
    assert len(data) > 2 * 2**20
    token = browser.get("/backups").csrf_token()
    uploaded = _post_file(browser, "/backups/upload", "big.tar.gz", data, {"csrf_token": token})
    assert uploaded.status == 302 and "/backups/preview/" in uploaded.location, uploaded.status


def _error(response: Response) -> str:
    return html.unescape(re.search(r'id="backup-error">(.*?)</p>', response.body, re.S).group(1))


def test_a_download_needs_a_passphrase_typed_twice_or_an_explicit_none(console):
    browser = login(console, "admin")
    for fields, words in (({}, "Choose a passphrase"), ({"passphrase": "short", "passphrase_again": "short"},
                                                        "at least 12 characters"),
                          ({"passphrase": PASSPHRASE, "passphrase_again": PASSPHRASE + "x"}, "differ")):
        response = browser.submit("/backups/download", fields, form_page="/backups")
        assert response.status == 422 and words in _error(response), response.body[:300]
        assert "short" not in _error(response)
    token = browser.get("/backups").csrf_token()
    request = urllib.request.Request(urllib.parse.urljoin(browser.base, "/backups/download"), method="POST",
                                     data=urllib.parse.urlencode({"csrf_token": token, "no_passphrase": "1"}).encode())
    with browser.opener.open(request, timeout=30) as resp:
        assert resp.status == 200 and resp.read()[:2] == b"\x1f\x8b"
    entry = AuditEntry.select().where(AuditEntry.kind == "backup").order_by(AuditEntry.id.desc()).first()
    assert entry.after["passphrase"] is False


def test_a_backup_from_another_box_is_restored_with_its_passphrase(console, tmp_path):
    """New hardware: the backup of the old box (another key) is uploaded with its passphrase and restored."""
    from appliance.install import Install
    from appliance.model.database import close_database

    install = console.app.extensions["linebox.install"]
    close_database()
    old = Install.create(tmp_path / "old-box", manage_asterisk=False)
    old.open()
    service.save_object("extension", {"number": "300", "name": "Old box", "password": "Old8Box2Pass5Word"}, "test")
    from appliance.access import accounts
    accounts.create_user("admin", "correct horse battery", "admin", "test")
    made = backup.create_backup(old, tmp_path / "old.tar.gz", passphrase=PASSPHRASE)
    close_database()
    install.open()

    browser = login(console, "admin")
    data = made.path.read_bytes()
    for fields, words in (({}, "passphrase chosen when it was made"),
                          ({"passphrase": "not the one it was made with"}, "wrong passphrase")):
        token = browser.get("/backups").csrf_token()
        response = _post_file(browser, "/backups/upload", "old.tar.gz", data, {"csrf_token": token, **fields})
        assert response.status == 422 and words in _error(response) and "Nothing was changed" in _error(response)
        assert _numbers() == ["100", "101"]
    token = browser.get("/backups").csrf_token()
    uploaded = _post_file(browser, "/backups/upload", "old.tar.gz", data,
                          {"csrf_token": token, "passphrase": PASSPHRASE})
    assert uploaded.status == 302 and "/backups/preview/" in uploaded.location, _error(uploaded)
    assert browser.get(uploaded.location).status == 200  # no passphrase asked again
    confirmed = browser.submit(urllib.parse.urlparse(uploaded.location).path.replace("preview", "restore"), {},
                               form_page=uploaded.location)
    assert confirmed.status == 302, confirmed.body[:300]
    assert service.get_object("extension", "300").password == "Old8Box2Pass5Word"
