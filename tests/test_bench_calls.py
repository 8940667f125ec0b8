"""`voicebot bench-calls` end to end: one real-time media-stream caller against the real server."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


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


def test_bench_calls_reads_callers_scripts_from_a_file(tmp_path):
    """`--scripts FILE`: the callers' own lines (a JSON list of scripts); a file that is not one
    is refused with a line naming it."""
    from voicebot.bench_calls import load_scripts
    from voicebot.cli import UsageError
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
