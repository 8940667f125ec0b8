"""faster-whisper (CTranslate2): the default backend.

Short-context encoding: Whisper was trained on 30 s windows, but CTranslate2's encoder
takes fewer frames. A 3 s utterance encoded at its own length plus a margin costs a
fraction of the padded 30 s window (see docs/benchmarks.md). Without the padding the
decoder loses some of its sense of where the audio ends and can loop (measured: 5 of 14
sample utterances repeated their sentence). Decoding with timestamps fixes most of it:
text the model places after the end of the audio is dropped, new tokens are capped per
second of audio, and a result with no closed segment is decoded again (without the
context, then with a longer margin) and only then with the 30 s window.

Context: the caller's previous turn goes first in the window, with its text forced as an
already closed segment, so the decoder goes on with the new turn knowing the voice and the
line (see asr.base.Context).
"""
from __future__ import annotations

import os

import numpy as np

# CTranslate2's OpenMP threads spin while they wait for work, on cores the VAD, the NLU and the
# voice need (measured: 80 noisy turns one after another in 20.7-25.7 s, 13.7-14.9 s with
# passive waiting, one thread each time). Read when its OpenMP runtime loads: set before that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from asr.base import RATE, WINDOW_S, Context, Recognition, is_silence
from asr.device import compute_type as pick_compute_type
from asr.device import ctranslate2_device
from asr.digits import as_said, digit_runs, prefer_words, spell_digits
from asr.models import faster_whisper_model


class FasterWhisper:
    name = "faster-whisper"

    def __init__(self, model: str = "base", device: str = "auto", compute_type: str = "auto",
                 beam_size: int = 1, threads: int = 0, short_context: bool = True,
                 margin_s: float = 1.0, retry_margin_s: float = 3.0, max_tokens_per_s: float = 8.0,
                 language: str = "en", prompt: str = "", workers: int = 1, numerals: str = "check"):
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.device = ctranslate2_device(device)
        self.compute_type = pick_compute_type(self.device, compute_type)
        self.model_name = model
        # One thread per decode. Whisper base on a turn of a few seconds gains nothing from a
        # second one on these 2-core machines, it loses: 80 noisy turns in 13.7-14.9 s with one
        # thread, 21.5-23.1 s with two (each turn slower: 108 against 148-186 ms under 4 s of
        # audio, 297 against 465-523 ms at 8-12 s), and the other core stays free for the
        # voice, the NLU and other calls. CTranslate2's own default (4) was slower still.
        threads = threads or 1
        # `workers`: copies of the model that decode at once, each on its own thread(s) (a
        # second one lets a slow retry run beside the other calls' turns: asr/batching.py)
        self.model = WhisperModel(faster_whisper_model(model), device=self.device,
                                  compute_type=self.compute_type, cpu_threads=threads, num_workers=workers)
        multilingual = self.model.model.is_multilingual
        self.language = language if multilingual else "en"
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, multilingual, task="transcribe",
                                   language=self.language)
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])
        # `numerals` (issue 28): with digits allowed Whisper base writes a digit string as a
        # number of its own ("four four one two zero" -> "414120", "58213A", "0017"). "words":
        # every token holding a digit (or $ % £ €) suppressed, so it writes the words said, and
        # asr.digits joins them ("four four one two zero" -> 44120); alone it fixed such numbers
        # but garbled hard lines worse (recorded digit sets: WER 21.1 -> 24.7 %, 25.3 -> 35.7 %).
        # "check": Whisper's own digits, and for a window of a recorded call (transcribe_windows)
        # holding a digit string a second decode with them suppressed, taken where its digit
        # strings are the first's with one digit more or less each (asr.digits.prefer_words):
        # digit strings right 57 -> 62 of 93 on four sets, WER lower on three, for about 1.6x the
        # Whisper time of calls full of numbers; a live turn is decoded once, as with "digits".
        # "digits": Whisper's own numbers. Runs of spoken digits are joined in every mode.
        if numerals not in ("check", "words", "digits"):
            raise ValueError(f"numerals must be 'check', 'words' or 'digits', not {numerals!r}")
        self.numerals = numerals
        self.suppress_numerals = self.suppress
        if numerals != "digits":
            self.suppress_numerals = sorted(set(self.suppress) | set(numeral_tokens(self.model.hf_tokenizer, self.tokenizer.eot)))
        # words the line is likely to hear (the domain's names), as Whisper's "previous text"
        self.prompt = prompt.strip()
        self.beam_size = beam_size
        self.short_context = short_context
        self.margin_s = margin_s
        self.retry_margin_s = retry_margin_s
        self.max_tokens_per_s = max_tokens_per_s
        self.retries = 0  # short-context decodes redone with the longer margin
        self.fallbacks = 0  # ... and then with the full window

    def transcribe(self, audio: np.ndarray, context: Context | None = None) -> Recognition:
        audio = np.asarray(audio, np.float32)
        if len(audio) == 0:
            return Recognition("", 1.0, -10.0)
        if self.short_context:
            for i, (margin, ctx) in enumerate(self._tries(audio, context)):
                self.retries += i > 0
                r = self._short(audio, margin, ctx)
                if r is not None:
                    return self._voted(audio, ctx, r)
            self.fallbacks += bool(self._tries(audio, context))
        return self._full(audio)

    def _voted(self, audio: np.ndarray, context: Context | None, r: Recognition) -> Recognition:
        """numerals="check", a live turn holding a digit string: two more readings of it, one
        with numerals suppressed (the digits said as words), one without the earlier turns (or,
        heard alone already, with 5 beams). The words' reading wins where it is Whisper's own
        number with a doubled digit single ("7 8 9 0" -> 78890: base's commonest slip on digit
        strings); else the digit strings two of the three agree on. With the earlier turns in view
        base wrote "It's 4 5 6 7." as "45667"; alone 4567, as words "four five six seven".
        Order numbers by voice (voicebot test, 24 x 3 voices, wide and phone): first in a turn
        43 -> 52 of 72 right, after earlier turns 52 -> 59 of 72; two more decodes on those turns."""
        if self.numerals != "check" or not digit_runs(r.text):
            return r
        job = self._prepare(audio, self.margin_s, context, words=True)
        _, res = self._generate([job], self.beam_size)
        spelled = as_said(self._finish(job, res[0]))
        if context is not None:
            alone = self._short(audio, self.margin_s, None)
        else:  # heard alone already: the third reading searches wider (5 beams)
            again = self._prepare(audio, self.margin_s, None)
            _, res = self._generate([again], max(5, self.beam_size))
            alone = as_said(self._finish(again, res[0]))
        first = digit_runs(r.text)
        if spelled is not None and undoubled(first, digit_runs(spelled.text)):
            return spelled  # Whisper base's own numbers double a digit ("7 8 9 0" -> 78890); said as words they do not
        if spelled is None or alone is None or first in (digit_runs(spelled.text), digit_runs(alone.text)):
            return r
        return alone if digit_runs(alone.text) == digit_runs(spelled.text) else r

    def _tries(self, audio: np.ndarray, context: Context | None) -> list[tuple[float, Context | None]]:
        """The short-context decodes to try in turn before the 30 s window."""
        tries = [(m, context) for m in dict.fromkeys((self.margin_s, self.retry_margin_s))]
        if context is not None:
            tries.insert(1, (self.margin_s, None))  # a context that misleads: try without
        return [(m, c) for m, c in tries if len(audio) / RATE + m + (len(c.audio) / RATE if c else 0) < WINDOW_S]

    def transcribe_many(self, items: list[tuple[np.ndarray, Context | None]]) -> list[Recognition]:
        """Several utterances (of several calls) at once: `first_tries`, then `finish` for each
        utterance that needs more."""
        firsts = self.first_tries(items)
        return [r if r is not None else self.finish(a, c) for r, (a, c) in zip(firsts, items)]

    def first_tries(self, items: list[tuple[np.ndarray, Context | None]]) -> list[Recognition | None]:
        """The first short-context decode of each utterance, all in one batch (padded with
        silence to the longest, which is only a longer margin); None where that decode did not
        close (or there is none: too long for a short window): `finish` does the rest."""
        items = [(np.asarray(a, np.float32), c) for a, c in items]
        out: list[Recognition | None] = [Recognition("", 1.0, -10.0) if len(a) == 0 else None for a, _ in items]
        firsts = {i: t for i, (a, c) in enumerate(items) if (t := self._first_try(a, c))}
        for with_context in (False, True):  # the first timestamp's limit differs: one batch each
            group = [i for i, (m, c) in firsts.items() if (c is not None) == with_context]
            jobs = {i: self._prepare(items[i][0], *firsts[i]) for i in group}
            for batch in _alike(sorted(group, key=lambda i: len(jobs[i]["padded"])), jobs):
                for i, r in zip(batch, self._decode([jobs[i] for i in batch])):
                    out[i] = r if r is None else self._voted(items[i][0], firsts[i][1], r)
        return out

    def finish(self, audio: np.ndarray, context: Context | None = None) -> Recognition:
        """`transcribe` after `first_tries` gave None: the tries after the first."""
        audio = np.asarray(audio, np.float32)
        if self._first_try(audio, context) is None:  # first_tries had none to make: all of transcribe
            return self.transcribe(audio, context)
        return self._after_first(audio, context)

    def _first_try(self, audio: np.ndarray, context: Context | None) -> tuple[float, Context | None] | None:
        """The (margin, context) of the first short-context decode, None when there is none."""
        tries = self._tries(audio, context) if self.short_context and len(audio) else []
        return tries[0] if tries else None

    def _after_first(self, audio: np.ndarray, context: Context | None) -> Recognition:
        tries = self._tries(audio, context)
        for margin, ctx in tries[1:]:
            self.retries += 1
            r = self._short(audio, margin, ctx)
            if r is not None:
                return r
        self.fallbacks += 1
        return self._full(audio)

    def _short(self, audio: np.ndarray, margin_s: float, context: Context | None = None) -> Recognition | None:
        return self._decode([self._prepare(audio, margin_s, context)])[0]

    def _prepare(self, audio: np.ndarray, margin_s: float, context: Context | None, previous: str = "",
                 words: bool | None = None) -> dict:
        """A decode's input. `words`: with numerals suppressed (None: as `numerals` decodes first),
        the text before the turn then spelled out as words."""
        words = self.numerals == "words" if words is None else words
        spelled = spell_digits if words else str
        duration = len(audio) / RATE
        lead = len(context.audio) / RATE if context else 0.0
        padded = np.concatenate([context.audio if context else np.zeros(0, np.float32), audio,
                                 np.zeros(int(margin_s * RATE), np.float32)])
        # Timestamps on: the segment's closing timestamp tells where the model thinks the
        # speech ends, and text it starts after the audio's end is a loop, not speech.
        # Whisper's previous text: the domain's words, earlier turns; as this decode may write them
        before = spelled(f"{self.prompt} {previous.strip()}".strip())
        said = self.tokenizer.encode(" " + before) if before else []
        prompt = self.model.get_prompt(self.tokenizer, said, without_timestamps=False)
        prefix = []
        if context:  # the previous turn as an already decoded segment: the model goes on after it
            tb = self.tokenizer.timestamp_begin
            # (a forced token the decode suppresses would score -inf: digits go in as words)
            prefix = [tb] + self.tokenizer.encode(" " + spelled(context.text)) + [tb + round(lead / 0.02)]
        # the cap on new tokens; a prefix counts against max_length, with room to spare (with
        # room for it once, short turns still stopped before their closing timestamp). Digits as
        # words take two tokens each with the commas Whisper puts between them ("nine, zero,
        # zero, one, seven,"): twice the cap, or a digit string stops before its end
        cap = min(self._token_cap(duration) * (2 if words else 1), self.model.max_length - len(prompt) - 2 * len(prefix))
        return {"padded": padded, "prompt": prompt, "prefix": prefix, "lead": lead, "duration": duration,
                "max_length": len(prompt) + 2 * len(prefix) + cap, "context": context is not None,
                "words": words, "args": (audio, margin_s, context, previous)}

    def _decode(self, jobs: list[dict]) -> list[Recognition | None]:
        """Encode and decode jobs of `_prepare` together (one: as it is; more: padded to the longest)."""
        _, results = self._generate(jobs, self.beam_size)
        # (numerals="check" decodes a live turn once: greedy, the second decode added digits as
        # often as it dropped them, "seven one zero zero eight" -> "710008": 44 -> 43 of 78 right)
        return [as_said(self._finish(j, res)) for j, res in zip(jobs, results)]

    def _checked(self, jobs: list[dict], out: list[Recognition | None], beam_size: int,
                 prepare) -> list[Recognition | None]:
        """numerals="check": the windows holding a digit string decoded again with numerals
        suppressed, that decode taken where asr.digits.prefer_words says so."""
        if self.numerals != "check":
            return out
        redo = [k for k, r in enumerate(out) if r is not None and digit_runs(r.text)]
        if not redo:
            return out
        again = [prepare(*jobs[k]["args"], words=True, full=jobs[k].get("full", False)) for k in redo]
        _same_start(again, self.tokenizer)
        _, results = self._generate(again, beam_size)
        out = list(out)
        for k, job, res in zip(redo, again, results):
            w = self._finish(job, res)
            if w is not None and prefer_words(out[k].text, w.text):
                out[k] = w
        return out

    def _generate(self, jobs: list[dict], beam_size: int):
        longest = max(len(j["padded"]) for j in jobs)
        frames = longest // 160 + 1  # what the feature extractor gives for the longest
        if any(j.get("full") for j in jobs):  # Whisper's own window: 3000 frames after the trim below
            frames = round(WINDOW_S * 100) + 1
        feats = []
        for j in jobs:
            if j.get("mel_margin"):  # the margin as zero features, as faster-whisper pads its windows
                n = round((j["lead"] + j["duration"]) * RATE)  # the audio before the margin
                f = self.model.feature_extractor(j["padded"][:n])
                f = np.pad(f, ((0, 0), (0, frames - f.shape[-1])))  # every job of a batch as long
            else:
                f = self.model.feature_extractor(np.pad(j["padded"], (0, longest - len(j["padded"]))))
            feats.append(f[:, :(f.shape[-1] - 1) // 2 * 2])  # the encoder's conv halves the frames: keep it even
        encoded = self.model.encode(np.ascontiguousarray(np.stack(feats)) if len(feats) > 1
                                    else np.ascontiguousarray(feats[0]))
        results = self.model.model.generate(
            encoded, [j["prompt"] + j["prefix"] for j in jobs], beam_size=beam_size,
            max_length=max(j["max_length"] for j in jobs), return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=self.suppress_numerals if jobs[0]["words"] else self.suppress,
            max_initial_timestamp_index=1500 if jobs[0]["context"] else 50)
        return encoded, results

    def transcribe_words(self, audio: np.ndarray, beam_size: int = 5, margin_s: float = 3.0,
                         previous: str = "") -> tuple[Recognition, list[tuple[float, float, str]]] | None:
        """One decode of `audio` (up to 30 s less the margin) and its words with their times, for
        the turns of a recorded call decoded together (asr.whole_call). `previous` is the text
        before it, as Whisper's previous-text prompt. None when the decode loops or fails."""
        return self.transcribe_windows([(audio, margin_s, previous)], beam_size)[0]

    def transcribe_windows(self, windows: list[tuple[np.ndarray, float, str]], beam_size: int = 5,
                           full: bool = False) -> list[tuple[Recognition, list[tuple[float, float, str]]] | None]:
        """`transcribe_words` for several windows (audio, margin_s, previous) in one batch: one
        encode, one beam search, one alignment. Each step of the search reads the whole output
        layer (51,865 words x 512, int8: 26 MB) however many rows it scores, so two windows
        cost much less than two decodes (48 archive windows: 17.9 s one by one, 14.3 s in
        pairs). A window shorter than the batch's longest gets the difference as more margin.
        `full`: every window's margin runs to Whisper's 30 s, as plain Whisper encodes a file."""
        jobs = [self._window_job(np.asarray(audio, np.float32), margin_s, None, previous, full=full)
                for audio, margin_s, previous in windows]
        _same_start(jobs, self.tokenizer)
        encoded, results = self._generate(jobs, beam_size)
        recognized = [self._finish(job, res) for job, res in zip(jobs, results)]
        # (a window's text stays as decoded, its words aligned as such: asr.whole_call joins
        # each turn's digits, asr.digits.digits_as_said)
        recognized = self._checked(jobs, recognized, beam_size, self._window_job)
        wanted = [r is not None and not is_silence(r) for r in recognized]
        aligned = [[] for _ in jobs]
        if any(wanted):  # an empty text is aligned to nothing (and costs nothing)
            tokens = [self.tokenizer.encode(" " + r.text) if w else [] for r, w in zip(recognized, wanted)]
            frames = [round(j["duration"] * RATE) // 160 for j in jobs]
            aligned = self.model.find_alignment(self.tokenizer, tokens, encoded, frames if len(jobs) > 1 else frames[0])
        return [None if r is None else (r, _timed_words(r, a) if w else [])
                for r, w, a in zip(recognized, wanted, aligned)]

    def _window_job(self, *args, words: bool | None = None, full: bool = False) -> dict:
        job = self._prepare(*args, words=words)
        # a turn's last word may start late in a window of several (measured: a "Goodbye." lost);
        # the margin as zero features scored 13.2/20.4 % against 13.2/21.7 % as silent audio
        job.update(late_s=0.0, mel_margin=True, full=full)
        return job

    def _finish(self, job: dict, res) -> Recognition | None:
        prefix, lead, duration = job["prefix"], job["lead"], job["duration"]
        ids = res.sequences_ids[0]
        if prefix and ids[:len(prefix)] == prefix:
            ids = ids[len(prefix):]
        ids = ids[:job["max_length"] - len(job["prompt"]) - len(prefix)]  # a batch decodes to its longest cap
        avg_logprob = res.scores[0] * len(ids) / (len(ids) + 1)  # the score is per token
        segments = [(a - lead, b - lead, t) for a, b, t in self._segments(ids, lead + duration, job.get("late_s", 0.3))
                    if a >= lead - 0.3]
        text = " ".join(t for _, _, t in segments).strip()
        r = Recognition(text, res.no_speech_prob, avg_logprob, segments)
        if not segments:  # nothing closed: silence, or a loop the 30 s window must redo
            return r if res.no_speech_prob > 0.6 else None
        if not is_silence(r) and _compression_ratio(text) > 2.4:
            return None  # looping
        if self.language == "en" and _foreign(text):
            return None  # a noisy line heard as another script ("Can I speak 都 real person"): decode again
        return r

    def _segments(self, ids: list[int], duration: float, late_s: float = 0.3) -> list[tuple[float, float, str]]:
        """Closed (start, end, text) segments that start inside the audio (before its last
        `late_s`); repeats dropped."""
        tok, out, words, start = self.tokenizer, [], [], None
        for t in ids:
            if t < tok.eot:
                words.append(t)
            elif t >= tok.timestamp_begin:
                ts = (t - tok.timestamp_begin) * 0.02
                if start is None:
                    start = ts
                else:
                    text = tok.decode(words).strip()
                    if text and start < duration - late_s and (not out or out[-1][2] != text):
                        out.append((start, min(ts, duration), text))
                    words, start = [], None
        return out

    def _token_cap(self, seconds: float) -> int:
        """New tokens allowed for `seconds` of speech: a decode that loops stops there."""
        return int(8 + seconds * self.max_tokens_per_s)

    def _full(self, audio: np.ndarray) -> Recognition:
        # new tokens capped per second of audio, as in the short-context decodes: a fragment
        # that loops otherwise runs each of the fallback's temperatures (five samples each) to
        # 448 tokens (a 1.1 s fragment once held every call of a full suite up for 7.5 s)
        words = self.numerals == "words"  # (no second decode here for "check": a rare fallback)
        segments, _ = self.model.transcribe(
            audio, language=self.language, beam_size=self.beam_size,
            initial_prompt=(spell_digits(self.prompt) if words else self.prompt) or None,
            condition_on_previous_text=False, vad_filter=False,
            suppress_tokens=list(self.suppress_numerals if words else self.suppress),
            max_new_tokens=self._token_cap(min(len(audio) / RATE, WINDOW_S)))
        segs = list(segments)
        if not segs:
            return Recognition("", 1.0, -10.0)
        text = " ".join(s.text.strip() for s in segs).strip()
        return as_said(Recognition(text, min(s.no_speech_prob for s in segs),
                                   float(np.mean([s.avg_logprob for s in segs])),
                                   [(s.start, s.end, s.text.strip()) for s in segs]))


PAD_TOKEN = 198  # "\n"
NUMERAL_CHARS = "0123456789%$£€"


def undoubled(first: list[str], second: list[str]) -> bool:
    """Each digit string of `second` is the one of `first`, or it with one doubled digit single
    ("78890" -> "7890"), and at least one is."""
    def single(a: str, b: str) -> bool:
        return len(a) == len(b) + 1 and any(a[i] == a[i + 1] and a[:i] + a[i + 1:] == b for i in range(len(a) - 1))
    return bool(first) and len(first) == len(second) and first != second and \
        all(a == b or single(a, b) for a, b in zip(first, second))


def numeral_tokens(hf_tokenizer, eot: int) -> list[int]:
    """The text tokens holding a digit or a currency or percent sign (WhisperX's
    `suppress_numerals`): 436 of Whisper's multilingual vocabulary."""
    texts = hf_tokenizer.decode_batch([[i] for i in range(eot)])
    return [i for i, t in enumerate(texts) if any(c in NUMERAL_CHARS for c in t)]


def _same_start(jobs: list[dict], tokenizer) -> None:
    """CTranslate2 decodes a batch only with <|startoftranscript|> at one position in every
    prompt: shorter previous texts are filled out at their start."""
    longest = max(len(j["prompt"]) for j in jobs)
    for j in jobs:
        k = longest - len(j["prompt"])
        if k:
            has_prev = j["prompt"][0] == tokenizer.sot_prev
            j["prompt"] = [tokenizer.sot_prev] + [PAD_TOKEN] * (k - (not has_prev)) + j["prompt"][has_prev:]
            j["max_length"] += k


def _timed_words(r: Recognition, aligned: list[dict]) -> list[tuple[float, float, str]]:
    """The alignment's words with their times. Its times drift at pauses (a turn's first word
    starts where the last one ended); the timestamps the model wrote around each segment
    hold: each word is kept inside its own segment's."""
    ends = np.cumsum([len(" " + t) for _, _, t in r.segments])
    words, chars = [], 0
    for w in aligned:
        a, b, _ = r.segments[min(int(np.searchsorted(ends, chars, side="right")), len(ends) - 1)]
        chars += len(w["word"])
        start = min(max(float(w["start"]), a), b)
        end = min(max(float(w["end"]), start), b)
        if words and not any(c.isalnum() for c in w["word"]):  # "." or "?": the word before's
            words[-1] = (words[-1][0], words[-1][1], words[-1][2] + w["word"])
        else:
            words.append((start, end, w["word"]))
    return words


def _alike(order: list[int], jobs: dict) -> list[list[int]]:
    """Jobs sorted by length, cut into batches whose longest is at most 1.5x their shortest
    plus 1 s: each is padded to its longest, and a 2 s turn padded to a caller's 20 s monologue
    costs the encoder ten times its own work (measured: 6 calls at once stalled for seconds)."""
    out: list[list[int]] = []
    for i in order:
        n = len(jobs[i]["padded"])
        if out and n <= 1.5 * len(jobs[out[-1][0]]["padded"]) + RATE:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _foreign(text: str) -> bool:
    """Letters outside the Latin script: never English, however noisy the line."""
    import unicodedata
    return any(ord(c) > 0x24F and unicodedata.category(c).startswith("L") for c in text)


def _compression_ratio(text: str) -> float:
    import zlib
    raw = text.encode()
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0
