"""Stage composition, the threaded runner, and the typed config."""
import threading
import time

import pytest

from voicebot.config import Config
from voicebot.pipeline import Pipeline, in_thread


def add(n):
    def stage(events):
        for e in events:
            yield e + n
    return stage


def test_pipeline_composes_lazily():
    pulled = []

    def source():
        for i in range(3):
            pulled.append(i)
            yield i
    out = Pipeline(add(1), add(10))(source())
    assert pulled == []  # nothing runs until someone pulls
    assert next(out) == 11 and pulled == [0]
    assert list(out) == [12, 13]


def test_in_thread_keeps_order_and_runs_elsewhere():
    names = []

    def stage(events):
        for e in events:
            names.append(threading.current_thread().name)
            yield e * 2
    assert list(Pipeline(in_thread(stage, 2), add(1))(iter(range(100)))) == [2 * i + 1 for i in range(100)]
    assert set(names) != {threading.current_thread().name}


def test_in_thread_queue_is_bounded():
    produced = []

    def fast(events):
        for e in events:
            produced.append(e)
            yield e
    out = in_thread(fast, maxsize=4)(iter(range(1000)))
    next(out)
    time.sleep(0.3)
    assert len(produced) <= 4 + 2  # the producer waits for the consumer
    out.close()


def test_in_thread_passes_errors_on():
    def broken(events):
        yield 1
        raise RuntimeError("stage broke")
    out = in_thread(broken)(iter([]))
    assert next(out) == 1
    with pytest.raises(RuntimeError, match="stage broke"):
        next(out)


def test_config_from_yaml(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("device: cpu\nasr: {model: tiny.en, beam_size: 5}\nvad: {engine: silero}\ntts: {sample_rate: 8000}\n")
    cfg = Config.load(path)
    assert cfg.device == "cpu" and cfg.asr.model == "tiny.en" and cfg.asr.beam_size == 5
    assert cfg.asr.backend == "faster-whisper"  # defaults kept
    assert cfg.vad.engine == "silero" and cfg.tts.sample_rate == 8000


@pytest.mark.parametrize("text, message", [
    ("asr: {modle: base}\n", r"c\.yml\.asr: unknown key\(s\) modle"),
    ("nonsense: 1\n", r"unknown key\(s\) nonsense"),
    ("asr: [1, 2]\n", "expected a mapping"),
    ("asr: {model: [\n", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
    # types and ranges are checked when the file loads, not when a model first uses them
    ("asr: {beam_size: five}\n", r"c\.yml\.asr\.beam_size: expected int, got 'five'"),
    ("asr: {beam_size: 0}\n", r"asr\.beam_size: 0 is out of range \(1 to 20\)"),
    ("asr: {short_context: maybe}\n", r"asr\.short_context: expected bool, got 'maybe'"),
    ("asr: {threads: 1.5}\n", r"asr\.threads: expected int, got 1\.5"),
    ("asr: {model: null}\n", r"asr\.model: a value is needed, not null"),
    ("vad: {engine: fancy}\n", r"vad\.engine: 'fancy' is not one of silero, webrtc"),
    ("vad: {aggressiveness: 5}\n", r"vad\.aggressiveness: 5 is out of range \(0 to 3\)"),
    ("audio: {frame_ms: 25}\n", r"audio\.frame_ms: 25 is not one of 10, 20, 30"),
    ("device: tpu\n", r"c\.yml\.device: 'tpu' is not one of auto, cpu, cuda"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "c.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        Config.load(path)


def test_config_accepts_ints_for_floats_and_null_where_optional():
    cfg = Config.from_dict({"asr": {"margin_s": 2}, "tts": {"sample_rate": None}, "vad": {"threshold": 1}})
    assert cfg.asr.margin_s == 2 and cfg.tts.sample_rate is None and cfg.vad.threshold == 1


def test_cli_names_a_bad_config_value_before_loading_models(tmp_path):
    import subprocess
    import sys
    (tmp_path / "c.yml").write_text("asr: {beam_size: five}\n")
    r = subprocess.run([sys.executable, "-m", "voicebot.cli", "transcribe", "x.wav", "--config", str(tmp_path / "c.yml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().endswith("asr.beam_size: expected int, got 'five'")
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_config():
    with pytest.raises(ValueError, match="no such config file"):
        Config.load("/no/such.yml")
