"""Twilio Media Streams compatible phone calls: `WS /media` of `voicebot serve`.

A cloud phone number streams each call here (TwiML `<Connect><Stream url="wss://HOST/media">`);
one WebSocket is one call, one PhoneCall (voicebot.phone.call). JSON text messages, as Twilio sends:
client -> server
  {"event": "connected", "protocol": "Call", "version": "1.0.0"}
  {"event": "start", "streamSid": "MZ..", "start": {"streamSid", "callSid", "accountSid", "tracks",
       "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
       "customParameters": {"token": "...", "caller": "+1555..."}}}   the call begins
  {"event": "media", "streamSid", "media": {"track": "inbound", "chunk", "timestamp",
       "payload": "<base64 mu-law, 8 kHz, 20 ms>"}}
  {"event": "mark", "streamSid", "mark": {"name": "m12"}}   the audio before that mark was played
  {"event": "dtmf", ...}                                    ignored
  {"event": "stop", "streamSid", "stop": {"callSid", ...}}   the caller hung up
server -> client
  {"event": "media", "streamSid", "media": {"payload": "<base64 mu-law, 20 ms>"}}   in real time
  {"event": "mark", "streamSid", "mark": {"name": "m12"}}   every 200 ms of audio and at a reply's end;
                                          echo it once played (the bot counts what the caller heard)
  {"event": "clear", "streamSid"}         barge-in: drop the bot audio not yet played (and echo the
                                          marks still queued, as Twilio does; they are then ignored)
The bot ends the call by closing the socket (1000): Twilio then goes on with the TwiML after
<Connect>. With `<Connect action="https://HOST/media/next">` Twilio asks `POST /media/next`
(form field CallSid) what to do next: `<Dial>` to `phone.handover_uri` when the bot handed the
call over, else `<Hangup/>`.

Auth (voicebot/access.py): a call must bring a client's key before its `start` is accepted: in
the upgrade's Authorization header, as the `start`'s customParameters.token (TwiML
`<Parameter name="token">`; Twilio allows no query string in the Stream URL) or as a first
message {"type": "auth", "token": "..."} (the /ws convention). Never in the URL (it would be in
every proxy's log). Else the socket is closed with 1008. `POST /media/next` takes the key as
HTTP Basic auth (`https://NAME:KEY@HOST/media/next` in the TwiML action URL).
Faults, each one log line per kind per call, never the server nor other calls: not JSON or not
an object, binary messages, unknown events, `media` before `start`, a payload that is not
base64 or over 1 s: the message is dropped; a message over 1 MB: the socket is closed (1009);
the client vanishing: the call ends. The call record is written in every case.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import threading
from collections import OrderedDict, deque
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from voicebot.phone.call import Line, PhoneCall

log = logging.getLogger("voicebot.media")
MAX_MESSAGE = 1 << 20
MAX_PAYLOAD = 8000  # bytes of G.711: one second; Twilio sends 160 (20 ms)
ENCODINGS = {"audio/x-mulaw": "pcmu", "audio/x-alaw": "pcma"}
_HANGUP = object()


def routes(bot, access, calls: set) -> list:
    """The /media WebSocket and the /media/next TwiML webhook, for make_app."""
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    shared = {"store": None, "lock": threading.Lock(), "handed": OrderedDict()}  # callSid -> handover URI

    def store():  # opened at the first call: a server used only from the browser needs no database
        with shared["lock"]:
            if shared["store"] is None:
                from voicebot.phone.records import CallStore
                shared["store"] = CallStore(bot.config.phone.db_url)
            return shared["store"]

    async def media(websocket):
        await websocket.accept()
        conn = MediaCall(bot, websocket, access, store, shared["handed"])
        calls.add(conn)
        try:
            await conn.run()
        finally:
            calls.discard(conn)

    async def next_step(request):
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        uri = shared["handed"].pop((form.get("CallSid") or [""])[0], None)
        if uri:
            target = f"<Sip>{escape(uri)}</Sip>" if uri.startswith(("sip:", "sips:")) else escape(uri)
            twiml = f"<Response><Dial>{target}</Dial></Response>"
        else:
            twiml = "<Response><Hangup/></Response>"
        return Response(f'<?xml version="1.0" encoding="UTF-8"?>{twiml}', media_type="application/xml")

    return [WebSocketRoute("/media", media), Route("/media/next", next_step, methods=["POST"])]


class StreamLine(Line):
    """PhoneCall -> the socket: called on the call's threads, handed to the event loop."""

    def __init__(self, conn: "MediaCall"):
        self.conn = conn

    def send_audio(self, payload: bytes) -> None:
        self.conn.post({"event": "media", "streamSid": self.conn.sid,
                        "media": {"payload": base64.b64encode(payload).decode()}})

    def mark(self, name: str) -> None:
        self.conn.post({"event": "mark", "streamSid": self.conn.sid, "mark": {"name": name}})

    def clear(self) -> None:
        self.conn.post({"event": "clear", "streamSid": self.conn.sid})

    def hangup(self, reason: str) -> None:
        self.conn.post(_HANGUP)

    def handover(self, uri: str) -> None:
        if self.conn.call_sid:
            handed = self.conn.handed
            handed[self.conn.call_sid] = uri
            while len(handed) > 1000:  # webhooks never asked for: forget the oldest
                handed.popitem(last=False)
        self.conn.post(_HANGUP)


class MediaCall:
    def __init__(self, bot, websocket, access, store, handed):
        self.bot, self.ws, self.access, self.store, self.handed = bot, websocket, access, store, handed
        self.loop = asyncio.get_running_loop()
        self.call: PhoneCall | None = None
        self.sid = self.call_sid = ""
        self.client = websocket.scope.get("voicebot.client")  # None: no key or session at the upgrade
        self.outbox: deque = deque()
        self.wake = asyncio.Event()
        self.warned: set[str] = set()
        self.ip = websocket.client.host if websocket.client else "?"
        self.peer = f"{self.ip}:{websocket.client.port}" if websocket.client else "?"

    async def run(self) -> None:
        sender = asyncio.create_task(self._send_loop())
        why = "closed"
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    why = f"client left (code {msg.get('code')})"
                    break
                text, data = msg.get("text"), msg.get("bytes")
                if len(text or data or "") > MAX_MESSAGE:  # uvicorn's ws_max_size does this first
                    why = "message over 1 MB"
                    await self.ws.close(1009, "message too big")
                    break
                if data is not None:
                    self._bad("binary", "binary message (the protocol is JSON text), dropped")
                    continue
                end = await self._handle(text or "")
                if end:
                    why = end
                    break
        except Exception as e:  # a bug or a broken socket ends this call, never the server
            why = f"ended by {type(e).__name__}: {e}"
        finally:
            sender.cancel()
            if self.call is not None:
                await asyncio.to_thread(self.call.close, why)
            else:
                log.info("media %s: %s before the call started", self.peer, why)

    async def _handle(self, text: str) -> str | None:
        """One JSON message; returns why the call ends, or None."""
        try:
            msg = json.loads(text)
            kind = msg.get("event") or ("auth" if msg.get("type") == "auth" else None)
        except (ValueError, AttributeError):
            self._bad("json", "not a JSON object, dropped")
            return None
        if kind == "media":
            if self.call is None:
                self._bad("early", "media before start, dropped")
                return None
            try:
                payload = base64.b64decode((msg.get("media") or {}).get("payload", ""), validate=True)
            except (binascii.Error, TypeError, ValueError):
                self._bad("base64", "media payload is not base64, dropped")
                return None
            if len(payload) > MAX_PAYLOAD:
                self._bad("big", f"media payload of {len(payload)} bytes (over 1 s), dropped")
                return None
            self.call.push(payload)
        elif kind == "mark":
            if self.call is not None:
                self.call.mark_played(str((msg.get("mark") or {}).get("name", "")))
        elif kind == "start":
            return await self._start(msg)
        elif kind == "stop":
            return "stop: the caller hung up"
        elif kind == "auth":
            self.client = self.client or self.access.check(self.ip, msg.get("token"), "media auth")
        elif kind not in ("connected", "dtmf"):
            self._bad("event", f"unknown event {str(kind)[:40]!r}, dropped")
        return None

    async def _start(self, msg: dict) -> str | None:
        if self.call is not None:
            self._bad("restart", "a second start on one stream, dropped")
            return None
        start = msg.get("start") if isinstance(msg.get("start"), dict) else {}
        params = start.get("customParameters") if isinstance(start.get("customParameters"), dict) else {}
        self.client = self.client or self.access.check(self.ip, params.get("token"), "media auth")
        if self.client is None:
            await self.ws.close(1008, "unauthorized")
            return "refused: no or wrong token"
        fmt = start.get("mediaFormat") or {}
        codec = ENCODINGS.get(str(fmt.get("encoding", "audio/x-mulaw")).lower())
        if codec is None or int(fmt.get("sampleRate", 8000)) != 8000 or int(fmt.get("channels", 1)) != 1:
            log.info("media %s: unsupported mediaFormat %s", self.peer, fmt)
            await self.ws.close(1003, "unsupported mediaFormat")
            return "unsupported mediaFormat"
        self.sid = str(msg.get("streamSid") or start.get("streamSid") or "")
        self.call_sid = str(start.get("callSid", ""))
        meta = {"streamSid": self.sid, "accountSid": start.get("accountSid", ""),
                "customParameters": {k: v for k, v in params.items() if k != "token"}}
        try:
            store = await asyncio.to_thread(self.store)
        except Exception as e:  # a database URL that cannot work: the call goes on unrecorded, said loudly
            self._bad("store", f"call records off: {type(e).__name__}: {e}")
            store = None
        self.call = await asyncio.to_thread(
            PhoneCall, self.bot, StreamLine(self), codec, transport="media-stream",
            caller=str(params.get("caller") or params.get("From") or ""), callee=str(params.get("To") or ""),
            external_id=self.call_sid, store=store, played_by="marks", meta=meta)
        log.info("media %s: call %s started (callSid %s)", self.peer, self.call.id[:8], self.call_sid or "-")
        self.access.audit(self.client, "call", transport="media-stream", call=self.call.id, peer=self.peer)
        return None

    def _bad(self, kind: str, message: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            log.info("media %s: %s", self.peer, message)

    # ---- the call's threads -> the loop -> the socket
    def post(self, msg) -> None:
        try:
            self.loop.call_soon_threadsafe(self._post, msg)
        except RuntimeError:  # the loop is gone (server shutting down): nobody to send to
            pass

    def _post(self, msg) -> None:
        if isinstance(msg, dict) and msg["event"] == "clear":  # the control path: before any queued audio
            from voicebot.live.output import cut_in
            cut_in(self.outbox, msg, lambda m: isinstance(m, dict) and m["event"] == "media")
        else:
            self.outbox.append(msg)
        self.wake.set()

    async def _send_loop(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.outbox:
                    msg = self.outbox.popleft()
                    if msg is _HANGUP:
                        await self.ws.close(1000)
                        return
                    await self.ws.send_text(json.dumps(msg))
        except asyncio.CancelledError:
            pass
        except Exception:  # the client is gone: the receive side sees it and ends the call
            self.outbox.clear()
