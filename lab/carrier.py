"""The carrier: a second Asterisk that plays the telephone company and the office's phones.

It registers to the pbx as extensions (with the credentials Linebox
generated), places calls as a phone or as the outside world, answers calls
the pbx sends it (to a phone or out through a trunk), sends DTMF, and
reports what happened as AMI ``UserEvent``s that tests wait for.  How a
phone behaves when called (answer, ring without answer, busy) is set per
number in the carrier's AstDB, so one carrier serves every scenario.

Two transports keep roles apart although everything is on 127.0.0.1: the
*phones* port registers and calls as extensions, the *telco* port is the far
end of the pbx's trunks (the pbx identifies its trunks by ``127.0.0.1:<telco port>``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.asterisk.ami import Ami
from lab import instance as lab

AMI_SECRET = "carrier-lab-secret"

BASE_CONFIG = {
    "modules.conf": "[modules]\nautoload = yes\nnoload => chan_dahdi.so\nnoload => codec_dahdi.so\n"
                    "noload => res_timing_dahdi.so\nnoload => res_pjsip_config_wizard.so\n",
    "logger.conf": "[logfiles]\nmessages.log => notice,warning,error\n",
    "cdr.conf": "[general]\nenable = no\n",
    "manager.conf": "[general]\nenabled = yes\nport = {ami}\nbindaddr = 127.0.0.1\n\n"
                    "[carrier]\nsecret = " + AMI_SECRET + "\nread = all\nwrite = all\n"
                    "eventfilter(action(exclude),name(TestEvent)) =\n",
    "rtp.conf": "[general]\nrtpstart = {rtp_start}\nrtpend = {rtp_end}\n",
}

INCOMING_FIELDS = ("Exten: ${EXTEN},Local: ${CHANNEL(pjsip,local_addr)},Endpoint: ${CHANNEL(endpoint)},"
                   "CallerID: ${CALLERID(num)},CallerName: ${CALLERID(name)},Behaviour: ${BEHAVIOUR}")

DIALPLAN = """
[from-pbx]
; Calls the pbx sends us: to a phone (phones port) or out through a trunk (telco port).
exten => _[+0-9*#].,1,Set(BEHAVIOUR=${DB(behaviour/${EXTEN})})
 same => n,UserEvent(CarrierIncoming,{incoming_fields})
 same => n,GotoIf($["${BEHAVIOUR}" = "busy"]?busy)
 same => n,GotoIf($["${BEHAVIOUR}" = "noanswer"]?noanswer)
 same => n,Ringing()
 same => n,Wait(${IF($[${LEN(${DB(ring/${EXTEN})})} > 0]?${DB(ring/${EXTEN})}:1)})
 same => n,Answer()
; a phone may keep what it hears (DB record/<number>: a path prefix, as the caller's HEARD) and send its own
; tone (DB tone/<number>: a Playtones list, or "silence"; 440 Hz unless set)
 same => n,Set(HEARD=${DB(record/${EXTEN})})
 same => n,ExecIf($[${LEN(${HEARD})} > 0]?MixMonitor(${HEARD}-mix.wav,r(${HEARD}.wav),touch ${HEARD}.done))
 same => n,UserEvent(CarrierAnswered,Exten: ${EXTEN},Local: ${CHANNEL(pjsip,local_addr)},CallerID: ${CALLERID(num)})
; a phone set to record (``set_behaviour(record=...)``) keeps what it hears, as the caller context does
 same => n,Set(HEARD=${DB(heard/${EXTEN})})
 same => n,ExecIf($[${LEN(${HEARD})} > 0]?MixMonitor(${HEARD}-mix.wav,r(${HEARD}.wav),touch ${HEARD}.done))
; the keys the phone's user presses once the call is up ("##/202": ## then 202; "w2": wait 2 s), one
; part a second apart: the transfer, park and conference codes
 same => n,Set(KEYS=${DB(keys/${EXTEN})})
 same => n,Set(PART_N=1)
 same => n(key),Set(PART=${CUT(KEYS,/,${PART_N})})
 same => n,GotoIf($[${LEN(${PART})} = 0]?talk)
 same => n,Wait(1)
 same => n,ExecIf($["${PART:0:1}" = "w"]?Wait(${PART:1}):SendDTMF(${PART}))
 same => n,Set(PART_N=$[${PART_N} + 1])
 same => n,Goto(key)
 same => n(talk),Set(TONE=${DB(tone/${EXTEN})})
 same => n,ExecIf($["${TONE}" != "silence"]?Playtones(${IF($[${LEN(${TONE})} > 0]?${TONE}:440)}))
 same => n,Wait(${IF($[${LEN(${DB(hold/${EXTEN})})} > 0]?${DB(hold/${EXTEN})}:4)})
; the audio the phone received over the call, as its RTP stack counted it (lost packets, jitter): the
; capacity benchmark's measure of what the pbx delivered
 same => n,UserEvent(CarrierQos,Exten: ${EXTEN},CallerID: ${CALLERID(num)},Qos: ${CHANNEL(rtcp,all)})
 same => n,Hangup()
 same => n(busy),Busy(5)
 same => n(noanswer),Ringing()
 same => n,Wait(120)

[caller]
; The carrier's own side of a call it places: tone, optional DTMF, then wait.
exten => s,1,Answer()
; HEARD is an absolute path prefix; MixMonitor runs its command only once it has closed the files, so
; the .done marker says the recording is whole (a WAV read before that has no complete header).
 same => n,ExecIf($[${LEN(${HEARD})} > 0]?MixMonitor(${HEARD}-mix.wav,r(${HEARD}.wav),touch ${HEARD}.done))
 same => n,UserEvent(CallerConnected,Tag: ${TAG})
 same => n,Wait(1)
 same => n,ExecIf($[${LEN(${DTMF})} > 0]?SendDTMF(${DTMF}))
; PLAY: a sound the caller says (an absolute path inside the root, no extension): a spoken question
 same => n,ExecIf($[${LEN(${PLAY})} > 0]?Playback(${PLAY}))
 same => n,ExecIf($[${LEN(${PLAY})} > 0]?UserEvent(CallerPlayed,Tag: ${TAG}))
 same => n,Set(TONE=${IF($[${LEN(${TONE})} > 0]?${TONE}:440)})
 same => n,ExecIf($["${TONE}" != "silence"]?Playtones(${TONE}))
 same => n,Wait(${IF($[${LEN(${HOLD})} > 0]?${HOLD}:6)})
 same => n,Hangup()
exten => h,1,UserEvent(CallerHangup,Tag: ${TAG},DialStatus: ${DIALSTATUS})
"""


@dataclass
class Phone:
    number: str
    password: str


@dataclass
class Carrier:
    instance: lab.AsteriskInstance
    pbx_sip_port: int
    telco_port: int
    telco_b_port: int
    telco_tls_port: int = 0  # the TLS line (start_carrier's ``tls``), 0 when none
    events: list[dict] = field(default_factory=list)
    _ami: Ami | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition | None = None

    @property
    def phones_port(self) -> int:
        return self.instance.sip_port

    def connect(self) -> None:
        self._changed = threading.Condition(self._lock)
        self._ami = Ami("127.0.0.1", self.instance.ami_port, "carrier", AMI_SECRET)
        self._ami.connect()
        self._ami.on_event("*", self._record)

    def _record(self, event, _manager) -> None:
        data = dict(event.headers)
        data["_time"] = time.monotonic()
        with self._changed:
            self.events.append(data)
            self._changed.notify_all()

    def wait_for(self, name: str, match: Callable[[dict], bool] = lambda e: True, timeout: float = 20,
                 since: int = 0) -> dict:
        """Wait for an event (``UserEvent`` names are matched on their ``UserEvent`` header)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events[since:]:
                    event_name = event.get("UserEvent") if event.get("Event") == "UserEvent" else event.get("Event")
                    if event_name == name and match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({e.get("UserEvent") or e.get("Event") for e in self.events[since:]})
                    raise TimeoutError(f"carrier: no {name} event within {timeout}s (saw: {', '.join(seen)})")
                self._changed.wait(left)

    def mark(self) -> int:
        """An index into the event list: wait_for(..., since=mark) ignores older events."""
        with self._lock:
            return len(self.events)

    def set_behaviour(self, number: str, behaviour: str, hold: int | None = None, ring: float | None = None,
                      keys: str | None = None, tone: str | None = None, record: str | None = None) -> None:
        """How the phone (or far-end number) ``number`` reacts when called: answer, noanswer, busy;
        ``ring``: seconds it rings before it answers (1 unless set; 0 answers at once); ``keys``: what its
        user presses once the call is up, parts split by ``/`` a second apart (``w3`` waits 3 s more), ""
        none; ``tone``: the tone it plays (Playtones, 440 unless set); ``record``: a tag to keep what it
        hears under (read with ``heard``), "" none."""
        self.instance.cli(f"database put behaviour {number} {behaviour}")
        for family, value in (("keys", keys), ("tone", tone),
                              ("heard", record and self._heard_inner(record))):
            if value == "":
                self.instance.cli(f"database del {family} {number}")
            elif value is not None:
                self.instance.cli(f"database put {family} {number} {value}")
        if hold is not None:
            self.instance.cli(f"database put hold {number} {hold}")
        if ring is not None:
            self.instance.cli(f"database put ring {number} {ring:g}")

    def set_tone(self, number: str, tone: str) -> None:
        """What the phone ``number`` sends once it answers: a Playtones list ("1400"), or "silence"."""
        self.instance.cli(f"database put tone {number} {tone}")

    def record_phone(self, number: str, tag: str) -> None:
        """Keep what the phone ``number`` hears on its next answered call, as ``heard(tag)``."""
        self.instance.cli(f"database put record {number} {self._heard_inner(tag)}")

    def press(self, channel: str, digit: str) -> None:
        """Send one DTMF digit (RFC 4733) from the carrier's channel ``channel`` (a UserEvent's Channel header)."""
        assert self._ami is not None
        self._ami.action("PlayDTMF", Channel=channel, Digit=digit, Duration="250")

    def call(self, endpoint: str, number: str, tag: str, dtmf: str = "", hold: int = 6,
             record: bool = False, caller: str = "", tone: str = "", play: str = "") -> None:
        """Place a call from ``endpoint`` (a phone ``ph<N>`` or ``telco``) to ``number`` at the pbx.

        ``record``: keep what the caller hears (see ``heard``); ``caller``: the caller's number (default the
        phone's, or the outside world's +15550001111); ``tone``: what the caller sends (a Playtones list, or
        "silence"; 440 Hz by default); ``play``: a sound file the caller says first (see ``sound_path``)."""
        assert self._ami is not None
        self._ami.action(
            "Originate", Channel=f"PJSIP/{number}@{endpoint}", Context="caller", Exten="s", Priority="1",
            Async="true", Timeout="60000", CallerID=f'"{tag}" <{caller or endpoint_number(endpoint)}>',
            Variable=[f"TAG={tag}", f"DTMF={dtmf}", f"HOLD={hold}", f"TONE={tone}", f"PLAY={play}",
                      f"HEARD={self._heard_inner(tag) if record else ''}"],
        )

    def sound_path(self, name: str) -> tuple[Path, str]:
        """Where a test puts a sound the caller says: (the host's path of ``name``.wav, what ``play`` takes)."""
        inner = f"{self.instance.inner_dir}/spool/say-{name}"
        return self.instance.host_path(inner + ".wav"), inner

    def _heard_inner(self, tag: str) -> str:
        return f"{self.instance.inner_dir}/spool/monitor/heard-{tag}"

    def heard(self, tag: str, timeout: float = 30) -> Path:
        """The audio the pbx sent a recorded call tagged ``tag`` (8 kHz WAV, in the carrier's spool).

        Waits until Asterisk has closed the recording (its ``.done`` marker, written by MixMonitor's
        post-recording command), not merely until the file appears: the WAV header is only complete then."""
        prefix = self.instance.host_path(self._heard_inner(tag))
        done = prefix.with_name(prefix.name + ".done")
        deadline = time.monotonic() + timeout
        while not done.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"carrier: the recording of call {tag!r} was not closed within {timeout}s")
            time.sleep(0.1)
        return prefix.with_name(prefix.name + ".wav")

    def wait_registered(self, numbers: list[str], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.instance.cli("pjsip show registrations")
            if all(f"ph{n}-reg" in out and out.split(f"ph{n}-reg", 1)[1].split("\n", 1)[0].find("Registered") >= 0
                   for n in numbers):
                return
            time.sleep(0.3)
        raise TimeoutError(f"carrier phones not registered to the pbx: {out}")

    def stop(self) -> None:
        if self._ami is not None:
            self._ami.close()
        self.instance.stop()


def endpoint_number(endpoint: str) -> str:
    return endpoint[2:] if endpoint.startswith("ph") else "+15550001111"


def tls_config(tls_port: int, etc_inner: str) -> str:
    """A TLS line for the pbx's TLS trunks (certificate and key in the instance's etc folder), taking SRTP
    from the pbx when offered; the pbx's calls over TLS come from any port of 127.0.0.1 (only
    a test that asks for TLS has this line: the address match overlaps the UDP one)."""
    return (f"[telco-tls-transport]\ntype = transport\nprotocol = tls\nbind = 127.0.0.1:{tls_port}\n"
            f"cert_file = {etc_inner}/telco-cert.pem\npriv_key_file = {etc_inner}/telco-key.pem\nmethod = sslv23\n\n"
            "[pbx-tls]\ntype = endpoint\ntransport = telco-tls-transport\ncontext = from-pbx\ndisallow = all\n"
            "allow = ulaw,alaw\ndirect_media = no\ndtmf_mode = rfc4733\nmedia_encryption = sdes\n"
            "media_encryption_optimistic = yes\n\n"
            "[pbx-tls-identify]\ntype = identify\nendpoint = pbx-tls\nmatch = 127.0.0.1\n")


def pjsip_config(phones_port: int, telco_port: int, telco_b_port: int, pbx_port: int, phones: list[Phone],
                 trunk_accounts: list[Phone]) -> str:
    out = [
        # Username first: a pbx trunk that registers and authenticates as an account is known by its
        # From user; everything else the pbx sends falls through to the address match ("pbx").
        "[global]\ntype = global\nendpoint_identifier_order = username,ip\n",
        f"[phones]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:{phones_port}\n",
        f"[telco-transport]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:{telco_port}\n",
        # A second carrier line: the far end of a backup trunk.
        f"[telco-b-transport]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:{telco_b_port}\n",
        # Everything the pbx sends us, whichever port it reaches.
        "[pbx]\ntype = endpoint\ntransport = telco-transport\ncontext = from-pbx\ndisallow = all\nallow = ulaw,alaw\n"
        "direct_media = no\ndtmf_mode = rfc4733\n",
        f"[pbx-identify]\ntype = identify\nendpoint = pbx\nmatch = 127.0.0.1:{pbx_port}\n",
        # The outside world calling in through the pbx's trunk.
        "[telco]\ntype = endpoint\ntransport = telco-transport\ncontext = from-pbx\ndisallow = all\n"
        "allow = ulaw,alaw\naors = telco\ndirect_media = no\ndtmf_mode = rfc4733\n",
        f"[telco]\ntype = aor\ncontact = sip:127.0.0.1:{pbx_port}\n",
    ]
    for account in trunk_accounts:
        user = account.number
        out.append(
            f"[{user}]\ntype = endpoint\ntransport = telco-transport\ncontext = from-pbx\ndisallow = all\n"
            f"allow = ulaw,alaw\nauth = {user}-auth\naors = {user}\ndirect_media = no\ndtmf_mode = rfc4733\n"
        )
        out.append(f"[{user}]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\n")
        out.append(f"[{user}-auth]\ntype = auth\nauth_type = userpass\nusername = {user}\n"
                   f"password = {account.password}\n")
    for phone in phones:
        n = phone.number
        out.append(
            f"[ph{n}]\ntype = endpoint\ntransport = phones\ncontext = from-pbx\ndisallow = all\nallow = ulaw,alaw\n"
            f"outbound_auth = ph{n}-auth\naors = ph{n}\nfrom_user = {n}\ndirect_media = no\ndtmf_mode = rfc4733\n"
        )
        out.append(f"[ph{n}]\ntype = aor\ncontact = sip:{n}@127.0.0.1:{pbx_port}\n")
        out.append(f"[ph{n}-auth]\ntype = auth\nauth_type = userpass\nusername = {n}\npassword = {phone.password}\n")
        out.append(
            f"[ph{n}-reg]\ntype = registration\ntransport = phones\noutbound_auth = ph{n}-auth\n"
            f"server_uri = sip:127.0.0.1:{pbx_port}\nclient_uri = sip:{n}@127.0.0.1:{pbx_port}\n"
            f"contact_user = {n}\nretry_interval = 2\nexpiration = 120\n"
        )
    return "\n".join(out)


def start_carrier(pbx_sip_port: int, phones: list[Phone], rootfs: Path | None = None,
                  trunk_accounts: list[Phone] | None = None, tls: tuple[bytes, bytes] | None = None) -> Carrier:
    """Start the carrier; ``trunk_accounts`` are (user, password) the pbx's trunks may register as;
    ``tls``: (certificate, key) PEM of a TLS line on ``telco_tls_port`` as well."""
    instance = lab.prepare("carrier", rootfs)
    telco_port = lab.free_port(socket.SOCK_DGRAM)
    telco_b_port = lab.free_port(socket.SOCK_DGRAM)
    for name, text in BASE_CONFIG.items():
        (instance.etc_dir / name).write_text(
            text.format(ami=instance.ami_port, rtp_start=instance.rtp_start, rtp_end=instance.rtp_end))
    config = pjsip_config(instance.sip_port, telco_port, telco_b_port, pbx_sip_port, phones, trunk_accounts or [])
    telco_tls_port = 0
    if tls is not None:
        telco_tls_port = lab.free_port()
        (instance.etc_dir / "telco-cert.pem").write_bytes(tls[0])
        (instance.etc_dir / "telco-key.pem").write_bytes(tls[1])
        config += "\n" + tls_config(telco_tls_port, instance.etc_inner)
    (instance.etc_dir / "pjsip.conf").write_text(config)
    (instance.etc_dir / "extensions.conf").write_text(DIALPLAN.replace("{incoming_fields}", INCOMING_FIELDS))
    lab.start(instance)
    carrier = Carrier(instance=instance, pbx_sip_port=pbx_sip_port, telco_port=telco_port,
                      telco_b_port=telco_b_port, telco_tls_port=telco_tls_port)
    try:
        carrier.connect()
    except Exception:
        instance.stop()
        raise
    return carrier
