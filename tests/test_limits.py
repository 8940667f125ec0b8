"""What an outsider with no key can take of `voicebot serve` (voicebot/serve/limits.py): request
bodies and heads are bounded before they are read, connections that say nothing or never
authenticate are closed within their deadlines, and one address may hold only so many connections.

The server runs in a process of its own (make_app on uvicorn, engines loaded lazily) so that its
memory can be read from /proc; the clients are raw sockets and real WebSocket clients on loopback.
"""
from __future__ import annotations

import asyncio
import base64
import json
import select
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.test_access import ws as ws_call

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "limits-key-0123456789"
GB = 1 << 30
MB = 1 << 20
# the server: the config's `server` section from argv[1], one key (client "token") from argv[2],
# the proxies it trusts (--forwarded-allow-ips) from argv[3]
SERVER = """
import json, socket, sys
from voicebot.bot import Bot
from voicebot.config import Config
from voicebot.serve.access import Access, digest
from voicebot.serve.app import make_app, uvicorn_server
config = Config.from_dict({"server": json.loads(sys.argv[1])})
s = config.server
access = Access({"token": digest(sys.argv[2])}, max_failures=s.max_failures, lockout_s=s.lockout_s)
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
server = uvicorn_server(make_app(Bot(config), access), "127.0.0.1", port, forwarded_allow_ips=sys.argv[3] or None)
print(port, flush=True)
server.run()
"""


@contextmanager
def serve(tmp_path, proxy="", **server):
    with open(tmp_path / "server.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(server), TOKEN, proxy], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            port = int(proc.stdout.readline())
            for _ in range(600):
                try:
                    if health(port)["status"] == "ok":
                        break
                except OSError:
                    time.sleep(0.1)
            yield proc, port
        finally:
            proc.terminate()
            proc.wait(20)


def health(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
        return json.loads(r.read())


def memory_kb(proc, field="VmHWM"):
    """The server's peak (VmHWM) or present (VmRSS) resident memory."""
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def connect(port, source="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return s


def response(s, timeout=10.0):
    """The status of the HTTP response on `s` (None: closed or reset with none), and its text."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            if not got:
                break
            data += got
    except (ConnectionResetError, TimeoutError):
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None, data
    return int(data.split()[1]), data


def closed_within(s, seconds) -> bool:
    """The server closed `s` (EOF or reset) within `seconds`."""
    s.settimeout(seconds)
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def push_body(port, path, headers, chunked):
    """A POST announcing 1 GB, the body sent 1 MB at a time until the server answers or stops
    reading; (status, bytes of body sent, seconds to the answer)."""
    s = connect(port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {GB}"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n{framing}\r\n"
    s.sendall((head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
    t0, sent = time.monotonic(), 0
    piece = b"k" * MB
    if chunked:
        piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    try:
        while sent < GB:
            first = sent == 0 and not chunked  # an answer to the head alone? (a chunked one must come on)
            readable, _, _ = select.select([s], [], [], 3 if first else 0)
            if readable:
                break
            s.sendall(piece)
            sent += MB
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass  # the server closed it: what it answered, if anything, is still to be read
    status, _ = response(s)
    took = time.monotonic() - t0
    s.close()
    return status, sent, took


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("limits"), auth_timeout_s=2.0, header_timeout_s=1.0, body_timeout_s=1.0,
               max_header_bytes=4096, max_connections_per_ip=400, max_failures=1000) as (proc, port):
        yield proc, port


def test_a_huge_body_is_refused_before_it_is_read(server):
    proc, port = server
    before = memory_kb(proc)
    basic = {"Authorization": "Basic " + base64.b64encode(f"twilio:{TOKEN}".encode()).decode()}
    for path, headers in [("/login", {}), ("/media/next", basic), ("/", {})]:
        for chunked in (False, True):
            status, sent, took = push_body(port, path, headers, chunked)
            what = f"{path} {'chunked' if chunked else 'Content-Length'}"
            # a declared length is refused at once, a chunked body at 64 KB (what the sockets' buffers held)
            assert sent <= (32 * MB if chunked else 0), (what, sent)
            assert took < 5, (what, took)
            want = 401 if path == "/" else 413  # no key: refused before anything else
            assert status == want or (chunked and status is None), (what, status)  # None: reset while sending
    grown = (memory_kb(proc) - before) / 1024
    assert grown < 40, f"the server's peak memory grew by {grown:.0f} MB"
    # a body that does not come is not waited for
    s = connect(port)
    s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nkey=")
    t0 = time.monotonic()
    assert response(s)[0] == 408 and time.monotonic() - t0 < 4
    s.close()
    # the routes still work for those who send what they should
    assert health(port)["status"] == "ok"
    req = urllib.request.Request(f"http://127.0.0.1:{port}/media/next", data=b"CallSid=CA1", headers=basic)
    with urllib.request.urlopen(req, timeout=10) as r:
        assert "<Hangup/>" in r.read().decode()
    s = connect(port)
    form = f"key={TOKEN}"
    s.sendall(f"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              f"Content-Length: {len(form)}\r\n\r\n{form}".encode())
    assert response(s)[0] == 303
    s.close()


def test_heads_are_bounded_in_size_and_time(server):
    _, port = server
    s = connect(port)  # a head over server.max_header_bytes (4 KB here)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 8192 + b"\r\n\r\n")
    assert response(s)[0] == 431 and closed_within(s, 2)  # whole, in one read: refused by the app
    s.close()
    s = connect(port)  # buffered without an end: h11's limit
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(64):
            s.sendall(b"X-Pad: " + b"a" * 1000 + b"\r\n")
            time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert response(s)[0] in (400, None) and closed_within(s, 2)
    s.close()
    s = connect(port)  # a connection that says nothing
    t0 = time.monotonic()
    assert closed_within(s, 4) and time.monotonic() - t0 < 3
    s.close()
    s = connect(port)  # a head that trickles in, a header every 0.3 s
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    try:
        for i in range(20):
            s.sendall(f"X-{i}: y\r\n".encode())
            time.sleep(0.3)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_within(s, 1) and time.monotonic() - t0 < 3
    s.close()
    assert health(port)["status"] == "ok"


def test_unauthenticated_websockets_are_closed_and_not_counted(server):
    _, port = server
    from websockets.asyncio.client import connect as ws_connect

    async def one(path, headers=None, first=None):
        c = await ws_connect(f"ws://127.0.0.1:{port}{path}", additional_headers=headers, open_timeout=30,
                             ping_interval=None, proxy=None)
        t0 = time.monotonic()
        if first is not None:
            await c.send(json.dumps(first))
        return c, t0

    async def main():
        wrong = {"Authorization": "Bearer wrong-key"}
        kinds = ([("/media", None, None)] * 80 + [("/media", wrong, None)] * 40 + [("/ws", None, None)] * 40
                 + [("/media", None, {"event": "connected", "protocol": "Call"})] * 20
                 + [("/media", None, {"type": "auth", "token": "wrong"})] * 10
                 + [("/media", None, {"event": "start", "start": {"customParameters": {"token": "x"}}})] * 10)
        opened = await asyncio.gather(*(one(*k) for k in kinds))
        counted = await asyncio.to_thread(health, port)
        ends = []
        for c, t0 in opened:
            await asyncio.wait_for(c.wait_closed(), 10)
            ends.append((c.close_code, time.monotonic() - t0))
        return counted, ends

    counted, ends = asyncio.run(main())
    assert len(ends) == 200 and counted["calls"] == 0
    assert {code for code, _ in ends} == {1008}
    late = max(t for _, t in ends)
    assert late < 2.0 + 2.5, f"the last one was closed {late:.1f} s after it opened (deadline 2 s)"
    # a caller with the key gets a call, counted as one
    from websockets.sync.client import connect as sync_connect
    with sync_connect(f"ws://127.0.0.1:{port}/ws", proxy=None, open_timeout=10) as c:
        c.send(json.dumps({"type": "auth", "token": TOKEN}))
        time.sleep(0.5)
        assert health(port)["calls"] == 1
    assert ws_call(port, first={"type": "auth", "token": TOKEN})["type"] == "ready"


def test_connections_per_address_are_limited(tmp_path):
    with serve(tmp_path, max_connections_per_ip=5, header_timeout_s=30.0) as (_, port):
        held = [connect(port) for _ in range(5)]
        for s in held:  # each one a request begun, not finished
            s.sendall(b"GET /health HTTP/1.1\r\n")
        extra = connect(port)  # the sixth: closed before it is read
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response(extra, 3)[0] is None
        extra.close()
        other = connect(port, source="127.0.0.2")  # another address is not held up
        other.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response(other)[0] == 200
        other.close()
        for s in held:
            s.close()
        time.sleep(0.3)
        # WebSockets count as well, once upgraded
        from websockets.sync.client import connect as sync_connect
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        with ExitStack() as sockets:
            for _ in range(5):
                sockets.enter_context(sync_connect(f"ws://127.0.0.1:{port}/ws", additional_headers=bearer,
                                                   proxy=None, open_timeout=10))
            sixth = f"ws://127.0.0.1:{port}/ws"
            with pytest.raises((InvalidHandshake, ConnectionClosed, OSError, EOFError)), \
                    sync_connect(sixth, additional_headers=bearer, proxy=None, open_timeout=3):
                pass
        time.sleep(0.3)
        assert health(port)["status"] == "ok"  # their room is free again


def test_a_trusted_proxy_is_limited_only_in_all(tmp_path):
    """Behind a reverse proxy every client comes from its address: that one is not limited by
    address (the proxy limits its clients), only by server.max_connections."""
    with serve(tmp_path, proxy="127.0.0.1", max_connections_per_ip=2, max_connections=6,
               header_timeout_s=30.0) as (_, port):
        held = [connect(port) for _ in range(5)]
        for s in held:
            s.sendall(b"GET /health HTTP/1.1\r\n")
        last = connect(port)  # the sixth in all
        last.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response(last)[0] == 200
        last.close()
        time.sleep(0.3)
        held.append(connect(port))
        over = connect(port, source="127.0.0.2")  # the seventh in all, from another address
        over.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response(over, 3)[0] is None
        for s in [over, *held]:
            s.close()
