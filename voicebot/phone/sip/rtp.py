"""A call's RTP stream: pyVoIP's RTP client carrying G.711 bytes unchanged, both ways, and the
caller's audio through a jitter buffer that is read 20 ms at a time on the call's clock.

pyVoIP's RTP, worked around:
- it decodes G.711 to 8-bit unsigned linear (measured on speech: 26.5 dB SNR at -20 dBFS,
  6.7 dB at -40, where G.711 itself keeps 37 and 34) and encodes A-law with the mu-law encoder:
  the stream keeps payloads as G.711 bytes both ways (PhoneCall converts them), so the caller's
  audio reaches the bot as it was sent; its buffers pad with 0x80 (silence in 8-bit linear, a
  full-scale sample in G.711), fill gaps with zero bytes (full scale too) and keep the whole
  call: Buffer pads with G.711 silence and forgets what was read; its sender thread keeps a
  clock of its own, drifting against PhoneCall's: Stream.send_frame sends each frame as it comes;
- its read stands still while no audio comes (and its blocking read skips silent frames), so
  after a pause in sending the caller's audio came late: the call's thread reads 160 bytes
  every 20 ms on a fixed schedule from Jitter, whose every read is 20 ms of the call;
- its receiver takes RTP from anyone and drops packets silently: Stream takes only the caller's
  SDP address and the negotiated payload type, and logs one line per kind of bad packet;
- it sends to the SDP's address from the start, so an INVITE naming someone else's address had
  the bot send them 50 packets a second (about 440 times the INVITE's bytes): Stream sends
  nothing until the caller's RTP comes, and then only to where it comes from (symmetric RTP,
  RFC 4961), latching on the first packet from the SDP's address (or any, with `latch_any`).
"""
from __future__ import annotations

import functools
import io
import logging
import select
import socket
import threading
import time

from voicebot.phone.sip import pyvoip

log = logging.getLogger("voicebot.phone.sip.rtp")

FRAME = 160  # bytes of G.711 in 20 ms at 8 kHz
CODECS = {0: "PCMU", 8: "PCMA"}
SILENCE = {0: b"\xff", 8: b"\xd5"}  # G.711's zero sample: mu-law 0xFF, A-law 0xD5
TRIM_BYTES = 8000 * 30  # an RTP buffer drops the audio it has read every 30 s
CUSHION = 480  # 60 ms: how late a caller's RTP packet may come and still be heard


def jitter_buffer(silence: bytes):
    """An empty buffer for the caller's audio, `silence` its codec's zero sample (a Jitter)."""
    return _buffer_classes()(silence)


def open_stream(pt: int, dtmf_pt: int | None, bind_ip: str, port: int, peer: tuple[str, int], name: str,
                latch_any: bool = False):
    """A call's Stream: codec `pt` (and telephone-events `dtmf_pt`) with the caller at `peer` (the
    SDP's address), on our `port` (bind() takes it), `name` (the call's id) in its log lines;
    `latch_any`: take the caller's RTP from whatever address sends first, not only `peer`."""
    return _stream_class()(pt, dtmf_pt, bind_ip, port, peer, name, latch_any)


@functools.cache
def _buffer_classes():
    RTP = pyvoip.rtp()

    class Buffer(RTP.RTPPacketManager):
        """pyVoIP's buffer (ordered by RTP timestamp) holding G.711 bytes, padded with G.711 silence,
        keeping only what is not read yet: pyVoIP's keeps the whole call twice (28 MB an hour a
        direction), and a packet older than what was read could make it reset the stream."""

        def __init__(self, silence: bytes):
            super().__init__()
            self.silence = silence
            self.late = 0  # packets that came after their time was played

        def read(self, length: int = FRAME) -> bytes:
            while self.rebuilding:
                time.sleep(0.002)
            with self.bufferLock:
                data = self.buffer.read(length)
                if self.buffer.tell() >= TRIM_BYTES:  # forget what was read (offsets stay absolute)
                    at = self.buffer.tell()
                    self.buffer = io.BytesIO(self.buffer.read())
                    self.offset += at
                    self.log = {k: v for k, v in self.log.items() if k + len(v) > self.offset}
            return data + self.silence * (length - len(data))

        def write(self, offset: int, data: bytes) -> None:
            with self.bufferLock:
                if self.log:  # after the first packet, which sets the origin
                    at, end = offset - self.offset, self._size()
                    if at < self.buffer.tell():  # its time was played
                        self.late += 1
                        return
                    if at > end:  # a packet lost or not here yet: G.711 silence, not pyVoIP's zero bytes
                        offset, data = offset - (at - end), self.silence * (at - end) + data
            super().write(offset, data)

        def _size(self) -> int:
            at = self.buffer.tell()
            end = self.buffer.seek(0, io.SEEK_END)
            self.buffer.seek(at)
            return end

    class Jitter(Buffer):
        """The caller's audio. Each read is 20 ms of the call, audio or not (pyVoIP's reader stands
        still when no audio is there, so after a pause in sending, DTX, the caller's audio came late
        by the pause, more after each). The first packet comes after CUSHION of silence, so packets up
        to that late still land at their time; later ones are dropped and counted."""

        def read(self, length: int = FRAME) -> bytes:
            with self.bufferLock:
                if self.log:
                    at, end = self.buffer.tell(), self._size()
                    if end < at + length:
                        self.buffer.seek(end)
                        self.buffer.write(self.silence * (at + length - end))
                        self.buffer.seek(at)
            return super().read(length)

        def write(self, offset: int, data: bytes) -> None:
            if not self.log:
                offset, data = offset - CUSHION, self.silence * CUSHION + data
            super().write(offset, data)

    return Jitter


@functools.cache
def _stream_class():
    RTP = pyvoip.rtp()

    class Stream(RTP.RTPClient):
        """pyVoIP's RTP client carrying G.711 bytes unchanged, from the caller's address only."""

        def __init__(self, pt: int, dtmf_pt: int | None, bind_ip: str, port: int, peer: tuple[str, int],
                     name: str, latch_any: bool = False):
            assoc = {pt: RTP.PayloadType(pt)}  # the negotiated codec first: pyVoIP sends the first one
            if dtmf_pt is not None:
                assoc[dtmf_pt] = RTP.PayloadType.EVENT
            super().__init__(assoc, bind_ip, port, peer[0], peer[1], RTP.TransmitType.SENDRECV)
            self.pt, self.peer, self.name, self.latch_any = pt, peer, name, latch_any
            self.source: tuple[str, int] | None = None  # where the caller's RTP comes from, once it has
            self.unsent = 0  # frames not sent: no RTP from the caller yet
            self.pmin = jitter_buffer(SILENCE[pt])
            self.dropped: dict[str, int] = {}
            self.threads: list[threading.Thread] = []

        def bind(self) -> None:
            self.sin = self.sout = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sin.bind((self.inIP, self.inPort))
            self.sin.setblocking(False)

        def start(self) -> None:
            # pyVoIP's receiver, once bound (the port is taken when the INVITE comes, audio flows once
            # answered), keeping its thread so that stop() can wait for it. Not its sender: that
            # thread keeps a 20 ms clock of its own, drifting against PhoneCall's, which paces frames
            self.threads = [threading.Thread(target=self.recv, name=f"rtp-in-{self.inPort}", daemon=True)]
            for t in self.threads:
                t.start()

        def send_frame(self, payload: bytes) -> None:
            """One RTP packet of G.711, now (RFC 3550: version 2, no marker)."""
            header = (bytes([0x80, self.pt]) + (self.outSequence & 0xFFFF).to_bytes(2, "big")
                      + (self.outTimestamp & 0xFFFFFFFF).to_bytes(4, "big") + self.outSSRC.to_bytes(4, "big"))
            self.outSequence += 1
            self.outTimestamp += len(payload)
            if self.source is None:  # not before the caller's RTP comes: the SDP may name anyone
                self.unsent += 1
                return
            try:
                self.sout.sendto(header + payload, self.source)
            except OSError as e:
                self._drop("send", f"RTP not sent ({e})")

        def stop(self) -> None:
            self.NSD = False
            for t in self.threads:
                if t is not threading.current_thread():
                    t.join(2)  # both look at NSD at least every 50 ms
            self.sin.close()

        def recv(self) -> None:
            while self.NSD:
                if not select.select([self.sin], [], [], 0.05)[0]:
                    continue
                try:
                    packet, src = self.sin.recvfrom(8192)
                except OSError:
                    continue
                if self.source is None and (src == self.peer or self.latch_any):
                    self.source = src
                    log.info("call %s: RTP from the caller at %s:%d: sending ours there", self.name, *src)
                if src != self.source:
                    want = self.source or self.peer
                    self._drop("source", f"RTP from {src[0]}:{src[1]}, not the caller's {want[0]}:{want[1]}")
                    continue
                try:
                    self.parse_packet(packet)
                except Exception as e:  # short or garbled packets: pyVoIP raises anything from IndexError on
                    self._drop("packet", f"bad RTP packet ({type(e).__name__}: {e})")

        def parse_packet(self, packet: bytes) -> None:
            msg = RTP.RTPMessage(packet, self.assoc)
            if msg.payload_type == RTP.PayloadType.EVENT:
                self.parse_telephone_event(msg)
            elif msg.payload_type is self.preference:
                self.pmin.write(msg.timestamp, msg.payload)
            else:  # pyVoIP would decode a PCMA packet in a PCMU call as PCMA into the same buffer
                self._drop("payload", f"RTP payload type {packet[1] & 0x7f}, not the negotiated {self.pt}")

        def _drop(self, kind: str, message: str) -> None:
            self.dropped[kind] = self.dropped.get(kind, 0) + 1
            if self.dropped[kind] == 1:
                log.warning("call %s: %s: dropped (further ones counted)", self.name, message)

    return Stream

