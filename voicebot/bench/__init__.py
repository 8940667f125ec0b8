"""Benchmarks and scoring: Whisper and TTS engines side by side (asr.py, tts.py), voice-to-voice
latency (latency.py), barge-in (barge_in.py), many phone callers at once (calls.py), archive
throughput (archive.py), WER and turns against references (score.py), and the test callers they
use: voices other than the bot's, noise and the telephone band (callers.py, archive_calls.py).
Each prints a table and writes JSON (and a PNG where asked)."""
