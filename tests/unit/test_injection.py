"""Nothing a user types can inject into a generated file (DESIGN.md, "Rules that hold everywhere").

Two properties, checked with hypothesis:

* Free text (names) may be anything: it is either refused by validation with
  an error naming the field, or, when accepted, the rendered files have
  exactly the structure they have with a benign name: the same sections,
  the same keys in each, the same number of lines, the same dialplan
  (only the data of an application may differ, and only inside the
  base64 the renderer wraps free text in).  The structure is read with a
  small parser that follows Asterisk's own config reader (``main/config.c``):
  lines end only at ``\\n``, ``;`` starts a comment unless escaped as
  ``\\;``, ``;--`` ... ``--;`` is a block comment, ``[`` opens a section and
  ``#`` a directive at the start of a line, ``key = value`` / ``key => value``.

* Strict fields (identifiers, numbers, dial patterns, hosts, ...) refuse
  any character that could end a line, start a comment, open a section or
  reach the dialplan parser as syntax.

The site rendered here is the reference site, held in memory: no database.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance import config_file
from appliance.asterisk.layout import DEFAULT_DIRECTORIES
from appliance.errors import SiteError
from appliance.provisioning import projection, render
from appliance.site import service
from appliance.site.checks import Site, check_site
from appliance.site.kinds import KINDS
from tests.conftest import REFERENCE_SITE

FACTS = render.InstallFacts(ami_secret="golden-ami-secret", directories=DEFAULT_DIRECTORIES)
ROWS = "objects.sqlite3"  # the projection's rows, as text (rows_text)
HYPOTHESIS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that mean something to Asterisk's config reader or dialplan parser, plus troublemakers
# for any text handling: line and paragraph separators, NUL, other controls, non-ASCII.
SPECIALS = [
    "\n", "\r", "\r\n", ";", ";--", "--;", "[", "]", "=", "=>", '"', "'", ",", "|", "$", "${", "{", "}", "(", ")",
    "\\", "\\;", "\\n", "#include", "#exec", "<", ">", "&", "/", "@", " ", "\t", "\x00", "\x07", "\x0b", "\x0c",
    "\x1b", "\x1c", "\x7f", "\x85", "\u00a0", "\u2028", "\u2029", "\ufeff", "\u200b", "é", "Ω", "中文", "😀",
]
nasty_text = st.lists(st.one_of(st.sampled_from(SPECIALS), st.characters(), st.text(max_size=3)),
                      max_size=40).map("".join)
# Most nasty text holds a control character and is refused outright; this half of the draws is text a
# user could really type (printable, one line), so the "accepted" branch of the property is well exercised.
typeable_text = st.lists(st.one_of(st.sampled_from([s for s in SPECIALS if s.isprintable()]),
                                   st.characters(exclude_categories=("C", "Z")), st.just(" ")),
                         min_size=1, max_size=40).map("".join)
free_text = st.one_of(nasty_text, typeable_text)


# ---- a tiny Asterisk config reader ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    key: str
    op: str  # "=" or "=>"
    value: str


@dataclass(frozen=True)
class Section:
    name: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class ConfFile:
    lines: int
    preamble: tuple[Entry, ...]
    sections: tuple[Section, ...]
    directives: tuple[str, ...]


def _strip_comments(line: str, in_block: bool) -> tuple[str, bool]:
    """Remove comments the way config.c does; return the text left and whether a block comment is open."""
    out = []
    i = 0
    while i < len(line):
        if in_block:
            end = line.find("--;", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 3, False
            continue
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if ch == ";":
            if line.startswith(";--", i):
                i, in_block = i + 3, True
                continue
            return "".join(out), False
        out.append(ch)
        i += 1
    return "".join(out), in_block


def parse_conf(text: str) -> ConfFile:
    raw_lines = text.split("\n")  # config.c reads with fgets: only "\n" ends a line
    sections: list[tuple[str, list[Entry]]] = []
    preamble: list[Entry] = []
    directives: list[str] = []
    current: list[Entry] = preamble
    in_block = False
    for raw in raw_lines:
        line, in_block = _strip_comments(raw, in_block)
        line = line.strip(" \t\r")
        if not line:
            continue
        if line.startswith("["):
            close = line.find("]")
            assert close > 0, f"unterminated section header: {raw!r}"
            current = []
            sections.append((line[1:close], current))
            continue
        if line.startswith("#"):
            directives.append(line)
            continue
        key, eq, value = line.partition("=")
        op = "="
        if value.startswith(">"):
            op, value = "=>", value[1:]
        current.append(Entry(key.strip(), op if eq else "(no =)", value.strip()))
    return ConfFile(len(raw_lines), tuple(preamble),
                    tuple(Section(name, tuple(entries)) for name, entries in sections), tuple(directives))


_BASE64_ARG = re.compile(r"BASE64_DECODE\([A-Za-z0-9+/=]*\)")


def dialplan_line(entry: Entry) -> tuple:
    """``exten => name,prio,App(data)`` / ``same => prio,App(data)`` split into its parts.

    The data of an application is kept, with only the base64 payloads blanked:
    the renderer puts free text into the dialplan as base64 and nowhere else.
    """
    fields = entry.value.split(",", 2 if entry.key == "exten" else 1)
    if entry.key == "exten":
        name, prio, rest = fields
    else:
        name, (prio, rest) = None, fields
    app, paren, data = rest.partition("(")
    assert paren and data.endswith(")"), f"application without (data): {entry}"
    return entry.key, name, prio, app, _BASE64_ARG.sub("BASE64_DECODE(...)", data[:-1])


def structure(name: str, text: str) -> tuple:
    """What must not change when only free text changes."""
    conf = parse_conf(text)
    sections = []
    for sec in conf.sections:
        if name == "extensions.conf":
            body = tuple(dialplan_line(e) if e.key in ("exten", "same") else (e.key, e.op, e.value)
                         for e in sec.entries)
        else:
            body = tuple((e.key, e.op) for e in sec.entries)
        sections.append((sec.name, body))
    return conf.lines, conf.preamble, conf.directives, tuple(sections)


# ---- the reference site, in memory ------------------------------------------------------------------


@cache
def reference_site() -> Site:
    return config_file.parse_text(REFERENCE_SITE.read_text(encoding="utf-8"), onto=Site())  # no database


def with_object(site: Site, kind: str, key: str, obj) -> Site:
    objects = {name: list(objs) for name, objs in site.objects.items()}
    k = KINDS[kind]
    objects[kind] = [obj if getattr(o, k.key) == key else o for o in objects[kind]]
    return Site(objects=objects, settings=site.settings)


def set_path(data, path: tuple, value):
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


@dataclass(frozen=True)
class FreeField:
    kind: str
    key: str
    path: tuple
    files: tuple[str, ...]  # where the text shows up (checked to make sure the test exercises something)

    @property
    def where(self) -> str:
        return ".".join(str(p) for p in (self.kind, *self.path))

    def site_with(self, text: str) -> Site:
        """The reference site with this field set to ``text``; SiteError if validation refuses it."""
        site = reference_site()
        current = next(o for o in site.of(self.kind) if getattr(o, _key_of(self.kind)) == self.key)
        data = set_path(current.model_dump(), self.path, text)
        return with_object(site, self.kind, self.key, service.validate(self.kind, data))

    def value_in(self, site: Site) -> str:
        obj = next(o for o in site.of(self.kind) if getattr(o, _key_of(self.kind)) == self.key)
        value = obj.model_dump()
        for part in self.path:
            value = value[part]
        return value


def _key_of(kind: str) -> str:
    return KINDS[kind].key


FREE_FIELDS = [
    # an extension's name is its caller ID in the projection's rows (appliance.provisioning.projection)
    FreeField("extension", "100", ("name",), (ROWS, "voicemail.conf")),
    FreeField("extension", "104", ("name",), (ROWS,)),  # an extension without voicemail
    FreeField("ring_group", "600", ("name",), ()),
    FreeField("voicemail_box", "700", ("name",), ("voicemail.conf",)),
    FreeField("time_condition", "office-hours", ("holidays", 1, "name"), ()),
    FreeField("outbound_route", "national", ("caller_id_name",), ("extensions.conf",)),
]
BENIGN = "Benign Name"


@cache
def rendered_with(field: FreeField, text: str) -> dict[str, str]:
    site = field.site_with(text)
    return {**render.render_all(site, FACTS), ROWS: rows_text(site)}


def rows_text(site: Site) -> str:
    """The projection's endpoint rows as text: what the caller-ID checks read."""
    return "\n".join(f"{row[0]} callerid {row[6]}" for row in projection.site_rows(site)["ps_endpoints"].values())


def check_value_shapes(files: dict[str, str], site: Site | None = None) -> None:
    """Beyond keys and lines: values that carry free text keep their own inner syntax."""
    rows = projection.site_rows(site) if site is not None else {}
    for by_id in rows.values():
        for values in by_id.values():
            assert all(v.isprintable() for v in values), values  # nothing that ends a value or a line
    for values in rows.get("ps_endpoints", {}).values():
        assert re.fullmatch(r'"[^"<>\\]*" <[0-9]+>', values[6]), values[6]
    pjsip = parse_conf(files["pjsip.conf"])
    for sec in pjsip.sections:
        for e in sec.entries:
            if e.key == "callerid":
                # No quote or angle bracket inside the name, and no backslash that could escape its closing quote.
                assert re.fullmatch(r'"[^"<>\\]*" <[0-9]+>', e.value), e.value
    voicemail = parse_conf(files["voicemail.conf"])
    default = next(s for s in voicemail.sections if s.name == "default")
    for e in default.entries:
        assert e.op == "=>" and re.fullmatch(r"[0-9]+", e.key), e
        fields = e.value.split(",")
        assert len(fields) == 3 and "|" not in e.value, e.value
        assert re.fullmatch(r"[0-9]+", fields[0]), e.value


@pytest.mark.parametrize("field", FREE_FIELDS, ids=lambda f: f"{f.where}:{f.key}")
def test_benign_text_shows_up_where_expected(field):
    """Make sure each field really reaches the files the property below inspects."""
    marker = "Zebra Quokka"
    files = rendered_with(field, marker)
    for name in field.files:
        if name == "extensions.conf":
            assert base64.b64encode(marker.encode()).decode() in files[name]
        else:
            assert marker in files[name], name


def check_free_text(field: FreeField, text: str) -> None:
    """The property: ``text`` in ``field`` is refused naming the field, or changes no structure."""
    try:
        site = field.site_with(text)
    except SiteError as error:
        assert error.problems, "a SiteError must say what is wrong"
        for problem in error.problems:
            assert problem.where == field.where, f"error does not name the field: {problem}"
            assert problem.message
        return
    assert check_site(site) == []
    accepted = field.value_in(site)
    # An empty caller-ID name means "no name": compare with that, not with a benign name.
    baseline = rendered_with(field, BENIGN if accepted else "")
    files = render.render_all(site, FACTS)
    for name in render.GENERATED_FILES:
        assert structure(name, files[name]) == structure(name, baseline[name]), (
            f"{field.where}={text!r} changed the structure of {name}")
    check_value_shapes(files, site)


@pytest.mark.parametrize("field", FREE_FIELDS, ids=lambda f: f"{f.where}:{f.key}")
@HYPOTHESIS
@given(text=free_text)
def test_free_text_is_refused_or_harmless(field, text):
    check_free_text(field, text)


@pytest.mark.parametrize("text", [
    "Evil\n[from-internal]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@telco)",
    'x" <999>\ncontext = from-trunk',
    "x;\\;--\nsecret = stolen",
    "a,b|c => d; #include /etc/shadow",
    "${SHELL(rm -rf /)}",
    "\\",
    "Ünïcødé — 中文 😀",
])
@pytest.mark.parametrize("field", FREE_FIELDS, ids=lambda f: f"{f.where}:{f.key}")
def test_known_attacks(field, text):
    """Hand-picked attacks, so they are tried on every run whatever hypothesis draws."""
    check_free_text(field, text)


def test_parser_sees_an_injection():
    """The structural comparison is not vacuous: an unescaped name would be caught."""
    good = "[a]\nkey = value ; comment\nx => 1\n"
    assert structure("x.conf", good) == structure("x.conf", "[a]\nkey = other \\; text\nx => 2\n")
    assert structure("x.conf", good) != structure("x.conf", "[a]\nkey = v\n[b]\nx => 1\n")
    assert structure("x.conf", good) != structure("x.conf", "[a]\nkey = v ;-- open\nx => 1\n")
    dial = "[c]\nexten => 1,1,Set(CALLERID(name)=${BASE64_DECODE(QQ==)})\n"
    assert structure("extensions.conf", dial) == structure(
        "extensions.conf", "[c]\nexten => 1,1,Set(CALLERID(name)=${BASE64_DECODE(QkJC)})\n")
    assert structure("extensions.conf", dial) != structure(
        "extensions.conf", "[c]\nexten => 1,1,Set(CALLERID(name)=x,y)\n")


# ---- strict fields refuse every injected character --------------------------------------------------

# Characters with a meaning to Asterisk's config reader or dialplan parser (or that end a line).
INJECT = ["\n", "\r", "\x00", "\t", " ", ";", "[", "]", "=", ",", "|", '"', "'", "$", "{", "}", "(", ")", "\\",
          "&", "<", ">", "#", "/", "@", ":", "!", "*", "+", ".", "%", "\x85", "\u2028", "\u00a0", "\ufeff", "é",
          "中", "０"]

DIGITS = "0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz"
LETTERS = LOWER + LOWER.upper()
IDENT = LOWER + DIGITS + "_-"
PATTERN = DIGITS + "XZN*#+.![]-_"


@dataclass(frozen=True)
class StrictField:
    kind: str
    path: tuple
    valid: str
    alphabet: str  # every character the field may hold inside; anything else inside it must be refused
    lead: str = ""  # characters it may also start with (the "+" of an international number)

    @property
    def where(self) -> str:
        return ".".join(str(p) for p in (self.kind, *self.path))


STRICT_FIELDS = [
    StrictField("extension", ("number",), "1234", DIGITS),
    StrictField("extension", ("password",), "Abcdefgh12345678", LETTERS + DIGITS),
    StrictField("extension", ("voicemail_pin",), "123456", DIGITS),
    StrictField("extension", ("email",), "someone@example.com", LETTERS + DIGITS + "._%+-@"),
    StrictField("extension", ("options", "language"), "en", LETTERS + DIGITS + " _.,:/@+*=<>\"'-"),
    StrictField("trunk", ("name",), "my-trunk", IDENT),
    StrictField("trunk", ("host",), "sip.example.com", LETTERS + DIGITS + ".-"),
    StrictField("trunk", ("username",), "user.name", LETTERS + DIGITS + "_.+-"),
    StrictField("trunk", ("password",), "secret123", LETTERS + DIGITS + "_.+-"),
    StrictField("trunk", ("match", 0), "192.0.2.0/24", LETTERS + DIGITS + ".:/-"),
    StrictField("trunk", ("codecs", 0), "ulaw", ""),
    StrictField("ring_group", ("number",), "600", DIGITS),
    StrictField("ring_group", ("members", 0), "100", DIGITS),
    StrictField("ring_group", ("fallback",), "voicemail:100", IDENT + ":"),
    StrictField("voicemail_box", ("number",), "700", DIGITS),
    StrictField("voicemail_box", ("pin",), "7000", DIGITS),
    StrictField("moh_class", ("name",), "practice", IDENT),
    StrictField("moh_class", ("directory",), "/var/lib/moh", LETTERS + DIGITS + "_./-"),
    StrictField("announcement", ("name",), "closed", IDENT),
    StrictField("announcement", ("sound",), "custom/closed", IDENT + "/"),
    StrictField("time_condition", ("name",), "office-hours", IDENT),
    StrictField("time_condition", ("timezone",), "Europe/London", LETTERS + DIGITS + "_+-/"),
    StrictField("time_condition", ("ranges", 0, "days"), "mon-fri", LOWER + "-"),
    StrictField("time_condition", ("ranges", 0, "start"), "08:30", DIGITS + ":"),
    StrictField("time_condition", ("holidays", 0, "date"), "2025-12-25", DIGITS + "-"),
    # a ring group or queue may be named by its name (resolved to its number before it is stored)
    StrictField("time_condition", ("open_destination",), "ringgroup:600", LETTERS + DIGITS + ":_-" + " .&+/"),
    StrictField("queue", ("overflow",), "queue:Orders", LETTERS + DIGITS + ":_-" + " .&+/"),
    StrictField("inbound_route", ("name",), "main", IDENT),
    StrictField("inbound_route", ("did",), "441632960000", DIGITS + "*#", lead="+"),
    StrictField("inbound_route", ("cid",), "_44X.", PATTERN),
    StrictField("inbound_route", ("destination",), "timecondition:office-hours", IDENT + ":"),
    StrictField("outbound_route", ("name",), "national", IDENT),
    StrictField("outbound_route", ("patterns", 0, "match"), "_9[1-9]XX.", PATTERN),
    StrictField("outbound_route", ("patterns", 0, "prepend"), "0044", DIGITS, lead="+"),
    StrictField("outbound_route", ("trunks", 0), "telco", IDENT),
    StrictField("outbound_route", ("caller_id",), "441632960000", DIGITS, lead="+"),
]

# The reference object each strict field is tried on (one that has the lists the paths index into).
BASE_OBJECT = {"trunk": "backup", "time_condition": "office-hours", "outbound_route": "national"}


def _base(kind: str) -> dict:
    objects = reference_site().of(kind)
    key = BASE_OBJECT.get(kind)
    obj = next(o for o in objects if getattr(o, _key_of(kind)) == key) if key else objects[0]
    return obj.model_dump()


def _strict_data(field: StrictField, value: str) -> dict:
    return set_path(_base(field.kind), field.path, value)


def _assert_refused(field: StrictField, value: str) -> None:
    with pytest.raises(SiteError) as raised:
        service.validate(field.kind, _strict_data(field, value))
    wheres = [p.where for p in raised.value.problems]
    assert any(w == field.where or w.startswith(field.where + ".") for w in wheres), (value, wheres)


@pytest.mark.parametrize("field", STRICT_FIELDS, ids=lambda f: f.where)
def test_strict_field_refuses_each_special_character(field):
    """Every character of INJECT outside the field's alphabet, at the start, middle and end, is refused."""
    service.validate(field.kind, _strict_data(field, field.valid))  # the base value itself is valid
    for bad in INJECT:
        if bad in field.alphabet:
            continue
        middle = len(field.valid) // 2
        candidates = [field.valid[:middle] + bad + field.valid[middle:], field.valid + bad]
        if bad not in field.lead:
            candidates.append(bad + field.valid)
        for value in candidates:
            if value.strip() == field.valid:
                continue  # surrounding white space is trimmed, not stored: nothing is injected
            _assert_refused(field, value)


@pytest.mark.parametrize("field", STRICT_FIELDS, ids=lambda f: f.where)
@settings(max_examples=50, deadline=None)  # 35 fields; the special characters are tried exhaustively above
@given(data=st.data())
def test_strict_field_refuses_any_foreign_character(field, data):
    foreign = st.one_of(st.sampled_from(INJECT), st.characters()).filter(lambda c: c not in field.alphabet)
    bad = data.draw(st.lists(foreign, min_size=1, max_size=3).map("".join), label="injected")
    position = data.draw(st.integers(min_value=1, max_value=len(field.valid) - 1), label="position")
    _assert_refused(field, field.valid[:position] + bad + field.valid[position:])


SAFE_ACCEPTED = {
    # What an accepted value of a strict field may contain, whatever was typed.
    "extension.number": r"[0-9]+",
    "trunk.name": r"[a-z0-9_-]+",
    "trunk.host": r"[A-Za-z0-9.-]+",
    "inbound_route.did": r"[0-9*#+_XZN.!\[\]-]*",
    "outbound_route.patterns.0.match": r"[0-9*#+_XZN.!\[\]-]+",
    "outbound_route.patterns.0.prepend": r"\+?[0-9]*",
}


@pytest.mark.parametrize("where", sorted(SAFE_ACCEPTED))
@HYPOTHESIS
@given(text=free_text)
def test_strict_field_accepts_only_safe_text(where, text):
    field = next(f for f in STRICT_FIELDS if f.where == where)
    try:
        obj = service.validate(field.kind, _strict_data(field, text))
    except SiteError as error:
        assert all(p.where.startswith(field.where) for p in error.problems), error.problems
        return
    value = obj.model_dump()
    for part in field.path:
        value = value[part]
    assert re.fullmatch(SAFE_ACCEPTED[where], value), value
