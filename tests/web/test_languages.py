"""The console's language: the browser's Accept-Language before login, each user's choice after, switched in
the header; numbers and durations in the page's language; catalogs compiled from the .po files at start."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

from appliance.access import accounts
from appliance.model.database import close_database, open_database
from appliance.model.models import ApiToken, AuditEntry, User
from appliance.web import i18n
from tests.old_database import schema6_database

CHINESE_BROWSER = "zh-CN,zh;q=0.9,en;q=0.8"
ENGLISH_BROWSER = "en-US,en;q=0.9"


def _lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', body)
    assert match
    return match.group(1)


def _h1(body: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", body, re.S)
    assert match
    return match.group(1).strip()


def test_the_login_page_speaks_the_browsers_language(console):
    chinese = console.browser(languages=CHINESE_BROWSER).get("/login", follow=True)
    assert chinese.status == 200 and _lang(chinese.body) == "zh-CN"
    assert _h1(chinese.body) == "登录" and "用户名" in chinese.body and "密码" in chinese.body
    for languages in (ENGLISH_BROWSER, "fr-FR,fr;q=0.9", None):  # English, and English for a language we lack
        page = console.browser(languages=languages).get("/login", follow=True)
        assert _lang(page.body) == "en" and _h1(page.body) == "Log in", languages
    # a page that needs a login says so in the browser's language too
    assert "请先登录。" in console.browser(languages=CHINESE_BROWSER).get("/", follow=True).body


def test_the_switch_on_the_login_page_outranks_the_browser(console):
    browser = console.browser(languages=ENGLISH_BROWSER)
    switched = browser.submit("/language", {"language": "zh_CN", "next": "/login"}, form_page="/login")
    assert switched.status == 302 and switched.location.endswith("/login")
    assert _h1(browser.get("/login").body) == "登录"
    assert console.browser(languages=ENGLISH_BROWSER).get("/login").status == 200  # another browser: its own
    assert _h1(console.browser(languages=ENGLISH_BROWSER).get("/login").body) == "Log in"


def test_a_users_language_is_kept_for_them_and_audited(console, admin_password):
    english = console.browser(languages=ENGLISH_BROWSER)
    english.login("admin", admin_password)
    status = english.get("/")
    assert _h1(status.body) == "Status" and "Extensions" in status.body
    switched = english.submit("/language", {"language": "zh_CN", "next": "/extensions/?q=10"}, form_page="/")
    assert switched.status == 302 and switched.location.endswith("/extensions/?q=10")
    assert User.get(User.username == "admin").language == "zh_CN"
    entry = AuditEntry.select().where(AuditEntry.kind == "user").order_by(AuditEntry.id.desc()).get()
    assert (entry.user, entry.action, entry.before["language"], entry.after["language"]) == (
        "admin", "update", "", "zh_CN")
    page = english.get("/")
    assert _lang(page.body) == "zh-CN" and _h1(page.body) == "系统状态"
    assert "分机" in page.body and "呼入路由" in page.body and "退出登录" in page.body and "(管理员)" in page.body
    # the choice is the user's: an English browser elsewhere, logging in as admin, gets Chinese
    elsewhere = console.browser(languages=ENGLISH_BROWSER)
    assert _h1(elsewhere.login("admin", admin_password, follow=True).body) == "系统状态"
    # and back to English
    english.submit("/language", {"language": "en", "next": "/"}, form_page="/")
    assert _h1(english.get("/").body) == "Status" and User.get(User.username == "admin").language == "en"


def test_an_unknown_language_is_refused_and_nothing_stored(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    refused = browser.submit("/language", {"language": "xx", "next": "/"}, form_page="/")
    assert refused.status == 400 and "Unknown language." in refused.body
    assert User.get(User.username == "admin").language == ""
    # and a "next" elsewhere than this console is not followed (no open redirect)
    away = browser.submit("/language", {"language": "en", "next": "//evil.example/"}, form_page="/")
    assert away.status == 302 and away.location.endswith("/") and "evil" not in away.location


def test_lists_and_forms_speak_the_users_language(console, admin_password):
    accounts.set_language("admin", "zh_CN", actor="test")
    browser = console.browser()
    browser.login("admin", admin_password)
    listing = browser.get("/extensions/")
    assert _h1(listing.body) == "分机" and "新建分机" in listing.body and "导出 CSV" in listing.body
    assert "号码" in listing.body and "第 1–2 条，共 2 条" in listing.body
    assert "还没有队列。" in browser.get("/queues/").body
    delete = browser.get("/extensions/delete/101")
    assert _h1(delete.body) == "确定删除分机 101？" and "取消" in delete.body
    problems = browser.submit("/login", {"username": "", "password": ""}, form_page="/login")  # logged in: goes on
    assert problems.status in (200, 302)


def test_the_login_forms_own_messages_are_translated(console):
    browser = console.browser(languages=CHINESE_BROWSER)
    empty = browser.submit("/login", {"username": "", "password": ""})
    assert empty.status == 422 and "请输入用户名" in empty.body and "请输入密码" in empty.body
    wrong = browser.submit("/login", {"username": "admin", "password": "not the password"})
    assert wrong.status == 401 and "用户名或密码错误" in wrong.body


def test_numbers_and_durations_follow_the_locale(console):
    with console.app.test_request_context("/", headers={"Accept-Language": CHINESE_BROWSER}):
        env = console.app.jinja_env
        assert env.filters["duration"](3 * 86400 + 2 * 3600 + 61) == "3天2小时1分钟"
        assert env.filters["duration"](59) == "0分钟"
        assert env.filters["number"](1234567) == "1,234,567"
    with console.app.test_request_context("/", headers={"Accept-Language": "de-DE"}):  # English console
        assert console.app.jinja_env.filters["duration"](3 * 86400 + 2 * 3600 + 61) == "3 d 2 h 1 min"
        assert console.app.jinja_env.filters["number"](1234.5, 1) == "1,234.5"


def test_catalogs_are_compiled_from_the_po_files_and_again_when_they_change(tmp_path):
    source = tmp_path / "translations"
    po = source / "zh_CN" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\nmsgid "Queues"\nmsgstr "队列"\n')
    cache = tmp_path / "cache"
    first = i18n.compile_catalogs(cache, source)
    assert i18n.compile_catalogs(cache, source) == first  # unchanged: not compiled again
    mo = first / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"  # where Babel looks for zh_CN
    assert "队列".encode() in mo.read_bytes()
    po.write_text(po.read_text().replace("队列", "排队"))
    second = i18n.compile_catalogs(cache, source)
    assert second != first and not first.exists()  # the older folder is gone
    assert "排队".encode() in (second / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").read_bytes()
    assert [p.name for p in cache.iterdir()] == [second.name]


def test_users_of_an_older_database_follow_their_browser(tmp_path):
    """The column is added in place: the users' API tokens survive (a copied-and-dropped user table would
    cascade-delete them)."""
    path = schema6_database(tmp_path / "linebox.db")
    with closing(sqlite3.connect(path)) as conn:
        tokens = conn.execute("SELECT id, user_id, name FROM apitoken ORDER BY id").fetchall()
    assert tokens
    open_database(path)
    try:
        assert [(u.username, u.language) for u in User.select().order_by(User.id)] == [("alice", ""), ("sam", "")]
        assert [(t.id, t.user_id, t.name) for t in ApiToken.select().order_by(ApiToken.id)] == tokens
        accounts.set_language("sam", "zh_CN", actor="alice")
    finally:
        close_database()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT language FROM user WHERE username = 'sam'").fetchone() == ("zh_CN",)


def test_a_chinese_user_gets_validation_errors_and_flashes_in_chinese(console, admin_password):
    """A refused form names each field's problem in the reader's language (pydantic's checks, the schema's
    own, the service's), and a settings save says so in Chinese; English stays as it was for an English user."""
    from tests.web.test_pages import errors_of, form_errors

    accounts.set_language("admin", "zh_CN", actor="test")
    browser = console.browser()
    browser.login("admin", admin_password)
    refused = browser.submit("/extensions/new", {"number": "12a", "name": "Kept", "recording": "never",
                                                 "ring_seconds": "999"})
    assert refused.status == 422
    errors = errors_of(refused.body)
    assert errors["number"] == "此处不允许填写 '12a'，应为：2 到 8 位数字"
    assert errors["ring_seconds"] == "不能大于 300"
    assert form_errors(refused.body) == ["未保存任何内容：请更正下方标出的字段。"]
    taken = browser.submit("/extensions/new", {"number": "100", "name": "Twin", "recording": "never"})
    assert errors_of(taken.body)["number"] == "分机 100 已存在"
    bad_setting = browser.submit("/settings", {"sip_port": "abc", "rtp_start": "10000", "rtp_end": "9000"})
    assert bad_setting.status == 422
    settings_errors = errors_of(bad_setting.body)
    assert settings_errors["sip_port"] == "必须是整数（不能是 'abc'）"
    assert "SIP 端口" in bad_setting.body and "保存设置" in bad_setting.body

    accounts.set_language("admin", "en", actor="test")
    english = browser.submit("/extensions/new", {"number": "12a", "name": "Kept", "recording": "never"})
    assert errors_of(english.body)["number"] == "'12a' is not allowed here: use 2 to 8 digits"


def test_a_refused_delete_and_a_missing_destination_say_so_in_chinese(console, admin_password):
    """Checks across objects name the objects in the reader's language too."""
    from appliance.site import service
    from tests.web.test_pages import errors_of

    service.save_object("queue", {"number": "500", "name": "客服", "members": [{"extension": "100"}]}, "test",
                        create=True)
    accounts.set_language("admin", "zh_CN", actor="test")
    browser = console.browser()
    browser.login("admin", admin_password)
    refused = browser.submit("/extensions/delete/100", {}, form_page="/extensions/delete/100")
    assert refused.status == 409 and "分机 100 正被" in refused.body and "使用：请先修改那里" in refused.body
    missing = browser.submit("/inbound-routes/new", {"name": "main", "did": "", "cid": "",
                                                     "destination": "queue:501"})
    assert missing.status == 422
    assert errors_of(missing.body)["destination"] == "队列 501 不存在"


def test_a_chinese_admin_reads_the_services_refusals_in_chinese(console, admin_password):
    """The services' own refusals (a user name, a rate table's repeated line, a gateway that is not
    there) reach a Chinese admin in Chinese, with the names and numbers of the input kept as typed."""
    import html

    from appliance.site import service
    from tests.web.test_pages import errors_of

    accounts.set_language("admin", "zh_CN", actor="test")
    browser = console.browser()
    browser.login("admin", admin_password)
    bad_user = browser.submit("/users", {"username": "Bad Name", "role": "agent"})
    assert bad_user.status == 422
    assert errors_of(bad_user.body)["username"] == "请使用 1-32 个小写字母、数字、'.'、'_' 或 '-'，并以字母开头"

    service.save_object("trunk", {"name": "telco", "host": "192.0.2.10"}, user="test")
    page = browser.get("/rates/telco")
    twice = browser.submit("/rates/telco", {
        "csrf_token": page.csrf_token(), "valid_from": "2026-01-01",
        "table": "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\n"
                 "8613,,0.12,60/60,,,CNY,\n8613,,0.10,60/60,,,CNY,\n,,0.2,60/60,,,USD,\n"})
    assert twice.status == 422
    shown = html.unescape(twice.body)
    assert "第 3 行：prefix: 前缀 8613 已在第 2 行出现" in shown
    assert "第 4 行：currency: USD：一张费率表只能使用一种货币（上面已用 CNY）" in shown


def test_a_chinese_admin_reads_the_apply_steps_in_chinese(console, admin_password):
    """The apply's steps and what each did are the console's words too: names, details, the refusal."""
    accounts.set_language("admin", "zh_CN", actor="test")
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.submit("/apply", {}, form_page="/apply")
    assert response.status == 200
    steps = re.findall(r'<tr class="(ok|fail)">\s*<td>([^<]+)</td>.*?<td class="detail">([^<]*)</td>', response.body,
                       re.S)
    assert [name for _, name, _ in steps] == ["检查", "生成", "比较", "对象", "暂存", "切换", "重新加载"]
    details = dict((name, detail) for _, name, detail in steps)
    assert details["检查"].endswith("个对象一致") and details["切换"] == "生效 -&gt; 000001"
    assert details["重新加载"] == "Asterisk 不由本机管理：它会在启动时读取新文件"
    refused = browser.submit("/apply/rollback/000099", {}, form_page="/apply")
    assert "配置版本 000099 不存在（保留的版本：000001）" in refused.body


def test_a_chinese_admin_reads_refused_backups_sounds_and_lines_in_chinese(console, admin_password):
    """The refusals the console passes on as they come (a backup that is not one, a short passphrase, a
    sound upload with a bad name or file, a textarea line that cannot be read) reach a Chinese admin in
    Chinese, with the file's name kept as typed."""
    import html

    from tests.web.test_backups import _error, _post_file
    from tests.web.test_pages import errors_of

    accounts.set_language("admin", "zh_CN", actor="test")
    browser = console.browser()
    browser.login("admin", admin_password)
    token = browser.get("/backups").csrf_token()
    refused = _post_file(browser, "/backups/upload", "notes.tar.gz", b"not an archive", {"csrf_token": token})
    assert refused.status == 422
    assert _error(refused) == ("notes.tar.gz：不是 Linebox 备份：它根本不是 .tar.gz 归档"
                               "（linebox backup 生成的是 .tar.gz 文件）。未做任何更改。")
    short = browser.submit("/backups/download", {"passphrase": "short", "passphrase_again": "short"},
                           form_page="/backups")
    assert short.status == 422
    assert _error(short) == "未生成备份：口令至少需要 12 个字符（几个词语比一串符号更容易记住）。"

    token = browser.get("/sounds").csrf_token()
    bad_name = _post_file(browser, "/sounds", "hello.wav", b"RIFF", {"csrf_token": token, "name": "-bad name"})
    assert bad_name.status == 422
    assert "名称：请使用小写字母、数字、'-' 和 '_'（最多 40 个），并以字母或数字开头" in html.unescape(bad_name.body)
    token = browser.get("/sounds").csrf_token()
    bad_file = _post_file(browser, "/sounds", "notes.txt", b"just text", {"csrf_token": token, "name": "notes"})
    assert bad_file.status == 422
    assert "文件：“notes.txt”不是 Linebox 接受的语音文件（WAV, MP3, OGG" in html.unescape(bad_file.body)

    line = browser.submit("/extensions/new", {"number": "150", "name": "Lines", "options": "direct_media=no\nnot one"})
    assert line.status == 422 and errors_of(line.body)["options"] == "第 2 行：请写成 key=value"


def test_a_chinese_technician_reads_the_hardware_advice_in_chinese(console, tmp_path):
    """The scans' advice (a card's driver, a span's alarm), stored as the scan wrote it, is shown to a
    Chinese reader in Chinese, with the driver and span as found; an English reader still reads English."""
    import html

    from hardware import detect
    from tests.hardware.fake_sysfs import make_fake_sysfs
    from tests.web.test_pages import login

    install = console.app.extensions["linebox.install"]
    device = detect.DetectedDevice(
        bus="pci", address="0000:04:00.0", sys_path="/sys/devices/pci0000:00/0000:00:1c.4/0000:04:00.0",
        vendor="d161", device="1420", subvendor="0005", subdevice="0000", status="known", vendor_name="Digium",
        model="TE420 (5th gen, PCI Express)", expected_driver="wct4xxp", driver=None, state=None,
        card={"ports": [{"kind": "e1t1", "count": 4}]}, advice=("driver not loaded: modprobe wct4xxp",))
    detect.save(detect.Inventory((device,)), install.inventory_file)
    console.app.config["LINEBOX_SYSFS"] = str(make_fake_sysfs(tmp_path / "sys"))
    browser = login(console, "technician")
    assert "driver not loaded: modprobe wct4xxp" in html.unescape(browser.get("/hardware").body)
    accounts.set_language("technician1", "zh_CN", actor="test")
    page = html.unescape(browser.get("/hardware").body)
    assert "驱动未加载：请执行 modprobe wct4xxp" in page and "driver not loaded" not in page
    status = html.unescape(browser.get("/").body)
    rows = dict(re.findall(r'<tr data-span="(\d+)">(.*?)</tr>', status, re.S))
    hint = re.search(r'<p class="hint">(.*?)</p>', rows["2"], re.S)
    assert hint and hint.group(1).startswith("数字端口 2 出现 LOS（信号丢失）："), rows["2"]
