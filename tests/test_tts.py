"""Piper speaks real words: the project's own ASR hears them back."""
import numpy as np

from asr.audio import resample
from asr.events import Transcript
from asr.wer import normalize
from nlu.events import BotReply
from nlu.numbers import number_runs
from tts.base import TTSStage
from tts.events import AudioChunk


def test_piper_streams_one_chunk_per_sentence(piper):
    chunks = list(piper.synthesize("Your order has shipped. It arrives on Friday."))
    assert len(chunks) == 2 and all(c.dtype == np.float32 for c in chunks)
    assert piper.sample_rate == 22050


def test_tts_stage_resamples_and_marks_chunks(piper):
    check_tts_stage(piper)


def check_tts_stage(engine):
    """Any engine through the stage: events passed on, chunks at the sink's rate, marked."""
    reply = BotReply("Thanks for calling. Goodbye.")
    marker = Transcript("x", 0, 0)
    out = list(TTSStage(engine, out_rate=8000)(iter([marker, reply])))
    assert out[0] is marker and out[1] is reply
    chunks = [c for c in out if isinstance(c, AudioChunk)]
    # one chunk per sentence, sent at once, then the empty end-of-reply marker
    assert [c.index for c in chunks] == [0, 1, 2] and [c.last for c in chunks] == [False, False, True]
    assert len(chunks[0].samples) > 0 and len(chunks[1].samples) > 0 and len(chunks[2].samples) == 0
    assert all(c.sample_rate == 8000 and c.first_audio_ms > 0 for c in chunks)
    assert 1.0 < sum(len(c.samples) for c in chunks) / 8000 < 4.0


def test_first_sentence_goes_out_before_the_second_is_made(piper):
    log = []

    class Logged:  # the real Piper engine, noting when each sentence's audio is made
        name, sample_rate = piper.name, piper.sample_rate

        def synthesize(self, text):
            for i, chunk in enumerate(piper.synthesize(text)):
                log.append(f"made {i}")
                yield chunk

    for chunk in TTSStage(Logged()).speak(BotReply("Your order has shipped. It arrives on Friday.")):
        log.append(f"sent {chunk.index}")
    assert log == ["made 0", "sent 0", "made 1", "sent 1", "sent 2"]


def test_empty_reply_is_silent(piper):
    assert [type(e) for e in TTSStage(piper)(iter([BotReply("  ")]))] == [BotReply]


def test_round_trip_through_asr(piper, tiny):
    text = "Your order of wireless headphones has shipped and arrives on Friday."
    audio = np.concatenate(list(piper.synthesize(text)))
    heard = tiny.transcribe(resample(audio, piper.sample_rate, 16000)).text.lower()
    for word in ("order", "wireless headphones", "shipped", "friday"):
        assert word in heard, heard


def test_tts_bench_piper(tmp_path):
    from voicebot.bench.tts import REPLIES, plot, run, to_markdown
    results = run(["piper"], repeats=1, recognizer=None)
    r = results[0]
    assert r["engine"] == "piper" and r["replies"] == len(REPLIES) == len(r["first_audio_ms"])
    assert r["audio_s"] > 10 and 0 < r["rtf"] and r["first_audio_ms_p50"] <= r["first_audio_ms_p95"]
    assert to_markdown(results).count("\n") == 3
    plot(results, tmp_path / "tts.png")
    assert (tmp_path / "tts.png").read_bytes()[:4] == b"\x89PNG"


def test_long_first_sentence_is_cut_at_a_comma():
    from tts.base import pieces
    long = "We accept Visa, Mastercard, American Express, PayPal and gift cards. Anything else?"
    assert pieces(long) == ["We accept Visa,", "Mastercard, American Express, PayPal and gift cards. Anything else?"]
    assert pieces(long, first_piece_chars=0) == [long]
    assert pieces("Sure. What's your order number, please?") == ["Sure. What's your order number, please?"]
    assert pieces("Your order of wireless headphones has shipped and arrives on Friday.") == \
        ["Your order of wireless headphones has shipped and arrives on Friday."]  # no comma
    assert pieces("Hi, this is a long sentence that has its only comma right at the start.") == \
        ["Hi, this is a long sentence that has its only comma right at the start."]  # comma before 10 chars
    assert pieces("   ") == []
    assert pieces("The refund of $1,000.50 is on its way to your card, it takes three days.") == \
        ["The refund of $1,000.50 is on its way to your card,", "it takes three days."]


def test_cut_reply_is_still_understood(piper, tiny):
    text = "Order 4 5 6 7, your wireless headphones, is on its way and should arrive on Thursday."
    chunks = [c for c in TTSStage(piper, out_rate=16000).speak(BotReply(text)) if len(c.samples)]
    assert len(chunks) == 2 and len(chunks[0].samples) < len(chunks[1].samples) / 2
    # what the caller gets: the order number as the NLU reads it (Whisper spells it "four five
    # six seven", or hears "for five six seven"), and the words
    raw = tiny.transcribe(np.concatenate([c.samples for c in chunks])).text
    assert "4567" in [r.digits for r in number_runs(raw)], raw
    heard = normalize(raw)
    for word in ("wireless headphones", "on its way", "thursday"):
        assert word in heard, heard


def test_lines_said_before_come_from_the_cache(piper):
    from tts.cache import CachedSynthesizer
    line = "Thanks for calling Brightline Home. How can I help you today?"
    cache = CachedSynthesizer(piper, max_s=30)
    made = list(cache.synthesize(line))
    again = list(cache.synthesize(line))
    assert len(made) == 2 and all(np.array_equal(a, b) for a, b in zip(made, again))
    assert (cache.hits, cache.misses) == (1, 1) and cache.sample_rate == piper.sample_rate
    again[0][:] = 0  # what a consumer does with its copy stays its own
    assert np.array_equal(list(cache.synthesize(line))[0], made[0])
    # a reply dropped half made (a barge-in) is not kept: its next use synthesizes it whole
    gen = cache.synthesize("Your order has shipped. It arrives on Friday.")
    next(gen)
    gen.close()
    assert len(list(cache.synthesize("Your order has shipped. It arrives on Friday."))) == 2 and cache.misses == 3
    # full: the least recently used line goes first (an engine of fixed lengths: Piper's vary)
    class Fixed:
        sample_rate = 1000

        def synthesize(self, text):
            yield np.zeros(100 * len(text), np.float32)
    small = CachedSynthesizer(Fixed(), max_s=2.4)  # 2400 samples: "Hello." 600, "Goodbye." 800, "One moment." 1100
    for text in ["Hello.", "Goodbye.", "Hello.", "One moment."]:
        list(small.synthesize(text))
    assert list(small._audio) == ["Hello.", "One moment."]


def test_a_one_thread_voice_from_the_config_still_speaks_the_words(tiny):
    """tts.threads: 1 (what it did to 8 calls at once: docs/benchmarks.md, "Phone calls at once")."""
    from voicebot.bot import Bot
    from voicebot.config import Config
    cfg = Config()
    cfg.device, cfg.tts.threads = "cpu", 1
    engine = Bot(cfg).synthesizer
    assert engine.voice.session.get_session_options().intra_op_num_threads == 1
    audio = np.concatenate(list(engine.synthesize("Your password reset link has been sent to your email.")))
    heard = tiny.transcribe(resample(audio, engine.sample_rate, 16000)).text.lower()
    for word in ("password", "sent", "email"):  # ("reset link" is heard "resettling" at times)
        assert word in heard, heard
