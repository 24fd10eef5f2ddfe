"""A simulated FXS gateway for the lab: fetches its file from Linebox, then is that gateway.

It does what a real gateway does at boot: asks the console's provisioning endpoint for the
file names its model asks for (over real HTTP; the first time, with no credential, inside the
gateway's adoption window), reads the file with the model's own parser
(``hardware.gateways.parse``), and registers every enabled FXS port to the SIP server the file
names, with the credentials the file carries.  The ports are a lab Asterisk instance (one
PJSIP endpoint, auth and registration per port): a call "picked up on port n" is an AMI
``Originate`` through port n's endpoint, and a call Linebox sends to a port is answered in the
simulator's dialplan, which reports it as a ``GatewayAnswered`` UserEvent.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.asterisk.ami import Ami
from hardware import gateways as catalogue
from lab import instance as lab
from lab.carrier import AMI_SECRET, BASE_CONFIG

DIALPLAN = """
[from-pbx]
; A call Linebox sends to one of our ports: the phone on that port rings and is picked up.
exten => _[0-9].,1,UserEvent(GatewayRinging,Exten: ${EXTEN},CallerID: ${CALLERID(num)})
 same => n,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,UserEvent(GatewayAnswered,Exten: ${EXTEN},CallerID: ${CALLERID(num)})
 same => n,Playtones(440)
 same => n,Wait(3)
 same => n,Hangup()

[offhook]
; Our side of a call a port places: the phone is off hook until the far end hangs up.
exten => s,1,Answer()
 same => n,UserEvent(GatewayConnected,Port: ${PORT})
 same => n,Playtones(350+440)
 same => n,Wait(6)
 same => n,Hangup()
exten => h,1,UserEvent(GatewayHangup,Port: ${PORT},DialStatus: ${DIALSTATUS})
"""


class ProvisioningFailed(RuntimeError):
    pass


def fetch_file(base_url: str, model: catalogue.GatewayModel, mac: str, password: str | None = None,
               timeout: float = 10, path: str = "/provision") -> tuple[str, str]:
    """(file name, text) of the first of the model's file names the server answers with 200.

    The files are asked for under ``base_url`` + ``path`` (a file's own provisioning URL already ends in
    its ``/provision/<credential>``: pass ``path=""``)."""
    tried = []
    for name in model.file_names(mac):
        request = urllib.request.Request(f"{base_url.rstrip('/')}{path}/{name}",
                                         headers={"User-Agent": f"Linebox-lab-sim {model.model}"})
        if password:
            token = base64.b64encode(f"admin:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return name, response.read().decode()
        except urllib.error.HTTPError as error:
            tried.append(f"{name}: {error.code}")
    raise ProvisioningFailed(f"no provisioning file for {mac}: {', '.join(tried)}")


@dataclass
class GatewaySimulator:
    model: catalogue.GatewayModel
    mac: str
    config: catalogue.ProvisioningData | None = None
    file_name: str = ""
    instance: lab.AsteriskInstance | None = None
    events: list[dict] = field(default_factory=list)
    _ami: Ami | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def provision(cls, model_id: str, mac: str, base_url: str, password: str | None = None) -> GatewaySimulator:
        """Fetch and parse the gateway's file (what the device does at boot)."""
        model = catalogue.get_model(model_id)
        mac = catalogue.normalize_mac(mac)
        name, text = fetch_file(base_url, model, mac, password)
        return cls(model=model, mac=mac, config=catalogue.parse(model, text), file_name=name)

    def refetch(self) -> GatewaySimulator:
        """Fetch the file again from where the last one said (its own credential in the URL), as the
        device does at its next boot or poll; the parsed file replaces the old one."""
        assert self.config is not None
        if not self.config.provisioning_url:
            raise ProvisioningFailed("the file names no provisioning URL to come back to")
        name, text = fetch_file(self.config.provisioning_url, self.model, self.mac, path="")
        self.config, self.file_name = catalogue.parse(self.model, text), name
        return self

    @property
    def fxs_ports(self) -> list[catalogue.PortAccount]:
        assert self.config is not None
        return [p for p in self.config.ports if p.kind == "fxs" and p.enabled]

    def pjsip_config(self) -> str:
        assert self.config is not None and self.instance is not None
        server = f"{self.config.server}:{self.config.sip_port}"
        out = [
            "[global]\ntype = global\nendpoint_identifier_order = ip,username\n",
            f"[lines]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:{self.instance.sip_port}\n",
            # whatever the server sends us arrives here; the request URI names the port's number
            "[pbx]\ntype = endpoint\ntransport = lines\ncontext = from-pbx\ndisallow = all\nallow = ulaw,alaw\n"
            "direct_media = no\ndtmf_mode = rfc4733\n",
            f"[pbx-identify]\ntype = identify\nendpoint = pbx\nmatch = {server}\n",
        ]
        for port in self.fxs_ports:
            n, user = port.number, port.user_id
            out.append(f"[port{n}]\ntype = endpoint\ntransport = lines\ncontext = offhook\ndisallow = all\n"
                       f"allow = ulaw,alaw\noutbound_auth = port{n}-auth\naors = port{n}\nfrom_user = {user}\n"
                       "direct_media = no\ndtmf_mode = rfc4733\n")
            out.append(f"[port{n}]\ntype = aor\ncontact = sip:{user}@{server}\n")
            out.append(f"[port{n}-auth]\ntype = auth\nauth_type = userpass\nusername = {port.auth_id}\n"
                       f"password = {port.password}\n")
            out.append(f"[port{n}-reg]\ntype = registration\ntransport = lines\noutbound_auth = port{n}-auth\n"
                       f"server_uri = sip:{server}\nclient_uri = sip:{user}@{server}\ncontact_user = {user}\n"
                       "retry_interval = 2\nexpiration = 120\n")
        return "\n".join(out)

    def start(self, rootfs: Path | None = None) -> GatewaySimulator:
        """Start the ports (a lab Asterisk) with the parsed credentials; they register at once."""
        if not self.fxs_ports:
            raise ProvisioningFailed("the file enables no FXS port")
        self.instance = lab.prepare("gateway", rootfs)
        for name, text in BASE_CONFIG.items():
            (self.instance.etc_dir / name).write_text(text.format(
                ami=self.instance.ami_port, rtp_start=self.instance.rtp_start, rtp_end=self.instance.rtp_end))
        (self.instance.etc_dir / "pjsip.conf").write_text(self.pjsip_config())
        (self.instance.etc_dir / "extensions.conf").write_text(DIALPLAN)
        lab.start(self.instance)
        try:
            self._ami = Ami("127.0.0.1", self.instance.ami_port, "carrier", AMI_SECRET)
            self._ami.connect()
            self._ami.on_event("*", self._record)
        except Exception:
            self.stop()
            raise
        return self

    def _record(self, event, _manager) -> None:
        with self._changed:
            self.events.append(dict(event.headers))
            self._changed.notify_all()

    def wait_for(self, name: str, match: Callable[[dict], bool] = lambda e: True, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event.get("Event") == "UserEvent" and event.get("UserEvent") == name and match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({e.get("UserEvent") or e.get("Event", "") for e in self.events})
                    raise TimeoutError(f"gateway simulator: no {name} within {timeout}s (saw: {', '.join(seen)})")
                self._changed.wait(left)

    def wait_registered(self, timeout: float = 20) -> None:
        assert self.instance is not None
        deadline, out = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            out = self.instance.cli("pjsip show registrations")
            lines = {line.split("/", 1)[0].strip(): line for line in out.splitlines() if "-reg/" in line}
            if all("Registered" in lines.get(f"port{p.number}-reg", "") for p in self.fxs_ports):
                return
            time.sleep(0.3)
        raise TimeoutError(f"gateway ports not registered: {out}")

    def call(self, port: int, number: str) -> None:
        """Port ``port``'s phone goes off hook and dials ``number``."""
        assert self._ami is not None and self.config is not None
        account = self.config.port(port)
        self._ami.action("Originate", Channel=f"PJSIP/{number}@port{port}", Context="offhook", Exten="s",
                         Priority="1", Async="true", Timeout="30000",
                         CallerID=f'"port {port}" <{account.user_id}>', Variable=[f"PORT={port}"])

    def stop(self) -> None:
        if self._ami is not None:
            self._ami.close()
            self._ami = None
        if self.instance is not None:
            self.instance.stop()
