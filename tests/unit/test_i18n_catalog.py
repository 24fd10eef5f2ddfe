"""The console's strings go through the catalog, the Chinese catalog is complete, and it keeps the glossary.

* Templates: a template listed in ``TRANSLATED`` may show no user-facing English outside ``_()``: text
  between tags, the attributes a user reads or hears (title, placeholder, aria-label, alt, a button's
  value), and string constants a ``{{ }}`` prints.  Every template is either in ``TRANSLATED`` or in
  ``NOT_YET_TRANSLATED``, which only shrinks: a new template starts translated, and a template on the
  second list that has become clean must move to the first (the test says so).
* Catalog: every message the code marks (``make i18n-extract``'s extraction, done here afresh) is in the
  zh_CN catalog with a translation, not fuzzy, with the same placeholders.
* Glossary (docs/glossary.md): a message whose English holds a term says that term's one Chinese term,
  and no message uses a variant the glossary rules out.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import nodes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "appliance" / "web" / "templates"
TRANSLATIONS = ROOT / "appliance" / "web" / "translations"
ZH_CATALOG = TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po"
GLOSSARY = ROOT / "docs" / "glossary.md"

# Templates whose every user-facing string is in the catalog (checked).  It only grows.
TRANSLATED = {
    "base.html", "login.html", "password.html", "status.html", "_form.html", "_pager.html", "error.html",
    "objects_list.html", "object_delete.html", "object_form.html", "users.html", "user_delete.html",
    "user_password.html", "_csv_import.html", "extensions_import.html",
    "bans.html", "recordings.html", "sounds.html", "contacts.html", "contact_form.html", "contacts_import.html",
    "crm.html", "rates.html", "costs.html", "_problems.html", "prompts.html", "calls.html", "call.html", "missed.html",
    "_steps.html", "agent.html", "apply.html", "apply_result.html", "audit.html",
    "backup_preview.html", "backups.html", "gateways.html", "hardware.html",
    "reports.html", "robot_transcripts.html", "settings.html", "wallboard.html", "trace.html",
}
# Templates not translated yet (issue 18): this list only shrinks, and nothing is added to it.
NOT_YET_TRANSLATED: set[str] = set()
# Texts shown as they are in every language, each with its reason.  Keep it short.
ALLOWED = {
    "Linebox",  # the product's name
    "Asterisk",  # the name of the software the box runs, as its own messages call it
    # units, protocols and standards, written so in Chinese too
    "KiB", "MAC", "CSV", "HTTP", "PRI", "loc", "crc4",
    # a gateway's own web page, whose English labels the admin looks for there
    "Grandstream", "Cisco SPA", "Config Upgrade via", "Config Server Path", "Profile Rule",
}
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label"}
# filters that show their input (a constant through them is still shown as written)
SHOWING_FILTERS = {"upper", "lower", "capitalize", "title", "trim", "e", "escape", "safe", "sentence", "string"}
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
MARK = "\u2063"  # around the number that stands for a {{ }} in the page's HTML: no letter


def _environment() -> jinja2.Environment:
    return jinja2.Environment(extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)


class _Reader(HTMLParser):
    """Text nodes and read attributes of an HTML page whose ``{{ }}`` have been replaced by marks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []  # (where, the text): where is "" for text between tags
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):  # code: what one types (custom/NAME), the same in every language
            self._skip += 1
        attributes = dict(attrs)
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.found.append((f"{tag}[{name}]", value))
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.found.append(("input[value]", attributes["value"] or ""))

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.found.append(("", data.strip()))


def _shown_constants(node: nodes.Node) -> list[str]:
    """The string constants an expression prints as they are (not a gettext call's, a URL's or a test's)."""
    if isinstance(node, nodes.Const):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, nodes.CondExpr):
        return _shown_constants(node.expr1) + (_shown_constants(node.expr2) if node.expr2 else [])
    if isinstance(node, nodes.Or | nodes.And):
        return _shown_constants(node.left) + _shown_constants(node.right)
    if isinstance(node, nodes.Concat):
        return [text for part in node.nodes for text in _shown_constants(part)]
    if isinstance(node, nodes.Filter) and node.name in SHOWING_FILTERS and node.node is not None:
        return _shown_constants(node.node)
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "translate":
        # translate() is for a text held in a variable; a literal there escapes extraction: _() it
        return [text for arg in node.args for text in _shown_constants(arg)]
    return []


def untranslated(source: str) -> list[str]:
    """Every user-facing English text of a template that does not go through the catalog.

    Jinja's lexer splits the template: its statements and comments are dropped, and each ``{{ }}``
    becomes a numbered mark in the HTML.  The HTML's text and read attributes must hold no letters
    outside the marks, and the marks that land there (not in a class or a link) must print no string
    constant (``{{ "OK" if fine }}``, ``{{ x or "unknown" }}``); ``_("...")`` calls print none."""
    env = _environment()
    parts: list[str] = []
    expressions: list[str] = []
    inside = None
    block: list[str] = []  # the words of the {% %} being read
    captured = 0  # inside {% set x %}...{% endset %}: a value kept for later, not shown here
    for _line, token, value in env.lex(source):
        if inside is None and token == "data":
            if not captured:
                parts.append(value)
        elif token in ("variable_begin", "block_begin", "comment_begin"):
            inside, block = token, []
            if token == "variable_begin":
                expressions.append("")
                parts.append(f"{MARK}{len(expressions) - 1}{MARK}" if not captured else "")
        elif token in ("variable_end", "block_end", "comment_end"):
            if token == "block_end" and block[:1] == ["set"] and "=" not in block:
                captured += 1
            elif token == "block_end" and block[:1] == ["endset"]:
                captured -= 1
            inside = None
        elif inside == "variable_begin":
            expressions[-1] += value  # the source as written (lex() leaves strings quoted)
        elif inside == "block_begin" and token in ("name", "operator"):
            block.append(value)
    reader = _Reader()
    reader.feed("".join(parts))
    reader.close()
    marks = re.compile(rf"{MARK}(\d+){MARK}")
    allowed = re.compile(r"\b(?:" + "|".join(map(re.escape, ALLOWED)) + r")\b")
    found = []
    for where, text in reader.found:
        if LETTERS.search(allowed.sub("", marks.sub("", text))):
            shown = marks.sub("…", text)
            found.append(f'{marks.sub("", where)}="{shown}"' if where else shown)
        for number in marks.findall(text):
            output = env.parse("{{ " + expressions[int(number)] + " }}").body[0]
            assert isinstance(output, nodes.Output)
            found += [f"{{{{ {constant!r} }}}}" for child in output.nodes for constant in _shown_constants(child)
                      if LETTERS.search(constant) and constant not in ALLOWED]
    return found


def test_the_check_finds_english_outside_the_catalog():
    """The check itself: each way English can reach a page untranslated is found; translated text is not."""
    source = """{% extends "base.html" %}{% block title %}{{ _("Queues") }}{% endblock %}
      {% block content %}<h1>Queues</h1>
      <input placeholder="Search by name"><a title="{{ _('Edit') }}" href="{{ url_for('x', slug='queues') }}">✎</a>
      <button aria-label="Close">×</button> <p class="{{ 'ok' if a else 'bad' }}">{{ x or "unknown" }}</p>
      <td>{{ "OK" if fine else _("Broken") }}</td> <span>{{ n }} – {{ m }}</span> <b>Linebox</b>
      {# a comment is not shown #}{% set hidden = "not shown" %}<script>var a = "code";</script>
      {% set attributes %} id="x" disabled{% endset %}<input{{ attributes }} placeholder="Type here">
      <p>{{ translate(label) }} {{ translate("Literal") }} <code>custom/{{ name }}</code></p>{% endblock %}"""
    assert untranslated(source) == ["Queues", 'input[placeholder]="Search by name"', 'button[aria-label]="Close"',
                                    "{{ 'unknown' }}", "{{ 'OK' }}", 'input[placeholder]="Type here"',
                                    "{{ 'Literal' }}"]


def test_every_template_is_listed_once():
    templates = {str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")}
    assert TRANSLATED.isdisjoint(NOT_YET_TRANSLATED)
    new = templates - TRANSLATED - NOT_YET_TRANSLATED
    assert new == set(), "a new template must be translated: add it to TRANSLATED"
    assert (TRANSLATED | NOT_YET_TRANSLATED) - templates == set(), "a template that is gone must leave the lists"


@pytest.mark.parametrize("name", sorted(TRANSLATED))
def test_translated_templates_hold_no_string_outside_the_catalog(name):
    found = untranslated((TEMPLATES / name).read_text())
    assert found == [], f"{name}: wrap these in {{{{ _(\"...\") }}}} and run make i18n-update:\n" + "\n".join(found)


def test_the_not_yet_translated_list_only_shrinks():
    clean = sorted(name for name in NOT_YET_TRANSLATED if not untranslated((TEMPLATES / name).read_text()))
    assert clean == [], f"translated now: move {clean} from NOT_YET_TRANSLATED to TRANSLATED"


def _catalog():
    with ZH_CATALOG.open("rb") as source:
        return read_po(source, locale="zh_CN")


def _marked_messages() -> dict[str, str]:
    """Every string the code marks for the catalog, as ``make i18n-extract`` finds it, with where."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}
    found = {}
    for package in ("appliance", "hardware"):  # hardware: the scans' advice, shown by the console
        for filename, line, message, _comments, _context in extract_from_dir(
                str(ROOT / package), method_map, options_map, keywords=keywords):
            for text in message if isinstance(message, tuple) else (message,):
                found.setdefault(text, f"{package}/{filename}:{line}")
    return found


def test_the_catalog_holds_every_marked_string():
    """A string marked in the code (``_()``, ``_l()``, ``N_()``) but missing from the zh catalog: run
    ``make i18n-update`` and translate it."""
    catalog = _catalog()
    missing = [f"{where}: {text!r}" for text, where in _marked_messages().items() if text not in catalog]
    assert missing == [], "not in the zh_CN catalog (make i18n-update):\n" + "\n".join(missing)


def test_every_message_has_a_chinese_translation():
    catalog = _catalog()
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings) or message.fuzzy:
            problems.append(f"{message.id!r}: {'fuzzy' if message.fuzzy else 'no translation'}")
    for message, errors in catalog.check():  # placeholders: %(name)s in the English is in the Chinese
        problems += [f"{message.id!r}: {error}" for error in errors]
    assert problems == [], "\n".join(problems)


def _glossary() -> list[tuple[str, str, list[str]]]:
    rows = []
    for line in GLOSSARY.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("English", "---"):
            rows.append((cells[0], cells[1], [word.strip() for word in cells[2].split(",") if word.strip()]))
    return sorted(rows, key=lambda row: -len(row[0]))  # the longer term first: "inbound route" before "route"


def _term_pattern(term: str) -> re.Pattern[str]:
    words = r"[\s-]+".join(re.escape(word) for word in term.split())
    # not the syntax one types ("queue:500", "ivr:NAME"): there the English word is the value itself
    return re.compile(rf"(?<![:/])\b{words}(?:s|es)?\b(?!:)", re.IGNORECASE)


def glossary_problems(pairs: list[tuple[str, str]]) -> list[str]:
    problems = []
    glossary = _glossary()
    for english, chinese in pairs:
        rest = re.sub(r"%\(\w+\)[sd]", " ", english)  # a placeholder's name is not a word of the text
        for term, zh, avoid in glossary:
            pattern = _term_pattern(term)
            if pattern.search(rest):
                rest = pattern.sub(" ", rest)
                if zh not in chinese:
                    problems.append(f"{english!r}: {term!r} is {zh!r}, not in {chinese!r}")
            problems += [f"{english!r}: {chinese!r} says {word!r}, the glossary's {zh!r} is the term"
                         for word in avoid if word in chinese]
    return problems


def test_the_glossary_check_finds_another_word():
    assert glossary_problems([("Inbound routes", "呼入路由"), ("Music-on-hold classes", "等待音乐类别")]) == []
    assert glossary_problems([("Agents", "座席")]) == [
        "'Agents': 'agent' is '坐席', not in '座席'", "'Agents': '座席' says '座席', the glossary's '坐席' is the term"]
    assert glossary_problems([("Inbound route", "来电路由")]) != []
    assert glossary_problems([("Type queue:NUMBER.", "请输入 queue:号码。")]) == []


def test_the_catalog_keeps_the_glossary():
    """Each glossary term has one Chinese term across the whole catalog."""
    assert len(_glossary()) >= 20
    pairs = [(message.id, message.string) for message in _catalog() if message.id and isinstance(message.id, str)]
    problems = glossary_problems(pairs)
    assert problems == [], "\n".join(problems)
