"""Loading the engines a config names, once, and building a call's pipeline from them."""
from __future__ import annotations

from functools import cached_property

from asr import load_recognizer
from asr.base import ASRStage
from asr.batching import BatchingRecognizer
from asr.vad import Segmenter
from asr.whole_call import WholeCallASR, supports
from nlu.dialogue import DialoguePolicy
from nlu.domain import load_domain
from nlu.orders import OrderStore
from nlu.stage import DialogueStage, NLUStage, load_nlu
from tts import load_synthesizer
from tts.base import TTSStage
from tts.cache import CachedSynthesizer
from voicebot.config import Config
from voicebot.pipeline import Pipeline


class Bot:
    """Engines load lazily: `voicebot nlu` never loads Whisper, `transcribe` never loads a voice."""

    def __init__(self, config: Config | None = None):
        self.config = config or Config()

    @cached_property
    def recognizer(self):
        c = self.config.asr
        options = {}
        if c.backend == "faster-whisper" and c.max_batch > 1:
            options["workers"] = 2  # the queue's copy, and one for retries beside it (asr/batching.py)
        if c.backend == "faster-whisper":
            options["numerals"] = c.numerals
        recognizer = load_recognizer(c.backend, c.model, device=self.config.device, compute_type=c.compute_type,
                                     beam_size=c.beam_size, threads=c.threads, short_context=c.short_context,
                                     margin_s=c.margin_s, max_tokens_per_s=c.max_tokens_per_s, **options)
        if c.max_batch <= 1:
            return recognizer
        return BatchingRecognizer(recognizer, c.max_batch, c.decoders)  # calls at once: one decoder queue, batched

    @cached_property
    def nlu(self):
        return load_nlu(self.config.nlu.model, self.config.device, self.config.dialogue.domain)

    @cached_property
    def domain(self):
        return load_domain(self.config.dialogue.domain)

    @cached_property
    def domain_words(self) -> str:
        """Whisper's previous text of the domain's words for recorded calls (asr.domain_prompt)."""
        style = self.config.asr.domain_prompt
        return self.domain.asr_words(style) if style else ""

    @cached_property
    def policy(self):
        store = OrderStore(self.config.dialogue.db_url)
        store.seed(self.domain.orders)
        return DialoguePolicy(self.domain, store)

    @cached_property
    def synthesizer(self):
        c = self.config.tts
        options = {"voice": c.voice, "device": self.config.device}
        if c.length_scale is not None:
            options["length_scale"] = c.length_scale
        if c.threads and c.engine == "piper":
            options["threads"] = c.threads
        engine = load_synthesizer(c.engine, **options)
        if not c.cache_s:
            return engine
        return CachedSynthesizer(engine, c.cache_s)

    def warm_up(self) -> None:
        """Load the engines side by side (their loads are mostly native code that lets the
        other threads run), then run each once: first calls pay for lazy set-up, and a caller
        should not. Also makes per-turn latencies comparable from the first turn on."""
        from concurrent.futures import ThreadPoolExecutor

        import numpy as np
        with ThreadPoolExecutor(3) as pool:
            for job in [pool.submit(lambda: self.recognizer), pool.submit(lambda: self.nlu),
                        pool.submit(lambda: self.synthesizer)]:
                job.result()  # an engine that cannot load raises here
        self.recognizer.transcribe(np.zeros(16000, np.float32))
        self.nlu.parse("hello")
        for _ in self.synthesizer.synthesize("Hello."):
            pass
        self.policy.faq  # noqa: B018 (opens the order database, embeds the knowledge base's questions)

    def vad(self):
        return Segmenter(self.config.vad)

    def asr(self):
        """The ASR stage for recorded audio (calls, archives): the whole call is there, so its
        turns are decoded together when the engine can (asr/whole_call.py). Live calls read
        each turn as it ends (voicebot/live/turns.py)."""
        c = self.config.asr
        if c.whole_call and supports(self.recognizer):
            # a mono call (`voicebot call`, `score`): the caller's words, so the domain's words
            # (asr.domain_prompt), never the company's name alone (docs/benchmarks.md); archives
            # give each track its own prompt (`tracks`, voicebot/archive/analysis.py)
            return WholeCallASR(self.recognizer, c.no_speech_threshold, c.whole_call_beam_size,
                                c.whole_call_margin_s, c.whole_call_window_s, c.whole_call_batch,
                                prompt=self.domain_words, two_readings=c.whole_call_two_readings)
        return ASRStage(self.recognizer, c.no_speech_threshold, c.context_s)

    def tts(self):
        return TTSStage(self.synthesizer, self.config.tts.sample_rate, self.config.tts.first_piece_chars)

    def call_pipeline(self, greet: bool = False) -> Pipeline:
        """The whole chain for one call, with a fresh conversation: tts(dialogue(nlu(asr(vad(frames)))))."""
        return Pipeline(self.vad(), self.asr(), NLUStage(self.nlu),
                        DialogueStage(self.policy.new_conversation(), greet), self.tts())
