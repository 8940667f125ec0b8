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
                                    "Content-Length", "Supported", "Allow", "Event", "Refer-To",
                                    "Record-Route", "Route")}


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
    if 100 < code < 300 and req.method == "INVITE":  # RFC 3261 12.1.1: the proxies that asked stay on the path
        lines += [f"Record-Route: {v}" for v in req.values("Record-Route")]
    lines += [*extra, "User-Agent: voicebot"]
    lines += ["Content-Type: application/sdp"] if body else []
    lines += [f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines).encode()


def request(call, method: str, sent_by: str, branch: str, contact: str, extra=()) -> bytes:
    """`method` in `call`'s dialog (a SipCall, its CSeq already counted), from `sent_by`
    (HOST:PORT): we are the From here, being its INVITE's To."""
    inv = call.invite
    to = inv.values("To")[0]
    uri, route = call.target, call.route
    if route and not loose(route[0]):  # a strict router (RFC 2543): it is the Request-URI (RFC 3261 12.2.1.1)
        uri, route = uri_of(route[0]), [*route[1:], f"<{call.target}>"]
    lines = [f"{method} {uri} SIP/2.0",
             f"Via: SIP/2.0/UDP {sent_by};branch={branch};rport",
             "Max-Forwards: 70",
             f"From: {to if ';tag=' in to else to + ';tag=' + call.tag}",  # we are the INVITE's To
             f"To: {inv.values('From')[0]}",
             f"Call-ID: {call.id}", f"CSeq: {call.cseq} {method}", *[f"Route: {r}" for r in route],
             f"Contact: <{contact}>", *extra,
             "User-Agent: voicebot", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def route_set(invite) -> list[str]:
    """The dialog's route set as the answering side keeps it (RFC 3261 12.1.1): the INVITE's
    Record-Route entries in their order (the proxy nearest to us first), each as it came."""
    return [entry for value in invite.values("Record-Route") for entry in entries(value)]


def entries(value: str) -> list[str]:
    """A header value's comma-separated entries (`<sip:a;lr>, <sip:b;lr>`); commas inside <> or
    quotes are the entry's own."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "<>":
            depth += 1 if ch == "<" else -1
        elif ch == "," and not quoted and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [e for e in out if e]


def uri_of(entry: str) -> str:
    """The URI of a name-addr (`"x" <sip:h;lr>;p=1` -> `sip:h;lr`) or of a bare addr-spec."""
    return entry.split("<", 1)[1].split(">", 1)[0] if "<" in entry else entry.split(";", 1)[0].strip()


def loose(entry: str) -> bool:
    """A route entry whose URI has `lr` (a loose router, RFC 3261 16.4; `lr=on` too)."""
    params = uri_of(entry).split("?", 1)[0].split(";")[1:]
    return any(p.split("=", 1)[0].strip().lower() == "lr" for p in params)


def host_port(uri: str) -> tuple[str, int]:
    """A SIP URI's host and port (5060 when none): `sip:bot@127.0.0.2:5070;lr` -> (127.0.0.2, 5070)."""
    rest = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    rest = rest.split(";", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if rest.startswith("["):  # an IPv6 reference
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = rest.partition(":")
    return host, int(port) if port.isdigit() else 5060
