"""What a valid gateway is: pydantic schemas, as every site object has (``appliance.site.schemas``).

* ``Adoption``: what an admin gives to adopt a gateway (``service.adopt``): its MAC, a model of
  the catalogue (``hardware.gateways``), a name and address, and port counts for a generic model;
* ``GatewayDetails``: what ``service.update_gateway`` changes (name and address);
* ``GatewayEntry``: a gateway as the site file lists it (``appliance.config_file``), its ports
  with what each is bound to.

They live with the gateways, not with the site's schemas, because a MAC and a model are checked
against the gateway catalogue.  Checks that need the database (an extension or trunk exists, a
port is free) stay in the service functions and the site file's import.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from appliance.catalog import N_
from appliance.site.schemas import HOST_RE, IDENTIFIER_RE, NUMBER_RE
from hardware import gateways as catalogue

MAX_NAME = 80
MAX_PORTS = 64  # of each kind on a generic gateway


def _mac(value: str) -> str:
    return catalogue.normalize_mac(value)  # its ValueError says what is wrong


def _model(value: str) -> str:
    try:
        catalogue.get_model(value)
    except KeyError as error:
        raise ValueError(str(error.args[0])) from None
    return value


def _name(value: str) -> str:
    if len(value) > MAX_NAME or any(not ch.isprintable() for ch in value):
        raise ValueError(f"must be one line of printable text, at most {MAX_NAME} characters")
    return value


def _address(value: str) -> str:
    if value and (len(value) > 253 or not re.match(HOST_RE, value)):
        raise ValueError(f"{value!r} is not an IP address or host name")
    return value


Mac = Annotated[str, AfterValidator(_mac)]
ModelName = Annotated[str, AfterValidator(_model)]
Name = Annotated[str, AfterValidator(_name)]
Address = Annotated[str, AfterValidator(_address)]


class _Schema(BaseModel):
    # coerce_numbers_to_str: a hand-written YAML "extension: 101" means the string "101".
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)


class GatewayDetails(_Schema):
    name: Name = ""
    address: Address = ""


class PortCounts(_Schema):
    """How many ports of each kind a generic gateway has."""

    fxs: int = Field(default=0, ge=0, le=MAX_PORTS)
    fxo: int = Field(default=0, ge=0, le=MAX_PORTS, validate_default=True)

    @field_validator("fxo")
    @classmethod
    def _some_port(cls, value: int, info: ValidationInfo) -> int:
        if "fxs" in info.data and info.data["fxs"] + value < 1:
            raise ValueError(N_("give fxs and fxo counts from 0 to 64, at least one port"))
        return value


class _Gateway(GatewayDetails):
    mac: Mac
    model: ModelName


class Adoption(_Gateway):
    ports: PortCounts | None = None

    @field_validator("ports")
    @classmethod
    def _counts_for_generic_only(cls, value: PortCounts | None, info: ValidationInfo) -> PortCounts | None:
        if value is not None and "model" in info.data and not catalogue.get_model(info.data["model"]).configurable:
            raise ValueError(f"{info.data['model']} has a fixed set of ports")
        return value

    def port_kinds(self) -> list[str]:
        """Each port's kind, port 1 first: the model's, or the counts given for a generic one."""
        if self.ports is None:
            return list(catalogue.get_model(self.model).port_kinds)
        return ["fxs"] * self.ports.fxs + ["fxo"] * self.ports.fxo


class PortBinding(_Schema):
    """One port in the site file: an FXS port bound to an extension, an FXO port to a trunk, or neither."""

    number: int = Field(ge=1, le=2 * MAX_PORTS)
    kind: Literal["fxs", "fxo"]
    extension: Annotated[str, StringConstraints(pattern=r"^(|" + NUMBER_RE[1:-1] + r")$")] = ""
    trunk: Annotated[str, StringConstraints(pattern=r"^(|" + IDENTIFIER_RE[1:-1] + r")$")] = ""


class GatewayEntry(_Gateway):
    """A gateway as the site file lists it (what ``service.describe`` gives)."""

    ports: list[PortBinding] = Field(default_factory=list)

    @field_validator("ports")
    @classmethod
    def _fit_the_model(cls, value: list[PortBinding], info: ValidationInfo) -> list[PortBinding]:
        model = catalogue.get_model(info.data["model"]) if "model" in info.data else None
        if model is not None and not model.configurable and len(value) > model.port_count:
            raise ValueError(f"{model.model} has {model.port_count} ports")
        if "address" in info.data and not info.data["address"]:
            for port in value:
                if port.trunk:
                    raise ValueError(f"port {port.number} is bound to a trunk: the gateway needs its address")
        return value

    def port_kinds(self) -> list[str]:
        return [port.kind for port in self.ports]


__all__ = ["Adoption", "GatewayDetails", "GatewayEntry", "PortBinding", "PortCounts"]
