"""`voicebot serve`: talk to the bot from a web page, the browser's microphone over a WebSocket.

    voicebot serve [--host 127.0.0.1] [--port 8080] [--keys-file keys.txt | --token SECRET | --open]
                   [--tls-cert cert.pem --tls-key key.pem] [--forwarded-allow-ips 127.0.0.1]
    voicebot serve --sip [HOST:PORT]    # also a SIP phone line (voicebot.phone.sip)
    voicebot serve --workers N [--max-calls M]  # N processes on --port + i (voicebot.serve.workers)

Routes: `GET /` the page (voicebot/serve/web), `GET /health` (JSON, no auth: status, calls and
max_calls (WebSocket calls), sip: {calls, max_calls}, worker, pid: what a front balances on),
`GET/POST /login` (the form that turns a key into a session cookie), `POST /logout`, `WS /ws`
(one call), `WS /media` and `POST /media/next`: phone calls from a cloud number
(voicebot/phone/media_stream.py).
Every route but /health and /login needs a key or a session (voicebot/serve/access.py); with no key
configured `voicebot serve` makes one for the run and prints it, unless `--open` (loopback only).
The engines are loaded once and shared; each WebSocket gets its own LiveSession, closed with it.

Protocol on /ws (text messages are JSON objects with a "type"):
client -> server
  {"type": "auth", "token": "..."}        first message, when the upgrade brought no key or session
  {"type": "hello", "sample_rate": 16000, "greet": true}   optional; starts the call (else the
                                          first audio does, at 16000 Hz, greeting per config)
  binary                                  caller audio: mono int16 little-endian PCM at sample_rate
                                          (16 kHz expected), 20-40 ms a message
  {"type": "played", "seconds": 0.02}     reply audio the page has just started to play (feeds the
                                          echo canceller and tells barge-in what the caller heard)
  {"type": "bye"}                         ends the call
server -> client
  {"type": "ready", "sample_rate": 22050} the call is on; reply audio comes at this rate
  binary                                  reply audio: mono int16 little-endian PCM
  {"type": "transcript", "text", "start", "end"}
  {"type": "nlu", "text", "intent", "confidence", "sentiment", "entities": [{"type", "value"}]}
  {"type": "reply", "text", "handover", "end_call"}
  {"type": "audio_end"}                   the reply's audio is all sent (not sent for a cut reply)
  {"type": "hold", "on": true}           caller voice over the reply: pause playback now, keep the rest
  {"type": "hold", "on": false}          it was not a barge-in: go on from where it paused
  {"type": "interrupted", "heard_s", "heard_text"}   barge-in: stop playback now, drop queued audio
  {"type": "latency", "endpoint", "asr", "nlu", "dialogue", "tts_first_audio", "total"}  ms, per turn
  {"type": "error", "message"}            bad input (the message is dropped) or an engine failure
Close codes: 1008 auth failed (or none within server.auth_timeout_s), 1009 message over 1 MB, 1003 not
speaking the protocol at all, 1001 the server is stopping (the call is over), 1013 try again later (it
is stopping: no new calls; voicebot.serve.drain says how SIGTERM and SIGINT stop the server). Until it has authenticated a WebSocket is not a call (/health counts calls).
Bodies, heads and connections are bounded by voicebot/serve/limits.py.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from asr.events import Transcript
from nlu.events import BotReply, NLUResult
from tts.events import AudioChunk
from voicebot.config import Config
from voicebot.live.output import AudioOutput, Outbox
from voicebot.live.session import Error, LiveSession
from voicebot.phone import media_stream
from voicebot.phone import sip as sip_line
from voicebot.privacy.crypto import open_vault
from voicebot.serve import workers
from voicebot.serve.access import Access, Guard, digest, load_keys
from voicebot.serve.access import routes as login_routes
from voicebot.serve.drain import Calls, Draining, Stopper
from voicebot.serve.limits import RequestLimit, protocol

WEB = Path(__file__).parent / "web"
MAX_MESSAGE = 1 << 20  # bytes; 1 MB is 30 s of 16 kHz audio, far more than one message needs
log = logging.getLogger("voicebot.serve")


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--token", default=os.environ.get("VOICEBOT_TOKEN"),
                        help="one more key, for the client named 'token' (default: $VOICEBOT_TOKEN)")
    parser.add_argument("--keys-file", help="the clients' keys (default: the config's server.keys_file; `voicebot api-key add`)")
    parser.add_argument("--open", action="store_true", help="no keys at all (loopback only: for trying it out)")
    parser.add_argument("--tls-cert", help="serve HTTPS/WSS with this certificate (PEM) ...")
    parser.add_argument("--tls-key", help="... and this private key (PEM)")
    parser.add_argument("--forwarded-allow-ips", metavar="IPS",
                        help="behind a reverse proxy: trust X-Forwarded-For/-Proto from these addresses (e.g. 127.0.0.1)")
    parser.add_argument("--sip", nargs="?", const="", metavar="HOST:PORT",
                        help="also answer phone calls over SIP/UDP (default: the config's sip section, 127.0.0.1:5060)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="N worker processes, each with its own models: worker i on --port + i (and the SIP port "
                             "+ i); call records need PostgreSQL (voicebot.serve.workers, docs/deploy.md)")
    parser.add_argument("--max-calls", type=int, metavar="N",
                        help="at most N browser and media-stream calls at once; more are refused (1013), /health says so")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def access_for(args, config) -> Access:
    """The keys this run accepts; a key made up for the run when none is configured."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    for path in (args.tls_cert, args.tls_key):
        if path and not os.path.isfile(path):
            raise ValueError(f"{path}: no such file")
    keys_file = args.keys_file or config.server.keys_file
    keys = load_keys(keys_file) if keys_file else {}
    if args.token:
        keys["token"] = digest(args.token)
    if args.open:
        if keys or args.host not in LOOPBACK:
            raise ValueError("--open serves without keys: only on a loopback address, with no keys given")
    elif not keys:
        import secrets
        key = secrets.token_urlsafe(24)
        keys["console"] = digest(key)
        print(f"voicebot serve: no keys configured; log in with this one, for this run only: {key}", flush=True)
    s = config.server
    return Access(keys, audit_log=config.privacy.audit_log, max_failures=s.max_failures,
                  lockout_s=s.lockout_s, session_hours=s.session_hours, secure_cookie=bool(args.tls_cert))


def run(args, bot_factory) -> int:
    args.worker_index = workers.index()  # None, or which of --workers N this process is
    who = "" if args.worker_index is None else f"worker {args.worker_index} "  # whose line, with --workers
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {who}%(name)s: %(message)s")
    config = Config.load(args.config)  # what --workers and --max-calls need: said before the models load
    workers.check(args, config)
    if args.workers > 1 and args.worker_index is None:  # the supervisor: no models here
        return workers.supervise(args, config, sys.argv[1:])
    bot = bot_factory()
    if args.worker_index is not None:  # one of --workers N: its own ports
        workers.place(args, bot.config)
    access = access_for(args, bot.config)  # a bad keys file or TLS flag: said before the models load
    if bot.config.privacy.encrypt:  # call records and recordings need the key: no key, no server
        open_vault(bot.config.privacy)
    bot.warm_up()  # the first caller should not wait for models to load
    web = "https" if args.tls_cert else "http"
    print(f"voicebot serve: {web}://{args.host}:{args.port}/ (phone calls: {web.replace('http', 'ws')}://{args.host}:{args.port}/media)", flush=True)
    sip = None
    if args.sip is not None:  # the phone line, on the same engines
        sip = sip_line.serve(bot, args.sip)
        print(f"voicebot serve: sip:{sip.user}@{sip.adv_host}:{sip.port} (UDP)", flush=True)
    app = make_app(bot, access, sip=sip, max_calls=args.max_calls, worker=args.worker_index)
    server = uvicorn_server(app, args.host, args.port, tls=(args.tls_cert, args.tls_key),
                            forwarded_allow_ips=args.forwarded_allow_ips, settings=bot.config.server)
    # SIGTERM/SIGINT drain the calls before uvicorn stops (voicebot.serve.drain)
    stopper = Stopper(server, app, sip, bot.config.server.drain_timeout_s)
    server.handle_exit = stopper.handle
    # ours before and after uvicorn's too: a second signal while the SIP line closes is not a kill
    previous = {sig: signal.signal(sig, stopper.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        if stopper.forced:  # the second signal or the timeout: what is left is lost, said once
            log.error("stopped before every call was closed and stored")
            logging.shutdown()
            os._exit(1)
        if sip is not None:
            sip.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return stopper.exit_code()


def uvicorn_server(app, host: str, port: int, tls=(None, None), forwarded_allow_ips: str | None = None,
                   settings=None):
    """`settings`: the config's `server` section (the limits of voicebot.serve.limits); by default
    those make_app was built with."""
    import uvicorn
    cert, key = tls
    settings = settings or app.settings
    # h11 (not httptools) for its bound on a request's head; the connection limits ride on it
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, ws_max_size=MAX_MESSAGE,
                                         log_level="warning", lifespan="off", ssl_certfile=cert, ssl_keyfile=key,
                                         timeout_graceful_shutdown=5,
                                         proxy_headers=bool(forwarded_allow_ips),
                                         forwarded_allow_ips=forwarded_allow_ips,
                                         http=protocol(settings, forwarded_allow_ips),
                                         h11_max_incomplete_event_size=settings.max_header_bytes))


def make_app(bot, access: Access | str | None = None, sip=None, max_calls: int | None = None, worker: int | None = None):
    """The ASGI app; `access` as Access.of takes it (tests pass a token, or nothing for an open server).
    /health counts the calls of `sip` (a SipServer) too; `max_calls` caps the WebSocket calls."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route, WebSocketRoute

    access = Access.of(access)
    settings = bot.config.server
    calls = Calls()  # the calls in progress: authenticated WebSockets only
    calls.limit = max_calls
    started = time.time()

    async def page(request):
        return FileResponse(WEB / "index.html")

    async def static(request):
        name = request.path_params["name"]
        path = WEB / name
        if "/" in name or not path.is_file():  # only the files of voicebot/serve/web, nothing above it
            return Response("not found", 404)
        return FileResponse(path)

    async def health(request):
        # what a front needs to spread calls: the calls in progress and the most this worker takes
        body = {"status": "ok", "calls": len(calls), "max_calls": max_calls, "auth": not access.open,
                "uptime_s": round(time.time() - started, 1), "pid": os.getpid(), "worker": worker}
        if sip is not None:
            body["sip"] = {"calls": sip.active(), "max_calls": sip.max_calls}
        return JSONResponse(body)

    async def ws(websocket):
        await websocket.accept()
        call = Call(bot, websocket, access)
        try:
            await call.run(calls)
        finally:
            calls.discard(call)

    app = Starlette(routes=[Route("/", page), Route("/health", health), *login_routes(access, WEB),
                            *media_stream.routes(bot, access, calls), Route("/{name}", static), WebSocketRoute("/ws", ws)])
    # settings: for uvicorn_server (the connection limits); Draining: SIGTERM refuses new calls
    return Draining(Guard(RequestLimit(app, settings), access), calls, settings)


class PageOutput(AudioOutput):
    """The browser call's output side: reply audio and the control messages for the page, which
    plays, pauses and drops audio on its side and reports what it played (`played` messages).
    Called on the session's threads; the messages go through the loop to the call's outbox."""

    def __init__(self, loop, outbox: Outbox):
        super().__init__()
        self.loop, self.outbox = loop, outbox

    def play(self, chunk: AudioChunk) -> None:
        if len(chunk.samples):
            self._send((np.clip(chunk.samples, -1, 1) * 32767).astype("<i2").tobytes())
        if chunk.index == 0 and chunk.reply.turn is not None:
            self._send(self._latency(chunk.reply))
        if chunk.last:
            self._send({"type": "audio_end"})

    def clear(self, cause=None) -> None:  # the page shows what was heard of the reply cut
        msg = {"type": "interrupted", "heard_s": getattr(cause, "heard_s", 0.0),
               "heard_text": getattr(cause, "heard_text", "")}
        self.loop.call_soon_threadsafe(self.outbox.cut_in, msg)

    def pause(self, cause=None) -> None:  # ahead of the audio queued, which the page keeps for a resume
        self.loop.call_soon_threadsafe(self.outbox.ahead, {"type": "hold", "on": True})

    def resume(self, cause=None) -> None:
        self.loop.call_soon_threadsafe(self.outbox.ahead, {"type": "hold", "on": False})

    def _send(self, msg) -> None:
        if msg is not None:
            self.loop.call_soon_threadsafe(self.outbox.put, msg)

    def _latency(self, reply: BotReply) -> dict | None:
        # on the session's thread, inside its lock, just after it filled in tts_first_audio
        session = self.session
        turn = next((t for t in reversed(session.turns) if t.get("_reply") is reply), None) if session else None
        if turn is None:
            return None
        ms = dict(turn["latency_ms"])
        ms["total"] = round(sum(v for v in ms.values() if v is not None), 1)
        return {"type": "latency", **ms}


class Call:
    """One WebSocket: its LiveSession, and an outbox the session's threads feed through the loop
    (PageOutput, the output side, for audio and control; _on_event for the rest)."""

    def __init__(self, bot, websocket, access: Access):
        self.bot, self.ws, self.access = bot, websocket, access
        self.client = websocket.scope.get("voicebot.client")  # None: the first message must be `auth`
        self.loop = asyncio.get_running_loop()
        self.session = None
        self.rate = 16000
        self.outbox = Outbox(lambda m: isinstance(m, bytes))  # touched only on the loop's thread
        self.output = PageOutput(self.loop, self.outbox)
        self.warned: set[str] = set()  # one log line per kind of bad input, not one per message
        self.ip = websocket.client.host if websocket.client else "?"
        self.peer = f"{self.ip}:{websocket.client.port}" if websocket.client else "?"
        self.stopping: str | None = None  # the server is stopping: why

    async def stop(self, reason: str) -> None:
        """The server is stopping: the page is told by its socket closing (1001)."""
        self.stopping = reason
        await self.ws.close(1001, "server stopping")

    async def run(self, calls: set) -> None:
        """The call, until it ends; in `calls` (what /health counts) once authenticated."""
        from starlette.websockets import WebSocketDisconnect
        sender = asyncio.create_task(self._send_loop())
        why = "closed"
        try:
            if self.client is None and not await self._auth():
                return
            if getattr(calls, "draining", False):  # the server is stopping: come back later
                await self.ws.close(1013, "try again later")
                return
            calls.add(self)
            self.access.audit(self.client, "call", transport="ws", peer=self.peer)
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    why = f"client left (code {msg.get('code')})"
                    break
                data = msg.get("bytes") if msg.get("bytes") is not None else msg.get("text")
                if data is not None and len(data) > MAX_MESSAGE:  # uvicorn's ws_max_size does this first
                    why = "message over 1 MB"
                    await self.ws.close(1009, "message too big")
                    break
                if msg.get("bytes") is not None:
                    self._audio(msg["bytes"])
                elif msg.get("text") is not None:
                    if not self._command(msg["text"]):
                        why = "client said bye"
                        await self.ws.close(1000)
                        break
        except WebSocketDisconnect as e:
            why = f"client left (code {e.code})"
        except Exception as e:  # a bug or a broken socket ends this call, never the server
            why = f"ended by {type(e).__name__}: {e}"
        finally:
            sender.cancel()
            why = self.stopping or why
            if self.session is not None:
                session, self.session = self.session, None
                await asyncio.to_thread(session.close)
                log.info("call %s: %s after %d turns", self.peer, why, len(session.turns))

    async def _auth(self) -> bool:
        wait = self.bot.config.server.auth_timeout_s
        try:
            msg = await asyncio.wait_for(self.ws.receive_text(), wait)
        except TimeoutError:  # nothing said: closed, not counted as a guess (no key was tried)
            log.info("call %s: no auth within %s s: closed", self.peer, wait)
            await self.ws.close(1008, "unauthorized")
            return False
        except Exception:  # binary instead of text, or gone
            msg = ""
        try:
            got = json.loads(msg)
            token = got.get("token") if got.get("type") == "auth" else None
        except Exception:  # not JSON, or not an object: the same refusal
            token = None
        self.client = self.access.check(self.ip, token, "ws auth")
        if self.client is None:
            await self.ws.close(1008, "unauthorized")
        return self.client is not None

    def _start(self, greet: bool | None = None) -> None:
        if self.session is not None:
            return
        self.session = self.output.session = LiveSession(self.bot, on_event=self._on_event, greet=greet)
        self.outbox.put({"type": "ready", "sample_rate": self.session.out_rate})
        log.info("call %s: started", self.peer)

    def _audio(self, data: bytes) -> None:
        if len(data) % 2:
            return self._bad("odd", "audio must be int16 PCM: an odd byte count, message dropped")
        self._start()
        self.session.push_audio(np.frombuffer(data, "<i2").astype(np.float32) / 32768, self.rate)

    def _command(self, text: str) -> bool:
        """Handles one JSON message; False when the call should end."""
        try:
            msg = json.loads(text)
            kind = msg.get("type")
        except (ValueError, AttributeError):
            self._bad("json", "not a JSON object, message dropped")
            return True
        try:
            if kind == "hello":
                rate = int(msg.get("sample_rate", 16000))
                if not 8000 <= rate <= 192000:
                    raise ValueError(f"sample_rate {rate} out of range")
                self.rate = rate
                greet = msg.get("greet")
                self._start(None if greet is None else bool(greet))
            elif kind == "played":
                seconds = float(msg.get("seconds", 0))
                if self.session is not None and 0 < seconds < 60:
                    self.output.played(seconds)
            elif kind == "bye":
                return False
            elif kind == "auth":
                pass  # a page may send it to an open server: harmless
            else:
                self._bad("type", f"unknown message type {kind!r}, dropped")
        except (TypeError, ValueError) as e:
            self._bad("value", f"bad {kind} message: {e}")
        return True

    def _bad(self, kind: str, message: str) -> None:
        if kind not in self.warned:
            self.warned.add(kind)
            log.info("call %s: %s", self.peer, message)
        self.outbox.put({"type": "error", "message": message})

    # ---- session threads -> loop
    def _on_event(self, ev) -> None:
        """Called on the session's threads: audio and control go to the output side; the rest
        becomes a message for the loop."""
        if self.output.route(ev):
            return
        if isinstance(ev, Transcript):
            msg = {"type": "transcript", "text": ev.text, "start": round(ev.start, 3), "end": round(ev.end, 3)}
        elif isinstance(ev, NLUResult):
            msg = {"type": "nlu", **ev.to_dict()}
        elif isinstance(ev, BotReply):
            msg = {"type": "reply", "text": ev.text, "handover": ev.handover, "end_call": ev.end_call}
        elif isinstance(ev, Error):
            msg = {"type": "error", "message": f"{ev.stage}: {ev.message}"}
        else:
            return
        self.loop.call_soon_threadsafe(self.outbox.put, msg)

    async def _send_loop(self) -> None:
        try:
            while True:
                msg = await self.outbox.get()
                if isinstance(msg, bytes):
                    await self.ws.send_bytes(msg)
                else:
                    await self.ws.send_text(json.dumps(msg))
        except asyncio.CancelledError:
            pass
        except Exception:  # the client is gone: the receive side sees it and ends the call
            self.outbox.clear()
