"""The phone line over SIP: the bot as a SIP user agent on UDP, answering calls (no registrar).

    server = serve(bot, "127.0.0.1:5060")    # settings: the `sip` and `phone` config sections
    ...; server.stop()                       # every call hung up, every thread and port freed

Each INVITE gets 180 Ringing, an RTP port of its own (`sip.rtp_port_min`..`max`), a PhoneCall
(voicebot.phone: the conversation and its record) and then 200 OK with the SDP answer; every
20 ms the call's thread pushes it 160 bytes of the caller's G.711, and through its Line it
sends the bot's G.711 a frame at a time on its own 20 ms clock (`call.send`: one RTP packet),
hangs up (BYE) or hands the call to a person (`call.transfer(uri)`: REFER). BYE and CANCEL from the
caller end the call; OPTIONS and NOTIFY are answered 200, other methods 501. (SipServer takes
any `media(call)` factory whose objects have `push(frame)` and `close(reason)`.)

pyVoIP 1.6.8 does the protocol work it does well: parsing SIP messages and SDP (SIPMessage) and
RTP (RTPClient: packets, a jitter buffer ordered by timestamp, DTMF events).
Its phone layer (VoIPPhone, VoIPCall) is not used, for reasons found by trying it with baresip
(../shared/docs/sip-and-browser.md) and by reading its code:
- it always REGISTERs (with no registrar it blocks ~30 s a try, holds the receive lock, and
  shuts itself down after three failures);
- it sends every message to one configured server, so one phone object serves one peer; here
  each message is answered at the address it came from, so any number of peers can call;
- its message builders rebuild Via (dropping parameters), put a fresh To tag on every 200 (an
  in-dialog 200 to BYE must keep the dialog's tag), put the caller's Via on its own BYE, answer
  CANCEL without a 487, start the call's callback 1 s late, and count incoming calls' RTP ports
  nowhere (so a port still in use can be handed out again); there is no REFER at all. The few
  messages this needs are built here (_response, send_request), by RFC 3261's rules.
Work-arounds inside the pyVoIP classes used, each where it applies:
- header lines without ": " (baresip's empty `Supported:`) raise IndexError in its parser and the
  INVITE was dropped silently; methods it does not know (OPTIONS, NOTIFY) are unparseable; a
  non-SDP body (NOTIFY's sipfrag) raises: _Message;
- it decodes G.711 to 8-bit unsigned linear (measured on speech: 26.5 dB SNR at -20 dBFS,
  6.7 dB at -40, where G.711 itself keeps 37 and 34) and encodes A-law with the mu-law encoder:
  _Rtp keeps payloads as G.711 bytes both ways (PhoneCall converts them), so the caller's audio
  reaches the bot as it was sent; its buffers pad with 0x80 (silence in 8-bit linear, a
  full-scale sample in G.711), fill gaps with zero bytes (full scale too) and keep the whole
  call: _Buffer pads with G.711 silence and forgets what was read; its sender thread keeps a
  clock of its own, drifting against PhoneCall's: _Rtp.send_frame sends each frame as it comes;
- its read stands still while no audio comes (and its blocking read skips silent frames), so
  after a pause in sending the caller's audio came late: the call's thread reads 160 bytes
  every 20 ms on a fixed schedule from _Jitter, whose every read is 20 ms of the call;
- its receiver takes RTP from anyone and drops packets silently: _Rtp takes only the caller's
  SDP address and the negotiated payload type, and logs one line per kind of bad packet.
Not done: TCP/TLS, SRTP, digest authentication, re-INVITE renegotiation (a re-INVITE gets the
same answer).
"""
from __future__ import annotations

import io
import logging
import random
import secrets
import select
import socket
import threading
import time
import warnings

with warnings.catch_warnings():  # pyVoIP imports audioop (deprecated, audioop-lts from Python 3.13)
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyVoIP.VoIP  # noqa: F401  first: importing pyVoIP.SIP first fails on a circular import
    from pyVoIP import RTP, SIP

from voicebot.phone.call import Line, PhoneCall
from voicebot.phone.records import CallStore

log = logging.getLogger("voicebot.sip")

FRAME = 160  # bytes of G.711 in 20 ms at 8 kHz
CODECS = {0: "PCMU", 8: "PCMA"}
SILENCE = {0: b"\xff", 8: b"\xd5"}  # G.711's zero sample: mu-law 0xFF, A-law 0xD5
T1 = 0.5  # RFC 3261's round-trip estimate: 200 OK is resent after T1, 2 T1, ... until ACK
T2 = 4.0  # ... and our BYE/REFER up to every T2 until a final response
MAX_DATAGRAM = 65535
TRIM_BYTES = 8000 * 30  # an RTP buffer drops the audio it has read every 30 s
CUSHION = 480  # 60 ms: how late a caller's RTP packet may come and still be heard
WARN_EVERY_S = 10.0  # one log line per source and kind of bad input in this time, not one per datagram
METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "NOTIFY", "REFER", "INFO", "UPDATE",
           "MESSAGE", "SUBSCRIBE", "PRACK", "REGISTER", "PUBLISH"]
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY"
COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "c": "Content-Type",
           "l": "Content-Length", "k": "Supported", "r": "Refer-To", "o": "Event"}
CANONICAL = {n.lower(): n for n in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Type",
                                    "Content-Length", "Supported", "Allow", "Event", "Refer-To")}


class _Message(SIP.SIPMessage):
    """pyVoIP's parser, lenient where real phones differ from what it expects."""

    def parse(self, data: bytes) -> None:
        # pyVoIP takes any other method for garbage; these are answered (200 or 501), not dropped
        self.SIPCompatibleMethods = METHODS
        self.fields: list[tuple[str, str]] = []  # (name, value) as received, for copying into replies
        self.text_body = ""
        super().parse(data)

    def parse_raw_header(self, headers_raw, handle) -> None:
        # pyVoIP splits each line on ": " and fails on `Supported:` with nothing after it (baresip);
        # names are case-insensitive and may be compact (RFC 3261 7.3.3)
        headers: dict = {"Via": []}
        for line in headers_raw:
            name, colon, value = str(line, "utf8").partition(":")
            if not colon:
                raise SIP.SIPParseError(f"header line without a colon: {line[:60]!r}")
            name, value = name.strip(), value.strip()
            name = COMPACT.get(name) or CANONICAL.get(name.lower(), name)
            self.fields.append((name, value))
            if name == "Via":
                headers["Via"] += [v.strip() for v in value.split(",")]
            elif name not in headers:
                headers[name] = value
        for name in ("Call-ID", "CSeq", "From", "To"):
            if name not in headers:
                raise SIP.SIPParseError(f"no {name} header")
        for key, val in headers.items():
            handle(key, val)

    def parse_raw_body(self, body: bytes, handle) -> None:
        # pyVoIP reads every body as SDP lines and fails on others (NOTIFY's message/sipfrag)
        self.text_body = body.decode("utf8", "replace")
        kind = str(self.headers.get("Content-Type", "")).split(";")[0].strip().lower()
        if body.strip() and kind == "application/sdp":
            SIP.SIPMessage.parse_raw_body(body, handle)

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.fields if n == name]


class _Buffer(RTP.RTPPacketManager):
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


class _Jitter(_Buffer):
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


class _Rtp(RTP.RTPClient):
    """pyVoIP's RTP client carrying G.711 bytes unchanged, from the caller's address only."""

    def __init__(self, pt: int, dtmf_pt: int | None, bind_ip: str, port: int, peer: tuple[str, int], name: str):
        assoc = {pt: RTP.PayloadType(pt)}  # the negotiated codec first: pyVoIP sends the first one
        if dtmf_pt is not None:
            assoc[dtmf_pt] = RTP.PayloadType.EVENT
        super().__init__(assoc, bind_ip, port, peer[0], peer[1], RTP.TransmitType.SENDRECV)
        self.pt, self.peer, self.name = pt, peer, name
        self.pmin = _Jitter(SILENCE[pt])
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
        try:
            self.sout.sendto(header + payload, self.peer)
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
            if src != self.peer:
                self._drop("source", f"RTP from {src[0]}:{src[1]}, not the caller's {self.peer[0]}:{self.peer[1]}")
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


class SipCall:
    """One call: its dialog (to answer, BYE and REFER) and RTP stream, and the thread feeding media."""

    def __init__(self, server: SipServer, invite: _Message, addr: tuple[str, int]):
        self.server, self.invite, self.addr = server, invite, addr
        self.id = invite.headers["Call-ID"]
        self.caller = invite.headers["From"]["address"]
        self.tag = secrets.token_hex(4)
        self.cseq = random.randint(1, 1 << 16)  # our own requests' CSeq numbers (RFC 3261 12.2.1.1)
        contact = invite.headers.get("Contact", "")
        self.target = (contact.split("<", 1)[1].split(">", 1)[0] if "<" in contact else contact.split(";")[0]) \
            or invite.headers["From"]["raw"].strip("<> ")
        self.rtp: _Rtp | None = None
        self.answer = b""  # our 200 OK, resent until the ACK
        self.answered = self.acked = False
        self.ended = threading.Event()
        self.why = ""
        self.bye = False  # send BYE when ending
        self.media = None
        self.thread = threading.Thread(target=self._run, name=f"sip-call-{self.id[:8]}", daemon=True)
        self._lock = threading.Lock()
        self._refer_until: float | None = None

    # ---- what the media object calls
    def send(self, g711: bytes) -> None:
        """One frame of the bot's audio (G.711 in the call's codec), sent now: PhoneCall paces them."""
        if self.rtp is not None and self.rtp.NSD and g711:
            self.rtp.send_frame(g711)

    def hangup(self, why: str = "the bot hung up") -> None:
        self.end(why, bye=True)

    def transfer(self, uri: str) -> None:
        """Ask the caller's phone to call `uri` instead (REFER); the call ends when that is settled."""
        if self.ended.is_set():
            return
        if not uri:
            log.warning("call %s: handover asked but no phone.handover_uri is set: hanging up", self.id)
            return self.hangup("handover with no handover_uri")
        self.server.send_request(self, "REFER", [f"Refer-To: <{uri.strip('<>')}>",
                                                 f"Referred-By: <sip:{self.server.user}@{self.server.adv_host}>"])
        self._refer_until = time.monotonic() + 10.0  # no final NOTIFY by then: hang up anyway
        log.info("call %s: handed over to %s (REFER)", self.id, uri)

    # ---- the call's life
    def end(self, why: str, bye: bool = False) -> None:
        with self._lock:
            if self.ended.is_set():
                return
            self.why, self.bye = why, bye and self.answered
            self.ended.set()

    def _run(self) -> None:
        try:
            self.media = self.server.media(self)
            if not self.ended.is_set():  # a CANCEL may have come meanwhile
                self.answered = True
                self.rtp.start()
                self.server.sendto(self.answer, self.addr)
                log.info("call %s from %s (%s:%d): answered, %s, RTP port %d, record %s", self.id, self.caller,
                         *self.addr, CODECS[self.rtp.pt], self.rtp.inPort, getattr(self.media, "id", "-"))
                self._pump()
        except Exception as e:  # a bug or an engine failure ends this call, never the server
            log.exception("call %s: failed", self.id)
            if not self.answered:
                self.server.sendto(self.server._response(self.invite, 500, "Server Internal Error", self.tag), self.addr)
            self.end(f"error: {type(e).__name__}: {e}", bye=True)
        finally:
            self._close()

    def _pump(self) -> None:
        """Every 20 ms, on a fixed schedule: 160 bytes of the caller's audio to the media object."""
        start = time.monotonic()
        next_t, resend, step = start, start + T1, T1
        while not self.ended.wait(max(0.0, next_t - time.monotonic())):
            now = time.monotonic()
            if now - next_t > 1.0:  # starved of CPU for a second: catch up by skipping, not in a burst
                next_t = now
            next_t += FRAME / 8000
            self.media.push(self.rtp.pmin.read(FRAME))
            if not self.acked and now >= resend:
                if now - start > 64 * T1:
                    self.end("no ACK for our 200 OK", bye=True)
                self.server.sendto(self.answer, self.addr)
                step = min(2 * step, 4.0)
                resend = now + step
            if self._refer_until is not None and now > self._refer_until:
                self.hangup("handed over")

    def _close(self) -> None:
        if self.bye:  # first: closing the media (joining threads, writing the record) takes a while
            self.server.send_request(self, "BYE")
        if self.rtp is not None:
            self.rtp.stop()
            if self.rtp.dropped:
                log.info("call %s: RTP packets dropped: %s", self.id, self.rtp.dropped)
        if self.media is not None:
            try:
                self.media.close(self.why or "closed")
            except Exception:
                log.exception("call %s: closing its media failed", self.id)
        # the line first: whoever waits for the server to have no calls (a test, a shutdown) then
        # finds it written (CI once looked between the two)
        log.info("call %s: ended (%s)", self.id, self.why or "closed")
        self.server.forget(self)

    # ---- SIP for this call, on the server's receive thread
    def on_notify(self, msg: _Message) -> None:
        """The transfer's progress (RFC 3515): a final status ends our side of the call."""
        status = msg.text_body.split()[1:2]
        if self._refer_until is not None and status and status[0].isdigit() and int(status[0]) >= 200:
            self.hangup(f"handed over ({msg.text_body.strip().splitlines()[0]})")

    def on_response(self, msg: _Message) -> None:
        method = msg.headers["CSeq"]["method"]
        code = int(msg.status)
        if method == "REFER" and code >= 300:
            log.warning("call %s: the caller's phone refused the transfer (%d): hanging up", self.id, code)
            self.hangup("handover refused")


class SipServer:
    """The bot's SIP user agent: one UDP socket, any number of peers, one SipCall per call."""

    def __init__(self, bot, media, host: str | None = None, port: int | None = None):
        cfg = bot.config.sip
        self.bot, self.media = bot, media
        self.host = cfg.host if host is None else host
        self.port = cfg.port if port is None else port
        self.user = cfg.user
        self.adv_host = cfg.advertise
        self.ports = range(cfg.rtp_port_min, cfg.rtp_port_max + 1)
        self.max_calls = cfg.max_calls
        self.prefer = 8 if bot.config.phone.codec == "pcma" else 0
        self.store: CallStore | None = None  # closed by stop()
        self.calls: dict[str, SipCall] = {}
        self._next_port = 0
        self._out: dict[str, list] = {}  # our requests waiting for a final response, by Via branch
        self._lock = threading.Lock()
        self._warned: dict[tuple, float] = {}
        self._stop = threading.Event()
        self._stopping = False
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> SipServer:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.host, self.port))
        self.port = self.sock.getsockname()[1]  # port 0 picks a free one
        if not self.adv_host:
            self.adv_host = self.host if self.host not in ("0.0.0.0", "") else _route_address()
        self.thread = threading.Thread(target=self._serve, name="sip", daemon=True)
        self.thread.start()
        log.info("SIP on udp %s:%d (sip:%s@%s:%d)", self.host, self.port, self.user, self.adv_host, self.port)
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("SIP has no authentication: anyone who reaches udp %s:%d can call the bot; "
                        "let only your PBX or phones through the firewall", self.host, self.port)
        return self

    def stop(self) -> None:
        """Hang up every call (BYE), wait for their threads, close the socket."""
        self._stopping = True  # new INVITEs get 503 from now on
        with self._lock:
            calls = list(self.calls.values())
        for call in calls:
            call.hangup("the server stopped")
        for call in calls:
            call.thread.join(10)
        end = time.monotonic() + 2.0  # a moment for the BYEs' answers (and resending them)
        while self._out and time.monotonic() < end:
            time.sleep(0.05)
        self._stop.set()
        if self.thread is not None:
            self.thread.join(5)
        if self.sock is not None:
            self.sock.close()
        if self.store is not None:
            self.store.close()
        log.info("SIP on udp %s:%d stopped (%d calls hung up)", self.host, self.port, len(calls))

    def forget(self, call: SipCall) -> None:
        with self._lock:
            if self.calls.get(call.id) is call:
                del self.calls[call.id]

    def sendto(self, data: bytes, addr) -> None:
        log.debug("SIP to %s:%d:\n%s", addr[0], addr[1], data.decode("utf8", "replace"))
        try:
            self.sock.sendto(data, addr)
        except OSError as e:
            self._warn(addr, "send", f"cannot send to {addr[0]}:{addr[1]}: {e}")

    # ---- receiving
    def _serve(self) -> None:
        while not self._stop.is_set():
            self._resend()
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM)
            except OSError:
                continue
            log.debug("SIP from %s:%d:\n%s", addr[0], addr[1], data.decode("utf8", "replace"))
            if not data.strip(b"\r\n\x00"):
                continue  # keep-alives (RFC 5626 CRLF, pyVoIP's zeros)
            try:
                msg = _Message(data)
            except Exception as e:  # pyVoIP raises anything from SIPParseError to IndexError
                self._warn(addr, "malformed", f"malformed SIP message dropped ({type(e).__name__}: {e})")
                continue
            try:
                self._handle(msg, addr)
            except Exception as e:
                self._warn(addr, "failed", f"SIP {getattr(msg, 'method', 'response')} not handled "
                                           f"({type(e).__name__}: {e})")

    def _handle(self, msg: _Message, addr) -> None:
        with self._lock:
            call = self.calls.get(msg.headers["Call-ID"])
        if msg.type == SIP.SIPMessageType.RESPONSE:
            if int(msg.status) >= 200:
                with self._lock:
                    self._out.pop(msg.headers["Via"][0].get("branch") if msg.headers["Via"] else None, None)
            if call is not None:
                call.on_response(msg)
            return
        method = msg.method
        if method == "INVITE":
            if call is None:
                return self._invite(msg, addr)
            if not call.acked:  # a retransmission: the same answer again
                return self.sendto(call.answer if call.answered else self._response(msg, 180, "Ringing", call.tag), addr)
            return self.sendto(self._response(msg, 200, "OK", call.tag, self._sdp(call)), addr)  # re-INVITE: no change
        if method == "ACK":
            if call is not None:
                call.acked = True
            return
        if method in ("BYE", "CANCEL") and call is None:
            return self.sendto(self._response(msg, 481, "Call/Transaction Does Not Exist"), addr)
        if method == "BYE":
            self.sendto(self._response(msg, 200, "OK", call.tag), addr)
            return call.end("the caller hung up")
        if method == "CANCEL":
            self.sendto(self._response(msg, 200, "OK", call.tag), addr)
            if not call.answered:  # the INVITE ends with 487 (RFC 3261 9.2); answered calls end by BYE
                invite = call.invite
                self.sendto(self._response(invite, 487, "Request Terminated", call.tag), addr)
                call.end("the caller cancelled")
            return
        if method == "NOTIFY":
            if call is None:
                return self.sendto(self._response(msg, 481, "Call/Transaction Does Not Exist"), addr)
            self.sendto(self._response(msg, 200, "OK", call.tag), addr)
            return call.on_notify(msg)
        if method == "OPTIONS":
            return self.sendto(self._response(msg, 200, "OK", extra=[f"Allow: {ALLOW}", "Accept: application/sdp"]),
                               addr)
        self.sendto(self._response(msg, 501, "Not Implemented", extra=[f"Allow: {ALLOW}"]), addr)

    def _invite(self, msg: _Message, addr) -> None:
        with self._lock:
            busy = len(self.calls) >= self.max_calls
        if self._stopping:
            return self.sendto(self._response(msg, 503, "Service Unavailable", secrets.token_hex(4)), addr)
        if busy:
            log.info("call %s from %s: %d calls already: busy", msg.headers["Call-ID"], addr[0], self.max_calls)
            return self.sendto(self._response(msg, 486, "Busy Here", secrets.token_hex(4)), addr)
        offer = _offer(msg, self.prefer)
        if isinstance(offer, str):
            self._warn(addr, "sdp", f"INVITE refused, 488: {offer}")
            return self.sendto(self._response(msg, 488, "Not Acceptable Here", secrets.token_hex(4)), addr)
        peer, pt, dtmf_pt = offer
        call = SipCall(self, msg, addr)
        call.rtp = self._rtp(pt, dtmf_pt, peer, call.id)
        if call.rtp is None:
            log.warning("call %s: no free RTP port in %d-%d: 503", call.id, self.ports.start, self.ports.stop - 1)
            return self.sendto(self._response(msg, 503, "Service Unavailable", call.tag), addr)
        call.answer = self._response(msg, 200, "OK", call.tag, self._sdp(call))
        with self._lock:
            self.calls[call.id] = call
        self.sendto(self._response(msg, 180, "Ringing", call.tag), addr)
        call.thread.start()  # it answers once the bot's side of the call is ready

    def _rtp(self, pt, dtmf_pt, peer, name) -> _Rtp | None:
        """An RTP client on the first port of the range that binds (ports in use by others are skipped)."""
        bind = self.host if self.host else "0.0.0.0"
        for _ in range(len(self.ports)):
            with self._lock:
                port = self.ports[self._next_port % len(self.ports)]
                self._next_port += 1
            rtp = _Rtp(pt, dtmf_pt, bind, port, peer, name)
            try:
                rtp.bind()
                return rtp
            except OSError:
                rtp.sin.close()
        return None

    # ---- building messages (RFC 3261 8.2.6, 12.2.1)
    def _response(self, req: _Message, code: int, reason: str, tag: str | None = None, body: str = "",
                  extra=()) -> bytes:
        lines = [f"SIP/2.0 {code} {reason}"]
        lines += [f"Via: {v}" for v in req.values("Via")]
        to = req.values("To")[0]
        if tag and ";tag=" not in to:
            to += f";tag={tag}"
        lines += [f"From: {req.values('From')[0]}", f"To: {to}", f"Call-ID: {req.headers['Call-ID']}",
                  f"CSeq: {req.values('CSeq')[0]}"]
        if code < 300 and req.method == "INVITE":
            lines.append(f"Contact: <sip:{self.user}@{self.adv_host}:{self.port}>")
        lines += [*extra, "User-Agent: voicebot"]
        lines += ["Content-Type: application/sdp"] if body else []
        lines += [f"Content-Length: {len(body.encode())}", "", body]
        return "\r\n".join(lines).encode()

    def send_request(self, call: SipCall, method: str, extra=()) -> None:
        call.cseq += 1
        inv = call.invite
        to = inv.values("To")[0]
        branch = f"z9hG4bK{secrets.token_hex(8)}"
        lines = [f"{method} {call.target} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.adv_host}:{self.port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: {to if ';tag=' in to else to + ';tag=' + call.tag}",  # we are the INVITE's To
                 f"To: {inv.values('From')[0]}",
                 f"Call-ID: {call.id}", f"CSeq: {call.cseq} {method}",
                 f"Contact: <sip:{self.user}@{self.adv_host}:{self.port}>", *extra,
                 "User-Agent: voicebot", "Content-Length: 0", "", ""]
        data, now = "\r\n".join(lines).encode(), time.monotonic()
        with self._lock:  # resent until a final response (RFC 3261 17.1.2: T1, doubling to T2, for 64 T1)
            self._out[branch] = [data, call.addr, now + T1, T1, now + 64 * T1, f"{method} of call {call.id}"]
        self.sendto(data, call.addr)

    def _resend(self) -> None:
        now, again = time.monotonic(), []
        with self._lock:
            for branch, out in list(self._out.items()):
                data, addr, due, step, give_up, what = out
                if now >= give_up:
                    del self._out[branch]
                    log.warning("SIP: no answer to our %s from %s:%d", what, *addr)
                elif now >= due:
                    out[3] = min(2 * step, T2)
                    out[2] = now + out[3]
                    again.append((data, addr))
        for data, addr in again:
            self.sendto(data, addr)

    def _sdp(self, call: SipCall) -> str:
        pt, rtp = call.rtp.pt, call.rtp
        fmts = [str(pt)] + [str(p) for p, t in rtp.assoc.items() if t == RTP.PayloadType.EVENT]
        lines = ["v=0", f"o=voicebot {rtp.outSSRC} 1 IN IP4 {self.adv_host}", "s=voicebot",
                 f"c=IN IP4 {self.adv_host}", "t=0 0", f"m=audio {rtp.inPort} RTP/AVP {' '.join(fmts)}",
                 f"a=rtpmap:{pt} {CODECS[pt]}/8000"]
        if len(fmts) > 1:
            lines += [f"a=rtpmap:{fmts[1]} telephone-event/8000", f"a=fmtp:{fmts[1]} 0-15"]
        lines += ["a=ptime:20", "a=sendrecv", ""]
        return "\r\n".join(lines)

    def _warn(self, addr, kind: str, message: str) -> None:
        key, now = (addr[0], kind), time.monotonic()
        if len(self._warned) > 10000:  # a flood from many addresses: forget, rather than grow
            self._warned.clear()
        if now - self._warned.get(key, -WARN_EVERY_S) >= WARN_EVERY_S:
            self._warned[key] = now
            log.warning("SIP from %s:%d: %s", addr[0], addr[1], message)


class _Line(Line):
    """What PhoneCall asks of the line, done by the SIP call (on PhoneCall's pace thread)."""

    def __init__(self, call: SipCall):
        self.call = call

    def send_audio(self, payload: bytes) -> None:
        self.call.send(payload)

    def hangup(self, reason: str) -> None:
        self.call.hangup(reason)

    def handover(self, uri: str) -> None:
        self.call.transfer(uri)


def phone_calls(bot, store: CallStore | None):
    """The media factory of `voicebot serve --sip`: a PhoneCall (with its record) per SIP call."""
    def media(call: SipCall) -> PhoneCall:
        # send_silence: RTP flows all call long, from PhoneCall's clock (NAT bindings, phones
        # that take a pause in RTP for a dead line); nothing is queued here, so no clear()
        return PhoneCall(bot, _Line(call), codec=CODECS[call.rtp.pt].lower(), transport="sip",
                         caller=f"sip:{call.caller}", callee=f"sip:{call.invite.headers['To']['address']}",
                         external_id=call.id, store=store, played_by="sent", send_silence=True)
    return media


def serve(bot, where: str = "", store: CallStore | None = None) -> SipServer:
    """A started SipServer on `where` (HOST:PORT, HOST or :PORT; "" the config's), one PhoneCall a
    call, their records in `store` (default: a CallStore on the config's phone.db_url)."""
    host, _, port = where.rpartition(":") if ":" in where else (where, "", "")
    try:
        port = int(port) if port else None
    except ValueError:
        raise SystemExit(f"voicebot serve: --sip wants HOST:PORT, got {where!r}") from None
    store = store or CallStore(bot.config.phone.db_url)
    server = SipServer(bot, phone_calls(bot, store), host or None, port)
    server.store = store
    return server.start()


def _offer(msg: _Message, prefer: int = 0):
    """(caller's RTP address, codec, telephone-event type or None) from the INVITE's SDP, or why not."""
    body = msg.body
    audio = [m for m in body.get("m", []) if m["type"] == "audio"]
    if not audio or not body.get("c"):
        return "no audio in the SDP offer"
    m = audio[0]
    pts = [int(p) for p in m["methods"] if p.isdigit()]
    # the bot's preferred codec (phone.codec) when offered, else the other G.711
    pt = prefer if prefer in pts else next((p for p in pts if p in CODECS), None)
    if pt is None:
        return f"no G.711 among the offered payload types {pts}"
    names = {int(p): a.get("rtpmap", {}).get("name", "") for p, a in m["attributes"].items() if p.isdigit()}
    dtmf = next((p for p in pts if names.get(p, "").lower() == "telephone-event"), None)
    return (body["c"][0]["address"], int(m["port"])), pt, dtmf


def _route_address() -> str:
    """The address of the interface with a default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
