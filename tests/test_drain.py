"""Stopping `voicebot serve` mid-call (voicebot/serve/drain.py): the real server as a process, a SIP
call from baresip and a media-stream call up, then SIGTERM or SIGINT. Every call must be hung up
the proper way (BYE; the socket closed as the bot closes it), its record closed with the reason,
its recording written (encrypted when configured), new calls refused meanwhile, and the process
gone within the drain timeout.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_media_stream import Twilio
from tests.test_sip import RawPeer, baresip, caller_wav, free_udp_range, ports_free
from voicebot.config import PrivacyConfig
from voicebot.phone.records import CallStore
from voicebot.privacy.crypto import new_key, open_vault

TOKEN = "drain-test-token"
DRAIN_S = 90  # redacting two recordings with Whisper on a loaded CI machine takes a while


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """`voicebot serve --sip` as a process; its output collected line by line."""

    def __init__(self, tmp: Path, encrypt: bool, drain_s: float = DRAIN_S):
        self.rtp, self.sip, self.http = free_udp_range(10), free_udp_range(1), free_tcp_port()
        self.db = f"sqlite:///{tmp}/calls.db"
        self.audio = tmp / "recordings"
        self.key = tmp / "call-data.key"
        self.key.write_text(new_key() + "\n")
        privacy = {"encrypt": encrypt, "key_file": str(self.key), "audit_log": str(tmp / "audit.log")}
        (tmp / "serve.yml").write_text(
            f"sip: {{rtp_port_min: {self.rtp}, rtp_port_max: {self.rtp + 9}}}\n"
            f"phone: {{db_url: '{self.db}', record_audio: true, audio_dir: '{self.audio}'}}\n"
            f"privacy: {json.dumps(privacy)}\n"
            f"server: {{drain_timeout_s: {drain_s}}}\n")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voicebot", "serve", "--port", str(self.http), "--token", TOKEN,
             "--sip", f"127.0.0.1:{self.sip}", "--config", str(tmp / "serve.yml")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ})
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        assert self.wait_for(f"sip:bot@127.0.0.1:{self.sip}", 300), self.out()
        for _ in range(200):  # the SIP line is said before the web server listens
            try:
                socket.create_connection(("127.0.0.1", self.http), 1).close()
                break
            except OSError:
                time.sleep(0.05)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def out(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            if any(text in line for line in list(self.lines)):
                return True
            time.sleep(0.1)
        return any(text in line for line in list(self.lines))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def refused_stream(port: int) -> int | None:
    """The close code a new /media stream gets (its start sent, if the socket lasts that long)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    with connect(f"ws://127.0.0.1:{port}/media", proxy=None,
                 additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        try:
            ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            while True:
                ws.recv(10)
        except ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None
        except TimeoutError:
            return None


def browser_call(port: int):
    """A /ws call from a page, started (its `ready` received); what it gets is drained on a thread."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    ws = connect(f"ws://127.0.0.1:{port}/ws", proxy=None,
                 additional_headers={"Authorization": f"Bearer {TOKEN}"}).__enter__()
    ws.send(json.dumps({"type": "hello", "sample_rate": 16000}))
    while not (isinstance(m := ws.recv(30), str) and json.loads(m)["type"] == "ready"):
        pass
    closed = {}

    def read():
        try:
            for _ in ws:
                pass
        except ConnectionClosed:
            pass
        closed["code"] = ws.close_code
    threading.Thread(target=read, daemon=True).start()
    return ws, closed


def sip_answer(peer: RawPeer, method: str, body: str = "") -> str:
    """The first final response of the server to `method` from `peer`."""
    peer.request(method, 1, body=body)
    while True:
        msg = peer.sock.recv(65535).decode()
        if msg.split(" ", 2)[1] >= "200":
            return msg


@pytest.mark.slow
@pytest.mark.parametrize("sig,encrypt", [(signal.SIGTERM, True), (signal.SIGINT, False)], ids=["SIGTERM", "SIGINT"])
def test_a_stopping_server_hangs_up_and_keeps_every_call(sig, encrypt, tmp_path):
    serve = Serve(tmp_path, encrypt)
    media = None
    try:
        wav = tmp_path / "caller.wav"
        caller_wav(wav, [], tail_s=120.0)  # baresip would stay on the line for two minutes
        got = {}
        phone = threading.Thread(target=lambda: got.update(baresip(tmp_path, serve.sip, wav, seconds=150)))
        phone.start()
        media = Twilio(serve.http, call_sid="CAdrain", params={"token": TOKEN})
        streaming = threading.Thread(target=media.stream, args=(b"",), kwargs={"tail_s": 120.0}, daemon=True)
        streaming.start()
        assert serve.wait_for("answered", 60) and serve.wait_for("(callSid CAdrain)", 60), serve.out()
        page, page_closed = browser_call(serve.http)
        time.sleep(4.0)  # the greeting goes out on both lines: there is something to record

        serve.proc.send_signal(sig)
        time.sleep(0.3)
        # new calls are refused while it drains: a media stream, a SIP INVITE, and OPTIONS says so
        assert refused_stream(serve.http) == 1013
        peer = RawPeer(serve.sip)
        try:
            assert sip_answer(peer, "OPTIONS").startswith("SIP/2.0 503"), "OPTIONS not refused while stopping"
            assert sip_answer(peer, "INVITE", peer.sdp()).startswith("SIP/2.0 503"), "INVITE not refused"
        finally:
            peer.close()

        serve.proc.wait(DRAIN_S + 20)
        serve.reader.join(10)
        phone.join(30)
        media.thread.join(10)
        page.close()
    finally:
        if media is not None:
            media.ws.close()
        serve.kill()
    out = serve.out()
    assert serve.proc.returncode == (130 if sig == signal.SIGINT else 0), out
    assert media.close_code == 1000, (media.close_code, out)  # as the bot ends a call
    assert page_closed.get("code") == 1001, (page_closed, out)  # the page is told: going away
    assert "Call established" in got["out"], got["out"]
    assert "session closed: Connection reset by peer" in got["out"], got["out"]  # baresip got our BYE
    assert "no answer to our BYE" not in out, out
    assert ports_free(serve.rtp, serve.rtp + 9) and ports_free(serve.sip, serve.sip)

    vault = open_vault(PrivacyConfig(encrypt=True, key_file=str(serve.key))) if encrypt else None
    store = CallStore(serve.db, vault=vault)
    calls = store.list_calls()
    assert sorted(c["transport"] for c in calls) == ["media-stream", "sip"], calls
    for c in calls:
        assert c["ended"] is not None and c["end_reason"] == "server stopping", c
        path = store.get_call(c["id"])["audio_path"]
        assert path and Path(path).is_file(), (c, out)
        assert path.endswith(".wav.enc" if encrypt else ".wav"), path


@pytest.mark.slow
@pytest.mark.parametrize("how", ["second signal", "timeout"])
def test_a_second_signal_or_the_timeout_stops_it_at_once(how, tmp_path):
    serve = Serve(tmp_path, encrypt=False, drain_s=0.05 if how == "timeout" else DRAIN_S)
    media = None
    try:
        media = Twilio(serve.http, call_sid="CAforce", params={"token": TOKEN})
        threading.Thread(target=media.stream, args=(b"",), kwargs={"tail_s": 60.0}, daemon=True).start()
        assert serve.wait_for("(callSid CAforce)", 60), serve.out()
        time.sleep(3.0)  # the greeting recorded: storing the recording takes a while (Whisper redacts it)
        serve.proc.send_signal(signal.SIGTERM)
        if how == "second signal":
            time.sleep(0.2)  # two at once would be taken as one
            serve.proc.send_signal(signal.SIGTERM)  # before the drain can be done (storing takes seconds)
        t0 = time.monotonic()
        serve.proc.wait(15)
        took = time.monotonic() - t0
        serve.reader.join(10)
    finally:
        if media is not None:
            media.ws.close()
        serve.kill()
    assert serve.proc.returncode == 1 and took < 10, (serve.proc.returncode, took, serve.out())
    said = "SIGTERM again: stopping now" if how == "second signal" else "drain_timeout_s (0.05 s) passed"
    assert said in serve.out(), serve.out()
