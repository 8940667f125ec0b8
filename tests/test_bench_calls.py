"""`voicebot bench-calls` end to end: one real-time media-stream caller against the real server."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.test_serve import start_server
from voicebot.bench.calls import front_check, front_urls
from voicebot.bot import Bot
from voicebot.cli.main import main as voicebot
from voicebot.config import Config
from voicebot.options import UsageError


@pytest.mark.slow
def test_bench_calls_measures_a_call(tmp_path):
    out = tmp_path / "calls.json"
    run = subprocess.run([sys.executable, "-m", "voicebot", "bench-calls", "--calls", "1", "--json", str(out),
                          "--plot", str(tmp_path / "calls.png")], capture_output=True, text=True, timeout=300)
    assert out.exists(), run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["calls"] == 1 and len(result["per_call"]) == 1
    call = result["per_call"][0]
    # turns answered after the caller had finished (one answered in a pause is an error, no latency)
    assert call["turns"] >= 2 and all(0 <= x < 15000 for x in call["latencies_ms"])
    assert any("order" in (t["text"] or "").lower() and t["reply"] for t in call["heard"]), call["heard"]
    assert result["reply_latency_ms"]["p50"] is not None and result["reply_latency_ms"]["n"] == call["turns"]
    assert call["end_reason"] and call["dropped_frames"] is not None
    assert (tmp_path / "calls.png").stat().st_size > 1000
    assert "concurrent media-stream calls" in run.stdout
    # the machine's speed now, beside the figures (it moves several-fold within a day on a shared host)
    assert all(0 < result["yardstick_ms"][k] < 60000 for k in ("start", "end")), result["yardstick_ms"]
    assert "yardstick" in run.stdout


@pytest.mark.slow
def test_bench_calls_pools_runs_and_says_what_the_machine_holds(tmp_path):
    """`--runs 2`: two runs of one call, their turns pooled; the table says how many calls at
    once held the reply p95 under the target."""
    out = tmp_path / "sweep.json"
    run = subprocess.run([sys.executable, "-m", "voicebot", "bench-calls", "--calls", "1", "--runs", "2",
                          "--json", str(out), "--plot", str(tmp_path / "sweep.png")],
                         capture_output=True, text=True, timeout=300)
    assert out.exists(), run.stderr[-2000:]
    result = json.loads(out.read_text())
    [one] = result["counts"]
    assert one["calls"] == 1 and len(one["runs"]) == 2 and len(one["per_call"]) == 2
    assert one["reply_latency_ms"]["n"] == sum(r["reply_latency_ms"]["n"] for r in one["runs"]) >= 4
    assert all(0 <= x < 15000 for c in one["per_call"] for x in c["latencies_ms"])
    assert result["holds"] == (1 if one["reply_latency_ms"]["p95"] < 1000 else 0)
    assert f"holds {result['holds']} call(s) at once" in run.stdout
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_most_held_needs_every_smaller_count_under_the_target():
    from voicebot.bench.calls import most_held

    def counts(*p95):
        return [{"calls": n, "reply_latency_ms": {"p95": v}} for n, v in zip((1, 2, 4, 8), p95)]
    assert most_held(counts(700, 900, 1200, 950), 1000) == 2  # 8 under it by luck, 4 over: holds 2
    assert most_held(counts(700, 900, 990, 999), 1000) == 8
    assert most_held(counts(1100, 900, 800, 700), 1000) == 0
    assert most_held(counts(700, None, 800, 700), 1000) == 1  # no turn answered at 2


def test_bench_calls_refuses_a_bad_count():
    from voicebot.bench.calls import calls_list
    from voicebot.options import UsageError
    assert calls_list("8") == [8] and calls_list("4,1,2,4") == [1, 2, 4]
    for bad in ("0", "two", "1,,2", "-1"):
        with pytest.raises(UsageError, match="--calls"):
            calls_list(bad)


def test_bench_calls_reads_callers_scripts_from_a_file(tmp_path):
    """`--scripts FILE`: the callers' own lines (a JSON list of scripts); a file that is not one
    is refused with a line naming it."""
    from voicebot.bench.calls import load_scripts
    from voicebot.options import UsageError
    good = tmp_path / "scripts.json"
    good.write_text(json.dumps([["Hello.", "No no no no."], ["Goodbye."]]))
    assert load_scripts(str(good)) == [["Hello.", "No no no no."], ["Goodbye."]]
    for name, text in [("empty.json", "[]"), ("flat.json", '["Hello."]'), ("blank.json", '[["Hello.", " "]]'),
                       ("bad.json", "not json")]:
        (tmp_path / name).write_text(text)
        with pytest.raises(UsageError, match=name):
            load_scripts(str(tmp_path / name))
    with pytest.raises(UsageError, match="missing.json"):
        load_scripts(str(tmp_path / "missing.json"))


def test_bench_calls_front_address_is_read_or_refused():
    """`--front`: HAProxy's or a worker's address, ws or http, with or without /media."""
    assert front_urls("ws://127.0.0.1:8088") == ("ws://127.0.0.1:8088/media", "http://127.0.0.1:8088/health")
    assert front_urls("https://bots.example.com/voice/media/") == (
        "wss://bots.example.com/voice/media", "https://bots.example.com/voice/health")
    assert front_urls("http://10.0.0.2:8080/")[0] == "ws://10.0.0.2:8080/media"
    for bad in ("127.0.0.1:8088", "ftp://host", "ws://", "ws://host/media?token=x"):
        with pytest.raises(UsageError, match="--front"):
            front_urls(bad)


def test_bench_calls_checks_the_front_before_calling(tmp_path):
    """A front that does not answer, or wants a key that was not given, is refused before any
    call; one worker answering /health itself is one worker."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(UsageError, match=f"127.0.0.1:{dead}/health did not answer"):
        front_check(f"ws://127.0.0.1:{dead}", None, None)
    bot = Bot(Config())  # its models load on a first call: none here
    server, thread, port = start_server(bot, "bench-key")
    try:
        with pytest.raises(UsageError, match="--token"):
            front_check(f"ws://127.0.0.1:{port}", None, None)
        with pytest.raises(UsageError, match="--workers"):
            front_check(f"ws://127.0.0.1:{port}", "bench-key", 0)
        assert front_check(f"ws://127.0.0.1:{port}", "bench-key", None) == 1
        assert front_check(f"http://127.0.0.1:{port}", "bench-key", 3) == 3
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.slow
def test_bench_calls_calls_a_front_started_elsewhere(tmp_path, capsys):
    """`--front URL --token KEY`: the callers go to a server the bench did not start (here one
    started the way the bench starts its own), their latencies measured; the call records are
    that server's, so the table says what it could not read instead of failing; the sweep says
    the calls held per worker and per core. A wrong key: the calls fail, the exit status says so."""
    bot = Bot(Config())
    bot.config.phone.db_url = f"sqlite:///{tmp_path}/calls.db"
    bot.warm_up()
    server, thread, port = start_server(bot, "bench-key")
    script = tmp_path / "script.json"
    script.write_text(json.dumps([["What time do your stores open on Sunday?"]]))
    out = tmp_path / "front.json"
    try:
        rc = voicebot(["bench", "calls", "--front", f"ws://127.0.0.1:{port}", "--token", "bench-key", "--calls", "1",
                       "--runs", "2", "--workers", "2", "--cores", "4", "--scripts", str(script), "--json", str(out)])
        printed = capsys.readouterr().out
        bad = voicebot(["bench", "calls", "--front", f"http://127.0.0.1:{port}/media", "--token", "wrong",
                        "--calls", "1", "--scripts", str(script), "--json", str(tmp_path / "bad.json")])
    finally:
        server.should_exit = True
        thread.join(10)
    result = json.loads(out.read_text())
    [one] = result["counts"]
    assert rc == 0 and one["failed_calls"] == 0 and one["reply_latency_ms"]["n"] == 2, one
    assert all(0 <= x < 15000 for c in one["per_call"] for x in c["latencies_ms"])
    assert result["front"] == f"ws://127.0.0.1:{port}" and one["dropped_frames"] is None
    assert "not read from a front: dropped frames" in printed
    held = result["holds"]
    assert result["holds_per_worker"] == held / 2 and result["holds_per_core"] == held / 4
    assert f"calls held: {held / 2:g} per worker (2), {held / 4:g} per core (4)" in printed
    assert bad == 1 and json.loads((tmp_path / "bad.json").read_text())["failed_calls"] == 1
