"""FXO/FXS SIP gateway models and their provisioning files: render one, and read one back.

The models live in ``hardware/data/gateways.yaml`` (ports, file names, provisioning format,
and where each provisioning key comes from); the file layouts live in
``hardware/gateway_templates/``.  ``render`` turns a gateway's port accounts into the file the
device downloads; ``parse`` reads such a file back into the same accounts, which is what the
tests (and the lab's gateway simulator) use to prove a file carries the right credentials.

Values are validated before they get here (``appliance.gateways``); rendering still escapes
for XML, and refuses any value with a line break for the key=value formats.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import yaml

PORT_KINDS = ("fxs", "fxo")
FORMATS = ("grandstream", "cisco-spa", "yeastar", "generic", "manual")
MAC_RE = re.compile(r"^[0-9a-f]{12}$")
_MAC_IN_NAME = re.compile(r"(?<![0-9A-Fa-f])([0-9A-Fa-f]{12})(?![0-9A-Fa-f])")
_MODEL_FIELDS = {"id", "vendor", "model", "ports", "format", "scheme", "files", "verified", "source", "configurable"}


class GatewayCatalogueError(ValueError):
    """The gateway catalogue is malformed; the message names the model and field."""


class ProvisioningFileError(ValueError):
    """A provisioning file could not be read back."""


@dataclass(frozen=True)
class GatewayModel:
    id: str
    vendor: str
    model: str
    ports: tuple[tuple[str, int], ...]  # (kind, count) groups, numbered in this order
    format: str
    files: tuple[str, ...]
    verified: bool
    source: str
    scheme: str | None = None
    configurable: bool = False

    @property
    def port_kinds(self) -> list[str]:
        """The kind of each port, index 0 = port 1."""
        return [kind for kind, count in self.ports for _ in range(count)]

    @property
    def port_count(self) -> int:
        return sum(count for _, count in self.ports)

    @property
    def provisioned(self) -> bool:
        """Whether Linebox serves this model a file (``manual`` models are configured by hand)."""
        return self.format != "manual"

    @property
    def https_provisioning(self) -> bool:
        """Whether the device can fetch its file over HTTPS from Linebox's self-signed console.

        Grandstream: yes (P212 = 2, HTTPS; the firmware does not check the certificate unless told
        to).  Cisco SPA: no (its https:// profile rule wants a certificate signed by Cisco's CA).
        Yeastar and generic files are entered by hand."""
        return self.format == "grandstream"

    def file_names(self, mac: str) -> list[str]:
        return [name.replace("{mac}", mac.lower()).replace("{MAC}", mac.upper()) for name in self.files]

    def content_type(self) -> str:
        return "application/xml" if self.format in ("grandstream", "cisco-spa") else "text/plain"


@dataclass(frozen=True)
class PortAccount:
    """What one port is told: enabled or not, and the SIP account it uses (empty when disabled)."""

    number: int
    kind: str
    enabled: bool
    user_id: str = ""
    auth_id: str = ""
    password: str = ""
    name: str = ""


@dataclass(frozen=True)
class ProvisioningData:
    """Everything a gateway's file says that Linebox cares about."""

    mac: str
    server: str
    sip_port: int
    ports: tuple[PortAccount, ...] = field(default_factory=tuple)
    fxo_sip_port: int = 5060  # the gateway's own SIP port for its FXO side (key=value formats only)
    # where the device fetches its file from next time: "http://host:port/provision" (plus "/<password>" when
    # one is set), the device appends its file name; "" leaves the device's own setting alone
    provisioning_url: str = ""
    # SIP to the server over "udp" or "tls" (to ``tls_port``), and the media encryption: "plain",
    # "preferred" (SRTP when the other side can) or "required"; written only for the ports whose keys the
    # model is known to have (hardware/data/gateways.yaml, [gs-tls]): the others keep UDP to ``sip_port``
    transport: str = "udp"
    srtp: str = "plain"
    tls_port: int = 5061

    @property
    def encrypted(self) -> bool:
        return self.transport != "udp" or self.srtp != "plain"

    def port(self, number: int) -> PortAccount:
        for port in self.ports:
            if port.number == number:
                return port
        raise KeyError(f"no port {number}")


@dataclass(frozen=True)
class GatewayCatalogue:
    models: dict[str, GatewayModel]
    schemes: dict[str, dict[str, Any]]

    def get(self, model_id: str) -> GatewayModel:
        try:
            return self.models[model_id]
        except KeyError:
            raise KeyError(f"unknown gateway model '{model_id}' (known: {', '.join(self.models)})") from None


def normalize_mac(text: str) -> str:
    """``00:0B:82-12.3456`` -> ``000b82123456``; ValueError if it is not 12 hex digits."""
    mac = re.sub(r"[:.\-\s]", "", str(text)).lower()
    if not MAC_RE.match(mac):
        raise ValueError(f"'{text}' is not a MAC address (12 hex digits)")
    return mac


@lru_cache(maxsize=1)
def _file_name_patterns() -> tuple[re.Pattern, ...]:
    patterns = {name for model in load_catalogue().models.values() for name in model.files}
    out = []
    for name in sorted(patterns):
        regex = re.escape(name).replace(r"\{mac\}", "([0-9a-f]{12})").replace(r"\{MAC\}", "([0-9A-F]{12})")
        out.append(re.compile(f"^{regex}$"))
    return tuple(out)


def mac_in_file_name(name: str) -> str | None:
    """The MAC address in a file name a device asks for (``cfg000b82123456.xml``), if any.

    The catalogue's file name patterns are tried first (``spa<MAC>.xml`` starts with a hex
    letter); any other name with exactly one 12-hex-digit run still gives a MAC, so requests
    from unknown devices are logged with it.
    """
    for pattern in _file_name_patterns():
        m = pattern.match(name)
        if m:
            return m.group(1).lower()
    found = _MAC_IN_NAME.findall(name)
    return found[0].lower() if len(found) == 1 else None


def _check_model(entry: dict, schemes: dict) -> GatewayModel:
    where = f"gateway model {entry.get('id', '?')}"
    unknown = set(entry) - _MODEL_FIELDS
    if unknown:
        raise GatewayCatalogueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for name in ("id", "vendor", "model", "ports", "format", "files", "verified", "source"):
        if name not in entry:
            raise GatewayCatalogueError(f"{where}: missing field {name}")
    if entry["format"] not in FORMATS:
        raise GatewayCatalogueError(f"{where}: format must be one of {', '.join(FORMATS)}")
    ports = []
    for group in entry["ports"]:
        if group.get("kind") not in PORT_KINDS or not isinstance(group.get("count"), int) or group["count"] < 1:
            raise GatewayCatalogueError(f"{where}: ports: each needs kind fxs/fxo and a count >= 1")
        ports.append((group["kind"], group["count"]))
    for name in entry["files"]:
        if "{mac}" not in name and "{MAC}" not in name:
            raise GatewayCatalogueError(f"{where}: file name {name} has no {{mac}}")
    model = GatewayModel(
        id=entry["id"], vendor=entry["vendor"], model=entry["model"], ports=tuple(ports), format=entry["format"],
        files=tuple(entry["files"]), verified=bool(entry["verified"]), source=entry["source"],
        scheme=entry.get("scheme"), configurable=bool(entry.get("configurable", False)),
    )
    if model.provisioned and not model.files:
        raise GatewayCatalogueError(f"{where}: a provisioned model needs file names")
    if model.format == "grandstream":
        scheme = schemes.get(model.scheme or "")
        if scheme is None:
            raise GatewayCatalogueError(f"{where}: unknown Grandstream scheme {model.scheme}")
        if "ports" in scheme and len(scheme["ports"]) < model.port_count and model.scheme != "fxo-account":
            raise GatewayCatalogueError(f"{where}: scheme {model.scheme} holds {len(scheme['ports'])} ports")
        if "max_ports" in scheme and model.port_count > scheme["max_ports"]:
            raise GatewayCatalogueError(f"{where}: scheme {model.scheme} holds {scheme['max_ports']} ports")
    return model


@lru_cache(maxsize=1)
def load_catalogue() -> GatewayCatalogue:
    text = resources.files("hardware").joinpath("data/gateways.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if data.get("schema") != 1:
        raise GatewayCatalogueError("gateways.yaml: schema must be 1")
    schemes = data["grandstream_schemes"]
    models: dict[str, GatewayModel] = {}
    for entry in data["models"]:
        model = _check_model(entry, schemes)
        if model.id in models:
            raise GatewayCatalogueError(f"gateway model {model.id}: listed twice")
        models[model.id] = model
    return GatewayCatalogue(models=models, schemes=schemes)


def get_model(model_id: str) -> GatewayModel:
    return load_catalogue().get(model_id)


# ---------------------------------------------------------------- rendering

@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    folder = resources.files("hardware").joinpath("gateway_templates")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=jinja2.select_autoescape(["xml.j2"], default_for_string=False, default=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


# Grandstream's SIP transport and SRTP mode values ([gs-tls] in gateways.yaml)
_GS_TRANSPORT = {"udp": "0", "tls": "2"}
_GS_SRTP = {"plain": "0", "preferred": "1", "required": "2"}


def _grandstream_security(keys: dict[str, str], data: ProvisioningData) -> list[tuple[str, str]]:
    """A profile's transport and SRTP keys, when the site encrypts and the scheme knows them."""
    if not data.encrypted or "transport" not in keys:
        return []
    return [(keys["transport"], _GS_TRANSPORT[data.transport]), (keys["srtp"], _GS_SRTP[data.srtp])]


def _grandstream_server(keys: dict[str, str], data: ProvisioningData) -> str:
    """The server a profile registers to: the TLS port where it is told to use TLS."""
    tls = data.transport == "tls" and "transport" in keys
    return f"{data.server}:{data.tls_port if tls else data.sip_port}"


def _grandstream_pvalues(model: GatewayModel, data: ProvisioningData) -> list[tuple[str, str]]:
    scheme = load_catalogue().schemes[model.scheme or ""]
    server = f"{data.server}:{data.sip_port}"
    out: list[tuple[str, str]] = []
    if model.scheme == "multiport":
        out += [(scheme["server"], server), (scheme["server_active"], "1")]
        base = scheme["per_port"]
        for port in data.ports:
            i = port.number - 1
            out += [
                (f"P{base['user_id'] + i}", port.user_id), (f"P{base['auth_id'] + i}", port.auth_id),
                (f"P{base['password'] + i}", port.password), (f"P{base['profile'] + i}", "0"),
                (f"P{base['active'] + i}", "1" if port.enabled else "0"),
            ]
        return out
    if model.scheme == "fxo-account":
        keys = scheme["ports"][0]
        first = data.ports[0] if data.ports else PortAccount(1, "fxo", False)
        enabled = any(p.enabled for p in data.ports)
        return [(keys["active"], "1" if enabled else "0"), (keys["server"], _grandstream_server(keys, data)),
                (keys["register"], "0"), (keys["user_id"], first.user_id), (keys["auth_id"], first.auth_id),
                (keys["password"], first.password), (keys["name"], first.name), *_grandstream_security(keys, data)]
    for port, keys in zip(data.ports, scheme["ports"], strict=False):
        out += [(keys["active"], "1" if port.enabled else "0"), (keys["server"], _grandstream_server(keys, data)),
                (keys["user_id"], port.user_id), (keys["auth_id"], port.auth_id),
                (keys["password"], port.password), (keys["name"], port.name), *_grandstream_security(keys, data)]
    return out


# Grandstream's "Config upgrade via" (P212: 0 TFTP, 1 HTTP, 2 HTTPS) and "Config Server Path" (P237: the
# server and path without the scheme; the device appends cfg<mac>.xml), common to its ATAs and gateways
_GS_PROTOCOL, _GS_CONFIG_PATH = "P212", "P237"
_GS_PROTOCOLS = {"http": "1", "https": "2"}
_CISCO_FILE = "/spa$MA.xml"  # Cisco's Profile_Rule file name: $MA is the unit's MAC in lower case
_URL_RE = re.compile(r"(https?)://([^\s/]+)(/\S*)?")  # whole string (fullmatch)


def _grandstream_config_server(url: str) -> list[tuple[str, str]]:
    if not url:
        return []
    scheme, _, rest = url.partition("://")
    return [(_GS_PROTOCOL, _GS_PROTOCOLS[scheme]), (_GS_CONFIG_PATH, rest)]


def _grandstream_provisioning_url(values: dict[str, str]) -> str:
    path = values.get(_GS_CONFIG_PATH, "")
    scheme = {v: k for k, v in _GS_PROTOCOLS.items()}.get(values.get(_GS_PROTOCOL, ""), "")
    return f"{scheme}://{path}" if path and scheme else ""


def _one_line(data: ProvisioningData) -> None:
    values = [data.server, data.mac, data.provisioning_url]
    values += [v for p in data.ports for v in (p.user_id, p.auth_id, p.password, p.name)]
    if any("\n" in v or "\r" in v or "\x00" in v for v in values):
        raise ValueError("a provisioning value contains a line break")


def render(model: GatewayModel, data: ProvisioningData) -> str:
    """The file ``model`` downloads, carrying ``data``'s server and port accounts."""
    if not model.provisioned:
        raise ValueError(f"{model.vendor} {model.model} is configured by hand: Linebox serves it no file")
    if len(data.ports) != model.port_count and not model.configurable:
        raise ValueError(f"{model.model} has {model.port_count} ports, got {len(data.ports)}")
    _one_line(data)
    env = _environment()
    if data.provisioning_url and not _URL_RE.fullmatch(data.provisioning_url):
        raise ValueError(f"{data.provisioning_url!r} is not an http(s):// provisioning URL")
    context = {"model": model, "mac": data.mac, "server": data.server, "sip_port": data.sip_port,
               "ports": data.ports, "fxo_sip_port": data.fxo_sip_port, "provisioning_url": data.provisioning_url,
               "encrypted": data.encrypted, "transport": data.transport, "srtp": data.srtp, "tls_port": data.tls_port}
    if model.format == "grandstream":
        pvalues = _grandstream_pvalues(model, data) + _grandstream_config_server(data.provisioning_url)
        return env.get_template("grandstream.xml.j2").render(pvalues=pvalues, **context)
    if model.format == "cisco-spa":
        return env.get_template("cisco-spa.xml.j2").render(profile_file=_CISCO_FILE, **context)
    return env.get_template("keyvalue.cfg.j2").render(**context)


# ---------------------------------------------------------------- reading back

def _split_server(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        return value, 5060
    return host, int(port)


def parse_grandstream_values(text: str) -> tuple[str, dict[str, str]]:
    """(mac, {Pnnn: value}) from an XML ``gs_provision`` file or a plain ``Pnnn = value`` text file."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        try:
            root = ET.fromstring(stripped)
        except ET.ParseError as error:
            raise ProvisioningFileError(f"not well-formed XML: {error}") from None
        if root.tag != "gs_provision":
            raise ProvisioningFileError(f"root element is <{root.tag}>, not <gs_provision>")
        config = root.find("config")
        if config is None:
            raise ProvisioningFileError("no <config> element")
        return (root.findtext("mac") or "").strip(), {el.tag: (el.text or "") for el in config}
    values = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(P\d+)\s*=\s*(.*?)\s*$", line)
        if m:
            values[m.group(1)] = m.group(2)
    return "", values


def _parse_grandstream(model: GatewayModel, text: str) -> ProvisioningData:
    mac, values = parse_grandstream_values(text)
    url = _grandstream_provisioning_url(values)
    scheme = load_catalogue().schemes[model.scheme or ""]
    kinds = model.port_kinds
    ports = []
    if model.scheme == "multiport":
        server, sip_port = _split_server(values.get(scheme["server"], ""))
        base = scheme["per_port"]
        for i, kind in enumerate(kinds):
            if f"P{base['user_id'] + i}" not in values:
                continue
            ports.append(PortAccount(
                i + 1, kind, values.get(f"P{base['active'] + i}") == "1", values.get(f"P{base['user_id'] + i}", ""),
                values.get(f"P{base['auth_id'] + i}", ""), values.get(f"P{base['password'] + i}", "")))
        return ProvisioningData(mac, server, sip_port, tuple(ports), provisioning_url=url)
    if model.scheme == "fxo-account":
        keys = scheme["ports"][0]
        server, sip_port = _split_server(values.get(keys["server"], ""))
        enabled = values.get(keys["active"]) == "1"
        ports = [PortAccount(i + 1, kind, enabled, values.get(keys["user_id"], ""), values.get(keys["auth_id"], ""),
                             values.get(keys["password"], ""), values.get(keys["name"], ""))
                 for i, kind in enumerate(kinds)]
        return ProvisioningData(mac, server, sip_port, tuple(ports), provisioning_url=url,
                                **_grandstream_read_security(keys, values))
    server, sip_port = "", 5060
    for i, (kind, keys) in enumerate(zip(kinds, scheme["ports"], strict=False)):
        if keys["user_id"] not in values:
            continue
        if not server:
            server, sip_port = _split_server(values.get(keys["server"], ""))
        ports.append(PortAccount(i + 1, kind, values.get(keys["active"]) == "1", values.get(keys["user_id"], ""),
                                 values.get(keys["auth_id"], ""), values.get(keys["password"], ""),
                                 values.get(keys["name"], "")))
    return ProvisioningData(mac, server, sip_port, tuple(ports), provisioning_url=url,
                            **_grandstream_read_security(scheme["ports"][0], values))


def _grandstream_read_security(keys: dict[str, str], values: dict[str, str]) -> dict[str, Any]:
    """transport, srtp and (over TLS) tls_port as a profile's keys say; {} where it has none."""
    if keys.get("transport") not in values:
        return {}
    transports = {v: k for k, v in _GS_TRANSPORT.items()}
    modes = {v: k for k, v in _GS_SRTP.items()}
    transport = transports.get(values[keys["transport"]], "udp")
    found: dict[str, Any] = {"transport": transport, "srtp": modes.get(values.get(keys["srtp"], ""), "plain")}
    if transport == "tls":
        found["tls_port"] = _split_server(values.get(keys["server"], ""))[1]
    return found


def _parse_cisco(model: GatewayModel, text: str) -> ProvisioningData:
    try:
        root = ET.fromstring(text.lstrip())
    except ET.ParseError as error:
        raise ProvisioningFileError(f"not well-formed XML: {error}") from None
    if root.tag != "flat-profile":
        raise ProvisioningFileError(f"root element is <{root.tag}>, not <flat-profile>")
    values = {el.tag: (el.text or "") for el in root}
    server, sip_port, ports = "", 5060, []
    for i, kind in enumerate(model.port_kinds, start=1):
        if f"User_ID_{i}_" not in values:
            continue
        if not server:
            server, sip_port = _split_server(values.get(f"Proxy_{i}_", ""))
        auth = values.get(f"Auth_ID_{i}_", "") if values.get(f"Use_Auth_ID_{i}_") == "Yes" else ""
        ports.append(PortAccount(i, kind, values.get(f"Line_Enable_{i}_") == "Yes", values[f"User_ID_{i}_"],
                                 auth or values[f"User_ID_{i}_"], values.get(f"Password_{i}_", ""),
                                 values.get(f"Display_Name_{i}_", "")))
    rule = values.get("Profile_Rule", "")
    url = rule.rsplit("/", 1)[0] if rule.endswith(_CISCO_FILE) else ""
    security: dict[str, Any] = {}
    if "SIP_Transport_1_" in values:
        security = {"transport": values["SIP_Transport_1_"].lower(),
                    "srtp": "required" if values.get("Secure_Call_Setting_1_") == "Yes" else "preferred"}
        if security["transport"] == "tls":
            security["tls_port"] = sip_port
    return ProvisioningData("", server, sip_port, tuple(ports), provisioning_url=url, **security)


def parse_keyvalue(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ProvisioningFileError(f"not a key = value line: {line!r}")
        values[key.strip()] = value.strip()
    return values


def _parse_keyvalue(model: GatewayModel, text: str) -> ProvisioningData:
    values = parse_keyvalue(text)
    if values.get("format") != "linebox-kv 1":
        raise ProvisioningFileError("not a linebox-kv 1 file")
    numbers = sorted({int(m.group(1)) for k in values if (m := re.match(r"^port\.(\d+)\.", k))})
    ports = [PortAccount(n, values.get(f"port.{n}.kind", ""), values.get(f"port.{n}.enabled") == "1",
                         values.get(f"port.{n}.user_id", ""), values.get(f"port.{n}.auth_id", ""),
                         values.get(f"port.{n}.password", ""), values.get(f"port.{n}.name", ""))
             for n in numbers]
    return ProvisioningData(values.get("mac", ""), values.get("sip.server", ""), int(values.get("sip.port", "5060")),
                            tuple(ports), int(values.get("fxo.local_sip_port", "5060")),
                            values.get("provisioning.url", ""), values.get("sip.transport", "udp"),
                            values.get("sip.srtp", "plain"), int(values.get("sip.tls_port", "5061")))


def parse(model: GatewayModel, text: str) -> ProvisioningData:
    """Read a file ``render`` made for ``model`` back into its server and port accounts."""
    if model.format == "grandstream":
        return _parse_grandstream(model, text)
    if model.format == "cisco-spa":
        return _parse_cisco(model, text)
    if model.format in ("yeastar", "generic"):
        return _parse_keyvalue(model, text)
    raise ProvisioningFileError(f"{model.model} has no provisioning file")
