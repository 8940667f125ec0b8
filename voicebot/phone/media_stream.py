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
call over, else `<Hangup/>`. A server stopping (SIGTERM, voicebot.serve.drain) ends each call the
same way, its record and recording written; a stream that starts meanwhile is closed with 1013.

Auth (voicebot/serve/access.py): a call must bring a client's key before its `start` is accepted: in
the upgrade's Authorization header, as the `start`'s customParameters.token (TwiML
`<Parameter name="token">`; Twilio allows no query string in the Stream URL) or as a first
message {"type": "auth", "token": "..."} (the /ws convention). Never in the URL (it would be in
every proxy's log). A wrong key, or none within server.auth_timeout_s (5 s) or the first
MAX_BEFORE_AUTH messages: the socket is closed with 1008; until it has a key a stream is not a
call (not counted by /health). `POST /media/next` takes the key as
HTTP Basic auth (`https://NAME:KEY@HOST/media/next` in the TwiML action URL).
Faults, each one log line per kind per call, never the server nor other calls: not JSON or not
an object, binary messages, unknown events, `media` before `start`, a payload that is not
base64 or over 1 s: the message is dropped; a message over 1 MB: the socket is closed (1009);
the client vanishing: the call ends. The call record is written in every case.

The messages are read and built in voicebot.phone.twilio; this module is the socket's side.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from urllib.parse import parse_qs

from voicebot.live.output import Outbox
from voicebot.phone import twilio
from voicebot.phone.call import Line, PhoneCall
from voicebot.phone.records import CallStore

log = logging.getLogger("voicebot.media")
MAX_MESSAGE = 1 << 20
MAX_BEFORE_AUTH = 8  # messages a stream may send before it has shown a key (Twilio: connected, start)
_HANGUP = object()


def routes(bot, access, calls: set) -> list:
    """The /media WebSocket and the /media/next TwiML webhook, for make_app."""
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    shared = {"store": None, "lock": threading.Lock(), "handed": OrderedDict()}  # callSid -> handover URI

    def store():  # opened at the first call: a server used only from the browser needs no database
        with shared["lock"]:
            if shared["store"] is None:
                shared["store"] = CallStore(bot.config.phone.db_url)
            return shared["store"]

    async def media(websocket):
        await websocket.accept()
        conn = MediaCall(bot, websocket, access, store, shared["handed"])
        try:
            await conn.run(calls)
        finally:
            calls.discard(conn)

    async def next_step(request):
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        uri = shared["handed"].pop((form.get("CallSid") or [""])[0], None)
        return Response(twilio.next_step(uri), media_type="application/xml")

    return [WebSocketRoute("/media", media), Route("/media/next", next_step, methods=["POST"])]


class StreamLine(Line):
    """PhoneCall -> the socket: called on the call's threads, handed to the event loop."""

    def __init__(self, conn: "MediaCall"):
        self.conn = conn

    def send_audio(self, payload: bytes) -> None:
        self.conn.post(twilio.media(self.conn.sid, payload))

    def mark(self, name: str) -> None:
        self.conn.post(twilio.mark(self.conn.sid, name))

    def clear(self) -> None:
        self.conn.post(twilio.clear(self.conn.sid), control=True)

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
        self.outbox = Outbox(twilio.is_audio)  # touched only on the loop's thread
        self.warned: set[str] = set()
        self.ip = websocket.client.host if websocket.client else "?"
        self.peer = f"{self.ip}:{websocket.client.port}" if websocket.client else "?"
        self.calls: set = set()
        self.stopping: str | None = None  # the server is stopping: why (voicebot.serve.drain)

    async def run(self, calls: set) -> None:
        """The stream, until it ends; in `calls` (what /health counts) once authenticated. One
        that has not brought a key within server.auth_timeout_s or MAX_BEFORE_AUTH messages is closed."""
        self.calls = calls
        sender = asyncio.create_task(self._send_loop())
        why = "closed"
        wait = self.bot.config.server.auth_timeout_s
        deadline, said = self.loop.time() + wait, 0
        try:
            while True:
                if self.client is not None:
                    calls.add(self)
                    msg = await self.ws.receive()
                else:
                    try:
                        msg = await asyncio.wait_for(self.ws.receive(), deadline - self.loop.time())
                    except TimeoutError:
                        msg = None
                    said += 1
                    if msg is None or (said > MAX_BEFORE_AUTH and msg["type"] != "websocket.disconnect"):
                        why = f"refused: no key within {wait} s" if msg is None else "refused: no key in its first messages"
                        await self.ws.close(1008, "unauthorized")
                        break
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
            why = self.stopping or why
            if self.call is not None:
                await asyncio.to_thread(self.call.close, why)
            else:
                log.info("media %s: %s before the call started", self.peer, why)

    async def _handle(self, text: str) -> str | None:
        """One JSON message; returns why the call ends, or None."""
        try:
            msg = twilio.parse(text)
            if isinstance(msg, twilio.Media):
                if self.call is None:
                    self._bad("early", "media before start, dropped")
                    return None
                self.call.push(msg.payload())
            elif isinstance(msg, twilio.Mark):
                if self.call is not None:
                    self.call.mark_played(msg.name())
            elif isinstance(msg, twilio.Start):
                return await self._start(msg)
            elif isinstance(msg, twilio.Stop):
                return "stop: the caller hung up"
            elif isinstance(msg, twilio.Auth) and self.client is None:
                self.client = self.access.check(self.ip, msg.token, "media auth")
                if self.client is None:  # a wrong key: closed at once, as /ws does
                    await self.ws.close(1008, "unauthorized")
                    return "refused: wrong key"
        except twilio.BadMessage as e:
            self._bad(e.kind, str(e))
        return None

    async def _start(self, start: twilio.Start) -> str | None:
        if self.call is not None:
            self._bad("restart", "a second start on one stream, dropped")
            return None
        self.client = self.client or self.access.check(self.ip, start.token, "media auth")
        if self.client is None:
            await self.ws.close(1008, "unauthorized")
            return "refused: no or wrong token"
        if getattr(self.calls, "draining", False):  # the server is stopping: come back later
            await self.ws.close(1013, "try again later")
            return "refused: the server is stopping"
        codec = start.codec()
        if codec is None:
            log.info("media %s: unsupported mediaFormat %s", self.peer, start.media_format or {})
            await self.ws.close(1003, "unsupported mediaFormat")
            return "unsupported mediaFormat"
        self.sid, self.call_sid = start.stream_sid, start.call_sid
        try:
            store = await asyncio.to_thread(self.store)
        except Exception as e:  # a database URL that cannot work: the call goes on unrecorded, said loudly
            self._bad("store", f"call records off: {type(e).__name__}: {e}")
            store = None
        self.call = await asyncio.to_thread(
            PhoneCall, self.bot, StreamLine(self), codec, transport="media-stream", caller=start.caller,
            callee=start.callee, external_id=self.call_sid, store=store, played_by="marks", meta=start.meta())
        log.info("media %s: call %s started (callSid %s)", self.peer, self.call.id[:8], self.call_sid or "-")
        self.access.audit(self.client, "call", transport="media-stream", call=self.call.id, peer=self.peer)
        if self.stopping:  # the stop came while the call was being set up
            self.call.hangup(self.stopping)
        return None

    async def stop(self, reason: str) -> None:
        """The server is stopping: the call is hung up as the bot hangs up (the socket closed,
        1000, once the audio queued is sent); a stream not started yet is closed (1001)."""
        self.stopping = reason
        if self.call is not None:
            self.call.hangup(reason)
        else:
            await self.ws.close(1001, "server stopping")

    def _bad(self, kind: str, message: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            log.info("media %s: %s", self.peer, message)

    # ---- the call's threads -> the loop -> the socket
    def post(self, msg, control: bool = False) -> None:
        """`msg` to the socket, after what is queued; a control message (`clear`) goes ahead of
        the audio queued, which is dropped."""
        try:
            self.loop.call_soon_threadsafe(self.outbox.cut_in if control else self.outbox.put, msg)
        except RuntimeError:  # the loop is gone (server shutting down): nobody to send to
            pass

    async def _send_loop(self) -> None:
        try:
            while True:
                msg = await self.outbox.get()
                if msg is _HANGUP:
                    await self.ws.close(1000)
                    return
                await self.ws.send_text(twilio.dumps(msg))
        except asyncio.CancelledError:
            pass
        except Exception:  # the client is gone: the receive side sees it and ends the call
            self.outbox.clear()
