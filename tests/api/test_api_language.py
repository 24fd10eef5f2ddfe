"""The API's own messages speak the caller's console language: a token's user's, else Accept-Language."""

from __future__ import annotations

import re

from appliance.access import accounts


def test_a_tokens_user_gets_the_apis_messages_in_their_language(api):
    technician = api.client("technician")
    assert technician.post("/api/v1/extensions", {"number": "300"}).json["error"] == (
        "the technician role may not do this (allowed: admin)")
    accounts.set_language("technician", "zh_CN", actor="technician")
    refused = technician.post("/api/v1/extensions", {"number": "300"})
    assert refused.status == 403 and refused.json["error"] == "technician 角色无权执行此操作（允许的角色：admin）"
    # the data stays as it is: only the messages change
    assert [e["number"] for e in technician.get("/api/v1/extensions").json["items"]] == []


def test_a_caller_without_a_token_gets_the_browsers_language(api):
    anonymous = api.client(None)
    assert anonymous.get("/api/v1/extensions").json["error"] == (
        "missing API token: send 'Authorization: Bearer <token>'")
    chinese = anonymous.get("/api/v1/extensions", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.status == 401 and chinese.json["error"] == "缺少 API 令牌：请发送 'Authorization: Bearer <token>'"
    # an unknown path is answered before anyone is recognised: in the browser's language too
    missing = anonymous.get("/api/v1/no-such-thing", headers={"Accept-Language": "zh-CN"})
    assert missing.status == 404 and missing.json["error"].startswith("/api/v1/no-such-thing 没有 API 接口")
    assert anonymous.get("/api/v1/extensions", token="nonsense",
                         headers={"Accept-Language": "zh-CN"}).json["error"] == "API 令牌不存在或已吊销"


def test_validation_problems_come_in_the_callers_language_with_the_fields_code(api):
    """The field stays the API's code (``number``); the message is the caller's language, as in the console."""
    admin = api.client("admin")
    english = admin.post("/api/v1/extensions", {"number": "12a", "name": "Desk"})
    assert english.status == 422
    assert [(p["field"], p["message"]) for p in english.json["problems"]] == [
        ("number", "'12a' is not allowed here: use 2 to 8 digits")]
    accounts.set_language("admin", "zh_CN", actor="admin")
    chinese = admin.post("/api/v1/extensions", {"number": "12a", "name": "Desk"})
    assert chinese.status == 422
    assert [(p["field"], p["message"]) for p in chinese.json["problems"]] == [
        ("number", "此处不允许填写 '12a'，应为：2 到 8 位数字")]
    assert chinese.json["error"] == "extension.number: 此处不允许填写 '12a'，应为：2 到 8 位数字"
    admin.post("/api/v1/extensions", {"number": "300", "name": "Desk"})
    taken = admin.post("/api/v1/extensions", {"number": "300", "name": "Desk"})
    assert [p["message"] for p in taken.json["problems"]] == ["分机 300 已存在"]


def test_the_openapi_documents_summaries_come_in_the_callers_language(api):
    """The operations' summaries a reader scans are translated; paths, schemas and ids stay the API's."""
    anonymous = api.client(None)
    english = anonymous.get("/api/v1/openapi.json").json
    chinese = anonymous.get("/api/v1/openapi.json", headers={"Accept-Language": "zh-CN"}).json
    assert english["paths"]["/extensions"]["get"]["summary"] == "List extensions (search, paging)"
    assert chinese["paths"]["/extensions"]["get"]["summary"] == "列出分机（搜索、分页）"
    assert chinese["paths"]["/queues/{key}"]["delete"]["summary"] == "删除队列"
    assert chinese["paths"]["/voicemail_boxes"]["get"]["summary"] == "列出语音信箱（搜索、分页）"
    assert chinese["paths"].keys() == english["paths"].keys()
    assert _without_words(chinese) == _without_words(english)  # only the words a reader reads differ
    summaries = [op["summary"] for item in chinese["paths"].values() for op in item.values()
                 if isinstance(op, dict) and "summary" in op]
    assert summaries and all(re.search("[\u4e00-\u9fff]", summary) for summary in summaries), summaries


def _without_words(node):
    """The document less its summaries and descriptions: what a program reads of it."""
    if isinstance(node, dict):
        return {k: _without_words(v) for k, v in node.items() if not (k in ("summary", "description")
                                                                        and isinstance(v, str))}
    if isinstance(node, list):
        return [_without_words(item) for item in node]
    return node


def test_the_openapi_documents_descriptions_come_in_the_callers_language(api):
    """Beyond the summaries: who may call an operation, what each answer is, the parameters and the shared
    error answers are described in the reader's language too; the English stays as it was."""
    anonymous = api.client(None)
    english = anonymous.get("/api/v1/openapi.json").json
    chinese = anonymous.get("/api/v1/openapi.json", headers={"Accept-Language": "zh-CN"}).json
    listing, zh_listing = english["paths"]["/extensions"]["get"], chinese["paths"]["/extensions"]["get"]
    assert listing["description"].startswith("Roles: ") and zh_listing["description"].startswith("角色：")
    assert zh_listing["responses"]["200"]["description"] == "一页分机。"
    assert zh_listing["parameters"][1]["description"] == "每页条数。"
    deleted = chinese["paths"]["/queues/{key}"]["delete"]["responses"]["204"]["description"]
    assert english["paths"]["/queues/{key}"]["delete"]["responses"]["204"]["description"] == "Deleted."
    assert deleted == "已删除。"
    assert chinese["components"]["responses"]["NotFound"]["description"] == "对象不存在。"
    assert english["components"]["responses"]["NotFound"]["description"] == "No such object."
