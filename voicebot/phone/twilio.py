"""Twilio Media Streams on the wire: the JSON messages of one stream, apart from the socket.

`parse(text)` reads a message from Twilio into a small typed value (Start, Media, Mark, Stop,
Auth, Ignored) or raises BadMessage; `media`, `mark` and `clear` build the messages the bot
sends, `dumps` writes them; `next_step` is the TwiML that answers `POST /media/next`.
The messages themselves are listed in voicebot.phone.media_stream.

Parts of a message are read when they are wanted, in the order the stream session asks for
them (the payload of a media message only once the call is on, the codec only once the key
is checked), so a malformed part is met where it always was.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from html import escape as _escape
from typing import Any

MAX_PAYLOAD = 8000  # bytes of G.711: one second; Twilio sends 160 (20 ms)
ENCODINGS = {"audio/x-mulaw": "pcmu", "audio/x-alaw": "pcma"}


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
    account_sid: Any
    params: dict  # customParameters (TwiML <Parameter>): token, caller, From, To ...
    media_format: Any

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
        fmt = self.media_format or {}
        codec = ENCODINGS.get(str(fmt.get("encoding", "audio/x-mulaw")).lower())
        if codec is None or int(fmt.get("sampleRate", 8000)) != 8000 or int(fmt.get("channels", 1)) != 1:
            return None
        return codec

    def meta(self) -> dict:
        """What the call record keeps of the start (never the token)."""
        return {"streamSid": self.stream_sid, "accountSid": self.account_sid,
                "customParameters": {k: v for k, v in self.params.items() if k != "token"}}


@dataclass(frozen=True)
class Media:
    """Caller audio."""
    body: Any  # the message's "media" object

    def payload(self) -> bytes:
        """The G.711 bytes; BadMessage when they are not base64 or over a second."""
        try:
            payload = base64.b64decode((self.body or {}).get("payload", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise BadMessage("base64", "media payload is not base64, dropped") from None
        if len(payload) > MAX_PAYLOAD:
            raise BadMessage("big", f"media payload of {len(payload)} bytes (over 1 s), dropped")
        return payload


@dataclass(frozen=True)
class Mark:
    """The far end has played the audio sent before this mark."""
    body: Any  # the message's "mark" object

    def name(self) -> str:
        return str((self.body or {}).get("name", ""))


@dataclass(frozen=True)
class Stop:
    """The caller hung up."""


@dataclass(frozen=True)
class Auth:
    """The /ws convention's first message: {"type": "auth", "token": "..."}."""
    token: Any


@dataclass(frozen=True)
class Ignored:
    """connected, dtmf: nothing to do."""
    event: str


def parse(text: str):
    """One message from the far end, as a typed value; BadMessage for one to drop."""
    try:
        msg = json.loads(text)
        kind = msg.get("event") or ("auth" if msg.get("type") == "auth" else None)
    except (ValueError, AttributeError):
        raise BadMessage("json", "not a JSON object, dropped") from None
    if kind == "media":
        return Media(msg.get("media"))
    if kind == "mark":
        return Mark(msg.get("mark"))
    if kind == "start":
        start = msg.get("start") if isinstance(msg.get("start"), dict) else {}
        params = start.get("customParameters") if isinstance(start.get("customParameters"), dict) else {}
        return Start(stream_sid=str(msg.get("streamSid") or start.get("streamSid") or ""),
                     call_sid=str(start.get("callSid", "")), account_sid=start.get("accountSid", ""),
                     params=params, media_format=start.get("mediaFormat"))
    if kind == "stop":
        return Stop()
    if kind == "auth":
        return Auth(msg.get("token"))
    if kind in ("connected", "dtmf"):
        return Ignored(kind)
    raise BadMessage("event", f"unknown event {str(kind)[:40]!r}, dropped")


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
