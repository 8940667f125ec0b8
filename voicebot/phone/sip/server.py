"""The bot's SIP user agent: one UDP socket answering every peer at the address it came from,
each request dispatched to its call, and our own requests (BYE, REFER) resent until answered
(RFC 3261 17.1.2)."""
from __future__ import annotations

import logging
import secrets
import select
import socket
import threading
import time

from voicebot.phone.records import CallStore
from voicebot.phone.sip import message, pyvoip, sdp
from voicebot.phone.sip.call import SipCall, phone_calls
from voicebot.phone.sip.message import ALLOW, T1, T2
from voicebot.phone.sip.rtp import open_stream

log = logging.getLogger("voicebot.phone.sip.server")

MAX_DATAGRAM = 65535
WARN_EVERY_S = 10.0  # one log line per source and kind of bad input in this time, not one per datagram


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
        pyvoip.sip()  # imported now, not when the first call comes
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
                msg = message.parse(data)
            except Exception as e:  # pyVoIP raises anything from SIPParseError to IndexError
                self._warn(addr, "malformed", f"malformed SIP message dropped ({type(e).__name__}: {e})")
                continue
            try:
                self._handle(msg, addr)
            except Exception as e:
                self._warn(addr, "failed", f"SIP {getattr(msg, 'method', 'response')} not handled "
                                           f"({type(e).__name__}: {e})")

    def _handle(self, msg, addr) -> None:
        with self._lock:
            call = self.calls.get(msg.headers["Call-ID"])
        if message.is_response(msg):
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
                return self.sendto(call.answer if call.answered else self.response(msg, 180, "Ringing", call.tag), addr)
            # a re-INVITE: no change
            return self.sendto(self.response(msg, 200, "OK", call.tag, sdp.answer(call.rtp, self.adv_host)), addr)
        if method == "ACK":
            if call is not None:
                call.acked = True
            return
        if method in ("BYE", "CANCEL") and call is None:
            return self.sendto(self.response(msg, 481, "Call/Transaction Does Not Exist"), addr)
        if method == "BYE":
            self.sendto(self.response(msg, 200, "OK", call.tag), addr)
            return call.end("the caller hung up")
        if method == "CANCEL":
            self.sendto(self.response(msg, 200, "OK", call.tag), addr)
            if not call.answered:  # the INVITE ends with 487 (RFC 3261 9.2); answered calls end by BYE
                invite = call.invite
                self.sendto(self.response(invite, 487, "Request Terminated", call.tag), addr)
                call.end("the caller cancelled")
            return
        if method == "NOTIFY":
            if call is None:
                return self.sendto(self.response(msg, 481, "Call/Transaction Does Not Exist"), addr)
            self.sendto(self.response(msg, 200, "OK", call.tag), addr)
            return call.on_notify(msg)
        if method == "OPTIONS":
            return self.sendto(self.response(msg, 200, "OK", extra=[f"Allow: {ALLOW}", "Accept: application/sdp"]),
                               addr)
        self.sendto(self.response(msg, 501, "Not Implemented", extra=[f"Allow: {ALLOW}"]), addr)

    def _invite(self, msg, addr) -> None:
        with self._lock:
            busy = len(self.calls) >= self.max_calls
        if self._stopping:
            return self.sendto(self.response(msg, 503, "Service Unavailable", secrets.token_hex(4)), addr)
        if busy:
            log.info("call %s from %s: %d calls already: busy", msg.headers["Call-ID"], addr[0], self.max_calls)
            return self.sendto(self.response(msg, 486, "Busy Here", secrets.token_hex(4)), addr)
        offer = sdp.offer(msg, self.prefer)
        if isinstance(offer, str):
            self._warn(addr, "sdp", f"INVITE refused, 488: {offer}")
            return self.sendto(self.response(msg, 488, "Not Acceptable Here", secrets.token_hex(4)), addr)
        peer, pt, dtmf_pt = offer
        call = SipCall(self, msg, addr)
        call.rtp = self._rtp(pt, dtmf_pt, peer, call.id)
        if call.rtp is None:
            log.warning("call %s: no free RTP port in %d-%d: 503", call.id, self.ports.start, self.ports.stop - 1)
            return self.sendto(self.response(msg, 503, "Service Unavailable", call.tag), addr)
        call.answer = self.response(msg, 200, "OK", call.tag, sdp.answer(call.rtp, self.adv_host))
        with self._lock:
            self.calls[call.id] = call
        self.sendto(self.response(msg, 180, "Ringing", call.tag), addr)
        call.thread.start()  # it answers once the bot's side of the call is ready

    def _rtp(self, pt, dtmf_pt, peer, name):
        """An RTP stream on the first port of the range that binds (ports in use by others are skipped)."""
        bind = self.host if self.host else "0.0.0.0"
        for _ in range(len(self.ports)):
            with self._lock:
                port = self.ports[self._next_port % len(self.ports)]
                self._next_port += 1
            rtp = open_stream(pt, dtmf_pt, bind, port, peer, name)
            try:
                rtp.bind()
                return rtp
            except OSError:
                rtp.sin.close()
        return None

    # ---- sending
    def response(self, req, code: int, reason: str, tag: str | None = None, body: str = "", extra=()) -> bytes:
        return message.response(req, code, reason, tag, body, extra, self._contact())

    def send_request(self, call: SipCall, method: str, extra=()) -> None:
        call.cseq += 1
        branch = f"z9hG4bK{secrets.token_hex(8)}"
        data = message.request(call, method, f"{self.adv_host}:{self.port}", branch, self._contact(), extra)
        now = time.monotonic()
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

    def _contact(self) -> str:
        return f"sip:{self.user}@{self.adv_host}:{self.port}"

    def _warn(self, addr, kind: str, text: str) -> None:
        key, now = (addr[0], kind), time.monotonic()
        if len(self._warned) > 10000:  # a flood from many addresses: forget, rather than grow
            self._warned.clear()
        if now - self._warned.get(key, -WARN_EVERY_S) >= WARN_EVERY_S:
            self._warned[key] = now
            log.warning("SIP from %s:%d: %s", addr[0], addr[1], text)


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


def _route_address() -> str:
    """The address of the interface with a default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
