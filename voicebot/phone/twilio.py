"""Twilio Media Streams on the wire: the JSON messages of one stream, apart from the socket.

`parse(text)` reads a message from Twilio into a small typed value (Start, Media, Mark, Stop,
Auth, Ignored) or raises BadMessage; `media`, `mark` and `clear` build the messages the bot
sends, `dumps` writes them; `next_step` is the TwiML that answers `POST /media/next`.
The messages themselves are listed in voicebot.phone.media_stream.

`parse` is total: whatever the text, it returns one of those values, every field of it of the
type and size the session expects, or raises BadMessage (issue 27: a mark of "x" ended a live
call). The rules: the text must be a JSON object nested at most MAX_DEPTH deep (checked before
json.loads, whose recursion 200 KB of `[[[` would exhaust); a field the bot reads that is absent
or null takes its default, one of another type, too long, or with control characters (a line
break in a log line, NUL that PostgreSQL refuses, a lone surrogate that UTF-8 cannot encode)
makes the message a BadMessage. Fields the bot does not read (sequenceNumber, tracks, the
bodies of stop and dtmf) are not checked beyond the depth and the socket's 1 MB: a stop is
the caller hanging up whatever else it says.

The payload of a media message is decoded only when wanted (once the call is on), and the codec
is judged only once the key is checked, so a malformed part is met where it always was.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from html import escape as _escape

MAX_PAYLOAD = 8000  # bytes of G.711: one second; Twilio sends 160 (20 ms)
ENCODINGS = {"audio/x-mulaw": "pcmu", "audio/x-alaw": "pcma"}
# Twilio nests 3 deep (start.customParameters.x); json.loads recurses once a level and the
# values are later logged, compared and stored (json.dumps recurses too)
MAX_DEPTH = 16
MAX_SID = 64  # Twilio's SIDs are 34 characters; the call record's external_id holds 100
MAX_NAME = 256  # a mark's name: the bot's own are "m12"
MAX_PARAMS, MAX_PARAM = 32, 1024  # customParameters: how many, and the length of a name or value
MAX_TOKEN = 1024
MAX_TEXT = 1 << 20  # a media payload: as long as the message (payload() judges its size)
_SYNTAX = b'"[]{}'  # what nesting is read from: bytes, the fastest to sift in Python
_NOT_SYNTAX = bytes(b for b in range(256) if b not in _SYNTAX)
_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_OPENERS = b"(" * (MAX_DEPTH + 1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # C0, C1 and lone surrogates


class BadMessage(ValueError):
    """A message to drop; `kind` names the fault (one log line per kind per call)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Start:
    """The call begins."""
    stream_sid: str
    call_sid: str
    account_sid: str
    params: dict  # customParameters (TwiML <Parameter>): token, caller, From, To ... (str -> str)
    media_format: dict  # of encoding (str), sampleRate and channels (int): those present

    @property
    def token(self):
        return self.params.get("token")

    @property
    def caller(self) -> str:
        return str(self.params.get("caller") or self.params.get("From") or "")

    @property
    def callee(self) -> str:
        return str(self.params.get("To") or "")

    def codec(self) -> str | None:
        """pcmu or pcma; None for a format the bot does not speak (8 kHz mono G.711 only)."""
        fmt = self.media_format
        codec = ENCODINGS.get(fmt.get("encoding", "audio/x-mulaw").lower())
        if codec is None or fmt.get("sampleRate", 8000) != 8000 or fmt.get("channels", 1) != 1:
            return None
        return codec

    def meta(self) -> dict:
        """What the call record keeps of the start (never the token)."""
        return {"streamSid": self.stream_sid, "accountSid": self.account_sid,
                "customParameters": {k: v for k, v in self.params.items() if k != "token"}}


@dataclass(frozen=True)
class Media:
    """Caller audio."""
    data: str  # media.payload: base64

    def payload(self) -> bytes:
        """The G.711 bytes; BadMessage when they are not base64 or over a second."""
        try:
            payload = base64.b64decode(self.data, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise BadMessage("base64", "media payload is not base64, dropped") from None
        if len(payload) > MAX_PAYLOAD:
            raise BadMessage("big", f"media payload of {len(payload)} bytes (over 1 s), dropped")
        return payload


@dataclass(frozen=True)
class Mark:
    """The far end has played the audio sent before this mark."""
    label: str  # mark.name

    def name(self) -> str:
        return self.label


@dataclass(frozen=True)
class Stop:
    """The caller hung up."""


@dataclass(frozen=True)
class Auth:
    """The /ws convention's first message: {"type": "auth", "token": "..."}."""
    token: str | None


@dataclass(frozen=True)
class Ignored:
    """connected, dtmf: nothing to do."""
    event: str


def parse(text: str):
    """One message from the far end, as a typed value; BadMessage for one to drop."""
    if _too_deep(text):
        raise BadMessage("deep", f"a message nested over {MAX_DEPTH} deep, dropped")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: never, with the depth checked
        msg = None
    if not isinstance(msg, dict):
        raise BadMessage("json", "not a JSON object, dropped")
    kind = msg.get("event") or ("auth" if msg.get("type") == "auth" else None)
    if kind == "media":
        return Media(_text(_object(msg, "media", "media", "media").get("payload"), "media", "media.payload", MAX_TEXT))
    if kind == "mark":
        return Mark(_text(_object(msg, "mark", "mark", "mark").get("name"), "mark", "mark.name", MAX_NAME))
    if kind == "start":
        return _start(msg)
    if kind == "stop":
        return Stop()
    if kind == "auth":
        return Auth(_text(msg.get("token"), "auth", "token", MAX_TOKEN, None))
    if kind in ("connected", "dtmf"):
        return Ignored(kind)
    shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
    raise BadMessage("event", f"unknown event {shown!r}, dropped")


def _start(msg: dict) -> Start:
    start = _object(msg, "start", "start", "start")
    params = _object(start, "customParameters", "start", "start.customParameters")
    if len(params) > MAX_PARAMS:
        raise _bad("start", "start.customParameters", f"has over {MAX_PARAMS} entries")
    for name in params:
        _text(name, "start", "a start.customParameters name", MAX_PARAM)
    fmt = _object(start, "mediaFormat", "start", "start.mediaFormat")
    media_format = {"encoding": _text(fmt.get("encoding"), "start", "start.mediaFormat.encoding", 64, None),
                    "sampleRate": _count(fmt.get("sampleRate"), "start.mediaFormat.sampleRate"),
                    "channels": _count(fmt.get("channels"), "start.mediaFormat.channels")}
    return Start(stream_sid=_text(msg.get("streamSid"), "start", "streamSid", MAX_SID)
                 or _text(start.get("streamSid"), "start", "start.streamSid", MAX_SID),
                 call_sid=_text(start.get("callSid"), "start", "start.callSid", MAX_SID),
                 account_sid=_text(start.get("accountSid"), "start", "start.accountSid", MAX_SID),
                 params={name: _text(value, "start", f"start.customParameters.{name[:40]}", MAX_PARAM)
                         for name, value in params.items()},
                 media_format={k: v for k, v in media_format.items() if v is not None})


def _too_deep(text: str) -> bool:
    """Nested over MAX_DEPTH, found without recursion and in C-speed passes: escapes out (an escaped
    quote ends no string), then all but quotes and brackets, then the strings (a string never
    closed runs to the end: json.loads stops there); then MAX_DEPTH passes that each take out the
    innermost pairs. What is left are openers never closed, which json.loads would also descend
    into before it found the fault."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # every message Twilio sends
        return False
    bare = text.replace("\\\\", "").replace('\\"', "").encode("utf-8", "surrogatepass").translate(None, _NOT_SYNTAX)
    marks = b"".join(bare.split(b'"')[::2]).translate(_BRACKETS)
    if _OPENERS in marks:  # that many openers in a row: nested that deep
        return True
    for depth in range(MAX_DEPTH + 1):
        inner = marks.replace(b"()", b"")
        if inner == marks:
            return depth + marks.count(b"(") > MAX_DEPTH
        marks = inner
    return True


def _bad(event: str, where: str, why: str) -> BadMessage:
    return BadMessage(event, f"{event} message: {where} {why}, dropped")


def _object(msg: dict, key: str, event: str, where: str) -> dict:
    """msg[key], a JSON object; {} when absent or null."""
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(event, where, "is not an object")
    return value


def _text(value, event: str, where: str, limit: int, default: str | None = "") -> str | None:
    """A string field: `default` when absent or null."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(event, where, "is not a string")
    if len(value) > limit:
        raise _bad(event, where, f"is over {limit} characters")
    if _CONTROL.search(value):
        raise _bad(event, where, "has control characters")
    return value


def _count(value, where: str) -> int | None:
    """A mediaFormat number: an int or a string of digits (as the codec check always took); None when absent."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        return int(value)
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**6):
        return value
    raise _bad("start", where, "is not a whole number up to 1000000")


def media(stream_sid: str, payload: bytes) -> dict:
    """20 ms of the bot's voice (G.711 in the call's codec)."""
    return {"event": "media", "streamSid": stream_sid, "media": {"payload": base64.b64encode(payload).decode()}}


def mark(stream_sid: str, name: str) -> dict:
    """Ask the far end to echo `name` once it has played the audio sent before it."""
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


def clear(stream_sid: str) -> dict:
    """Barge-in: the far end drops the bot audio it has not played (and echoes the marks queued)."""
    return {"event": "clear", "streamSid": stream_sid}


def is_audio(msg) -> bool:
    return isinstance(msg, dict) and msg["event"] == "media"


def dumps(msg: dict) -> str:
    return json.dumps(msg)


def next_step(uri: str | None) -> str:
    """The TwiML for `POST /media/next`: a <Dial> to `uri`, where the call was handed over, else <Hangup/>."""
    if uri:
        target = f"<Sip>{_escape(uri, quote=False)}</Sip>" if uri.startswith(("sip:", "sips:")) else _escape(uri, quote=False)
        twiml = f"<Response><Dial>{target}</Dial></Response>"
    else:
        twiml = "<Response><Hangup/></Response>"
    return f'<?xml version="1.0" encoding="UTF-8"?>{twiml}'
