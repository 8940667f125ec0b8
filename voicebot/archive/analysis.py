"""One recorded call analysed per speaker channel: who said what when, what the customer
wanted and how they felt, and the call's shape (talk, silence, overlaps).

The engines are the pipeline's own (the VAD Segmenter, the ASR stage, the NLU model), loaded
once per `Analyzer`; no dialogue and no replies: archives are calls with human agents.
"""
from __future__ import annotations

import copy
import hashlib
import re
import time
from functools import cached_property
from pathlib import Path

from asr.audio import AudioError, audio_info, file_frames, truncation
from asr.events import SpeechStarted, Transcript
from nlu.entities import EntityExtractor
from nlu.redact import redact_turn
from voicebot.bot import Bot
from voicebot.config import Config

# bump when the analysis changes what it writes: earlier results are then redone, not reused
VERSION = 1
# intents that say how a call goes, not why the customer called
NOT_REASONS = {"greet", "goodbye", "thanks", "affirm", "deny", "out_of_scope", "human_agent"}
# reasons that, said with a negative sentiment, make a call a complaint
PROBLEMS = {"billing_problem", "return_refund", "technical_support", "order_status", "cancel_order",
            "cancel_subscription"}
SURE = 0.7
SENTIMENT_SCORE = {"negative": -1, "neutral": 0, "positive": 1}
ESCALATION = ["manager", "supervisor", "escalate", "complaint", "complain", "lawyer", "attorney", "sue",
              "legal action", "unacceptable", "ridiculous", "terrible", "worst", "disgusting", "fed up",
              "never again", "cancel my account", "close my account", "real person", "speak to a human",
              "talk to a human", "a human", "an agent", "someone else"]
# companies named in calls: carriers and common competitors; the domain's own company is added
COMPANIES = {"carrier": ["UPS", "FedEx", "DHL", "USPS", "Royal Mail", "Hermes", "Evri"],
             "competitor": ["Amazon", "Best Buy", "Walmart", "Target", "Costco", "Currys", "Argos", "eBay"]}
_ESCALATION_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(ESCALATION, key=len, reverse=True)) + r")\b", re.I)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def parse_channels(text: str | None) -> dict[str, int] | None:
    """"agent=0,customer=1" -> {"agent": 0, "customer": 1}; None stays None (mix down)."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, _, idx = part.partition("=")
        name = name.strip()
        if name not in ("agent", "customer") or not idx.strip().isdigit():
            raise ValueError(f"--channels {text!r}: expected agent=N,customer=M")
        out[name] = int(idx)
    if set(out) != {"agent", "customer"} or out["agent"] == out["customer"]:
        raise ValueError(f"--channels {text!r}: name two different channels, agent=N,customer=M")
    return out


def analysis_settings(c, channels: dict | None) -> dict:
    """What a result depends on besides the audio: a result with other settings is redone."""
    return {"version": VERSION, "channels": channels, "asr": f"{c.asr.backend}/{c.asr.model}",
            "beam_size": c.asr.beam_size, "margin_s": c.asr.margin_s, "context_s": c.asr.context_s,
            "whole_call": c.asr.whole_call, "whole_call_beam_size": c.asr.whole_call_beam_size,
            "whole_call_margin_s": c.asr.whole_call_margin_s, "whole_call_window_s": c.asr.whole_call_window_s,
            "whole_call_batch": c.asr.whole_call_batch, "company_prompt": c.asr.company_prompt,
            "whole_call_two_readings": c.asr.whole_call_two_readings,
            # only when used: results analysed before the setting existed stay valid
            **({"domain_prompt": c.asr.domain_prompt} if c.asr.archive_domain_prompt and c.asr.domain_prompt else {}),
            "vad": {k: getattr(c.vad, k) for k in ("engine", "aggressiveness", "hangover_ms", "snr_db", "drop_db")},
            "nlu": c.nlu.model, "redact": c.privacy.redact}


class Analyzer:
    """Models loaded once; `analyze(path, ...)` gives one call's result as a JSON-able dict."""

    def __init__(self, config=None, threads: int = 0):
        cfg = copy.deepcopy(config or Config())
        if threads:
            cfg.asr.threads = threads  # one per core a worker owns, so workers don't fight for cores
        self.bot = Bot(cfg)
        self.config = cfg
        self.companies = _company_finder(self.bot)
        self.asr_s = 0.0  # Whisper's time in the current call

    @cached_property
    def entities(self):
        """The agent's entities: built once (it reads the domain file: 4 % of a worker's time
        when it was built for every call)."""
        return EntityExtractor(self.bot.domain.product_aliases())

    def _value(self, e) -> str:
        """An entity's value; a product's the catalogue's name when the words nearly are one
        ("macume cleaner": vacuum cleaner), whichever NLU model tagged it, so the report's
        products are the catalogue's and not the recognizer's slips."""
        if e.type != "product" or e.value in self.entities.products:
            return e.value
        return self.entities.normalize("product", e.text or e.value)

    def load(self) -> "Analyzer":
        import numpy as np
        self.bot.recognizer.transcribe(np.zeros(16000, np.float32))  # first calls pay for lazy set-up
        self.bot.nlu.parse("hello")
        self.entities  # noqa: B018 (reads the domain file)
        return self

    def tracks(self, path: Path, channels: list[int | None], prompts: list[str]) -> tuple[list[list[dict]], float]:
        """Each speaker's utterances (onset, end, text), and the audio's length in seconds. With
        the whole-call decode the tracks are heard side by side, their windows in batches, each
        after its prompt (asr.company_prompt)."""
        last = [0.0]

        def counted(frames):
            for fr in frames:
                last[0] = max(last[0], fr.t + len(fr.samples) / fr.sample_rate)
                yield fr

        streams = [self.bot.vad()(counted(file_frames(path, self.config.audio.frame_ms, ch))) for ch in channels]
        asr = self.bot.asr()
        heard = asr.tracks(streams, prompts) if hasattr(asr, "tracks") else (
            (i, ev) for i, s in enumerate(streams) for ev in asr(s))
        out: list[list[dict]] = [[] for _ in channels]
        onset: list[float | None] = [None] * len(channels)
        for i, ev in heard:
            if isinstance(ev, SpeechStarted):
                onset[i] = ev.t
            elif isinstance(ev, Transcript):
                # the onset, not the segment start: that carries the VAD's pre-roll, which
                # would count as talk and make quick turn changes look like overlaps
                start = ev.start if onset[i] is None else max(ev.start, min(onset[i], ev.end))
                out[i].append({"start": round(start, 3), "end": round(ev.end, 3), "text": ev.text})
                self.asr_s += ev.asr_ms / 1000
        return out, round(last[0], 3)

    def analyze(self, path: str | Path, name: str, channels: dict | None = None, meta: dict | None = None,
                sha256: str | None = None) -> dict:
        """Raises AudioError for audio that cannot be used."""
        t0 = time.perf_counter()
        path = Path(path)
        info = audio_info(path)
        tracks = {"mixed": None} if channels is None or info.channels == 1 else channels
        if channels and info.channels > 1 and max(channels.values()) >= info.channels:
            raise AudioError(f"{path}: has {info.channels} channels, --channels asks for channel {max(channels.values())}")
        self.asr_s = 0.0
        # the company's name before the agent's words (a mono call's too: the agent is on it),
        # never before the customer's alone: said by few callers, it only misleads there
        company = f"{self.bot.domain.company}." if self.config.asr.company_prompt else ""
        # the domain's words (asr.domain_prompt: products, payment names, weekdays) before the
        # customer's only with asr.archive_domain_prompt (off: it cost there, see the config);
        # never after the company's name on the agent's and mixed tracks, where they undo what
        # that name does (bench-archive 8 calls: WER 3.8 -> 7.0 %, "Bright line tone")
        words = self.bot.domain_words if self.config.asr.archive_domain_prompt else ""
        prompts = [words if speaker == "customer" else company for speaker in tracks]
        heard, duration = self.tracks(path, list(tracks.values()), prompts)
        utterances = [{"speaker": speaker, **u} for speaker, turns in zip(tracks, heard) for u in turns]
        utterances.sort(key=lambda u: (u["start"], u["speaker"]))
        asked = [u for u in utterances if u["speaker"] != "agent"]  # the customer's, or everyone's on a mixed track
        t_nlu = time.perf_counter()
        for u, r in zip(asked, self.bot.nlu.parse_batch([u["text"] for u in asked]) if asked else []):
            u.update(intent=r.intent, confidence=round(float(r.confidence), 4), sentiment=r.sentiment,
                     entities=[{"type": e.type, "value": self._value(e)} for e in r.entities])
        nlu_s = time.perf_counter() - t_nlu
        if "agent" in tracks:  # what the agent names counts too (read-back order numbers, products)
            for u in utterances:
                if u["speaker"] == "agent":
                    u["entities"] = [{"type": e.type, "value": e.value} for e in self.entities.extract(u["text"])]
        if self.config.privacy.redact:  # after the NLU, which needs the words; before the summary quotes them
            utterances[:] = [redact_turn(u) for u in utterances]
        doc = {"call": name, "file": str(path), "sha256": sha256 or file_sha256(path),
               "meta": meta or {}, "duration_s": duration,
               "tracks": "stereo: agent and customer by channel" if "agent" in tracks
               else ("mono: one track, speakers not separated" if info.channels == 1
                     else f"{info.channels} channels mixed down: speakers not separated (give --channels)"),
               "sample_rate": info.samplerate, "settings": analysis_settings(self.config, channels)}
        warning = truncation(path)
        if warning:
            doc["warning"] = warning.split(": ", 1)[-1]
        doc.update(summarize_call(utterances, duration, self.companies))
        doc["utterances"] = utterances
        doc["processing_s"] = round(time.perf_counter() - t0, 3)
        # where the time went: Whisper, the NLU model, and the rest (decoding, resampling, VAD)
        doc["stage_s"] = {"asr": round(self.asr_s, 3), "nlu": round(nlu_s, 3),
                          "audio_vad_other": round(doc["processing_s"] - self.asr_s - nlu_s, 3)}
        return doc


def analyze_one(analyzer, job: dict, channels: dict | None) -> tuple[dict | None, str | None]:
    """(result, None) or (None, one-line reason): one bad call never stops the others."""
    try:
        doc = analyzer.analyze(job["file"], job["name"], channels, job["meta"], job.get("sha256"))
        doc["date"] = job.get("date", "")
        return doc, None
    except AudioError as e:
        return None, str(e).split(": ", 1)[-1]
    except Exception as e:
        return None, f"failed ({type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''})"


def _company_finder(bot) -> list[tuple[re.Pattern, str, str]]:
    names = {k: list(v) for k, v in COMPANIES.items()}
    try:
        names["own"] = [bot.domain.company]  # the domain file, read once for the worker
    except ValueError:
        pass
    # "FedEx" is often heard as "Fed Ex", "UPS" as "U.P.S.": spaces and dots optional inside a name
    return [(re.compile(r"\b" + r"[\s.]*".join(map(re.escape, n.replace(" ", ""))) + r"\b", re.I), n, kind)
            for kind, ns in names.items() for n in ns]


def _spans_total(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(x2, y2) - max(x1, y1)) for x1, x2 in a for y1, y2 in b)


def summarize_call(utterances: list[dict], duration: float, companies) -> dict:
    """The call-level fields from its utterances (customer turns carry NLU results)."""
    cust = [u for u in utterances if "intent" in u]
    weight: dict[str, float] = {}
    for u in cust:
        if u["intent"] not in NOT_REASONS:
            weight[u["intent"]] = weight.get(u["intent"], 0.0) + u["confidence"]
    if weight:  # most confident in total; the earlier one on a tie
        reason = max(weight, key=lambda k: (weight[k], -[u["intent"] for u in cust].index(k)))
    else:
        reason = "human_agent" if any(u["intent"] == "human_agent" for u in cust) else ("none" if not cust else "other")
    # a complaint or suggestion turn decides the category only when the model is sure of it:
    # on a mixed track the agent's lines are parsed too, and they get the unsure intents
    intents = {u["intent"] for u in cust if u["confidence"] >= SURE} | {reason}
    negative = any(u["sentiment"] == "negative" for u in cust)
    if "complaint" in intents or (reason in PROBLEMS and negative):
        category = "complaint"
    elif "suggestion" in intents:
        category = "suggestion"
    elif weight or reason == "human_agent":
        category = "consultation"
    else:
        category = "other"

    def values(kind):
        return sorted({e["value"] for u in utterances for e in u.get("entities", []) if e["type"] == kind})

    text = " ".join(u["text"] for u in utterances)
    found = []
    for rx, name, kind in companies:
        if rx.search(text) and name not in [f["name"] for f in found]:
            found.append({"name": name, "kind": kind})
    escalation = sorted({m.group(1).lower() for u in cust for m in _ESCALATION_RE.finditer(u["text"])})
    by = {}
    for u in utterances:
        by.setdefault(u["speaker"], []).append((u["start"], u["end"]))
    talk = {s: round(_spans_total(v), 2) for s, v in by.items()}
    spoken = _spans_total([x for v in by.values() for x in v])
    scores = [SENTIMENT_SCORE[u["sentiment"]] for u in cust]
    return {"main_reason": reason, "category": category, "products": values("product"),
            "order_numbers": values("order_number"), "companies": found,
            "sentiment_start": cust[0]["sentiment"] if cust else None,
            "sentiment_end": cust[-1]["sentiment"] if cust else None,
            "sentiment_mean": round(sum(scores) / len(scores), 3) if scores else None,
            "talk_s": talk, "silence_s": round(max(0.0, duration - spoken), 2),
            "overlap_s": round(_overlap(by.get("agent", []), by.get("customer", [])), 2),
            "escalation_words": escalation, "summary": extract_summary(cust, reason)}


def extract_summary(cust: list[dict], reason: str, most: int = 3) -> str:
    """Up to three of the customer's own sentences: why they called (the surest turn with
    the main reason), what it was about (the first turn naming an order or a product), and
    how it went (the most negative turn), in call order."""
    picks = []
    main = [u for u in cust if u["intent"] == reason]
    if main:
        picks.append(max(main, key=lambda u: u["confidence"]))
    named = [u for u in cust if any(e["type"] in ("order_number", "product") for e in u.get("entities", []))]
    if named:
        picks.append(named[0])
    neg = [u for u in cust if u["sentiment"] == "negative"]
    if neg:
        picks.append(max(neg, key=lambda u: len(u["text"])))
    chosen = sorted({id(u): u for u in picks}.values(), key=lambda u: u["start"])[:most]
    return " ".join(u["text"] for u in chosen)
