"""Asterisk's AudioSocket protocol: frames of a type byte, a big-endian 16-bit length and a payload.

Facts from Asterisk's documentation (Configuration/Channel-Drivers/AudioSocket): ``0x00`` ends the
session (closing the socket does too), ``0x01`` carries the call's UUID (16 bytes, the first frame
Asterisk sends), ``0x03`` one DTMF digit (ASCII), ``0x10`` signed linear 16-bit 8 kHz mono audio,
little-endian, ``0xff`` an error (an optional code).  Asterisk plays audio frames as they arrive: the
sender paces them (20 ms of audio, 320 bytes, every 20 ms).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

HANGUP = 0x00
UUID = 0x01
DTMF = 0x03
AUDIO = 0x10
ERROR = 0xFF

RATE = 8000
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2  # 320: 20 ms of 16-bit samples
MAX_PAYLOAD = 0xFFFF


class ProtocolError(ValueError):
    """Bytes that are not AudioSocket frames."""


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes = b""

    @property
    def uuid(self) -> str:
        """The call's UUID in its string form (a ``UUID`` frame)."""
        if self.kind != UUID or len(self.payload) != 16:
            raise ProtocolError(f"not a UUID frame: type {self.kind:#04x}, {len(self.payload)} bytes")
        return str(uuid.UUID(bytes=self.payload))

    @property
    def digit(self) -> str:
        return self.payload[:1].decode("ascii", "replace") if self.kind == DTMF else ""


def encode(kind: int, payload: bytes = b"") -> bytes:
    """One frame's bytes."""
    if not 0 <= kind <= 0xFF:
        raise ProtocolError(f"frame type {kind} is not a byte")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes is longer than {MAX_PAYLOAD}")
    return struct.pack(">BH", kind, len(payload)) + payload


def audio_frames(samples: bytes) -> list[bytes]:
    """``samples`` (slin 8 kHz) cut into 20 ms audio frames, the last padded with silence."""
    frames = []
    for start in range(0, len(samples), FRAME_BYTES):
        chunk = samples[start:start + FRAME_BYTES]
        frames.append(encode(AUDIO, chunk.ljust(FRAME_BYTES, b"\0")))
    return frames


class FrameReader:
    """Frames out of a byte stream that arrives in pieces of any size (``feed`` what ``recv`` gave)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer.extend(data)
        frames = []
        while len(self._buffer) >= 3:
            kind, length = struct.unpack_from(">BH", self._buffer)
            if len(self._buffer) < 3 + length:
                break
            frames.append(Frame(kind, bytes(self._buffer[3:3 + length])))
            del self._buffer[:3 + length]
        return frames
