"""The firewall's ban sets: nftables sets with per-element timeouts in the table the base role installs.

``ansible/roles/base/templates/nftables.conf.j2`` declares ``inet linebox`` with the sets ``banned4`` and
``banned6`` (``flags timeout``) and drops their members before anything else is accepted, established
flows included (a guesser's UDP "connection" is established by the pbx's first 401).  Here elements
are added with the ban's remaining time, so the kernel lifts an expired ban by itself even when no
Linebox process runs, and removed early on an unban.  Every call runs Debian's ``nft`` (the service has
``CAP_NET_ADMIN``); its failure is a ``FirewallError`` naming the command, never a silent success.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess

TABLE = "inet linebox"
SETS = {4: "banned4", 6: "banned6"}
NFT_TIMEOUT = 10


class FirewallError(Exception):
    """nft is missing, the ban sets are not loaded, or nft refused a change."""


def _nft(*args: str, script: str | None = None) -> str:
    nft = shutil.which("nft") or "/usr/sbin/nft"
    try:
        done = subprocess.run([nft, *args], input=script, capture_output=True, text=True, timeout=NFT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FirewallError(f"nft {' '.join(args)}: {error}") from None
    if done.returncode != 0:
        raise FirewallError(f"nft {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def _set_of(address: str) -> str:
    return SETS[ipaddress.ip_address(address).version]


def add(address: str, seconds: int) -> None:
    """Drop ``address`` for ``seconds`` (replacing any timeout it had)."""
    name = _set_of(address)
    seconds = max(1, int(seconds))
    # one transaction: add (so the delete cannot fail), delete, add again: re-adding an element that is
    # already there would keep its old timeout
    _nft("-f", "-", script=f"add element {TABLE} {name} {{ {address} timeout {seconds}s }}\n"
              f"delete element {TABLE} {name} {{ {address} }}\n"
              f"add element {TABLE} {name} {{ {address} timeout {seconds}s }}\n")


def remove(address: str) -> None:
    """Stop dropping ``address`` (nothing to do when it is not in the set)."""
    name = _set_of(address)
    if address in elements():
        _nft("-f", "-", script=f"delete element {TABLE} {name} {{ {address} }}\n")


def elements() -> dict[str, float]:
    """Every banned address in the sets, with the seconds left before the kernel lifts it."""
    found: dict[str, float] = {}
    for name in SETS.values():
        data = json.loads(_nft("-j", "list", "set", *TABLE.split(), name))
        for item in data.get("nftables", []):
            for element in item.get("set", {}).get("elem", []) or []:
                if isinstance(element, dict) and "elem" in element:
                    value = element["elem"]
                    found[str(value.get("val"))] = float(value.get("expires", value.get("timeout", 0)))
                else:
                    found[str(element)] = 0.0
    return found
