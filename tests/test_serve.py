"""`voicebot serve`: the real server on a loopback port, real models, callers in espeak-ng and
flite voices streamed in real time, by a WebSocket client and by headless Chromium's fake
microphone. What is checked is what a user gets: events, reply audio, the page's text.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf
from websockets.exceptions import ConnectionClosed

from voicebot.bench.callers import speak, trim
from voicebot.bot import Bot
from voicebot.config import Config
from voicebot.serve.app import make_app, uvicorn_server

RATE = 16000
TOKEN = "s3cret-token"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def bot():
    return Bot(Config())  # engines load on first use: the fast tests load little


@pytest.fixture(scope="module")
def warm(bot):
    bot.warm_up()
    return bot


def start_server(bot, token=None):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn_server(make_app(bot, token), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    return server, thread, port


@pytest.fixture(scope="module")
def server(bot):
    srv, thread, port = start_server(bot)
    yield port
    srv.should_exit = True
    thread.join(10)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def locked(bot):
    srv, thread, port = start_server(bot, TOKEN)
    yield port
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def turns():
    """The caller's two turns, each in its own voice."""
    return [np.concatenate([np.zeros(RATE // 2, np.float32), trim(speak("I want to check on my order.", "flite:slt"))]),
            trim(speak("The order number is four five six seven.", "espeak:en-us"))]


class Client:
    """A caller over the WebSocket that plays reply audio in real time (as a page would)."""

    def __init__(self, port, token=None, greet=False):
        from websockets.sync.client import connect
        # entered by hand: the connection outlives this call (and the with-less form is deprecated)
        self.ws = connect(f"ws://127.0.0.1:{port}/ws", proxy=None, max_size=None, compression=None).__enter__()
        self.events, self.audio_bytes, self.unplayed, self.out_rate = [], 0, 0.0, RATE
        self.close_code = None
        self.lock = threading.Lock()
        if token is not None:
            self.send({"type": "auth", "token": token})
        self.send({"type": "hello", "sample_rate": RATE, "greet": greet})
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def send(self, msg):
        self.ws.send(json.dumps(msg))

    def _receive(self):
        from websockets.exceptions import ConnectionClosed
        try:
            for msg in self.ws:
                with self.lock:
                    if isinstance(msg, bytes):
                        self.audio_bytes += len(msg)
                        self.unplayed += len(msg) / 2 / self.out_rate
                        continue
                    ev = json.loads(msg)
                    self.events.append(ev)
                    if ev["type"] == "ready":
                        self.out_rate = ev["sample_rate"]
                    elif ev["type"] == "interrupted":
                        self.unplayed = 0.0
        except ConnectionClosed:
            pass
        self.close_code = self.ws.close_code

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e["type"] == kind]

    def stream(self, audio, until=lambda: False, tail_s=20.0):
        """Caller audio in 20 ms messages at real-time pace, then silence until `until()` or tail_s."""
        n = RATE // 50
        audio = np.concatenate([audio, np.zeros(int(tail_s * RATE), np.float32)])
        t0 = time.monotonic()
        for k, i in enumerate(range(0, len(audio), n)):
            if i >= len(audio) - int(tail_s * RATE) and until():
                return
            self.ws.send((audio[i:i + n] * 32767).astype("<i2").tobytes())
            with self.lock:
                played, self.unplayed = min(self.unplayed, 0.02), max(0.0, self.unplayed - 0.02)
            if played:
                self.send({"type": "played", "seconds": played})
            time.sleep(max(0.0, t0 + (k + 1) * 0.02 - time.monotonic()))

    def close(self):
        self.ws.close()
        self.thread.join(5)


def test_health(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/health", timeout=5) as r:
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/", timeout=5) as r:
        assert b"<button id=\"start\"" in r.read()


def refused(port, token):
    c = Client(port, token)
    c.thread.join(10)
    assert c.close_code == 1008 and not c.of("ready")


def test_token(locked):
    refused(locked, None)  # hello first, no auth
    refused(locked, "wrong")
    c = Client(locked, TOKEN)
    deadline = time.monotonic() + 30
    while not c.of("ready") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.of("ready")
    c.close()


def answered(c, n):
    """`n` replies in, and (like a caller) all their audio heard."""
    return lambda: len(c.of("audio_end")) >= n and len(c.of("latency")) >= n and c.unplayed == 0


@pytest.mark.slow
def test_a_call_over_the_websocket(warm, server, turns):
    c = Client(server)
    c.stream(turns[0], answered(c, 1))
    c.stream(turns[1], answered(c, 2))
    c.close()
    assert [e["intent"] for e in c.of("nlu")] == ["order_status", "order_status"]
    assert "order" in c.of("transcript")[0]["text"].lower()
    replies = [e["text"] for e in c.of("reply")]
    assert replies[0] == "Sure. What's your order number?" and "4 5 6 7" in replies[1]
    assert c.of("nlu")[1]["entities"] == [{"type": "order_number", "value": "4567"}]
    assert c.audio_bytes > 2 * c.out_rate  # more than a second of reply audio
    assert all(0 < e["total"] < 10000 for e in c.of("latency"))
    assert not c.of("error") and not c.of("interrupted")


@pytest.mark.slow
def test_bad_input_does_not_take_the_server_down(warm, server, turns):
    c = Client(server)
    c.ws.send(b"\x01\x02\x03")  # odd byte count
    c.ws.send("{not json")
    c.ws.send("[1, 2]")
    c.send({"type": "dance"})
    c.send({"type": "played", "seconds": "lots"})
    deadline = time.monotonic() + 5
    while len(c.of("error")) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(c.of("error")) == 5 and c.close_code is None  # each dropped, the call goes on
    try:  # over the 1 MB cap: that socket is closed
        c.ws.send(os.urandom(2 * 1024 * 1024))
    except ConnectionClosed:
        pass  # the server may close it before the client has finished writing the message
    c.thread.join(10)
    # The server answers 1009, then closes with most of the 2 MB unread, so its kernel resets the
    # connection; the reset can reach the client before it has read the close frame (1006).
    # Either way that socket is closed and only that one: the rest of the test is the server going on.
    assert not c.thread.is_alive() and c.close_code in (1009, 1006)

    # a caller who hangs up (no close frame) while the reply is on its way
    gone = Client(server)
    gone.stream(turns[0], lambda: gone.audio_bytes > 0)
    gone.ws.socket.close()
    gone.thread.join(5)

    # the server and the next caller are fine
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/health", timeout=5) as r:
        assert json.loads(r.read())["status"] == "ok"
    c = Client(server)
    c.stream(turns[0], answered(c, 1))
    c.close()
    assert [e["intent"] for e in c.of("nlu")] == ["order_status"]
    assert c.of("reply")[0]["text"] == "Sure. What's your order number?" and c.audio_bytes > 0


@pytest.mark.slow
def test_a_call_from_the_browser(warm, server, turns, tmp_path):
    # `make test` installs Debian's chromium and Playwright: a missing one is a failed set-up, not a skip
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (scripts/system-deps.sh installs chromium)"
    import playwright.sync_api as playwright
    wav = tmp_path / "caller.wav"
    # a pause for the first reply to be heard whole (7 s: with 4 s, one run in three on a busy machine
    # the reply was still playing when the caller went on); the fake microphone loops its file: silence after
    # the call keeps it from starting over
    silence = np.zeros(RATE, np.float32)
    sf.write(wav, np.concatenate([turns[0], *[silence] * 7, turns[1], *[silence] * 40]), RATE, subtype="PCM_16")
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            page = browser.new_page()
            page_errors = []
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{server}/")
            for box in ["#greet", "#echoCancellation", "#noiseSuppression", "#autoGainControl"]:
                page.uncheck(box)  # the processing alters the audio; exact audio is what we test with
            page.click("#start")
            page.wait_for_function("document.querySelectorAll('.latency').length >= 2", timeout=45000)
            callers = page.locator(".caller").all_inner_texts()[::-1]  # the log is newest first
            bots = page.locator(".bot").all_inner_texts()[::-1]
            nlu = page.locator(".nlu")
            intents = [nlu.nth(i).get_attribute("data-intent") for i in range(nlu.count())][::-1]
            entities = nlu.all_inner_texts()[::-1]
            audio_bytes = int(page.inner_text("#audio-bytes"))
            log = page.inner_text("#log")
            print(log)
            page.click("#stop")
        finally:
            browser.close()
    assert "order" in callers[0].lower() and "order number" in callers[1].lower()
    assert intents == ["order_status", "order_status"] and "order_number=" in entities[1]
    assert bots[0] == "Sure. What's your order number?"
    # the right order, or a request to read the number again when Whisper misread a digit ("456
    # salmon" once in CI-like conditions: tests/test_live.py, the whole conversation)
    assert ("order_number=4567" in entities[1] and "4 5 6 7" in bots[1]) or "read me the number again" in bots[1], \
        (entities, bots)
    assert audio_bytes > 2 * RATE
    assert "interrupted" not in log and not page_errors
