"""One SIP call: its dialog (answered, then BYE and REFER from our side), its RTP stream, and the
thread feeding the caller's audio to its media (a PhoneCall, whose Line here is the call)."""
from __future__ import annotations

import logging
import random
import secrets
import socket
import threading
import time

from voicebot.phone.call import Line, PhoneCall
from voicebot.phone.records import CallStore
from voicebot.phone.sip import message
from voicebot.phone.sip.rtp import CODECS, FRAME

log = logging.getLogger("voicebot.phone.sip.call")


class SipCall:
    """One call: its dialog (to answer, BYE and REFER) and RTP stream, and the thread feeding media.
    `server` is the SipServer it came to, `invite` its INVITE (message.parse), from `addr`."""

    def __init__(self, server, invite, addr: tuple[str, int]):
        self.server, self.invite, self.addr = server, invite, addr
        self.id = invite.headers["Call-ID"]
        self.caller = invite.headers["From"]["address"]
        self.tag = secrets.token_hex(4)
        self.from_tag, self.branch = message.tag(invite, "From"), message.branch(invite)  # the caller's
        self.cseq = random.randint(1, 1 << 16)  # our own requests' CSeq numbers (RFC 3261 12.2.1.1)
        contact = invite.headers.get("Contact", "")
        self.target = (contact.split("<", 1)[1].split(">", 1)[0] if "<" in contact else contact.split(";")[0]) \
            or invite.headers["From"]["raw"].strip("<> ")
        # behind a proxy that record-routed the INVITE, our BYE and REFER go through it (RFC 3261
        # 12.2.1.1): to the first route's address, else straight back to where the INVITE came from
        self.route = message.route_set(invite)
        self.hop = next_hop(self.route, addr)
        self.rtp = None  # its rtp.open_stream
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
                self.server.sendto(self.server.response(self.invite, 500, "Server Internal Error", self.tag), self.addr)
            self.end(f"error: {type(e).__name__}: {e}", bye=True)
        finally:
            self._close()

    def _pump(self) -> None:
        """Every 20 ms, on a fixed schedule: 160 bytes of the caller's audio to the media object."""
        start = time.monotonic()
        t1 = self.server.t1
        next_t, resend, step = start, start + t1, t1
        while not self.ended.wait(max(0.0, next_t - time.monotonic())):
            now = time.monotonic()
            if now - next_t > 1.0:  # starved of CPU for a second: catch up by skipping, not in a burst
                next_t = now
            next_t += FRAME / 8000
            self.media.push(self.rtp.pmin.read(FRAME))
            if not self.acked and now >= resend:
                if now - start > 64 * t1:  # RFC 3261 13.3.1.4, Timer H: the dialog is torn down (BYE)
                    self.end("no ACK for our 200 OK", bye=True)
                    continue
                self.server.sendto(self.answer, self.addr)
                step = min(2 * step, 4.0)
                resend = min(now + step, start + 64 * t1 + 0.001)  # Timer H on time, not at the next resend
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
    def on_notify(self, msg) -> None:
        """The transfer's progress (RFC 3515): a final status ends our side of the call."""
        status = msg.text_body.split()[1:2]
        if self._refer_until is not None and status and status[0].isdigit() and int(status[0]) >= 200:
            self.hangup(f"handed over ({msg.text_body.strip().splitlines()[0]})")

    def on_response(self, msg) -> None:
        method = msg.headers["CSeq"]["method"]
        code = int(msg.status)
        if method == "REFER" and code >= 300:
            log.warning("call %s: the caller's phone refused the transfer (%d): hanging up", self.id, code)
            self.hangup("handover refused")


def next_hop(route: list[str], addr: tuple[str, int]) -> tuple[str, int]:
    """Where our in-dialog requests go: the first route's host and port, `addr` with no route set
    or an address that does not resolve."""
    if not route:
        return addr
    host, port = message.host_port(message.uri_of(route[0]))
    try:
        return socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)[0][4][:2]
    except (OSError, UnicodeError):
        log.warning("route %s does not resolve: our requests go to %s:%d", route[0], *addr)
        return addr


class SipLine(Line):
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
        return PhoneCall(bot, SipLine(call), codec=CODECS[call.rtp.pt].lower(), transport="sip",
                         caller=f"sip:{call.caller}", callee=f"sip:{call.invite.headers['To']['address']}",
                         external_id=call.id, store=store, played_by="sent", send_silence=True)
    return media
