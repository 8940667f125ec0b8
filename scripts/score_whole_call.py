"""What voicebot's turns would score with words from one whole-call decode.

faster-whisper's own `transcribe` of the whole call file (its VAD, 30 s windows, any compute
type and beam), its words put into voicebot's turns by their timestamps: the measurement that
led to `asr/whole_call.py`, kept to compare other decodes the same way. The turns (and intents)
come from a `voicebot bench score` run's output.

    voicebot bench score runs/tc28t --out runs/s3
    python scripts/score_whole_call.py runs/tc28t runs/s3/voicebot --compute-type float32 --beam-size 5
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asr.models import faster_whisper_model  # noqa: E402
from asr.whole_call import nearest  # noqa: E402
from voicebot.bench.score import read_reference, reference_files, score_call, totals, voicebot_turns  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("calls", help="the scored calls (WAV files with .txt references)")
    p.add_argument("results", help="the voicebot output directory of a `voicebot bench score` run on them")
    p.add_argument("--model", default="base")
    p.add_argument("--compute-type", default="int8")
    p.add_argument("--beam-size", type=int, default=5)
    args = p.parse_args()
    from faster_whisper import WhisperModel
    model = WhisperModel(faster_whisper_model(args.model), device="cpu", compute_type=args.compute_type, cpu_threads=1)
    files, _ = reference_files([args.calls])
    scores, t0 = [], time.perf_counter()
    for f in files:
        _, intents, spans = voicebot_turns(Path(args.results), f.stem)
        segments, _ = model.transcribe(str(f), beam_size=args.beam_size, vad_filter=True, word_timestamps=True,
                                       language="en")
        texts = [""] * len(spans)
        for w in (w for s in segments for w in s.words):
            if spans:
                texts[nearest(spans, (w.start + w.end) / 2)] += w.word
        scores.append(score_call(f.stem, read_reference(f.with_suffix(".txt")), [t.strip() for t in texts],
                                 intents, spans))
    t = totals(scores)
    print(f"{args.model} {args.compute_type} beam {args.beam_size}: WER {100 * t['wer']:.1f} %, turns right "
          f"{t['right']}/{t['turns']}, digit strings {t['numbers_right']}/{t['numbers']}, "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
