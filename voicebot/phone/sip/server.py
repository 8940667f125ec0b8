"""The bot's SIP user agent: one UDP socket answering every peer at the address it came from,
each request dispatched to its call, and our own requests (BYE, REFER) resent until answered
(RFC 3261 17.1.2)."""
from __future__ import annotations

import ipaddress
import logging
import secrets
import select
import socket
import threading
import time

from voicebot.phone.records import CallStore
from voicebot.phone.sip import message, pyvoip, sdp
from voicebot.phone.sip.call import SipCall, phone_calls
from voicebot.phone.sip.message import ALLOW, T2
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
        self.max_calls = cfg.max_calls  # calls up (ACKed); as many again may be being set up
        self.max_setup = cfg.max_setup_per_address
        self.t1 = cfg.t1_s
        self.latch_any = cfg.rtp_latch_any
        self.trusted = networks(cfg.trusted)
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
        if not loopback(self.host) and not self.trusted:
            log.warning("SIP has no authentication: anyone who reaches udp %s:%d can call the bot; "
                        "let only your PBX or phones through the firewall", self.host, self.port)
        return self

    def drain(self, why: str = "server stopping", timeout: float = 15.0) -> None:
        """New INVITEs and OPTIONS get 503 from now on; every call is hung up (BYE; one still
        ringing gets 503) and closed, its record written. Returns once their threads are done."""
        self._stopping = True
        end = time.monotonic() + timeout
        with self._lock:
            calls = list(self.calls.values())
        for call in calls:
            if not call.answered:
                call.end(why)
                self.sendto(self.response(call.invite, 503, "Service Unavailable", call.tag), call.addr)
            else:
                call.hangup(why)
        for call in calls:
            if call.thread.ident is not None:  # started (_invite starts it just after listing it)
                call.thread.join(max(0.0, end - time.monotonic()))

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
                first = data.split(b"\r\n", 1)[0][:60]
                self._warn(addr, "malformed", f"malformed SIP message {first!r} dropped ({type(e).__name__}: {e})")
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
            with self._lock:  # only a final answer to one of ours, from where we sent it
                out = self._out.get(message.branch(msg)) if int(msg.status) >= 200 else None
                if out is not None and out[1] == addr:
                    del self._out[message.branch(msg)]
                else:
                    out = None
            if out is not None and call is not None:
                call.on_response(msg)
            return
        method = msg.method
        # in-dialog requests must be the caller's (RFC 3261 12.2.2): its Call-ID, both tags and
        # the address the INVITE came from; anyone who knows a Call-ID could end the call otherwise
        mine = call is not None and in_dialog(call, msg, addr)
        if method == "INVITE":
            if call is None and not message.tag(msg, "To"):
                return self._invite(msg, addr)
            if call is not None and not message.tag(msg, "To") and resent(call, msg, addr):
                if not call.acked:  # the INVITE again: the same answer again
                    self.sendto(call.answer if call.answered else self.response(msg, 180, "Ringing", call.tag), addr)
                return
            if mine:  # a re-INVITE: no change
                return self.sendto(self.response(msg, 200, "OK", call.tag, sdp.answer(call.rtp, self.adv_host)), addr)
            return self._no_dialog(msg, addr)
        if method == "ACK":  # the caller's ACK to our 200: the call is up, and takes its slot
            if mine and call.answered and not call.acked:
                with self._lock:
                    full = sum(c.acked and not c.ended.is_set() for c in self.calls.values()) >= self.max_calls
                    call.acked = True
                if full:  # more were being set up than there are slots: this one is last
                    call.hangup(f"{self.max_calls} calls already")
            return
        if method == "CANCEL" and call is not None and resent(call, msg, addr):  # RFC 3261 9.2
            self.sendto(self.response(msg, 200, "OK", call.tag), addr)
            if not call.answered:  # the INVITE ends with 487 (RFC 3261 9.2); answered calls end by BYE
                self.sendto(self.response(call.invite, 487, "Request Terminated", call.tag), addr)
                call.end("the caller cancelled")
            return
        if method in ("BYE", "CANCEL", "NOTIFY") and not mine:
            return self._no_dialog(msg, addr)
        if method == "BYE":
            self.sendto(self.response(msg, 200, "OK", call.tag), addr)
            return call.end("the caller hung up")
        if method == "NOTIFY":
            self.sendto(self.response(msg, 200, "OK", call.tag), addr)
            return call.on_notify(msg)
        if method == "OPTIONS":  # a proxy's probe: draining or full takes us out of its rotation
            return self.sendto(self._options(msg), addr)
        self.sendto(self.response(msg, 501, "Not Implemented", extra=[f"Allow: {ALLOW}"]), addr)

    def _options(self, msg) -> bytes:
        """The answer to OPTIONS, as an INVITE now would get it (RFC 3261 11.2): 503 while
        draining, 486 while every slot is taken, else 200 with what we take."""
        tag = secrets.token_hex(4)
        if self._stopping:
            return self.response(msg, 503, "Service Unavailable", tag, extra=["Retry-After: 30"])
        if self.full():
            return self.response(msg, 486, "Busy Here", tag)
        return self.response(msg, 200, "OK", tag, extra=[f"Allow: {ALLOW}", "Accept: application/sdp"])

    def active(self) -> int:
        """Calls up or being set up now (a call whose end is being written is not)."""
        with self._lock:
            return sum(not c.ended.is_set() for c in self.calls.values())

    def full(self) -> bool:
        """Every call slot taken (calls up), or as many being set up: a new INVITE would get 486."""
        with self._lock:
            calls = [c for c in self.calls.values() if not c.ended.is_set()]
        acked = sum(c.acked for c in calls)
        return acked >= self.max_calls or len(calls) - acked >= self.max_calls

    def _no_dialog(self, msg, addr) -> None:
        self._warn(addr, "dialog", f"{msg.method} of call {msg.headers['Call-ID']!r} refused, 481: "
                                   "no such dialog from this address")
        self.sendto(self.response(msg, 481, "Call/Transaction Does Not Exist"), addr)

    def _invite(self, msg, addr) -> None:
        if self._stopping:
            return self.sendto(self.response(msg, 503, "Service Unavailable", secrets.token_hex(4)), addr)
        trusted = any(ipaddress.ip_address(addr[0]) in net for net in self.trusted)
        if self.trusted and not trusted:
            self._warn(addr, "untrusted", f"INVITE refused, 403: {addr[0]} is not in sip.trusted")
            return self.sendto(self.response(msg, 403, "Forbidden", secrets.token_hex(4)), addr)
        with self._lock:  # a call that has ended holds no slot while its record is written
            calls = [c for c in self.calls.values() if not c.ended.is_set()]
        setting_up = [c for c in calls if not c.acked]  # no ACK yet: no slot, until Timer H ends them
        from_here = sum(c.addr[0] == addr[0] for c in setting_up)
        if len(calls) - len(setting_up) >= self.max_calls:
            log.info("call %s from %s: %d calls already: busy", msg.headers["Call-ID"], addr[0], self.max_calls)
            return self.sendto(self.response(msg, 486, "Busy Here", secrets.token_hex(4)), addr)
        if len(setting_up) >= self.max_calls or (from_here >= self.max_setup and not trusted):
            self._warn(addr, "setup", f"INVITE refused, 486: {from_here} calls from {addr[0]} and "
                                      f"{len(setting_up)} in all being set up (never ACKed?)")
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
            rtp = open_stream(pt, dtmf_pt, bind, port, peer, name, self.latch_any)
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
            self._out[branch] = [data, call.hop, now + self.t1, self.t1, now + 64 * self.t1,
                                 f"{method} of call {call.id}"]
        self.sendto(data, call.hop)

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


def in_dialog(call: SipCall, msg, addr) -> bool:
    """`msg` is a request in `call`'s dialog from its caller: both tags, and the INVITE's address."""
    return addr == call.addr and message.tag(msg, "From") == call.from_tag and message.tag(msg, "To") == call.tag


def resent(call: SipCall, msg, addr) -> bool:
    """`msg` (an INVITE again, or a CANCEL) is of `call`'s INVITE transaction (RFC 3261 9.2, 17.2.3):
    its branch, CSeq number and From tag, from the INVITE's address."""
    return (addr == call.addr and message.branch(msg) == call.branch and message.tag(msg, "From") == call.from_tag
            and msg.values("CSeq")[0].split()[:1] == call.invite.values("CSeq")[0].split()[:1])


def networks(trusted) -> list:
    """sip.trusted (a list, or a string split on commas and spaces) as ip_networks."""
    items = trusted.replace(",", " ").split() if isinstance(trusted, str) else trusted
    return [ipaddress.ip_network(str(a).strip(), strict=False) for a in items]


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


def loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach it."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _route_address() -> str:
    """The address of the interface with a default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
