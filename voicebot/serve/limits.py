"""How much of `voicebot serve` one client may take before it has shown a key (the `server` settings).

- Connections: at most `max_connections_per_ip` open at once from one address (HTTP and WebSocket
  alike) and `max_connections` in all; one more is closed as soon as it is accepted, before a byte
  of it is read. The addresses of trusted proxies (--forwarded-allow-ips) are limited only in all:
  the proxy sees the clients and should limit them (nginx: limit_conn).
- Request heads: whole within `header_timeout_s` of the connection (or of their first byte, on a
  kept-alive one), at most `max_header_bytes`: h11 (max_incomplete_event_size) answers 400 and
  closes when that much is buffered without a whole head, and a whole head that came in one read
  over the limit is refused here (431). A connection that sends nothing is closed.
- Request bodies: at most `max_body_bytes`. A larger Content-Length is refused (413) before any
  of the body is read; a chunked body is counted as it comes and refused at the limit; the whole
  body must come within `body_timeout_s` (408). A refusal closes the connection, so the rest of
  the body is never read.
- WebSockets that have not authenticated within `auth_timeout_s` are closed by their routes
  (voicebot.serve.app for /ws, voicebot.phone.media_stream for /media).
Refusals are logged at most once a minute per address and kind: a flood does not flood the log.
"""
from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("voicebot.serve.limits")


class Quiet:
    """One log line per (address, kind) a minute at most."""

    def __init__(self, every_s: float = 60.0):
        self.every_s, self.last = every_s, {}

    def say(self, ip: str, kind: str, message: str, *args) -> None:
        now = time.monotonic()
        if now - self.last.get((ip, kind), -self.every_s) < self.every_s:
            return
        if len(self.last) > 10000:  # addresses seen long ago: forgotten
            self.last = {k: t for k, t in self.last.items() if now - t < self.every_s}
        self.last[(ip, kind)] = now
        log.warning(message, *args)


quiet = Quiet()


class Connections:
    """The open connections, by address; `admit` says whether one more may stay."""

    def __init__(self, per_ip: int, total: int, trusted=()):
        self.per_ip, self.total = per_ip, total
        self.trusted = set(trusted)
        self.open: dict[str, set] = {}  # address -> transports (closed ones dropped as they are seen)
        self.count = 0

    def admit(self, ip: str, transport) -> bool:
        # a transport leaves no trace when it closes (a WebSocket's protocol replaced HTTP's),
        # so closed ones are swept here: those of this address now, every address now and then
        self.count += 1
        if self.count % 256 == 0 or sum(map(len, self.open.values())) >= self.total:
            self.open = {a: live for a, ts in self.open.items() if (live := {t for t in ts if not t.is_closing()})}
        mine = {t for t in self.open.get(ip, ()) if not t.is_closing()}
        in_all = sum(len(ts) for a, ts in self.open.items() if a != ip) + len(mine)
        if in_all >= self.total:
            quiet.say("*", "total", "%d connections open: one more (from %s) closed (server.max_connections)", in_all, ip)
            return False
        if len(mine) >= self.per_ip and "*" not in self.trusted and ip not in self.trusted:
            quiet.say(ip, "per-ip", "%s has %d connections open: one more closed (server.max_connections_per_ip)",
                      ip, len(mine))
            return False
        mine.add(transport)
        self.open[ip] = mine
        return True


def protocol(settings, trusted: str | None = None):
    """uvicorn's HTTP protocol (h11) with the connection limits and the head's deadline."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol
    conns = Connections(settings.max_connections_per_ip, settings.max_connections,
                        [a.strip() for a in (trusted or "").split(",") if a.strip()])
    wait = settings.header_timeout_s

    class LimitedH11(H11Protocol):
        head_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if not conns.admit(self.ip, transport):
                transport.close()
                return
            self._await_head()

        @property
        def ip(self) -> str:
            return self.client[0] if self.client else "?"

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.get_protocol() is self and self.conn.their_state is h11.IDLE:
                self._await_head()  # a head still to come: from its first byte, not from each
            elif self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def _await_head(self) -> None:
            if self.head_timer is None:
                self.head_timer = self.loop.call_later(wait, self._head_late)

        def _head_late(self) -> None:
            self.head_timer = None
            t = self.transport
            if self.conn.their_state is h11.IDLE and t.get_protocol() is self and not t.is_closing():
                quiet.say(self.ip, "head", "%s: no whole request within %s s: connection closed", self.ip, wait)
                t.close()

        def connection_lost(self, exc) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None
            super().connection_lost(exc)

    return LimitedH11


class RequestLimit:
    """ASGI middleware: a request's head checked for size, its body read here, bounded in size and
    time, then handed on whole (the routes read a few hundred bytes of form at most)."""

    def __init__(self, app, settings):
        self.app, self.max_head = app, settings.max_header_bytes
        self.max_bytes, self.timeout_s = settings.max_body_bytes, settings.body_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        ip = (scope.get("client") or ("?", 0))[0]
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if head > self.max_head:
            if scope["type"] == "websocket":
                quiet.say(ip, "431", "%s sent a head of %d bytes: refused", ip, head)
                await receive()  # websocket.connect
                return await send({"type": "websocket.close", "code": 1008})
            return await self._refuse(send, ip, 431, f"a head of {head} bytes")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            return await self.app(scope, receive, send)  # no body
        if length is not None and int(length) > self.max_bytes:
            return await self._refuse(send, ip, 413, f"a body of {int(length)} bytes")
        loop = asyncio.get_running_loop()
        end, body = loop.time() + self.timeout_s, bytearray()
        while True:
            try:
                msg = await asyncio.wait_for(receive(), end - loop.time())
            except TimeoutError:
                return await self._refuse(send, ip, 408, f"a body not in within {self.timeout_s} s")
            if msg["type"] != "http.request":
                return  # the client left
            body += msg.get("body", b"")
            if len(body) > self.max_bytes:
                return await self._refuse(send, ip, 413, f"a body over {self.max_bytes} bytes")
            if not msg.get("more_body"):
                break
        whole = {"type": "http.request", "body": bytes(body), "more_body": False}

        async def replay():
            nonlocal whole
            if whole is None:
                return await receive()
            msg, whole = whole, None
            return msg

        await self.app(scope, replay, send)

    async def _refuse(self, send, ip: str, status: int, what: str) -> None:
        quiet.say(ip, str(status), "%s sent %s: refused (%d)", ip, what, status)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": b"request too large or too slow\n"})
