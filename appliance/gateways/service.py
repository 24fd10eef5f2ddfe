"""FXO/FXS gateways: adopt one by MAC, bind its ports, serve its provisioning file.

The service functions here are the only code that writes gateways; the console's page
(``appliance.web.gateways``), the provisioning endpoint (``appliance.web.provisioning``), the site
file (``appliance.config_file``) and the CLI are thin layers over them.

* An **FXS** port is bound to an existing extension: the gateway is given that extension's
  number and password, and the port registers to Linebox *as* the extension (the extension's
  PJSIP endpoint is the port's endpoint; nothing else is generated).
* An **FXO** port is bound to a trunk: an IP-authenticated trunk (no registration, identified by
  the gateway's address) is created for the gateway if it does not exist.
* ``provisioning_file`` answers a device's request for its file by the MAC in the file name.
  Unknown MACs get nothing, and every request, served or not, is logged in
  ``ProvisioningRequest`` so an admin can list the unknown ones and adopt them.
* Devices fetch their file from the provisioning server (``appliance.web.provisioning``, run by
  ``linebox provision-serve``) over plain HTTP, port ``provision_port()`` (8080 unless
  ``LINEBOX_PROVISION_PORT`` says otherwise); each file also points the device back at that server
  (``provisioning_url``), so it keeps provisioning from there.
* **Nobody gets a file anonymously.**  Each gateway has its own credential (made at adoption);
  its file carries it in the provisioning URL (``/provision/<credential>/``), so the device sends it
  on every later fetch, in the path or as the HTTP basic auth password.  The first fetch, before
  the device knows it, is served only inside the gateway's **adoption window**: opened when the
  gateway is adopted and by the admin (``open_adoption_window``, ``ADOPTION_MINUTES``), closed by
  the first fetch it serves (which records the address that used it: the window *binds* the
  device).  Outside it, a fetch without the credential is 403.  The older per-install
  provisioning password (``set_provisioning_password``) is still accepted for every gateway.
* **Only from the site's networks**: a request from an address outside ``provisioning_networks()``
  (by default the private, loopback and link-local ranges) is refused, whatever it carries.
* **Guessing is throttled**: ``MAX_FAILURES`` refused requests (unknown MAC, wrong or missing
  credential, foreign address) from one address within ``FAILURE_WINDOW`` lock that address out
  for ``LOCKOUT`` (429), in SQLite (``appliance.model.throttle``), and each refusal is reported to
  the ban hook there.
* **HTTPS where the model can**: with ``set_provisioning_https(True)``, models that can fetch over
  HTTPS from a self-signed server (``GatewayModel.https_provisioning``: Grandstream) are pointed at
  the console's HTTPS port instead of the plain-HTTP provisioning server.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import peewee
from pydantic import ValidationError

from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError, message_of, missing, shown
from appliance.gateways import schema
from appliance.model import audit, sealed
from appliance.model import throttle as throttles
from appliance.model.database import database
from appliance.model.models import Extension, Gateway, GatewayPort, ProvisioningRequest, Setting, Trunk, utcnow
from appliance.site import schemas, service
from hardware import gateways as catalogue

PASSWORD_KEY = "gateways.provisioning_password"
PASSWORD_RE = re.compile(r"^[A-Za-z0-9_-]{12,64}$")
_HOST_RE = re.compile(schemas.HOST_RE)
_FILE_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
KIND = "gateway"
SYSTEM_ACTOR = "provisioning"  # who the audit log names for a device binding itself in its adoption window
KEEP_REQUESTS = 5000  # provisioning requests kept in the log
DEFAULT_PROVISION_PORT = 8080  # the provisioning server's plain-HTTP port
PROVISION_PORT_ENV = "LINEBOX_PROVISION_PORT"  # read by linebox provision-serve and the console (provision.env)
CONSOLE_PORT_ENV = "LINEBOX_WEB_PORT"  # the console's HTTPS port (HTTPS provisioning points devices there)
DEFAULT_CONSOLE_PORT = 443
NETWORKS_KEY = "gateways.provisioning_networks"
HTTPS_KEY = "gateways.provisioning_https"
DEFAULT_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
                    "fc00::/7", "fe80::/10", "::1/128")
ADOPTION_MINUTES = 30  # how long an adoption window stays open
MAX_ADOPTION_MINUTES = 24 * 60
MAX_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=5)
LOCKOUT = timedelta(minutes=15)
GUESSING = throttles.Rule("provision-address", MAX_FAILURES, FAILURE_WINDOW, LOCKOUT)


def _mac(mac: str, where: str = "gateway mac") -> str:
    try:
        return catalogue.normalize_mac(mac)
    except ValueError as error:
        raise SiteError([Problem(where, str(error))]) from None


def _get(mac: str) -> Gateway:
    mac = _mac(mac)
    gateway = Gateway.get_or_none(Gateway.mac == mac)
    if gateway is None:
        raise SiteError([Problem("gateway mac", Message(N_("no gateway with MAC %(mac)s"), mac=mac))])
    return gateway


def ports_of(gateway: Gateway) -> list[GatewayPort]:
    """The gateway's ports, by number."""
    return list(GatewayPort.select().where(GatewayPort.gateway == gateway).order_by(GatewayPort.number))


def new_credential() -> str:
    """A gateway's provisioning credential: 144 random bits, URL-safe (it travels in the URL path)."""
    return secrets.token_urlsafe(18)


def _window_open_until(gateway: Gateway) -> datetime | None:
    """When the gateway's adoption window closes (naive UTC), or None if it is closed."""
    until = gateway.adoption_until
    if until is None:
        return None
    until = until if isinstance(until, datetime) else datetime.fromisoformat(str(until))
    return until if until > utcnow() else None


def provisioning_state(mac: str) -> dict:
    """How the gateway gets its file: ``window_until`` (open adoption window, naive UTC, or None),
    ``bound_address`` (where the window was used from), ``last_provisioned``."""
    gateway = _get(mac)
    return {"window_until": _window_open_until(gateway), "bound_address": gateway.bound_address,
            "last_provisioned": gateway.last_provisioned}


def open_adoption_window(mac: str, user: str, minutes: int = ADOPTION_MINUTES) -> datetime:
    """Let the gateway's next fetch without its credential be served (once) for ``minutes``; audited.

    For a gateway that was reset to factory settings, replaced, or adopted before credentials existed."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_ADOPTION_MINUTES:
        raise SiteError([Problem("adoption window minutes", Message(N_("must be 1 to %(most)s minutes"),
                                                                      most=MAX_ADOPTION_MINUTES))])
    gateway = _get(mac)
    until = utcnow() + timedelta(minutes=minutes)
    with database.atomic():
        Gateway.update(adoption_until=until).where(Gateway.id == gateway.id).execute()
        audit.record(user, "open-adoption-window", KIND, gateway.mac, None,
                     {"until": until.isoformat(timespec="seconds") + "Z"})
    return until


def close_adoption_window(mac: str, user: str) -> None:
    gateway = _get(mac)
    with database.atomic():
        Gateway.update(adoption_until=None).where(Gateway.id == gateway.id).execute()
        audit.record(user, "close-adoption-window", KIND, gateway.mac, None, None)


def new_gateway_credential(mac: str, user: str) -> None:
    """Give the gateway a new credential (the old one stops working) and open its adoption window.

    For a credential that leaked: the device gets the new one at its next fetch inside the window."""
    gateway = _get(mac)
    with database.atomic():
        Gateway.update(credential=new_credential(), adoption_until=utcnow() + timedelta(minutes=ADOPTION_MINUTES),
                       bound_address="").where(Gateway.id == gateway.id).execute()
        audit.record(user, "new-credential", KIND, gateway.mac, None, {"credential": "changed"})


def describe(gateway: Gateway) -> dict:
    """A gateway as plain data (what the audit log, listings and the site file show; never its credential)."""
    return {
        "mac": gateway.mac, "model": gateway.model, "name": gateway.name, "address": gateway.address,
        "ports": [{"number": p.number, "kind": p.kind, "extension": p.extension, "trunk": p.trunk}
                  for p in ports_of(gateway)],
    }


def list_gateways() -> list[dict]:
    return [describe(g) for g in Gateway.select().order_by(Gateway.mac)]


def get_gateway(mac: str) -> dict | None:
    gateway = Gateway.get_or_none(Gateway.mac == _mac(mac))
    return describe(gateway) if gateway else None


def _problems(error: ValidationError) -> list[Problem]:
    """Schema errors, each named as the service names its fields (``gateway mac``, ``gateway ports fxs``)."""
    return [Problem(" ".join(["gateway", *(str(part) for part in item["loc"])]), message_of(item))
            for item in error.errors()]


def adopt(mac: str, model: str, user: str, name: str = "", address: str = "",
          ports: dict[str, int] | None = None) -> dict:
    """Create a gateway for ``mac`` of catalogue ``model`` (``ports`` {fxs: n, fxo: m}: generic only)."""
    try:
        valid = schema.Adoption.model_validate({"mac": mac, "model": model, "name": name or "",
                                                "address": address or "", "ports": ports})
    except ValidationError as error:
        raise SiteError(_problems(error)) from None
    with database.atomic():
        if Gateway.get_or_none(Gateway.mac == valid.mac) is not None:
            raise SiteError([Problem("gateway mac", Message(N_("a gateway with MAC %(mac)s already exists"),
                                                              mac=valid.mac))])
        gateway = Gateway.create(mac=valid.mac, model=valid.model, name=valid.name, address=valid.address,
                                 credential=new_credential(),
                                 adoption_until=utcnow() + timedelta(minutes=ADOPTION_MINUTES))
        for number, kind in enumerate(valid.port_kinds(), start=1):
            GatewayPort.create(gateway=gateway, number=number, kind=kind)
        after = describe(gateway)
        audit.record(user, "create", KIND, valid.mac, None, after)
    return after


def update_gateway(mac: str, user: str, name: str | None = None, address: str | None = None) -> dict:
    gateway = _get(mac)
    try:
        valid = schema.GatewayDetails.model_validate({"name": gateway.name if name is None else name,
                                                      "address": gateway.address if address is None else address})
    except ValidationError as error:
        raise SiteError(_problems(error)) from None
    new_name, new_address = valid.name, valid.address
    with database.atomic():
        before = describe(gateway)
        gateway.name, gateway.address = new_name, new_address
        gateway.save()
        for port in ports_of(gateway):
            if port.trunk and new_address and new_address != before["address"]:
                _point_trunk(gateway, port.trunk, new_address, user)
        after = describe(gateway)
        audit.record(user, "update", KIND, gateway.mac, before, after)
    return after


def delete_gateway(mac: str, user: str) -> None:
    """Forget a gateway and its port bindings (extensions and trunks stay)."""
    gateway = _get(mac)
    with database.atomic():
        before = describe(gateway)
        gateway.delete_instance(recursive=True)
        audit.record(user, "delete", KIND, before["mac"], before, None)


def _port(gateway: Gateway, number: int) -> GatewayPort:
    port = GatewayPort.get_or_none((GatewayPort.gateway == gateway) & (GatewayPort.number == number))
    if port is None:
        raise SiteError([Problem("gateway port", Message(N_("gateway %(mac)s has no port %(port)s (it has "
                                                            "%(count)s)"), mac=gateway.mac, port=number,
                                                         count=len(ports_of(gateway))))])
    return port


def bind_fxs(mac: str, number: int, extension: str, user: str) -> dict:
    """Bind FXS port ``number`` to ``extension``: the port will register as that extension."""
    gateway = _get(mac)
    port = _port(gateway, number)
    if port.kind != "fxs":
        raise SiteError([Problem("gateway port", Message(N_("port %(port)s is an %(kind)s port, not FXS"),
                                                         port=number, kind=port.kind.upper()))])
    if Extension.get_or_none(Extension.number == extension) is None:
        raise SiteError([Problem("gateway port extension", missing(N_("extension"), extension))])
    other = (GatewayPort.select(GatewayPort, Gateway).join(Gateway)
             .where((GatewayPort.extension == extension) & (GatewayPort.id != port.id)).first())
    if other is not None:
        raise SiteError([Problem("gateway port extension", Message(
            N_("extension %(extension)s is already bound to port %(port)s of gateway %(mac)s"),
            extension=extension, port=other.number, mac=other.gateway.mac))])
    with database.atomic():
        before = describe(gateway)
        port.extension = extension
        port.save()
        after = describe(gateway)
        audit.record(user, "update", KIND, gateway.mac, before, after)
    return after


def default_trunk_name(mac: str) -> str:
    return f"gw-{_mac(mac)}"


MIXED_FXO_SIP_PORT = 5062


def fxo_sip_port(gateway: Gateway) -> int:
    """The gateway's SIP port for its FXO side.

    Linebox identifies calls from FXO ports by the gateway's address.  On a gateway with FXS
    ports too, that would also catch the FXS ports' registrations and calls, so the FXO side
    of a mixed gateway uses its own SIP port (its file says so) and the trunk matches
    ``address:port``.
    """
    kinds = {p.kind for p in ports_of(gateway)}
    return MIXED_FXO_SIP_PORT if "fxs" in kinds else 5060


def _trunk_target(gateway: Gateway, address: str) -> tuple[int, list[str]]:
    port = fxo_sip_port(gateway)
    return port, [f"{address}:{port}" if port != 5060 else address]


def _point_trunk(gateway: Gateway, name: str, address: str, user: str) -> None:
    current = cast("schemas.Trunk | None", service.get_object("trunk", name))
    port, match = _trunk_target(gateway, address)
    if current is not None and (current.host, current.port, current.match) != (address, port, match):
        service.save_object("trunk", {**current.model_dump(), "host": address, "port": port, "match": match}, user,
                            original_key=name)


def bind_fxo(mac: str, number: int, user: str, trunk: str | None = None) -> dict:
    """Bind FXO port ``number`` to ``trunk`` (default ``gw-<mac>``), creating that IP-authenticated trunk."""
    gateway = _get(mac)
    port = _port(gateway, number)
    if port.kind != "fxo":
        raise SiteError([Problem("gateway port", Message(N_("port %(port)s is an %(kind)s port, not FXO"),
                                                         port=number, kind=port.kind.upper()))])
    if not gateway.address:
        raise SiteError([Problem("gateway address",
                                 N_("an FXO port needs the gateway's address (its trunk's far end)"))])
    name = trunk or default_trunk_name(gateway.mac)
    if not re.match(schemas.IDENTIFIER_RE, name):
        raise SiteError([Problem("gateway port trunk", Message(N_("%(name)s is not a trunk name"), name=shown(name)))])
    with database.atomic():
        if Trunk.get_or_none(Trunk.name == name) is None:
            sip_port, match = _trunk_target(gateway, gateway.address)
            service.save_object("trunk", {"name": name, "host": gateway.address, "port": sip_port,
                                          "match": match, "qualify_seconds": 60}, user, create=True)
        before = describe(gateway)
        port.trunk = name
        port.save()
        after = describe(gateway)
        audit.record(user, "update", KIND, gateway.mac, before, after)
    return after


def unbind(mac: str, number: int, user: str) -> dict:
    gateway = _get(mac)
    port = _port(gateway, number)
    with database.atomic():
        before = describe(gateway)
        port.extension, port.trunk = "", ""
        port.save()
        after = describe(gateway)
        audit.record(user, "update", KIND, gateway.mac, before, after)
    return after


# ---------------------------------------------------------------- provisioning

def provisioning_password() -> str:
    row = Setting.get_or_none(Setting.key == PASSWORD_KEY)
    return sealed.current().open(row.value) if row else ""


def set_provisioning_password(password: str, user: str) -> None:
    """Also accept ``password`` from every device (in the URL path or as HTTP basic auth); '' turns it off.

    Older installs used this one password for all gateways; each gateway's own credential is the default now."""
    if password and not PASSWORD_RE.match(password):
        raise SiteError([Problem("provisioning password", N_("12 to 64 letters, digits, '-' or '_'"))])
    before = {"password": provisioning_password()}
    with database.atomic():
        Setting.replace(key=PASSWORD_KEY, value=sealed.current().seal(password)).execute()
        audit.record(user, "update", "settings", "provisioning-password", before, {"password": password},
                     ("password",))


def provisioning_networks() -> list[str]:
    """The networks devices may fetch files from (CIDR): the admin's list, or the private ranges."""
    row = Setting.get_or_none(Setting.key == NETWORKS_KEY)
    return row.value.split() if row and row.value.strip() else list(DEFAULT_NETWORKS)


def set_provisioning_networks(networks: list[str], user: str) -> list[str]:
    """Serve files only to addresses in ``networks`` (CIDR or single addresses); [] restores the default."""
    clean = []
    for number, text in enumerate(networks, start=1):
        try:
            clean.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            raise SiteError([Problem(f"provisioning networks {number}",
                                     Message(N_("%(text)s is not a network (like 192.168.1.0/24)"),
                                             text=shown(text.strip()[:64])))]) from None
    before = {"networks": provisioning_networks()}
    with database.atomic():
        Setting.replace(key=NETWORKS_KEY, value=" ".join(clean)).execute()
        audit.record(user, "update", "settings", "provisioning-networks", before, {"networks": provisioning_networks()})
    return provisioning_networks()


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(net, strict=False) for net in provisioning_networks())


def provisioning_https() -> bool:
    row = Setting.get_or_none(Setting.key == HTTPS_KEY)
    return row is not None and row.value == "1"


def set_provisioning_https(on: bool, user: str) -> None:
    """Point models that can fetch over HTTPS (``GatewayModel.https_provisioning``) at the console's HTTPS port."""
    before = {"https": provisioning_https()}
    with database.atomic():
        Setting.replace(key=HTTPS_KEY, value="1" if on else "0").execute()
        audit.record(user, "update", "settings", "provisioning-https", before, {"https": bool(on)})


def provision_port() -> int:
    """The provisioning server's port: ``$LINEBOX_PROVISION_PORT`` or 8080."""
    value = os.environ.get(PROVISION_PORT_ENV, "")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else DEFAULT_PROVISION_PORT


def console_port() -> int:
    """The console's HTTPS port: ``$LINEBOX_WEB_PORT`` or 443."""
    value = os.environ.get(CONSOLE_PORT_ENV, "")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else DEFAULT_CONSOLE_PORT


def provisioning_url(host: str, port: int, with_password: bool = False, credential: str = "",
                     scheme: str = "http") -> str:
    """``http://host:port/provision`` (with ``/<credential>``, or the install's password when asked and set):
    a device appends its file name.

    ``host`` must already be checked (a Host header is, in ``provisioning_file``); an IPv6 address is bracketed.
    """
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    url = f"{scheme}://{shown}{'' if port == default else f':{port}'}/provision"
    secret = credential or (provisioning_password() if with_password else "")
    return f"{url}/{secret}" if secret else url


def _secret_ok(given: str | None, wanted: str) -> bool:
    return bool(wanted) and given is not None and hmac.compare_digest(given.encode(), wanted.encode())


def password_ok(given: str | None) -> bool:
    """Whether ``given`` is the install's provisioning password (False when none is set)."""
    return _secret_ok(given, provisioning_password())


@dataclass
class ServedFile:
    status: int  # 200, 403, 404, 429
    body: str = ""
    content_type: str = "text/plain"
    mac: str = ""
    reason: str = ""
    retry_after: int = 0


def _port_accounts(gateway: Gateway, kinds_total: int | None = None) -> tuple[catalogue.PortAccount, ...]:
    accounts = []
    for port in ports_of(gateway):
        ext = Extension.get_or_none(Extension.number == port.extension) if port.extension else None
        if port.kind == "fxs" and ext is not None:
            accounts.append(catalogue.PortAccount(port.number, "fxs", True, ext.number, ext.number, ext.password,
                                                  ext.name))
        elif port.kind == "fxo" and port.trunk:
            accounts.append(catalogue.PortAccount(port.number, "fxo", True, port.trunk, port.trunk, "",
                                                  gateway.name or port.trunk))
        else:
            accounts.append(catalogue.PortAccount(port.number, port.kind, False))
    return tuple(accounts)


def render_for(mac: str, server: str, provision_port: int | None = None) -> tuple[str, str]:
    """(file text, content type) for gateway ``mac``, telling it to use SIP server ``server``.

    With ``provision_port``, the file also tells the device where to fetch its file from now on, with
    its own credential in the URL: the provisioning server at ``server:provision_port`` over plain HTTP,
    or, with HTTPS provisioning on and a model that can, the console's HTTPS port.
    """
    gateway = _get(mac)
    model = catalogue.get_model(gateway.model)
    settings = service.load_settings()
    url = ""
    if provision_port:
        if provisioning_https() and model.https_provisioning:
            url = provisioning_url(server, console_port(), credential=gateway.credential, scheme="https")
        else:
            url = provisioning_url(server, provision_port, credential=gateway.credential)
    # the site's encryption: SIP over TLS to the TLS port and SRTP, where the model has the keys
    encrypted = settings.sip_encryption != "plain"
    data = catalogue.ProvisioningData(gateway.mac, server, settings.sip_port, _port_accounts(gateway),
                                      fxo_sip_port=fxo_sip_port(gateway), provisioning_url=url,
                                      transport="tls" if encrypted else "udp", srtp=settings.sip_encryption,
                                      tls_port=settings.sip_tls_port)
    return catalogue.render(model, data), model.content_type()


def provisioning_file(file_name: str, server: str, address: str = "", user_agent: str = "",
                      password: str | None = None, provision_port: int | None = None) -> ServedFile:
    """Answer a device at ``address`` asking for ``file_name``; ``server`` is the address it reached us at.

    ``password``: what the device sent (URL path or basic auth): its gateway's credential, or the install's
    provisioning password.  ``provision_port``: the provisioning server's port, written into the file
    (see ``render_for``).

    Logged whatever the answer.  429 while the address is locked out for guessing; 403 from outside the
    provisioning networks, or without the gateway's credential outside its adoption window; 404 for a
    name with no MAC, an unknown MAC, or a name the model does not ask for.  Every 403 and 404 counts
    towards the address's lock and is reported to the ban hook.
    """
    mac = catalogue.mac_in_file_name(file_name) or ""
    result = _serve(file_name, mac, server, address, password, provision_port)
    gateway = Gateway.get_or_none(Gateway.mac == mac) if mac else None
    row = ProvisioningRequest.create(mac=mac, file=file_name[:128], address=address[:64],
                                     user_agent=user_agent[:200], known=gateway is not None, status=result.status)
    if row.id % 100 == 0:  # devices poll: keep the log bounded
        ProvisioningRequest.delete().where(ProvisioningRequest.id <= row.id - KEEP_REQUESTS).execute()
    if result.status == 200 and gateway is not None:
        Gateway.update(last_provisioned=utcnow()).where(Gateway.id == gateway.id).execute()
    if result.status in (403, 404):
        locked = throttles.failed(GUESSING, address or "local")
        if address:
            throttles.report_source_failure(throttles.SourceFailure(
                "provisioning", address, f"{result.status} for {file_name[:64]!r}: {result.reason}", locked))
    return result


def _serve(file_name: str, mac: str, server: str, address: str, password: str | None,
           provision_port: int | None) -> ServedFile:
    left = throttles.locked_for(GUESSING, address or "local")
    if left > 0:
        return ServedFile(429, "too many refused requests from this address\n", mac=mac,
                          reason="address locked out for guessing", retry_after=int(left) + 1)
    if address and not address_allowed(address):
        return ServedFile(403, "not served to this network\n", mac=mac, reason="address outside the provisioning "
                                                                                 "networks")
    if not mac or not _FILE_RE.match(file_name):
        return ServedFile(404, "not found\n", mac=mac, reason="no MAC address in the file name")
    gateway = Gateway.get_or_none(Gateway.mac == mac)
    if gateway is None:
        return ServedFile(404, "not found\n", mac=mac, reason="unknown MAC: adopt it to serve it")
    model = catalogue.get_model(gateway.model)
    if file_name not in model.file_names(mac):
        return ServedFile(404, "not found\n", mac=mac, reason=f"{model.model} does not ask for {file_name}")
    if not _HOST_RE.match(server):
        return ServedFile(404, "not found\n", mac=mac, reason="unusable Host header")
    if not (_secret_ok(password, gateway.credential) or password_ok(password)):
        if password or _window_open_until(gateway) is None:
            return ServedFile(403, "provisioning credential required\n", mac=mac,
                              reason="wrong or missing credential (adoption window closed)")
        # the one fetch the adoption window allows: the device learns its credential from this file
        closed = (Gateway.update(adoption_until=None, bound_address=address[:64])
                  .where((Gateway.id == gateway.id) & Gateway.adoption_until.is_null(False)).execute())
        if not closed:  # another request used the window first
            return ServedFile(403, "provisioning credential required\n", mac=mac, reason="adoption window used")
        audit.record(SYSTEM_ACTOR, "bind", KIND, gateway.mac, None, {"address": address[:64]})
    body, content_type = render_for(mac, server, provision_port)
    return ServedFile(200, body, content_type, mac=mac)


def provisioning_requests(limit: int = 100, unknown_only: bool = False) -> list[ProvisioningRequest]:
    query = ProvisioningRequest.select().order_by(ProvisioningRequest.id.desc()).limit(limit)
    if unknown_only:
        query = query.where(~ProvisioningRequest.known)
    return list(query)


def unknown_devices() -> list[dict]:
    """MACs that asked for a file and are not adopted: what the admin can adopt, newest first."""
    rows = (ProvisioningRequest
            .select(ProvisioningRequest.mac, peewee.fn.COUNT(ProvisioningRequest.id).alias("requests"),
                    peewee.fn.MAX(ProvisioningRequest.when).alias("last"),
                    peewee.fn.MAX(ProvisioningRequest.file).alias("file"),
                    peewee.fn.MAX(ProvisioningRequest.address).alias("address"),
                    peewee.fn.MAX(ProvisioningRequest.user_agent).alias("user_agent"))
            .where(ProvisioningRequest.mac != "")
            .group_by(ProvisioningRequest.mac).order_by(peewee.SQL("last").desc()).dicts())
    adopted = {g.mac for g in Gateway.select(Gateway.mac)}
    return [dict(row) for row in rows if row["mac"] not in adopted]


def adopt_unknown(mac: str, model: str, user: str, name: str = "") -> dict:
    """Adopt a MAC from the unknown-request log, taking the address it asked from."""
    mac = _mac(mac)
    last = (ProvisioningRequest.select().where(ProvisioningRequest.mac == mac)
            .order_by(ProvisioningRequest.id.desc()).first())
    if last is None:
        raise SiteError([Problem("gateway mac", Message(N_("no request from %(mac)s was logged"), mac=mac))])
    return adopt(mac, model, user, name=name, address=last.address)


__all__ = [
    "ServedFile", "adopt", "adopt_unknown", "bind_fxo", "bind_fxs", "close_adoption_window", "delete_gateway",
    "get_gateway", "list_gateways", "new_gateway_credential", "open_adoption_window", "ports_of",
    "provision_port", "provisioning_file", "provisioning_networks", "provisioning_requests",
    "provisioning_state", "provisioning_url",
    "render_for", "set_provisioning_https", "set_provisioning_networks", "set_provisioning_password", "unbind",
    "unknown_devices", "update_gateway",
]
