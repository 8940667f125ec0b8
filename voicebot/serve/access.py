"""Who may use `voicebot serve`: named API keys, the login form's sessions, a brake on guessing.

Every route but `GET /health` and the login form needs one of:
  Authorization: Bearer KEY                 scripts, the media-stream client, a reverse proxy
  Authorization: Basic base64(NAME:KEY)     webhooks whose URL can carry user:password (Twilio)
  the session cookie from `POST /login`     the browser page: the key is typed into a form once,
                                            never put in a URL
and on `WS /ws` and `WS /media` also the first-message `auth` of their protocols.

Keys: one line per client in `server.keys_file`, `NAME sha256:HEX` (only the key's hash is
stored; `voicebot api-key add NAME` makes a key and prints it once), plus `--token` (client
"token"). The name of the client goes in the audit log with what it did. Keys are compared
as SHA-256 digests with hmac.compare_digest, over every listed key, so the time taken says
nothing about which bytes matched.

Guessing: `server.max_failures` wrong keys from one address within a minute lock that address
out for `server.lockout_s` (HTTP 429 with Retry-After; a WebSocket is closed 1008). Every key
brought during the lock (Bearer, Basic, the form, a WebSocket's `auth`), right or wrong, is
refused unchecked and extends the lock to `lockout_s` from then, so a brute-force run gets
nowhere. A request that brings no key is refused during the lock but does not extend it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import sys
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs

from asr.files import atomic_write_text
from voicebot.config import Config
from voicebot.privacy.audit import write as audit_write

log = logging.getLogger("voicebot.serve.access")
COOKIE = "voicebot_session"
PUBLIC = {"/health", "/login"}  # the only routes open to anyone
FIRST_MESSAGE = {"/ws", "/media"}  # WebSockets whose protocol may bring the key in its first message
WINDOW_S = 60.0
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def load_keys(path: str | Path) -> dict[str, bytes]:
    """`NAME sha256:HEX` lines (# comments): client name -> the SHA-256 of its key."""
    keys = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such keys file (make one with `voicebot api-key add NAME --keys-file {path}`)") from None
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        hexed = parts[1][7:] if len(parts) == 2 and parts[1].startswith("sha256:") else ""
        if not (NAME.match(parts[0]) and re.fullmatch(r"[0-9a-f]{64}", hexed)):
            raise ValueError(f"{path}:{n}: expected 'NAME sha256:HEX' (64 hex digits), got {line[:60]!r}")
        if parts[0] in keys:
            raise ValueError(f"{path}:{n}: client {parts[0]!r} listed twice")
        keys[parts[0]] = bytes.fromhex(hexed)
    return keys


class Access:
    """The server's keys, sessions and failure counts (one per server, shared by its routes)."""

    def __init__(self, keys: dict[str, bytes] | None = None, audit_log: str | None = None,
                 max_failures: int = 5, lockout_s: float = 60.0, session_hours: float = 12.0,
                 secure_cookie: bool = False):
        self.keys = dict(keys or {})
        self.audit_log = audit_log
        self.max_failures, self.lockout_s = max_failures, lockout_s
        self.session_s = session_hours * 3600
        self.secure_cookie = secure_cookie
        self.sessions: dict[str, tuple[str, float]] = {}  # id -> (client name, expiry)
        self.failures: dict[str, deque] = {}  # address -> times of its last failures (max_failures at most)
        self.locked: dict[str, float] = {}  # address -> when its lock ends (time.monotonic)
        self.lock = threading.Lock()

    @classmethod
    def of(cls, given) -> "Access":
        """make_app's argument: an Access, a single token (client "token"), or None (open)."""
        if isinstance(given, Access):
            return given
        return cls({"token": digest(given)} if given else None)

    @property
    def open(self) -> bool:
        return not self.keys

    # ---- keys and the lock-out
    def who(self, key) -> str | None:
        """The client whose key this is, or None; every listed key is compared."""
        if not isinstance(key, str) or not key:
            return None
        got, found = digest(key), None
        for name, want in self.keys.items():
            if hmac.compare_digest(got, want):
                found = name
        return found

    def retry_after(self, ip: str) -> float:
        """Seconds this address is still locked out for (0: not locked)."""
        with self.lock:
            return self._wait(ip, time.monotonic())

    def _wait(self, ip: str, now: float) -> float:  # under self.lock
        until = self.locked.get(ip)
        if until is None:
            return 0.0
        if until <= now:
            del self.locked[ip]
            return 0.0
        return until - now

    def check(self, ip: str, key, how: str) -> str | None:
        """A key brought by `ip`: the client's name, or None (a failure counted; during a lock,
        refused unchecked and the lock extended)."""
        if self.extend(ip):
            return None
        name = self.who(key)
        if name is None:
            self._failed(ip, how, "wrong or missing key")
        return name

    def extend(self, ip: str) -> bool:
        """A key brought by a locked address: the lock runs `lockout_s` from now. False: not locked."""
        with self.lock:
            now = time.monotonic()
            if not self._wait(ip, now):
                return False
            self.locked[ip] = now + self.lockout_s
            return True

    def _failed(self, ip: str, how: str, why: str) -> None:
        with self.lock:
            now = time.monotonic()
            if len(self.failures) + len(self.locked) > 10000:  # addresses that failed long ago: forgotten
                self.failures = {a: f for a, f in self.failures.items() if now - f[-1] < WINDOW_S}
                self.locked = {a: t for a, t in self.locked.items() if t > now}
            fails = self.failures.setdefault(ip, deque(maxlen=self.max_failures))
            while fails and now - fails[0] > WINDOW_S:
                fails.popleft()
            fails.append(now)
            n = len(fails)
            if n >= self.max_failures:  # the lock: counting starts afresh after it
                del self.failures[ip]
                self.locked[ip] = now + self.lockout_s
        log.warning("%s from %s refused: %s%s", how, ip, why, " (locked out)" if n >= self.max_failures else "")
        self.audit("?", f"{how} refused", peer=ip)

    # ---- the login form's sessions
    def new_session(self, name: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self.lock:
            now = time.time()
            self.sessions = {k: v for k, v in self.sessions.items() if v[1] > now}
            self.sessions[sid] = (name, now + self.session_s)
        return sid

    def session(self, sid: str | None) -> str | None:
        with self.lock:
            name, until = self.sessions.get(sid or "", ("", 0.0))
        return name if until > time.time() else None

    def end_session(self, sid: str | None) -> None:
        with self.lock:
            self.sessions.pop(sid or "", None)

    def cookie(self, sid: str, max_age: int | None = None) -> str:
        age = int(self.session_s) if max_age is None else max_age
        return (f"{COOKIE}={sid}; Path=/; Max-Age={age}; HttpOnly; SameSite=Strict"
                + ("; Secure" if self.secure_cookie else ""))

    def from_headers(self, headers: dict, ip: str) -> tuple[str | None, str]:
        """(client name or None, how it came): an Authorization header, else the session cookie."""
        auth = headers.get("authorization", "")
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() == "bearer":
            return self.check(ip, cred.strip(), "bearer key"), "key"
        if scheme.lower() == "basic":
            try:
                cred = base64.b64decode(cred.strip(), validate=True).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                cred = ""
            return self.check(ip, cred, "basic auth"), "key"
        sid = _cookies(headers.get("cookie", "")).get(COOKIE)
        return (self.session(sid), "session") if sid else (None, "")

    def audit(self, who: str, action: str, **what) -> None:
        if self.audit_log:
            try:
                audit_write(self.audit_log, who, action, **what)
            except OSError as e:  # a full disk must not take the server down; said in the log
                log.error("audit log %s: %s", self.audit_log, e)


def _cookies(header: str) -> dict:
    out = {}
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k:
            out[k] = v
    return out


def _same_origin(headers: dict) -> bool:
    """A cookie-borne WebSocket must come from this server's own page (no cross-site hijacking)."""
    origin, host = headers.get("origin", ""), headers.get("host", "")
    return bool(host) and origin.split("://", 1)[-1] == host


class Guard:
    """ASGI middleware in front of every route: lets through what `Access` allows."""

    def __init__(self, app, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope, receive, send):
        access = self.access
        if scope["type"] not in ("http", "websocket") or scope["path"] in PUBLIC:
            return await self.app(scope, receive, send)
        if access.open:
            scope["voicebot.client"] = "anyone"
            return await self.app(scope, receive, send)
        ip = (scope.get("client") or ("?", 0))[0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        locked = access.retry_after(ip)
        name, how = access.from_headers(headers, ip)  # a key from a locked address extends the lock
        wait = access.retry_after(ip) if locked else 0.0
        if wait:
            name = None  # a session too: the address is locked
        cross_site = how == "session" and scope["type"] == "websocket" and not _same_origin(headers)
        if cross_site:  # another site's page riding on the cookie (cross-site WebSocket hijacking)
            log.warning("websocket from %s with a session but origin %r: refused", ip, headers.get("origin"))
            name = None
        if name:
            scope["voicebot.client"] = name
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            if not (wait or cross_site) and scope["path"] in FIRST_MESSAGE:
                return await self.app(scope, receive, send)  # the route asks for its `auth` message
            await receive()  # websocket.connect
            return await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
        await _refuse(scope, headers, send, wait)


async def _refuse(scope, headers: dict, send, wait: float) -> None:
    if wait:
        status, body, extra = 429, b"too many failed attempts: try again later\n", [(b"retry-after", str(int(wait) + 1).encode())]
    elif scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
        status, body, extra = 303, b"", [(b"location", b"/login")]  # a person at a browser: the form
    else:
        status, body, extra = 401, b"unauthorized: an API key or a login session is needed\n", [(b"www-authenticate", b"Bearer")]
    # the connection is closed after: a body that came with the request is never read
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": body})


def routes(access: Access, web: Path) -> list:
    """GET/POST /login (the form), POST /logout."""
    from starlette.responses import HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route
    form = (web / "login.html").read_text(encoding="utf-8")

    def page(message: str = "", status: int = 200):
        return HTMLResponse(form.replace("<!--message-->", message), status)

    async def login(request):
        if request.method == "GET":
            return page()
        ip = request.client.host if request.client else "?"
        body = await request.body()
        if len(body) > 4096:
            return Response("form too large\n", 413)
        key = (parse_qs(body.decode("utf-8", "replace")).get("key") or [""])[0]
        wait = access.retry_after(ip)
        name = access.check(ip, key, "login")
        if name is None:
            if wait:
                return page(f'<p class="error">Too many failed attempts: try again in {int(wait) + 1} s.</p>', 429)
            return page('<p class="error">Wrong key.</p>', 401)
        access.audit(name, "login", peer=ip)
        response = RedirectResponse("/", 303)
        response.headers["set-cookie"] = access.cookie(access.new_session(name))
        return response

    async def logout(request):
        access.end_session(_cookies(request.headers.get("cookie", "")).get(COOKIE))
        response = RedirectResponse("/login", 303)
        response.headers["set-cookie"] = access.cookie("", max_age=0)
        return response

    return [Route("/login", login, methods=["GET", "POST"]), Route("/logout", logout, methods=["POST"])]


# ---- `voicebot api-key add|list|remove`
def add_parsers(sub) -> None:
    p = sub.add_parser("api-key", help="the clients allowed to use `voicebot serve` (server.keys_file)")
    p.add_argument("action", choices=["add", "list", "remove"])
    p.add_argument("name", nargs="?", help="the client's name (letters, digits, _.@-), as the audit log shows it")
    p.add_argument("--keys-file", help="default: the config's server.keys_file")
    p.add_argument("--config", help="a YAML config file")
    p.set_defaults(func=api_key_main)


def api_key_main(args) -> int:
    path = args.keys_file or Config.load(args.config).server.keys_file
    if not path:
        raise ValueError("no keys file: give --keys-file or set server.keys_file in the config")
    path = Path(path)
    keys = load_keys(path) if path.exists() else {}
    if args.action == "list":
        print("\n".join(keys) if keys else f"{path}: no clients")
        return 0
    if not args.name or not NAME.match(args.name):
        raise ValueError(f"a client name is needed (letters, digits, _.@-), got {args.name!r}")
    if args.action == "remove":
        if args.name not in keys:
            raise ValueError(f"{path}: no client {args.name!r}")
        del keys[args.name]
    else:
        if args.name in keys:
            raise ValueError(f"{path}: client {args.name!r} exists (remove it first to give it a new key)")
        key = secrets.token_urlsafe(24)
        keys[args.name] = digest(key)
    lines = [f"{n} sha256:{h.hex()}" for n, h in keys.items()]
    atomic_write_text(path, "# voicebot API keys: NAME sha256:HEX (`voicebot api-key`)\n" + "\n".join(lines) + "\n",
                      private=True)  # 0600 from the start, never readable by others for a moment
    if args.action == "add":
        print(key)  # the only time it is shown: the file keeps its hash
        print(f"{args.name}: added to {path} (this key is shown once)", file=sys.stderr)
    else:
        print(f"{args.name}: removed from {path}")
    return 0
