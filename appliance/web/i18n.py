"""The console's languages: gettext catalogs, the language each request is shown in, locale-aware filters.

Every user-facing string of the console goes through the catalog: ``{{ _("...") }}`` in templates,
``gettext``/``lazy_gettext`` (Flask-Babel) in Python.  The sources are the ``.po`` files under
``appliance/web/translations`` (``make i18n-extract`` / ``make i18n-update`` keep them in step with the
code, see README); compiled ``.mo`` files are never committed.  They are compiled when the console starts,
into ``<install home>/cache/translations/<hash of the .po files>``: every way of running Linebox (``make
run``, the tests, a wheel installed by the Ansible role or in the image) gets catalogs that match its
``.po`` files without a build step of its own, and a changed ``.po`` is compiled again at the next start.

The language of a request: the logged-in user's choice (``User.language``, set with the switch in the
header; for a REST API call, the token's user's); else the choice made on the login page (kept in the
session); else the browser's Accept-Language; else English.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.units import format_unit
from flask import Blueprint, Flask, g, redirect, request, session, url_for
from flask_babel import Babel, format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from appliance.access import accounts
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.install import Install
from appliance.provisioning.steps import STEP_WORDS
from appliance.support import calls as calls_mod
from appliance.support import status as status_mod
from hardware import advice as hardware_advice

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
DEFAULT = "en"
# each language named in its own words in the header's switch (the one text not in the catalog: a reader
# looks for their own language's name, whatever the page is shown in)
LANGUAGE_NAMES = {"en": "English", "zh_CN": "中文"}
# Accept-Language tags as browsers send them, for the languages of the console
_BROWSER_TAGS = {"en": "en", "zh-CN": "zh_CN", "zh": "zh_CN"}

blueprint = Blueprint("i18n", __name__)


def catalog_sources(root: Path = TRANSLATIONS) -> list[Path]:
    return sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def compile_catalogs(cache: Path, root: Path = TRANSLATIONS) -> Path:
    """Compile every ``.po`` under ``root`` into ``cache/<hash>`` (once per content) and return that folder.

    The folder is named by the hash of the sources, so an unchanged catalog is not compiled again and a
    changed one never meets an older ``.mo``; it is written beside and renamed into place, so a console
    starting at the same moment sees a whole folder or none.  Fuzzy entries are left out (gettext's rule:
    a guess is not a translation).  Each ``.mo`` goes in the folder of the locale's full name, as Babel
    looks it up: ``zh_CN/`` (gettext's name, kept for the sources) is ``zh_Hans_CN`` to Babel."""
    sources = catalog_sources(root)
    digest = hashlib.sha256()
    for po in sources:
        digest.update(str(po.relative_to(root)).encode() + b"\0" + po.read_bytes() + b"\0")
    target = cache / digest.hexdigest()[:16]
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=".compiling-"))
    try:
        for po in sources:
            mo = work / str(Locale.parse(po.parts[-3])) / "LC_MESSAGES" / f"{DOMAIN}.mo"
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parts[-3])
            with mo.open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)
        try:
            os.rename(work, target)
        except OSError:  # another console compiled the same sources first: theirs is as good
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for old in cache.iterdir():  # earlier catalogs' folders
        if old != target and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return target


def browser_language() -> str:
    """The console language the browser asks for first (Accept-Language), English if none of ours."""
    best = request.accept_languages.best_match(list(_BROWSER_TAGS))
    return _BROWSER_TAGS.get(best or "", DEFAULT)


def select_language() -> str:
    api_caller = g.get("api_caller")  # a REST API call: its token's user (appliance.web.api.core)
    if getattr(api_caller, "language", ""):
        return api_caller.language
    if current_user.is_authenticated and getattr(current_user, "language", ""):
        return current_user.language
    chosen = session.get("language")
    if chosen in accounts.LANGUAGES:
        return chosen
    return browser_language()


def current_language() -> str:
    """The request's language as ``accounts.LANGUAGES`` names it ("zh_CN", where Babel says zh_Hans_CN)."""
    locale = get_locale()
    for code in accounts.LANGUAGES:
        if locale is not None and str(Locale.parse(code)) == str(locale):
            return code
    return DEFAULT


def _duration(seconds: float) -> str:
    """Days, hours and minutes in the page's language ("3 d 2 h 1 min", "3天2小时1分钟")."""
    locale = current_language()
    if locale == DEFAULT:
        return status_mod.human_duration(seconds)
    minutes, _seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "duration-day"), (hours, "duration-hour"), (minutes, "duration-minute")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    words = [format_unit(value, unit, length="short", locale=locale) for value, unit in parts]
    return ("" if locale.startswith("zh") else " ").join(words)


def _number(value: float, decimals: int | None = None) -> str:
    """A number with the locale's grouping and decimal sign; ``decimals`` fixes the digits after it."""
    pattern = None if decimals is None else "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=current_language())


def _datetime(value, format: str = "medium") -> str:  # noqa: A002 (Babel's own name for it)
    return format_datetime(value, format) if value else ""


def message_text(message: str) -> str:
    """A service's message in the request's language.

    A ``Message`` (``appliance.errors``) is translated by its template, with its params filled in (a
    param that is a ``Message`` translated too; names and typed values as they are).  Any other text is
    looked up as it is: a message marked ``N_`` in the layers below is in the catalog; one that is not
    stays English."""
    if isinstance(message, Message):
        params = {name: message_text(value) if isinstance(value, Message) else value
                  for name, value in message.params.items()}
        text = _(message.template)
        return text % params if params else text
    return _(message) if message else message


def error_text(error: Exception) -> str:
    """A service's exception (a refused backup, sound or prompt) in the request's language: its message is
    its first argument, a ``Message`` the catalog translates (``str(error)`` would be the English only)."""
    message = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    return message_text(message)


def advice_text(text: str) -> str:
    """A hardware scan's advice (``hardware.advice``: stored as English text in the inventory and a span's
    status) in the request's language: its template found again and translated, the values (spans, drivers,
    counts) as they were, a framing hint translated too.  A text of no template is shown as
    ``message_text`` shows it."""
    found = hardware_advice.parse(text)
    if found is None:
        return message_text(text)
    template, values = found
    hints = set(hardware_advice.FRAMING_HINTS.values())
    try:
        return _(template).format(**{name: _(value) if value in hints else value for name, value in values.items()})
    except (KeyError, IndexError, ValueError):  # a translation whose fields differ: the English is still right
        return text


def step_name(name: str) -> str:
    """An apply step's name ("render", "reload: dialplan reload") with its words in the request's language;
    what follows a known word (a command, a trunk's name) is shown as it is."""
    word, colon, rest = name.partition(": ")
    if word not in STEP_WORDS:
        return name
    if not colon:
        return _(word)
    return _("%(field)s: %(message)s", field=_(word), message=_(rest) if rest in STEP_WORDS else rest)


def problem_text(problem: Problem) -> str:
    """A problem as one line in the request's language: where it is (a field path or an object, as the
    service names it), then what is wrong."""
    text = f"{problem.where}: {message_text(problem.message)}" if problem.where else message_text(problem.message)
    return _("line %(line)s: %(problem)s", line=problem.line, problem=text) if problem.line else text


def problems_text(problems: list[Problem]) -> str:
    """Several problems in one line (a flash message), each in the request's language."""
    return _("; ").join(problem_text(problem) for problem in problems)


@blueprint.route("/language", methods=["POST"])
def choose():
    """The header's switch: the language for this browser, and for the logged-in user from now on."""
    language = request.form.get("language", "")
    if language not in accounts.LANGUAGES:
        return _("Unknown language."), 400
    session["language"] = language
    if current_user.is_authenticated:
        try:
            accounts.set_language(current_user.username, language, actor=current_user.username)
        except SiteError as error:
            return str(error), 400
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("views.status")
    return redirect(target)


def init_app(app: Flask, install: Install) -> None:
    directory = compile_catalogs(install.home / "cache" / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT
    Babel(app, locale_selector=select_language)
    app.jinja_env.filters["duration"] = _duration
    app.jinja_env.filters["number"] = _number
    app.jinja_env.filters["datetime"] = _datetime
    # a text known to the catalog but held in a variable (a field's label, a choice's name): shown in the
    # page's language as it is, never %-formatted (Jinja's _() would format "Service level target (%)")
    app.jinja_env.globals["translate"] = _
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES
    app.jinja_env.globals["message_text"] = message_text
    app.jinja_env.filters["message_text"] = message_text
    app.jinja_env.filters["step_name"] = step_name
    app.jinja_env.filters["duration_clock"] = calls_mod.clock
    app.jinja_env.filters["advice_text"] = advice_text
    app.jinja_env.globals["current_language"] = current_language
    app.register_blueprint(blueprint)


__all__ = ["N_", "compile_catalogs", "error_text", "init_app", "select_language", "LANGUAGE_NAMES", "message_text",
           "problem_text",
           "problems_text"]
