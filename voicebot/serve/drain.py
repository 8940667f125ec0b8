"""Stopping `voicebot serve` without losing a call: SIGTERM and SIGINT drain, a second one forces.

uvicorn takes both signals itself (and, stopped, raises them again: SIGTERM would then kill the
process before the SIP line is hung up). `Stopper.handle` stands in for its handler. The first
signal starts a drain, on a thread of its own:
- new calls are refused: HTTP 503 (/health says "stopping"), WebSockets closed with 1013 ("try
  again later"), SIP INVITEs and OPTIONS answered 503 (SipServer.drain);
- live calls are told and hung up: SIP with a BYE, a media stream as the bot ends a call (the
  socket closed, 1000), a browser's socket closed (1001); each call record is closed with the
  reason "server stopping";
- the recordings being kept (phone.record_audio) are written, encrypted when configured
  (voicebot.phone.recording);
and only then is uvicorn told to stop. A second signal, or `server.drain_timeout_s` passed, stops
it at once: what was not written by then is said in one line and lost.
"""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time

from voicebot.phone.recording import wait_stored

log = logging.getLogger("voicebot.serve")
REASON = "server stopping"


class Calls(set):
    """The calls in progress (authenticated WebSockets), and whether the server is draining:
    a call that comes to be meanwhile is refused (close 1013), as one is while `limit` are up."""
    draining = False
    limit: int | None = None  # `voicebot serve --max-calls`


class Draining:
    """The ASGI app while the server drains: every new request 503, every new WebSocket 1013."""

    def __init__(self, app, calls: Calls, settings):
        self.app, self.calls, self.settings = app, calls, settings

    def __getattr__(self, name):  # the rest is the app's (Guard's)
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        limit = self.calls.limit
        full = scope["type"] == "websocket" and limit is not None and len(self.calls) >= limit
        if not (self.calls.draining or full) or scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":  # 1013: try again later (another worker, behind a front)
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1013, "reason": "try again later"})
            return
        body = json.dumps({"status": "stopping"}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"30"),
                                (b"connection", b"close"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class Stopper:
    """uvicorn's signal handler (`server.handle_exit = stopper.handle`): the first signal drains
    the app's calls and the SIP line, then stops uvicorn; a second, or the timeout, forces it."""

    def __init__(self, server, app: Draining, sip=None, timeout: float = 15.0):
        self.server, self.app, self.sip, self.timeout = server, app, sip, timeout
        self.signals: list[int] = []
        self.forced = False
        self.thread: threading.Thread | None = None

    def handle(self, sig: int, frame=None) -> None:
        self.signals.append(sig)
        if self.thread is None:
            log.info("%s: stopping: new calls refused, live calls hung up (at most %s s; again to force)",
                     signal.Signals(sig).name, self.timeout)
            self.thread = threading.Thread(target=self._drain, name="drain", daemon=True)
            self.thread.start()
        else:
            log.warning("%s again: stopping now", signal.Signals(sig).name)
            self._force()

    def exit_code(self) -> int:
        """0 once drained (130 for Ctrl-C, as the command line's convention), 1 when forced."""
        if self.forced:
            return 1
        return 130 if signal.SIGINT in self.signals else 0

    def _force(self) -> None:
        self.forced = True
        self.server.force_exit = True
        self.server.should_exit = True

    def _drain(self) -> None:
        end = time.monotonic() + self.timeout
        calls = self.app.calls
        calls.draining = True
        sip = None
        if self.sip is not None:  # BYEs, and waits for the calls' records: on its own thread
            sip = threading.Thread(target=self.sip.drain, args=(REASON, self.timeout), name="sip-drain", daemon=True)
            sip.start()
        told: set[int] = set()
        while time.monotonic() < end and not self.forced:
            for call in _snapshot(calls):  # again each round: one may have just authenticated
                if id(call) not in told:
                    told.add(id(call))
                    asyncio.run_coroutine_threadsafe(call.stop(REASON), call.loop)
            if not calls and (sip is None or not sip.is_alive()):
                break
            time.sleep(0.05)
        stored = wait_stored(max(0.0, end - time.monotonic())) if not self.forced else False
        left = len(calls) + (len(self.sip.calls) if self.sip is not None else 0)
        if self.forced:
            return
        if left or not stored:
            log.error("stopping: drain_timeout_s (%s s) passed with %d call(s) open and recordings %s: "
                      "stopping anyway", self.timeout, left, "stored" if stored else "still being stored")
            return self._force()
        log.info("stopping: every call hung up, its record and recording written")
        self.server.should_exit = True


def _snapshot(calls: set) -> list:
    for _ in range(10):  # the loop's thread may change it meanwhile
        try:
            return list(calls)
        except RuntimeError:
            time.sleep(0.01)
    return []
