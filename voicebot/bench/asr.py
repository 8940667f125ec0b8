"""ASR latency benchmark: Whisper backends, models and devices side by side.

Each configuration runs in a fresh process, so its load time and peak memory are its own.
Latency is measured from a complete utterance in memory to its final text (what the live
path waits for after the VAD has closed the utterance); warm-up runs are excluded and
every utterance is repeated. A second, streaming measure feeds utterances through the
VAD and ASR at real-time pace and times the caller's last voiced frame to the transcript,
hangover included.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from asr import load_recognizer
from asr.audio import AUDIO_EXTENSIONS, AudioError, audio_info, frames, load_audio
from asr.base import ASRStage
from asr.device import compute_type, ctranslate2_device
from asr.events import SpeechEnded, Transcript
from asr.files import atomic_write_text, save_png
from asr.vad import Segmenter
from asr.wer import wer

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = [ROOT / "audio_samples" / "utterances", ROOT.parent / "shared" / "audio" / "jfk.flac"]


@dataclass(frozen=True)
class BenchConfig:
    backend: str  # faster-whisper | openai-whisper
    context: str  # short | 30s
    model: str
    device: str = "cpu"
    compute_type: str = "auto"
    beam_size: int = 1
    threads: int = 0

    @property
    def label(self) -> str:
        ctx = f" {self.context}" if self.backend == "faster-whisper" else ""
        return f"{self.backend}{ctx} {Path(self.model).name} {self.device}/{self.compute_type} b{self.beam_size}"


@dataclass
class Utterance:
    name: str
    path: str
    reference: str
    duration_s: float = 0.0


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, float), q))


def load_dataset(paths: list[str | Path]) -> list[Utterance]:
    """Audio files with a same-named .txt reference beside them; directories are expanded."""
    out = []
    for p in map(Path, paths):
        files = sorted(q for q in p.iterdir() if q.suffix.lower() in AUDIO_EXTENSIONS) if p.is_dir() else [p]
        for f in files:
            if not f.exists():
                continue
            ref = f.with_suffix(".txt")
            if not ref.is_file():
                readme = _reference_from_readme(f)
                if readme is None:
                    raise ValueError(f"{f}: no reference transcript ({ref.name} is missing)")
                out.append(Utterance(f.stem, str(f), readme, _duration(f)))
                continue
            out.append(Utterance(f.stem, str(f), ref.read_text(encoding="utf-8").strip(), _duration(f)))
    return out


def _duration(f: Path) -> float:
    try:
        return round(audio_info(f).duration, 3)
    except AudioError:  # unreadable: the run names it when it loads the file
        return 0.0


def _reference_from_readme(f: Path) -> str | None:
    """../shared/audio keeps its transcripts in a README table: use the row of this file."""
    readme = f.parent / "README.md"
    if not readme.is_file():
        return None
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == f.name and len(cells) >= 4:
            return cells[-1]
    return None


def default_configs(device: str = "auto", models=("tiny.en", "base")) -> list[BenchConfig]:
    dev = ctranslate2_device(device)
    out = []
    for model in models:
        out.append(BenchConfig("faster-whisper", "short", model, dev, compute_type(dev)))
        out.append(BenchConfig("faster-whisper", "30s", model, dev, compute_type(dev)))
        out.append(BenchConfig("openai-whisper", "30s", model, dev, "float16" if dev == "cuda" else "float32"))
    return out


def _gpu_memory_mb() -> float | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        pid, _, mem = line.partition(",")
        if pid.strip() == str(os.getpid()):
            return float(mem)
    return None


def run_config(cfg: BenchConfig, data: list[Utterance], repeats: int = 3, warmup: int = 1) -> dict:
    """Measure one configuration (call it in a fresh process)."""
    audio = [load_audio(u.path) for u in data]
    t0 = time.perf_counter()
    rec = load_recognizer(cfg.backend, cfg.model, device=cfg.device, compute_type=cfg.compute_type,
                          beam_size=cfg.beam_size, threads=cfg.threads, short_context=cfg.context == "short")
    load_s = time.perf_counter() - t0
    for _ in range(warmup):
        rec.transcribe(audio[0])
    latencies, per_utt, hyps = [], [], []
    for u, a in zip(data, audio):
        times = []
        for r in range(repeats):
            t = time.perf_counter()
            text = rec.transcribe(a).text
            times.append(time.perf_counter() - t)
            if r == 0:
                hyps.append(text)
        latencies += times
        per_utt.append({"name": u.name, "duration_s": round(len(a) / 16000, 3), "latency_ms": round(1000 * min(times), 1),
                        "latency_ms_all": [round(1000 * x, 1) for x in times], "text": hyps[-1], "reference": u.reference})
    audio_s = sum(len(a) for a in audio) / 16000
    ms = [1000 * x for x in latencies]
    # spread: how far repeats of one utterance disagree (median over utterances of max-min)
    spread = statistics.median(max(p["latency_ms_all"]) - min(p["latency_ms_all"]) for p in per_utt)
    n_words = sum(len(h.split()) for h in hyps)
    return {
        **asdict(cfg), "label": cfg.label, "compute_type": getattr(rec, "compute_type", cfg.compute_type),
        "latency_ms": {"p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1),
                       "max": round(max(ms), 1), "mean": round(statistics.fmean(ms), 1), "spread": round(spread, 1)},
        "rtf": round(sum(latencies) / repeats / audio_s, 4),
        "words_per_s": round(n_words / (sum(latencies) / repeats), 1),
        "wer": round(wer([u.reference for u in data], hyps), 4),
        "load_s": round(load_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "gpu_mem_mb": _gpu_memory_mb() if cfg.device == "cuda" else None,
        "retries": getattr(rec, "retries", None),
        "fallbacks": getattr(rec, "fallbacks", None),
        "utterances": per_utt, "repeats": repeats, "audio_s": round(audio_s, 2),
    }


def _child(conn, cfg, data, repeats, warmup):
    try:
        conn.send(run_config(cfg, data, repeats, warmup))
    except BaseException as e:  # report, don't hang the parent
        conn.send({"error": f"{type(e).__name__}: {e}".splitlines()[0]})
    conn.close()


def run_isolated(cfg: BenchConfig, data: list[Utterance], repeats: int, warmup: int, timeout: float = 900) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, cfg, data, repeats, warmup))
    proc.start()
    result = parent.recv() if parent.poll(timeout) else {"error": f"timed out after {timeout:.0f} s"}
    proc.join(10)
    if "error" in result:
        return {**asdict(cfg), "label": cfg.label, "error": result["error"]}
    return result


def streaming_latency(cfg: BenchConfig, data: list[Utterance], vad_settings: list, gap_s: float = 1.5,
                      realtime: bool = True) -> list[dict]:
    """Feed utterances (with silences between) frame by frame at real-time pace through
    VAD and ASR; time from the last voiced frame of each utterance to its transcript."""
    rec = load_recognizer(cfg.backend, cfg.model, device=cfg.device, compute_type=cfg.compute_type,
                          beam_size=cfg.beam_size, short_context=cfg.context == "short")
    pieces, spans, t = [], [], 0.0  # spans: where each utterance sits in the stream (s)
    for u in data:
        audio = load_audio(u.path)
        spans.append((u.name, t, t + len(audio) / 16000))
        t += len(audio) / 16000 + gap_s
        pieces += [audio, np.zeros(int(gap_s * 16000), np.float32)]
    rec.transcribe(pieces[0])  # warm-up
    out = []
    for vs in vad_settings:
        start = time.perf_counter()

        clock = {"t": 0.0}  # audio time of the newest frame fed

        def paced():
            for fr in frames(iter(pieces), 30):
                clock["t"] = fr.t + len(fr.samples) / 16000
                if realtime and start + clock["t"] > time.perf_counter():
                    time.sleep(start + clock["t"] - time.perf_counter())
                yield fr

        def closed_at(events):
            for ev in events:
                if isinstance(ev, SpeechEnded):
                    ends[ev.end] = clock["t"]
                yield ev

        ends, lat, heard = {}, [], []
        for ev in ASRStage(rec)(closed_at(Segmenter(vs)(paced()))):
            if isinstance(ev, Transcript):
                heard.append((ev.start, ev.end))
                # real time: the wall clock; otherwise the audio time the VAD closed it plus the decode
                now = time.perf_counter() - start if realtime else ends[ev.end] + ev.asr_ms / 1000
                lat.append(1000 * (now - ev.end))
        out.append({"vad": vs.engine, "hangover_ms": vs.hangover_ms, "aggressiveness": vs.aggressiveness,
                    "threshold": vs.threshold, "utterances": len(data), "transcripts": len(lat),
                    "missed": [name for name, a, b in spans if not any(s < b and a < e for s, e in heard)],
                    "latency_ms": {"p50": round(percentile(lat, 50), 1), "p95": round(percentile(lat, 95), 1),
                                   "max": round(max(lat), 1) if lat else None},
                    "asr": cfg.label, "realtime": realtime})
    return out


def machine() -> dict:
    import ctranslate2
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
            "ctranslate2": ctranslate2.__version__, "date": time.strftime("%Y-%m-%d")}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        import torch
        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def to_markdown(report: dict) -> str:
    lines = ["| configuration | p50 ms | p95 ms | max ms | spread ms | RTF | words/s | WER % | load s | peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['label']} | skipped: {r['error']} ||||||||| ")
            continue
        lat = r["latency_ms"]
        lines.append(f"| {r['label']} | {lat['p50']} | {lat['p95']} | {lat['max']} | {lat['spread']} | {r['rtf']} | "
                     f"{r['words_per_s']} | {100 * r['wer']:.1f} | {r['load_s']} | {r['peak_rss_mb']} |")
    if report.get("streaming"):
        lines += ["", "| streaming (VAD + ASR, real time) | hangover ms | p50 ms | p95 ms | max ms | transcripts |",
                  "|---|---:|---:|---:|---:|---:|"]
        for s in report["streaming"]:
            lat = s["latency_ms"]
            lines.append(f"| {s['vad']} + {s['asr']} | {s['hangover_ms']} | {lat['p50']} | {lat['p95']} | {lat['max']} | "
                         f"{s['transcripts']}/{s['utterances']}{_missed(s)} |")
    return "\n".join(lines) + "\n"


def _missed(streaming: dict) -> str:
    missed = streaming.get("missed")
    return f" (missed {', '.join(missed)})" if missed else ""


def plot(report: dict, path: str | Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in report["results"] if "error" not in r]
    if not ok:
        return
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 0.6 * len(ok) + 2.5), gridspec_kw={"width_ratios": [3, 1]},
                                  sharey=True)
    data = [[x for u in r["utterances"] for x in u["latency_ms_all"]] for r in ok]
    ax.boxplot(data, orientation="horizontal", tick_labels=[r["label"] for r in ok], showfliers=True)
    ax.set_xscale("log")
    ax.set_xlabel("latency per utterance, ms (log scale)")
    ax.set_title(f"Whisper latency, {report['machine'].get('gpu') or report['machine']['cpu']}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax2.barh(range(1, len(ok) + 1), [100 * r["wer"] for r in ok], color="tab:orange")
    ax2.set_xlabel("WER %")
    ax2.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def print_table(report: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    if console is None:
        console = Console()
        if not console.is_terminal:  # logs and CI: don't squeeze the table into 80 columns
            console = Console(width=160)
    t = Table(title="ASR latency (utterance complete -> final text)")
    for col in ["configuration", "p50 ms", "p95 ms", "max ms", "spread", "RTF", "words/s", "WER %", "load s", "RSS MB"]:
        t.add_column(col, justify="left" if col == "configuration" else "right")
    for r in report["results"]:
        if "error" in r:
            t.add_row(r["label"], f"[yellow]skipped: {r['error']}[/]")
            continue
        lat = r["latency_ms"]
        t.add_row(r["label"], f"{lat['p50']:.0f}", f"{lat['p95']:.0f}", f"{lat['max']:.0f}", f"{lat['spread']:.0f}",
                  f"{r['rtf']:.3f}", f"{r['words_per_s']:.0f}", f"{100 * r['wer']:.1f}", f"{r['load_s']:.1f}",
                  f"{r['peak_rss_mb']:.0f}")
    console.print(t)
    if report.get("streaming"):
        s = Table(title="Streaming: last voiced frame -> transcript (VAD hangover included)")
        for col in ["VAD", "hangover ms", "ASR", "p50 ms", "p95 ms", "max ms", "transcripts"]:
            s.add_column(col)
        for r in report["streaming"]:
            lat = r["latency_ms"]
            s.add_row(r["vad"], str(r["hangover_ms"]), r["asr"], f"{lat['p50']:.0f}", f"{lat['p95']:.0f}",
                      f"{lat['max']:.0f}", f"{r['transcripts']}/{r['utterances']}{_missed(r)}")
        console.print(s)


@dataclass
class BenchRun:
    configs: list[BenchConfig]
    data: list[Utterance]
    repeats: int = 3
    warmup: int = 1
    streaming: list = field(default_factory=list)  # VADSettings to measure; empty: skip
    stream_utterances: int = 6
    realtime: bool = True

    def run(self, progress: bool = True) -> dict:
        from rich.progress import Progress
        results = []
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("benchmark", total=len(self.configs) + bool(self.streaming))
            for cfg in self.configs:
                bar.update(task, description=cfg.label)
                results.append(run_isolated(cfg, self.data, self.repeats, self.warmup))
                bar.advance(task)
            streaming = []
            if self.streaming:
                bar.update(task, description="streaming through VAD + ASR (real time)")
                # the pipeline's default (faster-whisper short base) when it is among the configs
                default = [c for c in self.configs if (c.backend, c.context, c.model) == ("faster-whisper", "short", "base")]
                cfg = (default or self.configs)[0]
                streaming = streaming_latency(cfg, self.data[:self.stream_utterances], self.streaming,
                                              realtime=self.realtime)
                bar.advance(task)
        return {"machine": machine(), "repeats": self.repeats, "warmup": self.warmup,
                "data": [asdict(u) for u in self.data], "results": results, "streaming": streaming}


def write_json(report: dict, path: str | Path) -> None:
    atomic_write_text(Path(path), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
