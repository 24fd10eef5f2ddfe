"""SIPp (Debian's ``sip-tester``) as many outside callers at once: the load of the capacity benchmark.

Each SIPp call comes in through a trunk of the pbx (SIPp's address and port are the trunk's match),
dials a DID, waits for the IVR's greeting, then plays one pcap: a key press (RFC 2833, Debian's
``dtmf_2833_<digit>.pcap``) followed by talk (Debian's 7 s G.711 A-law ``g711a.pcap``, repeated as one
unbroken stream), while it waits for the pbx to hang up (the agent ends the call), answering the
pbx's re-INVITEs meanwhile (the connected line's update when the agent answers).  A call is successful
for SIPp when it was answered and the pbx's BYE came within the call's time limit; whether an agent
answered it is for the caller of this module to find out (the IVR hangs up on a lost key press too).

The caller's number is ``8<run:02d>0<call number>``: unique per call across a run of several SIPp
processes, so each call can be found again in the call records and the queue report.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

SOUNDS = Path("/usr/share/sip-tester")

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="linebox caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Load [call_number]" <sip:8[run]0[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:8[run]0[call_number]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:30
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Load [call_number]" <sip:8[run]0[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:8[run]0[call_number]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="{greeting_ms}"/>
  <nop><action><exec play_pcap_audio="{audio}"/></action></nop>
  <label id="talk"/>
  <recv request="INVITE" optional="true" next="reinvite"/>
  <recv request="BYE" timeout="{bye_timeout_ms}"/>
  <send next="done">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: sip:8[run]0[call_number]@[local_ip]:[local_port]
      Content-Length: 0
    ]]>
  </send>
  <label id="reinvite"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: sip:8[run]0[call_number]@[local_ip]:[local_port]
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:30
      a=sendrecv
    ]]>
  </send>
  <recv request="ACK" next="talk"/>
  <label id="done"/>
  <ResponseTimeRepartition value="100, 500, 1000, 2000, 5000"/>
</scenario>
"""


def available() -> bool:
    return shutil.which("sipp") is not None and (SOUNDS / "g711a.pcap").exists()


def _packets(source: Path) -> tuple[bytes, list[tuple[float, bytes, int]]]:
    """A pcap's global header and its records (time, bytes, original length)."""
    data = source.read_bytes()
    packets = []
    offset = 24
    while offset < len(data):
        sec, usec, length, original = struct.unpack("<IIII", data[offset:offset + 16])
        packets.append((sec + usec / 1e6, data[offset + 16:offset + 16 + length], original))
        offset += 16 + length
    return data[:24], packets


def caller_audio(dtmf: Path, source: Path, target: Path, seconds: float) -> None:
    """The key press ``dtmf`` (a pcap of RFC 2833 events), then half a second later ``source`` (a pcap of
    one RTP stream, Ethernet/IPv4/UDP) repeated to last ``seconds``: one pcap, played at once, so the
    scenario never pauses (SIPp takes a request arriving during a pause, such as the pbx's re-INVITE when
    the agent answers, for an error).  Each repeat is shifted in time, RTP sequence and timestamp so the
    far end receives one unbroken stream (a restart of the sequence would count as loss).  UDP checksums
    are zeroed (none, as IPv4 allows)."""
    header, keys = _packets(dtmf)
    _header, packets = _packets(source)
    rtp = 14 + 20 + 8
    seq0, ts0 = struct.unpack("!HI", packets[0][1][rtp + 2:rtp + 8])
    out = [header]
    for n, (when, packet, original) in enumerate(keys):
        # SIPp sends each packet to the far end's port plus its offset from the lowest port in the pcap:
        # the key press takes the recording's ports (and its SSRC, sequence before it, a second earlier)
        body = bytearray(packet)
        body[14 + 20:14 + 20 + 4] = packets[0][1][14 + 20:14 + 20 + 4]
        body[14 + 20 + 6:14 + 20 + 8] = b"\0\0"
        event_ts = struct.unpack("!I", packet[rtp + 4:rtp + 8])[0] - struct.unpack("!I", keys[0][1][rtp + 4:rtp + 8])[0]
        body[rtp + 2:rtp + 12] = struct.pack("!HI", (seq0 - len(keys) + n) & 0xFFFF,
                                             (ts0 - 8000 + event_ts) & 0xFFFFFFFF) + packets[0][1][rtp + 8:rtp + 12]
        moment = when - keys[0][0]
        out += [struct.pack("<IIII", int(moment), int(round((moment % 1) * 1e6)) % 1_000_000, len(body), original),
                bytes(body)]
    start = keys[-1][0] - keys[0][0] + 0.5
    first, last = packets[0][0], packets[-1][0]
    step = (last - first) + (last - first) / (len(packets) - 1)  # one packet's spacing after the last
    seq_last, ts_last = struct.unpack("!HI", packets[-1][1][rtp + 2:rtp + 8])
    seq_span = (seq_last - seq0 + 1) & 0xFFFF
    ts_span = (ts_last - ts0) + (ts_last - ts0) // (len(packets) - 1)
    repeat = 0
    while repeat * step < seconds:
        for when, packet, original in packets:
            seq, ts = struct.unpack("!HI", packet[rtp + 2:rtp + 8])
            body = bytearray(packet)
            body[rtp + 2:rtp + 8] = struct.pack("!HI", (seq + repeat * seq_span) & 0xFFFF,
                                                (ts + repeat * ts_span) & 0xFFFFFFFF)
            if repeat:
                body[rtp + 1] &= 0x7F  # the marker bit only where the stream really starts
            body[14 + 20 + 6:14 + 20 + 8] = b"\0\0"
            moment = start + (when - first) + repeat * step
            out.append(struct.pack("<IIII", int(moment), int(round((moment % 1) * 1e6)) % 1_000_000,
                                   len(body), original))
            out.append(bytes(body))
        repeat += 1
    target.write_bytes(b"".join(out))


@dataclass
class Result:
    """One SIPp run: calls created, answered and ended by the pbx (successful), and failed."""
    created: int
    successful: int
    failed: int
    returncode: int
    output: str


def scenario(folder: Path, talk_seconds: float, digit: str = "1", greeting_ms: int = 1500,
             bye_timeout_s: float = 60) -> Path:
    """Write the caller's scenario (and its audio, ``talk_seconds`` long) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    audio = folder / "talk.pcap"
    caller_audio(SOUNDS / f"dtmf_2833_{digit}.pcap", SOUNDS / "g711a.pcap", audio, talk_seconds)
    path = folder / "caller.xml"
    path.write_text(SCENARIO.format(greeting_ms=greeting_ms, audio=audio,
                                    bye_timeout_ms=int(bye_timeout_s * 1000)))
    return path


def run(scenario_path: Path, pbx_port: int, local_port: int, media_port: int, did: str, calls: int,
        concurrent: int, rate: float, run_number: int, time_limit_s: float) -> Result:
    """Place ``calls`` calls to ``did``, at most ``concurrent`` at once, started ``rate`` a second; SIPp
    stops by itself after ``time_limit_s`` (then counting what is unfinished as failed)."""
    stats = scenario_path.with_name(f"stats-{run_number}.csv")
    stats.unlink(missing_ok=True)
    argv = ["sipp", f"127.0.0.1:{pbx_port}", "-sf", str(scenario_path), "-i", "127.0.0.1",
            "-p", str(local_port), "-mp", str(media_port), "-s", did, "-key", "run", f"{run_number:02d}",
            "-m", str(calls), "-l", str(concurrent), "-r", f"{rate:g}", "-rp", "1000",
            "-timeout", f"{int(time_limit_s)}s", "-timeout_error", "-nostdin", "-aa",
            "-trace_stat", "-stf", str(stats), "-fd", "1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=time_limit_s + 60,
                          cwd=scenario_path.parent)
    created = successful = failed = 0
    if stats.exists():
        rows = [line.split(";") for line in stats.read_text().splitlines() if line.strip()]
        if len(rows) >= 2:
            last = dict(zip(rows[0], rows[-1], strict=False))
            created = int(last.get("TotalCallCreated", 0))
            successful = int(last.get("SuccessfulCall(C)", 0))
            failed = int(last.get("FailedCall(C)", 0))
    return Result(created, successful, failed, done.returncode, (done.stdout + done.stderr)[-4000:])
