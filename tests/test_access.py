"""Who may use `voicebot serve`: keys, the login form, the lock-out of guessers, TLS, the audit log.

The real server on loopback ports (engines load lazily: these tests need no model, except the
calls that get as far as "ready"), real HTTP and WebSocket clients, and headless Chromium for
the login form.
"""
from __future__ import annotations

import base64
import datetime
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

import pytest

from tests.test_serve import CHROMIUM, start_server
from voicebot.serve.access import Access, digest, load_keys

ALICE, TWILIO = "alice-key-0123456789", "twilio-key-9876543210"


@pytest.fixture(scope="module")
def bot():
    from voicebot.bot import Bot
    from voicebot.config import Config
    return Bot(Config())


def make_access(tmp, **kw):
    return Access({"alice": digest(ALICE), "twilio": digest(TWILIO)}, audit_log=str(tmp / "audit.log"), **kw)


@pytest.fixture(scope="module")
def locked(bot, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    srv, thread, port = start_server(bot, make_access(tmp, max_failures=100))  # the lock-out has its own test
    yield port, tmp / "audit.log"
    srv.should_exit = True
    thread.join(10)


def request(port, path, method="GET", headers=None, body=None, tls=None):
    conn = (http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=10) if tls
            else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace")
    conn.close()
    return out


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def ws(port, path="/ws", headers=None, origin=None, first=None):
    """Opens a WebSocket, sends `first` (if any) and a hello; returns the first event or the close code."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect
    try:
        with connect(f"ws://127.0.0.1:{port}{path}", additional_headers=headers, origin=origin, proxy=None,
                     open_timeout=10) as c:
            try:
                if first is not None:
                    c.send(json.dumps(first))
                c.send(json.dumps({"type": "hello", "sample_rate": 16000, "greet": False}))
                return json.loads(c.recv(timeout=60))
            except ConnectionClosed:  # refused after the upgrade, maybe while we were still sending
                return c.close_code
    except InvalidStatus as e:  # refused at the upgrade
        return e.response.status_code


def test_keys_file(tmp_path):
    from voicebot.cli.main import main
    keys = tmp_path / "keys.txt"
    r = subprocess.run([sys.executable, "-m", "voicebot", "api-key", "add", "alice", "--keys-file", str(keys)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert len(key) >= 32 and key not in keys.read_text()  # only its hash is kept
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    assert Access(load_keys(keys)).who(key) == "alice" and Access(load_keys(keys)).who(key + "x") is None
    assert main(["api-key", "add", "bob", "--keys-file", str(keys)]) == 0
    assert set(load_keys(keys)) == {"alice", "bob"}
    assert main(["api-key", "remove", "alice", "--keys-file", str(keys)]) == 0
    assert set(load_keys(keys)) == {"bob"}
    keys.write_text("bob sha256:1234\n")
    with pytest.raises(ValueError, match=r"keys.txt:1: expected 'NAME sha256:HEX'"):
        load_keys(keys)
    with pytest.raises(ValueError, match="no such keys file"):
        load_keys(tmp_path / "none.txt")


def test_every_route_but_health_needs_a_key(locked):
    port, _ = locked
    assert request(port, "/health")[0] == 200
    assert request(port, "/login")[0] == 200
    for path in ["/", "/app.js", "/capture.js", "/index.html"]:
        assert request(port, path)[0] == 401, path
        assert request(port, path, headers=bearer("wrong"))[0] == 401, path
        assert request(port, path, headers=bearer(ALICE))[0] == 200, path
    # a person's browser is sent to the form, not shown an error
    status, headers, _ = request(port, "/", headers={"Accept": "text/html"})
    assert status == 303 and headers["location"] == "/login"
    # the Twilio webhook: HTTP Basic auth from the URL's user:password
    assert request(port, "/media/next", "POST", body="CallSid=CA1")[0] == 401
    basic = {"Authorization": "Basic " + base64.b64encode(f"twilio:{TWILIO}".encode()).decode(),
             "Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = request(port, "/media/next", "POST", headers=basic, body="CallSid=CA1")
    assert status == 200 and "<Hangup/>" in body


def test_websockets_need_a_key(locked):
    port, audit = locked
    assert ws(port) == 1008  # no key: the first message was not `auth`
    assert ws(port, first={"type": "auth", "token": "wrong"}) == 1008
    assert ws(port, "/media", first={"event": "start", "start": {"customParameters": {"token": "nope"}}}) == 1008
    assert ws(port, first={"type": "auth", "token": ALICE})["type"] == "ready"
    assert ws(port, headers=bearer(TWILIO))["type"] == "ready"
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [x["who"] for x in lines if x["action"] == "call"][-2:] == ["alice", "twilio"]


def test_login_form_gives_a_session_cookie(locked):
    port, audit = locked
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = request(port, "/login", "POST", headers=form, body="key=wrong")
    assert status == 401 and "Wrong key" in body
    status, headers, _ = request(port, "/login", "POST", headers=form, body=f"key={ALICE}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and ALICE not in cookie
    session = {"Cookie": cookie.split(";")[0]}
    assert request(port, "/", headers=session)[0] == 200
    origin = f"http://127.0.0.1:{port}"
    assert ws(port, headers=session, origin=origin)["type"] == "ready"
    # another site's page cannot ride on the cookie (cross-site WebSocket hijacking)
    assert ws(port, headers=session, origin="http://evil.example") == 403
    assert any(x["who"] == "alice" and x["action"] == "login" for x in map(json.loads, audit.read_text().splitlines()))
    assert request(port, "/logout", "POST", headers=session)[0] == 303
    assert request(port, "/", headers=session)[0] == 401


def test_guessing_is_locked_out(bot, tmp_path):
    srv, thread, port = start_server(bot, make_access(tmp_path, max_failures=5, lockout_s=3.0))
    try:
        codes = [request(port, "/", headers=bearer(f"guess-{i}"))[0] for i in range(20)]
        # five guesses are checked; every later one is refused unchecked, the right key too
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        status, headers, _ = request(port, "/", headers=bearer(ALICE))
        assert status == 429 and int(headers["retry-after"]) >= 1
        assert ws(port, first={"type": "auth", "token": ALICE}) == 403
        status, _, body = request(port, "/login", "POST", headers={"Content-Type": "application/x-www-form-urlencoded"},
                                  body=f"key={ALICE}")
        assert status == 429 and "Too many failed attempts" in body
        time.sleep(3.5)  # the lock ends: the owner of the key gets in again
        assert request(port, "/", headers=bearer(ALICE))[0] == 200
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("how", ["bearer", "login form"])
def test_each_attempt_during_the_lock_extends_it(bot, tmp_path, how):
    """As the README says: the right key tried again and again from a locked address stays locked
    out, by Bearer as by the form; the lock ends lockout_s after the last attempt."""
    srv, thread, port = start_server(bot, make_access(tmp_path, max_failures=5, lockout_s=2.0))
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def attempt():
        if how == "bearer":
            return request(port, "/", headers=bearer(ALICE))[0]
        return request(port, "/login", "POST", headers=form, body=f"key={ALICE}")[0]
    try:
        assert [request(port, "/", headers=bearer(f"guess-{i}"))[0] for i in range(5)] == [401] * 5
        until = time.monotonic() + 5.0  # two and a half times the lock
        while time.monotonic() < until:
            assert attempt() == 429
            time.sleep(0.4)
        assert request(port, "/")[0] == 429  # no key: refused, but not counted as an attempt
        time.sleep(2.5)
        assert attempt() == (200 if how == "bearer" else 303)
    finally:
        srv.should_exit = True
        thread.join(10)


def self_signed(tmp_path):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")


def test_tls(bot, tmp_path):
    import socket
    import threading

    from voicebot.serve.app import make_app, uvicorn_server
    cert, key = self_signed(tmp_path)
    access = make_access(tmp_path, secure_cookie=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn_server(make_app(bot, access), "127.0.0.1", port, tls=(cert, key))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if srv.started:
                break
            time.sleep(0.05)
        trust = ssl.create_default_context(cafile=cert)
        assert request(port, "/", headers=bearer(ALICE), tls=trust)[0] == 200
        status, headers, _ = request(port, "/login", "POST", tls=trust, body=f"key={ALICE}",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303 and "Secure" in headers["set-cookie"]
        with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate gets nothing
            request(port, "/health", tls=ssl.create_default_context())
        with pytest.raises((http.client.HTTPException, ConnectionError)):  # plain HTTP on the TLS port
            request(port, "/health")
    finally:
        srv.should_exit = True
        thread.join(10)


def test_serve_refuses_unsafe_settings(tmp_path):
    env = {**os.environ, "VOICEBOT_TOKEN": "", "VOICEBOT_KEY": ""}
    (tmp_path / "enc.yml").write_text(f"privacy: {{encrypt: true, key_file: {tmp_path / 'missing.key'}}}\n")
    for args, said in [(["--open", "--host", "0.0.0.0"], "--open serves without keys: only on a loopback address"),
                       (["--tls-cert", "x.pem"], "--tls-cert and --tls-key go together"),
                       (["--keys-file", str(tmp_path / "none.txt")], "no such keys file"),
                       (["--open", "--config", str(tmp_path / "enc.yml")], "missing.key: no such key file")]:
        r = subprocess.run([sys.executable, "-m", "voicebot", "serve", *args], capture_output=True, text=True,
                           timeout=120, env=env)
        assert r.returncode == 2 and said in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_login_from_the_browser(locked):
    """Chromium: the page sends a stranger to the form; after it, the page and its WebSocket work."""
    port, _ = locked
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (scripts/system-deps.sh installs chromium)"
    import playwright.sync_api as playwright
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            assert page.url.endswith("/login")
            page.fill("#key", "wrong")
            page.click("#login")
            assert "Wrong key" in page.content()
            page.fill("#key", ALICE)
            page.click("#login")
            page.wait_for_selector("#start")
            assert page.url == f"http://127.0.0.1:{port}/" and ALICE not in page.url
            first = page.evaluate("""() => new Promise((done) => {
                const ws = new WebSocket("ws://" + location.host + "/ws");
                ws.onopen = () => ws.send(JSON.stringify({type: "hello", sample_rate: 16000, greet: false}));
                ws.onmessage = (m) => { if (typeof m.data === "string") { ws.close(); done(JSON.parse(m.data).type); } };
                ws.onclose = (e) => done("closed " + e.code);
            })""")
            assert first == "ready"
            page.click("#logout")
            page.wait_for_selector("#key")
            assert page.url.endswith("/login")
        finally:
            browser.close()
