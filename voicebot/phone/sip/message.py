"""SIP messages: reading them with pyVoIP's parser, made lenient, and building the few this
line sends (RFC 3261 8.2.6, 12.2.1), since pyVoIP's builders get them wrong (pyvoip.py).

pyVoIP's parser, worked around: header lines without ": " (baresip's empty `Supported:`) raise
IndexError in it and the INVITE was dropped silently; methods it does not know (OPTIONS, NOTIFY)
are unparseable; a non-SDP body (NOTIFY's sipfrag) raises.
"""
from __future__ import annotations

import functools

from voicebot.phone.sip import pyvoip

T1 = 0.5  # RFC 3261's round-trip estimate: 200 OK is resent after T1, 2 T1, ... until ACK
T2 = 4.0  # ... and our BYE/REFER up to every T2 until a final response
METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "NOTIFY", "REFER", "INFO", "UPDATE",
           "MESSAGE", "SUBSCRIBE", "PRACK", "REGISTER", "PUBLISH"]
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY"
COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "c": "Content-Type",
           "l": "Content-Length", "k": "Supported", "r": "Refer-To", "o": "Event"}
CANONICAL = {n.lower(): n for n in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Type",
                                    "Content-Length", "Supported", "Allow", "Event", "Refer-To")}


def parse(data: bytes):
    """A datagram as a SIP message (pyVoIP's SIPMessage, lenient); raises anything from
    SIPParseError to IndexError on what is not SIP."""
    return _message_class()(data)


def is_response(msg) -> bool:
    return msg.type == pyvoip.sip().SIPMessageType.RESPONSE


@functools.cache
def _message_class():
    SIP = pyvoip.sip()

    class Message(SIP.SIPMessage):
        """pyVoIP's parser, lenient where real phones differ from what it expects."""

        def parse(self, data: bytes) -> None:
            # pyVoIP takes any other method for garbage; these are answered (200 or 501), not dropped
            self.SIPCompatibleMethods = METHODS
            self.fields: list[tuple[str, str]] = []  # (name, value) as received, for copying into replies
            self.text_body = ""
            self.sdp_error = ""  # why pyVoIP could not read the SDP body, if it could not
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
                try:
                    SIP.SIPMessage.parse_raw_body(body, handle)
                except Exception as e:  # a bad SDP is the offer's fault (488), not a bad message
                    self.sdp_error = f"{type(e).__name__}: {e}"

        def values(self, name: str) -> list[str]:
            return [v for n, v in self.fields if n == name]

    return Message


def tag(msg, name: str) -> str:
    """The tag parameter of `msg`'s From or To header (`name`), "" if none."""
    value = msg.values(name)[0] if msg.values(name) else ""
    params = value.rsplit(">", 1)[-1] if "<" in value else value  # a URI's own parameters are not the header's
    for param in params.split(";")[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == "tag":
            return val.strip()
    return ""


def branch(msg) -> str:
    """The top Via's branch parameter, "" if none."""
    via = msg.values("Via")[0].split(",")[0] if msg.values("Via") else ""
    for param in via.split(";")[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == "branch":
            return val.strip()
    return ""


def response(req, code: int, reason: str, tag: str | None, body: str, extra, contact: str) -> bytes:
    """Our answer to `req`: its Via, From, Call-ID and CSeq as they came, our `tag` on its To,
    `contact` (a SIP URI) in a 2xx to INVITE, `body` SDP."""
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in req.values("Via")]
    to = req.values("To")[0]
    if tag and ";tag=" not in to:
        to += f";tag={tag}"
    lines += [f"From: {req.values('From')[0]}", f"To: {to}", f"Call-ID: {req.headers['Call-ID']}",
              f"CSeq: {req.values('CSeq')[0]}"]
    if code < 300 and req.method == "INVITE":
        lines.append(f"Contact: <{contact}>")
    lines += [*extra, "User-Agent: voicebot"]
    lines += ["Content-Type: application/sdp"] if body else []
    lines += [f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines).encode()


def request(call, method: str, sent_by: str, branch: str, contact: str, extra=()) -> bytes:
    """`method` in `call`'s dialog (a SipCall, its CSeq already counted), from `sent_by`
    (HOST:PORT): we are the From here, being its INVITE's To."""
    inv = call.invite
    to = inv.values("To")[0]
    lines = [f"{method} {call.target} SIP/2.0",
             f"Via: SIP/2.0/UDP {sent_by};branch={branch};rport",
             "Max-Forwards: 70",
             f"From: {to if ';tag=' in to else to + ';tag=' + call.tag}",  # we are the INVITE's To
             f"To: {inv.values('From')[0]}",
             f"Call-ID: {call.id}", f"CSeq: {call.cseq} {method}",
             f"Contact: <{contact}>", *extra,
             "User-Agent: voicebot", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()
