"""A service's message to a user reaches the catalog: no ``Problem`` is built from text the catalog cannot hold.

The console shows a ``Problem``'s message in the reader's language (``appliance.web.i18n.message_text``):
a ``Message`` by its template, a plain text only if it is itself a marked message.  A message written
as an f-string or a ``%``-formatted or concatenated text is English for good — the Chinese console
showed "extension 205 does not exist" in the middle of a Chinese page.  This check reads the source
(``ast``) of every package below the console and the CLI and fails on each such ``Problem``, naming
the file and line; a message must be ``Message(N_("... %(name)s ..."), name=...)``, ``N_("...")``, or a
value made by one of them elsewhere (a name, a call).

The same holds for the exceptions whose message the console shows as it is (``SHOWN_EXCEPTIONS``: a
refused backup, sound, prompt or textarea line): their raise sites anywhere in ``appliance``, the
console's included, must give a message the catalog can hold, and the console shows their first argument
through ``appliance.web.i18n.error_text``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "appliance"
# the console and the CLI translate (or print) with their own means; everything else is a service
SKIPPED = {"web", "cli"}
# exceptions whose message reaches a page (flashed, or put in one) as the user's whole answer
SHOWN_EXCEPTIONS = {"BackupError", "PassphraseNeeded", "SealedError", "WrongPassphrase", "SoundError", "PromptError",
                    "LineError", "ApplyFailed"}
# where the message is among their arguments, when it is not the first (ApplyFailed(step, message))
MESSAGE_POSITION = {"ApplyFailed": 1}


def _message_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "message":
            return keyword.value
    return call.args[1] if len(call.args) > 1 else None


def _is_fixed_text(node: ast.expr) -> bool:
    """An English text built in place: a literal, an f-string, a ``%`` or ``+`` of texts, ``str.format``."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return _is_fixed_text(node.left) or isinstance(node.left, ast.Constant)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def untranslatable_problems() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.relative_to(ROOT).parts[0] in SKIPPED:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Problem"):
                continue
            message = _message_argument(node)
            if message is not None and _is_fixed_text(message):
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {ast.unparse(message)[:70]}")
    return found


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _raised_message(call: ast.Call) -> ast.expr | None:
    name = _called_name(call)
    if name not in SHOWN_EXCEPTIONS:
        return None
    position = MESSAGE_POSITION.get(name, 0)
    return call.args[position] if len(call.args) > position else None


def untranslatable_raises() -> list[str]:
    """``raise BackupError(f"...")`` and the like, for every class of ``SHOWN_EXCEPTIONS``."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            message = _raised_message(node.exc)
            if message is not None and _is_fixed_text(message):
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {ast.unparse(message)[:70]}")
    return found


def test_every_problem_message_can_be_translated():
    found = untranslatable_problems()
    assert found == [], "messages the console cannot translate (use Message(N_(...), ...)):\n" + "\n".join(found)


def test_the_check_sees_an_f_string_message(tmp_path):
    """The check itself: the forms it must refuse are refused, the catalog's forms pass."""
    def refused(source: str) -> bool:
        call = ast.parse(source).body[0].value  # type: ignore[attr-defined]
        message = _message_argument(call)
        return message is not None and _is_fixed_text(message)

    assert refused('Problem("x", f"extension {n} does not exist")')
    assert refused('Problem("x", "plain English")')
    assert refused('Problem("x", "extension %s" % n)')
    assert refused('Problem("x", message="a " + b)')
    assert not refused('Problem("x", Message(N_("extension %(n)s does not exist"), n=n))')
    assert not refused('Problem("x", N_("is required"))')
    assert not refused('Problem("x", message_of(item))')


def test_every_shown_exception_message_can_be_translated():
    found = untranslatable_raises()
    assert found == [], "exceptions the console shows with a message it cannot translate:\n" + "\n".join(found)


def test_the_check_sees_a_raise_of_a_shown_exception_in_english(tmp_path):
    def refused(source: str) -> bool:
        call = ast.parse(source).body[0].exc  # type: ignore[attr-defined]
        message = _raised_message(call)
        return message is not None and _is_fixed_text(message)

    assert refused('raise BackupError(f"the backup holds the same file twice: {name}")')
    assert refused('raise sounds.SoundError("the file holds no sound")')
    assert not refused('raise BackupError(Message(N_("the backup holds no database")))')
    assert not refused('raise ValueError(f"unknown format {x}")')
    assert refused('raise ApplyFailed("verify", f"extension {number}: Asterisk {problem}")')
    assert not refused('raise ApplyFailed(f"module load {module}", Message(N_("Asterisk answered: %(a)s"), a=a))')


def test_every_hardware_advice_translation_keeps_its_fields():
    """An advice text is filled with ``str.format`` (``{span}``), which the catalog's own check does not read:
    a translation that lost or renamed a field would show the English (``appliance.web.i18n.advice_text``)."""
    import re

    from babel.messages.pofile import read_po

    from hardware.advice import ADVICE, FRAMING_HINTS

    po = ROOT / "web" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as source:
        catalog = read_po(source, locale="zh_CN")
    fields = re.compile(r"\{(\w+)\}")
    wrong = [template for template in (*ADVICE.values(), *FRAMING_HINTS.values())
             if catalog.get(template) is None
             or sorted(fields.findall(catalog[template].string)) != sorted(fields.findall(template))]
    assert wrong == []
