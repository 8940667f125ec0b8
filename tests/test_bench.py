"""The ASR benchmark's own logic, and one small end-to-end run (no assertion on speed)."""
import json

import pytest

from asr.vad import VADSettings
from asr.wer import normalize, wer
from tests.conftest import JFK, SAMPLES
from voicebot.bench.asr import BenchConfig, BenchRun, load_dataset, percentile, to_markdown


def test_percentile_matches_numpy_definition():
    values = [10, 20, 30, 40, 50]
    assert percentile(values, 50) == 30
    assert percentile(values, 95) == pytest.approx(48)
    assert percentile([7.0], 95) == 7.0


def test_wer_normalization():
    assert normalize("The order number is four five six seven.") == "the order number is 4567"
    assert normalize("Hello, Mr. Smith!") == normalize("hello mister smith")
    assert wer(["That's all. Goodbye."], ["that is all goodbye"]) == 0.0
    assert wer(["ask what you can do"], ["ask what you do"]) == pytest.approx(0.2)
    assert wer(["", ""], ["", ""]) == 0.0
    # digit strings: spoken, spaced or hyphenated, the same number
    assert normalize("cancel order number one two three four") == "cancel order number 1234"
    assert normalize("Cancel order number 1-2-3-4.") == normalize("cancel order number 1 2 3 4") \
        == "cancel order number 1234"
    assert normalize("no one came at 3 pm") == "no one came at 3 pm"
    assert normalize("OK, thanks.") == normalize("Okay, thanks.")  # one word, two spellings
    # a phone number in Whisper's ways of writing it, and spoken; a leading zero kept; decimals stay
    spoken = normalize("call me at five five five, two one nine, zero eight four zero")
    assert spoken == "call me at 5552190840"
    assert normalize("Call me at 555-219-0840.") == normalize("call me at 555.219.0840") == spoken
    assert normalize("call me at 555 219 0840") == normalize("call me at 5 5 5 2 1 9 0 8 4 0") == spoken
    assert normalize("it was 3.05 at 2.50 dollars") == "it was 3.05 at $2.50"


def test_dataset_from_dir_and_readme(tmp_path):
    data = load_dataset([SAMPLES / "utterances", JFK])
    assert len(data) == 15
    assert data[-1].reference.startswith("And so, my fellow Americans")  # from ../shared/audio/README.md
    assert data[-1].duration_s == pytest.approx(11.0, abs=0.01) and all(u.duration_s > 0.5 for u in data)
    (tmp_path / "a.wav").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"a\.wav: no reference transcript \(a\.txt is missing\)"):
        load_dataset([tmp_path])


def test_end_to_end_two_utterances_json_schema(tmp_path):
    data = load_dataset([SAMPLES / "utterances"])[:2]
    configs = [BenchConfig("faster-whisper", "short", "tiny.en", "cpu", "int8"),
               BenchConfig("faster-whisper", "30s", "tiny.en", "cpu", "int8")]
    report = BenchRun(configs, data, repeats=2, warmup=1, streaming=[VADSettings("webrtc", hangover_ms=300)],
                      stream_utterances=2, realtime=False).run(progress=False)
    json.dumps(report)  # serializable
    assert len(report["results"]) == 2
    for r in report["results"]:
        assert r["backend"] == "faster-whisper" and r["context"] in ("short", "30s") and r["model"] == "tiny.en"
        assert r["device"] == "cpu" and r["compute_type"] == "int8" and r["beam_size"] == 1
        assert set(r["latency_ms"]) >= {"p50", "p95", "max"}
        assert r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] <= r["latency_ms"]["max"]
        assert r["rtf"] > 0 and r["load_s"] > 0 and r["peak_rss_mb"] > 50
        assert 0 <= r["wer"] < 0.3
        assert len(r["utterances"]) == 2 and all(len(u["latency_ms_all"]) == 2 for u in r["utterances"])
    s = report["streaming"][0]
    assert s["transcripts"] == 2 and s["missed"] == [] and s["latency_ms"]["p50"] >= 300  # hangover included
    missed = {**s, "transcripts": 1, "missed": [data[1].name]}
    assert f"1/2 (missed {data[1].name})" in to_markdown({**report, "streaming": [missed]})
    md = to_markdown(report)
    assert md.count("faster-whisper") == 3


def test_failed_configuration_is_reported_not_fatal():
    data = load_dataset([SAMPLES / "utterances"])[:1]
    report = BenchRun([BenchConfig("faster-whisper", "short", "/no/such/model", "cpu", "int8")], data,
                      repeats=1).run(progress=False)
    assert "error" in report["results"][0]
    assert "skipped" in to_markdown(report)


def test_cli_named_configuration_that_cannot_run(tmp_path):
    # a named configuration that cannot load is a failure (exit 1) with its reason in the
    # table and the JSON, not a traceback
    from tests.test_calls import voicebot
    r = voicebot("bench-asr", "--backend", "openai-whisper", "--model", str(tmp_path / "missing.pt"), "--limit", "1", "--repeats", "1",
                 "--no-streaming", "-q", "--json", str(tmp_path / "b.json"))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    result = json.loads((tmp_path / "b.json").read_text())["results"][0]
    assert result["backend"] == "openai-whisper" and "missing.pt" in result["error"]
