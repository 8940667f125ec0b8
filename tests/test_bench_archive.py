"""`voicebot bench-archive` end to end: one archive call (two test voices), analysed in a real run."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "audio_samples"


@pytest.mark.slow
def test_bench_archive_measures_only_the_calls_it_was_asked_for(tmp_path):
    # a call left in --out by an earlier, bigger run: it was analysed too, and the audio hours of
    # every call were set against the wall time (and WER) of the calls asked for
    (tmp_path / "calls").mkdir()
    shutil.copy(SAMPLES / "billing_complaint_stereo_8k.wav", tmp_path / "calls" / "left_from_before.wav")
    out = tmp_path / "archive.json"
    run = subprocess.run([sys.executable, "-m", "voicebot", "bench-archive", "--calls", "1", "--out", str(tmp_path),
                          "--run", "embedded, 1 worker", "--no-plain", "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert out.exists(), run.stderr[-2000:]
    report = json.loads(out.read_text())
    (row,) = report["results"]
    assert row["calls"] == 1, row
    import soundfile as sf
    made = [p for p in (tmp_path / "calls").glob("*.wav") if p.name != "left_from_before.wav"]
    assert len(made) == 1 and abs(row["audio_s"] - sf.info(str(made[0])).duration) < 0.5, (row, made)
    assert row["x_real_time"] > 0 and 0 <= row["wer"] < 0.35, row  # the two test voices, heard
    assert all(0 < report["yardstick_ms"][k] < 60000 for k in ("start", "end"))
    assert "| embedded, 1 worker |" in run.stdout
