"""The packet-capture reader of the image boot test flags what the guest started, and only that."""

from __future__ import annotations

import ipaddress

import dpkt

from image.traffic import GUEST_MAC, outbound

HOST_MAC = bytes.fromhex("525500000202")


def frame(source_mac: bytes, src: str, dst: str, transport) -> bytes:
    packet = dpkt.ip.IP(src=ipaddress.ip_address(src).packed, dst=ipaddress.ip_address(dst).packed,
                        p=6 if isinstance(transport, dpkt.tcp.TCP) else 17, data=transport)
    packet.len = len(bytes(packet))
    return bytes(dpkt.ethernet.Ethernet(src=source_mac, dst=HOST_MAC, type=dpkt.ethernet.ETH_TYPE_IP, data=packet))


def lookup(name: str) -> dpkt.udp.UDP:
    query = dpkt.dns.DNS(id=1, qd=[dpkt.dns.DNS.Q(name=name)])
    return dpkt.udp.UDP(sport=40000, dport=53, data=bytes(query))


def test_connections_and_lookups_the_guest_started_are_reported(tmp_path):
    guest = bytes.fromhex(GUEST_MAC.replace(":", ""))
    capture = tmp_path / "guest.pcap"
    with capture.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle)
        # the host's answer to the console it opened, and the guest's reply: neither is the guest reaching out
        writer.writepkt(frame(HOST_MAC, "10.0.2.2", "10.0.2.15",
                              dpkt.tcp.TCP(sport=5555, dport=443, flags=dpkt.tcp.TH_SYN)))
        writer.writepkt(frame(guest, "10.0.2.15", "10.0.2.2",
                              dpkt.tcp.TCP(sport=443, dport=5555, flags=dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)))
        writer.writepkt(frame(guest, "10.0.2.15", "10.0.2.3", lookup("0.debian.pool.ntp.org")))
        writer.writepkt(frame(guest, "10.0.2.15", "10.0.2.3", lookup("deb.debian.org")))
        writer.writepkt(frame(guest, "10.0.2.15", "203.0.113.9", dpkt.tcp.TCP(sport=41000, dport=80,
                                                                               flags=dpkt.tcp.TH_SYN)))
        writer.writepkt(frame(guest, "0.0.0.0", "255.255.255.255", dpkt.udp.UDP(sport=68, dport=67)))
    traffic = outbound(capture)
    assert traffic.dns_names == {"0.debian.pool.ntp.org", "deb.debian.org"}
    assert traffic.unexpected({"0.debian.pool.ntp.org"}) == ["tcp 203.0.113.9:80 (1 packets)",
                                                             "DNS lookup of deb.debian.org"]
