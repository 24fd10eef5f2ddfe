"""A single save checks only what it can break: same verdicts and messages as checking the whole site, far faster."""

from __future__ import annotations

import random
import time

import pytest

from appliance.errors import SiteError
from appliance.site import impact, schemas, service
from appliance.site.checks import Site, check_site
from appliance.site.kinds import KINDS

NUMBERS = ["100", "101", "102", "103", "600", "601", "700", "701", "800"]
NAMES = ["alpha", "beta", "gamma", "delta"]
DESTINATION_KINDS = ["extension", "ringgroup", "voicemail", "queue", "timecondition", "announcement", "ivr"]


def _destination(rng: random.Random) -> str:
    kind = rng.choice([*DESTINATION_KINDS, "hangup", "hangup"])
    if kind == "hangup":
        return "hangup"
    pool = NUMBERS if kind in ("extension", "ringgroup", "voicemail", "queue") else NAMES
    return f"{kind}:{rng.choice(pool)}"


def _analog_port(rng: random.Random) -> dict:
    port = {"channel": rng.randint(1, 6)}
    if rng.random() < 0.5:
        port.update(card="pci:0000:03:00.0", port=rng.randint(1, 4))
    if rng.random() < 0.5:
        return {**port, "kind": "fxs", "extension": rng.choice(NUMBERS[:5])}
    return {**port, "kind": "fxo", "trunk": rng.choice(NAMES)}


def _random_object(kind: str, rng: random.Random, key: str | None = None) -> schemas.SiteObject:
    """A random object of ``kind``; ``key`` (when given) is its number or name, set before validation so that the
    generated PINs and passwords are drawn for that number, as an edit in the console or API would be."""
    number, name = rng.choice(NUMBERS), rng.choice(NAMES)
    members = rng.sample(NUMBERS[:5], rng.randint(1, 3))
    data = {
        "extension": lambda: {"number": number, "name": "x", "voicemail": rng.random() < 0.5},
        "trunk": lambda: {"name": name, "host": "sip.example.com"},
        "voicemail_box": lambda: {"number": number, "name": "box"},
        "ring_group": lambda: {"number": number, "name": "g", "members": members, "fallback": _destination(rng)},
        "moh_class": lambda: {"name": name, "directory": "/var/moh"},
        "announcement": lambda: {"name": name, "sound": "custom/x", "destination": _destination(rng)},
        "queue": lambda: {"number": number, "name": "q", "members": [{"extension": m} for m in members],
                          "overflow": _destination(rng), "moh_class": rng.choice(["default", *NAMES]),
                          "exit_voicemail": rng.choice(["", *NUMBERS[:6]])},
        "ivr": lambda: {"name": name, "greeting": "custom/menu",
                        "options": [{"digit": str(i), "destination": _destination(rng)}
                                    for i in range(rng.randint(0, 2))],
                        "timeout_destination": _destination(rng), "invalid_destination": _destination(rng)},
        "time_condition": lambda: {"name": name, "ranges": [{}], "open_destination": _destination(rng),
                                   "closed_destination": _destination(rng)},
        "inbound_route": lambda: {"name": name, "did": rng.choice(["", "5550100", "5550101"]),
                                  "destination": _destination(rng)},
        "outbound_route": lambda: {"name": name, "patterns": [{"match": "_9X."}],
                                   "trunks": rng.sample(NAMES, rng.randint(1, 2))},
        "dahdi_trunk": lambda: {"name": name, "group": rng.randint(1, 3),
                                "destination": rng.choice(["inbound_routes", _destination(rng)])},
        "analog_port": lambda: _analog_port(rng),
        "span": lambda: {"span": rng.randint(1, 2), "card": rng.choice(["pci:0000:04:00.0", "pci:0000:05:00.0"]),
                         "local_span": rng.randint(1, 2), "timing": rng.randint(0, 2), "trunk": name},
    }[kind]()
    if key is not None:
        data[KINDS[kind].key] = key
    return KINDS[kind].schema.model_validate(data)


def _full_check_verdict(change: impact.Change) -> set[str]:
    """What saving used to compute: check the whole site before and after, keep the new problems."""
    return {str(p) for p in impact._whole_site_check(change)}


def _apply(change: impact.Change) -> None:
    if change.new is None:
        service.delete_object(change.kind, change.old_key, "test")
    else:
        service.save_object(change.kind, change.new.model_dump(), "test", original_key=change.old_key,
                            create=change.old is None)


@pytest.mark.parametrize("seed", range(6))
def test_targeted_check_agrees_with_the_full_check_on_random_changes(install, seed):
    """Random creates, edits, renames and deletes of every kind (DAHDI ones too): the same problems, word for word."""
    rng = random.Random(seed)
    disagreements, refused, accepted = [], 0, 0
    accepted_kinds: set[str] = set()
    for _ in range(200):
        kind = rng.choice(sorted(impact.KNOWN))
        stored = service.list_objects(kind)
        key = KINDS[kind].key
        roll = rng.random()
        if stored and roll < 0.2:
            change = impact.Change(kind, rng.choice(stored), None)
        elif stored and roll < 0.6:
            old = rng.choice(stored)
            keep_key = rng.random() < 0.6  # an edit keeping the key; else possibly a rename
            new = _random_object(kind, rng, getattr(old, key) if keep_key else None)
            if getattr(new, key) != getattr(old, key) and service.get_object(kind, getattr(new, key)):
                continue  # renaming onto a taken key is refused before any check
            change = impact.Change(kind, old, new)
        else:
            new = _random_object(kind, rng)
            old = service.get_object(kind, getattr(new, key))
            change = impact.Change(kind, old, new)
        expected = _full_check_verdict(change)
        actual = {str(p) for p in impact.check_change(change)}
        if expected != actual:
            disagreements.append((change, expected, actual))
            break
        if expected:
            refused += 1
            with pytest.raises(SiteError):
                _apply(change)
        else:
            accepted += 1
            accepted_kinds.add(change.kind)
            _apply(change)
    assert not disagreements, disagreements[:3]
    assert check_site(service.snapshot()) == []  # what single saves let through, the full check accepts
    assert refused > 20 and accepted > 20  # both paths were exercised
    assert {"dahdi_trunk", "analog_port", "span"} & accepted_kinds  # with telephony hardware stored, too


def test_a_save_on_a_large_site_does_not_load_the_site(install):
    """10,000 extensions (and DAHDI ports): saving one takes milliseconds, not a whole-site check."""
    site = Site()
    site.objects["extension"] = [schemas.Extension(number=str(10000 + i), name=f"User {i}", voicemail=i % 2 == 0)
                                 for i in range(10_000)]
    site.objects["ring_group"] = [schemas.RingGroup(number="600", name="Group", members=["10000", "10001"],
                                                    fallback="voicemail:10000")]
    site.objects["dahdi_trunk"] = [schemas.DahdiTrunk(name="pstn", group=1)]  # telephony hardware is checked too
    site.objects["analog_port"] = [schemas.AnalogPort(channel=1, kind="fxs", extension="10005")]
    service.replace_site(site, "test")
    started = time.perf_counter()
    for i in range(50):
        service.save_object("extension", {"number": str(30000 + i), "name": f"New {i}"}, "test", create=True)
    per_save = (time.perf_counter() - started) / 50
    assert per_save < 0.05, f"{per_save * 1000:.0f} ms per save"
    with pytest.raises(SiteError, match="ring group 600 fallback: voicemail 10000 has no voicemail"):
        current = service.get_object("extension", "10000")
        service.save_object("extension", {**current.model_dump(), "voicemail": False}, "test", original_key="10000")
    with pytest.raises(SiteError, match=r"extension 10001 is used by ring group 600 \(members\)"):
        service.delete_object("extension", "10001", "test")
    with pytest.raises(SiteError, match="ring group 10002 number: 10002 is already used by extension 10002"):
        service.save_object("ring_group", {"number": "10002", "name": "Clash", "members": ["10003"]}, "test",
                            create=True)
    with pytest.raises(SiteError, match=r"extension 10005 is used by analog port 1 \(extension\)"):
        service.delete_object("extension", "10005", "test")
    assert service.check() == []
