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
* An optional per-install provisioning password (``set_provisioning_password``) must then be
  given by the device, in the URL path (``/provision/<password>/<file>``) or as the HTTP basic
  auth password.
"""
from __future__ import annotations

import hmac
import os
import re
from dataclasses import dataclass
from typing import cast

import peewee
from pydantic import ValidationError

from appliance.errors import Problem, SiteError, message_of
from appliance.gateways import schema
from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import Extension, Gateway, GatewayPort, ProvisioningRequest, Setting, Trunk, utcnow
from appliance.site import schemas, service
from hardware import gateways as catalogue

PASSWORD_KEY = "gateways.provisioning_password"
PASSWORD_RE = re.compile(r"^[A-Za-z0-9_-]{12,64}$")
_HOST_RE = re.compile(schemas.HOST_RE)
_FILE_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
KIND = "gateway"
KEEP_REQUESTS = 5000  # provisioning requests kept in the log
DEFAULT_PROVISION_PORT = 8080  # the provisioning server's plain-HTTP port
PROVISION_PORT_ENV = "LINEBOX_PROVISION_PORT"  # read by linebox provision-serve and the console (provision.env)


def _mac(mac: str, where: str = "gateway mac") -> str:
    try:
        return catalogue.normalize_mac(mac)
    except ValueError as error:
        raise SiteError([Problem(where, str(error))]) from None


def _get(mac: str) -> Gateway:
    mac = _mac(mac)
    gateway = Gateway.get_or_none(Gateway.mac == mac)
    if gateway is None:
        raise SiteError([Problem("gateway mac", f"no gateway with MAC {mac}")])
    return gateway


def ports_of(gateway: Gateway) -> list[GatewayPort]:
    """The gateway's ports, by number."""
    return list(GatewayPort.select().where(GatewayPort.gateway == gateway).order_by(GatewayPort.number))


def describe(gateway: Gateway) -> dict:
    """A gateway as plain data (what the audit log and listings show)."""
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
            raise SiteError([Problem("gateway mac", f"a gateway with MAC {valid.mac} already exists")])
        gateway = Gateway.create(mac=valid.mac, model=valid.model, name=valid.name, address=valid.address)
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
        raise SiteError([Problem("gateway port", f"gateway {gateway.mac} has no port {number} "
                                                 f"(it has {len(ports_of(gateway))})")])
    return port


def bind_fxs(mac: str, number: int, extension: str, user: str) -> dict:
    """Bind FXS port ``number`` to ``extension``: the port will register as that extension."""
    gateway = _get(mac)
    port = _port(gateway, number)
    if port.kind != "fxs":
        raise SiteError([Problem("gateway port", f"port {number} is an {port.kind.upper()} port, not FXS")])
    if Extension.get_or_none(Extension.number == extension) is None:
        raise SiteError([Problem("gateway port extension", f"extension {extension} does not exist")])
    other = (GatewayPort.select(GatewayPort, Gateway).join(Gateway)
             .where((GatewayPort.extension == extension) & (GatewayPort.id != port.id)).first())
    if other is not None:
        raise SiteError([Problem("gateway port extension", f"extension {extension} is already bound to "
                                                            f"port {other.number} of gateway {other.gateway.mac}")])
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
        raise SiteError([Problem("gateway port", f"port {number} is an {port.kind.upper()} port, not FXO")])
    if not gateway.address:
        raise SiteError([Problem("gateway address", "an FXO port needs the gateway's address (its trunk's far end)")])
    name = trunk or default_trunk_name(gateway.mac)
    if not re.match(schemas.IDENTIFIER_RE, name):
        raise SiteError([Problem("gateway port trunk", f"{name!r} is not a trunk name")])
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
    return row.value if row else ""


def set_provisioning_password(password: str, user: str) -> None:
    """Require ``password`` from devices (in the URL path or as HTTP basic auth); '' turns it off."""
    if password and not PASSWORD_RE.match(password):
        raise SiteError([Problem("provisioning password", "12 to 64 letters, digits, '-' or '_'")])
    before = {"password": provisioning_password()}
    with database.atomic():
        Setting.replace(key=PASSWORD_KEY, value=password).execute()
        audit.record(user, "update", "settings", "provisioning-password", before, {"password": password},
                     ("password",))


def provision_port() -> int:
    """The provisioning server's port: ``$LINEBOX_PROVISION_PORT`` or 8080."""
    value = os.environ.get(PROVISION_PORT_ENV, "")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else DEFAULT_PROVISION_PORT


def provisioning_url(host: str, port: int, with_password: bool = False) -> str:
    """``http://host:port/provision`` (with ``/<password>`` when asked and one is set): a device appends its file name.

    ``host`` must already be checked (a Host header is, in ``provisioning_file``); an IPv6 address is bracketed.
    """
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}{'' if port == 80 else f':{port}'}/provision"
    password = provisioning_password() if with_password else ""
    return f"{url}/{password}" if password else url


def password_ok(given: str | None) -> bool:
    wanted = provisioning_password()
    if not wanted:
        return True
    return given is not None and hmac.compare_digest(given.encode(), wanted.encode())


@dataclass
class ServedFile:
    status: int  # 200, 403, 404
    body: str = ""
    content_type: str = "text/plain"
    mac: str = ""
    reason: str = ""


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

    With ``provision_port``, the file also tells the device to fetch its file from the provisioning
    server at ``server:provision_port`` over plain HTTP from now on.
    """
    gateway = _get(mac)
    model = catalogue.get_model(gateway.model)
    settings = service.load_settings()
    url = provisioning_url(server, provision_port, with_password=True) if provision_port else ""
    data = catalogue.ProvisioningData(gateway.mac, server, settings.sip_port, _port_accounts(gateway),
                                      fxo_sip_port=fxo_sip_port(gateway), provisioning_url=url)
    return catalogue.render(model, data), model.content_type()


def provisioning_file(file_name: str, server: str, address: str = "", user_agent: str = "",
                      password: str | None = None, provision_port: int | None = None) -> ServedFile:
    """Answer a device asking for ``file_name``; ``server`` is the address it reached us at.

    ``provision_port``: the provisioning server's port, written into the file (see ``render_for``).

    Logged whatever the answer.  404 for a name with no MAC, an unknown MAC, or a name the model
    does not ask for; 403 for a wrong or missing provisioning password.
    """
    mac = catalogue.mac_in_file_name(file_name) or ""
    result = _serve(file_name, mac, server, password, provision_port)
    gateway = Gateway.get_or_none(Gateway.mac == mac) if mac else None
    row = ProvisioningRequest.create(mac=mac, file=file_name[:128], address=address[:64],
                                     user_agent=user_agent[:200], known=gateway is not None, status=result.status)
    if row.id % 100 == 0:  # devices poll: keep the log bounded
        ProvisioningRequest.delete().where(ProvisioningRequest.id <= row.id - KEEP_REQUESTS).execute()
    if result.status == 200 and gateway is not None:
        Gateway.update(last_provisioned=utcnow()).where(Gateway.id == gateway.id).execute()
    return result


def _serve(file_name: str, mac: str, server: str, password: str | None, provision_port: int | None) -> ServedFile:
    if not password_ok(password):
        return ServedFile(403, "provisioning password required\n", mac=mac, reason="wrong or missing password")
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
        raise SiteError([Problem("gateway mac", f"no request from {mac} was logged")])
    return adopt(mac, model, user, name=name, address=last.address)


__all__ = [
    "ServedFile", "adopt", "adopt_unknown", "bind_fxo", "bind_fxs", "delete_gateway",
    "get_gateway", "list_gateways", "ports_of", "provision_port", "provisioning_file", "provisioning_requests",
    "provisioning_url",
    "render_for", "set_provisioning_password", "unbind", "unknown_devices", "update_gateway",
]
