"""`voicebot serve --workers N` (issue 29): two worker processes, each with its own models, writing
call records into one real PostgreSQL at once (started by the suite: conftest's postgres_url),
and HAProxy (Debian's, from what `voicebot deploy haproxy` writes) in front of them for the
Twilio-protocol media-stream caller: one worker stopped, the next call is still answered.
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
import types
import urllib.request

import pytest
from websockets.sync.client import connect

from tests.test_media_stream import Twilio
from tests.test_proxy import Caller, free_port, healthy
from tests.test_sip import free_udp_range
from voicebot.cli.main import main as voicebot
from voicebot.config import Config
from voicebot.deploy import haproxy
from voicebot.phone.records import CallStore
from voicebot.serve.app import make_app, uvicorn_server

TOKEN = "workers-test"


def health(port: int, timeout: float = 0.0) -> dict:
    return healthy("127.0.0.1", port, timeout)


def test_more_than_one_worker_will_not_share_a_sqlite_file(tmp_path, capsys):
    (tmp_path / "bot.yml").write_text(f"phone: {{db_url: 'sqlite:///{tmp_path}/calls.db'}}\n")
    assert voicebot(["serve", "--workers", "2", "--config", str(tmp_path / "bot.yml")]) == 2
    err = capsys.readouterr().err
    assert "SQLite" in err and "postgresql://" in err, err


@pytest.fixture(scope="module")
def workers(tmp_path_factory, postgres_url):
    """`voicebot serve --workers 2` on 127.0.0.1: HTTP ports P and P+1, SIP ports S and S+1."""
    d = tmp_path_factory.mktemp("workers")
    rtp = free_udp_range(20)
    (d / "bot.yml").write_text(f"sip: {{rtp_port_min: {rtp}, rtp_port_max: {rtp + 19}, max_calls: 3}}\n"
                               f"phone: {{db_url: '{postgres_url}'}}\n")
    http, sip = free_port("127.0.0.1", socket.SOCK_STREAM), free_udp_range(2)
    while True:  # P + 1 free as well
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", http + 1))
            break
        except OSError:
            http = free_port("127.0.0.1", socket.SOCK_STREAM)
    log = open(d / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--workers", "2", "--port", str(http),
                             "--token", TOKEN, "--sip", f"127.0.0.1:{sip}", "--config", str(d / "bot.yml")],
                            cwd=d, stdout=log, stderr=subprocess.STDOUT)
    try:
        states = [health(http + i, 120) for i in range(2)]
        yield {"proc": proc, "http": http, "sip": sip, "pids": [s["pid"] for s in states], "dir": d,
               "store": CallStore(postgres_url)}
    finally:
        proc.send_signal(signal.SIGINT)  # to every worker: each drains and ends
        try:
            rc = proc.wait(40)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
        assert rc == 130, (d / "serve.log").read_text()[-3000:]


@pytest.mark.slow
def test_two_workers_write_call_records_into_one_postgresql_at_once(workers):
    for i in range(2):
        h = health(workers["http"] + i)
        assert h["worker"] == i and h["sip"] == {"calls": 0, "max_calls": 3} and h["calls"] == 0
    callers = [Caller(("127.0.0.1", workers["sip"] + i % 2)) for i in range(6)]
    answers, up = {}, threading.Barrier(7)

    def call(c):
        c.invite()
        answers[c.id] = [c.final()]
        up.wait(20)  # all six up at once
        up.wait(20)  # ... until /health has been read
        answers[c.id].append(c.bye())

    threads = [threading.Thread(target=call, args=(c,)) for c in callers]
    try:
        for t in threads:
            t.start()
        up.wait(20)
        assert [health(workers["http"] + i)["sip"]["calls"] for i in range(2)] == [3, 3]
        up.wait(20)
        for t in threads:
            t.join(20)
    finally:
        for c in callers:
            c.close()
    assert all(ok.startswith("SIP/2.0 200 ") and bye.startswith("SIP/2.0 200 ") for ok, bye in answers.values()), answers
    store, ids = workers["store"], {c.id for c in callers}
    end = time.monotonic() + 20
    while True:  # each record is closed as its call's threads end
        recs = [c for c in store.list_calls(50) if c["external_id"] in ids]
        if len(recs) == 6 and all(r["ended"] for r in recs) or time.monotonic() > end:
            break
        time.sleep(0.2)
    assert len(recs) == 6 and all(r["ended"] and r["end_reason"] == "the caller hung up" for r in recs), recs
    assert len({r["id"] for r in recs}) == 6


def media_call(port: int, sid: str) -> tuple[Twilio, str]:
    """A Twilio media stream to `port` until the bot's greeting has all come; who served it."""
    c = Twilio(port, params={"token": TOKEN}, call_sid=sid)
    served = c.ws.response.headers.get("X-Served-By", "")
    c.stream(b"", lambda: len(c.of("media")) > 20 and time.monotonic() - c.last_media > 0.6, tail_s=15)
    return c, served


@pytest.mark.slow
def test_media_streams_through_haproxy_go_on_when_a_worker_stops(workers, tmp_path):
    bind = free_port("127.0.0.1", socket.SOCK_STREAM)
    out = haproxy(tmp_path / "haproxy", [f"127.0.0.1:{workers['http'] + i}" for i in range(2)], f"127.0.0.1:{bind}")
    log = open(tmp_path / "haproxy.log", "w")
    proc = subprocess.Popen(["sh", str(out / "run.sh")], stdout=log, stderr=subprocess.STDOUT)
    try:
        assert health(bind, 10)["status"] == "ok"
        first, served = media_call(bind, "CA2901")
        assert served in ("w1", "w2") and first.of("media"), served
        first.hang_up()
        # stop the worker that took it (SIGINT: it drains and ends); the next call goes to the other
        i = int(served[1]) - 1
        with urllib.request.urlopen(f"http://127.0.0.1:{workers['http'] + i}/health", timeout=3) as r:
            pid = json.loads(r.read())["pid"]
        os.kill(pid, signal.SIGINT)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                health(workers["http"] + i)
                time.sleep(0.2)
            except OSError:
                break
        second, served2 = media_call(bind, "CA2902")
        assert served2 == f"w{2 - i}" and second.of("media"), served2
        second.hang_up()
        rec = [c for c in workers["store"].list_calls(50) if c["external_id"] in ("CA2901", "CA2902")]
        assert len(rec) == 2, rec
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_health_says_the_calls_and_the_maximum_and_a_full_worker_refuses_more():
    app = make_app(types.SimpleNamespace(config=Config()), TOKEN, max_calls=1, worker=3)
    port = free_port("127.0.0.1", socket.SOCK_STREAM)
    server = uvicorn_server(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        h = health(port, 10)
        assert (h["calls"], h["max_calls"], h["worker"], "sip" in h) == (0, 1, 3, False)
        app.calls.add(object())  # one call up: the worker is full
        assert health(port)["calls"] == 1
        with connect(f"ws://127.0.0.1:{port}/media", proxy=None) as ws:
            with pytest.raises(Exception):
                ws.recv(5)
            assert ws.close_code == 1013
    finally:
        server.should_exit = True
        thread.join(10)
