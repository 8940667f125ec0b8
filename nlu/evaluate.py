"""Scoring an NLU model on the held-out split: `voicebot evaluate --model-dir models/nlu`."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from nlu.schema import INTENTS, SENTIMENTS


def entity_scores(gold: list[list[dict]], predicted: list[list]) -> dict:
    """Precision, recall and F1 over exact (start, end, type) spans."""
    tp = fp = fn = 0
    per_type: dict[str, list[int]] = {}
    for g, p in zip(gold, predicted):
        gs = {(e["start"], e["end"], e["type"]) for e in g}
        ps = {(e.start, e.end, e.type) for e in p}
        tp += len(gs & ps)
        fp += len(ps - gs)
        fn += len(gs - ps)
        for s in gs | ps:
            counts = per_type.setdefault(s[2], [0, 0, 0])
            counts[0 if s in gs and s in ps else 1 if s in ps else 2] += 1
    return {**_prf(tp, fp, fn), "per_type": {t: _prf(*c) for t, c in sorted(per_type.items())}}


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
            "support": tp + fn}


def score(model, examples: list[dict]) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    texts = [ex["text"] for ex in examples]
    t0 = time.perf_counter()
    results = model.parse_batch(texts)
    batch_ms = (time.perf_counter() - t0) * 1000 / max(1, len(texts))
    single = []
    for text in texts[:200]:  # one at a time, as the pipeline calls it
        t = time.perf_counter()
        model.parse(text)
        single.append((time.perf_counter() - t) * 1000)
    gi, pi = [ex["intent"] for ex in examples], [r.intent for r in results]
    gs, ps = [ex["sentiment"] for ex in examples], [r.sentiment for r in results]
    per_intent = {}
    for intent in INTENTS:
        idx = [i for i, g in enumerate(gi) if g == intent]
        if idx:
            per_intent[intent] = round(sum(pi[i] == intent for i in idx) / len(idx), 4)
    errors = [{"text": ex["text"], "intent": g, "predicted": p} for ex, g, p in zip(examples, gi, pi) if g != p]
    return {
        "examples": len(examples),
        "intent": {"accuracy": round(accuracy_score(gi, pi), 4),
                   "macro_f1": round(f1_score(gi, pi, labels=list(INTENTS), average="macro", zero_division=0), 4),
                   "per_intent_accuracy": per_intent},
        "sentiment": {"accuracy": round(accuracy_score(gs, ps), 4),
                      "macro_f1": round(f1_score(gs, ps, labels=list(SENTIMENTS), average="macro", zero_division=0), 4)},
        "entities": entity_scores([ex["entities"] for ex in examples], [r.entities for r in results]),
        "latency_ms": {"p50": round(float(np.percentile(single, 50)), 2), "p95": round(float(np.percentile(single, 95)), 2),
                       "batch_per_utterance": round(batch_ms, 2)},
        "confusion": confusion_matrix(gi, pi, labels=list(INTENTS)).tolist(),
        "intent_errors": errors[:50],
    }


def plot_confusion(matrix: list[list[int]], path: str | Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from voicebot.files import save_png
    m = np.asarray(matrix, float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(11, 9.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(INTENTS)), INTENTS, rotation=70, ha="right", fontsize=8)
    ax.set_yticks(range(len(INTENTS)), INTENTS, fontsize=8)
    for i in range(len(INTENTS)):
        for j in range(len(INTENTS)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("true intent")
    ax.set_title(title)
    fig.tight_layout()
    save_png(fig, path, dpi=100)


def evaluate(model_dir: str | Path, data_dir: str | Path, out_dir: str | Path | None = None,
             baseline: bool = True, device: str = "auto") -> dict:
    from nlu.multitask import MultiTaskNLU
    from nlu.validate import load_examples
    test = load_examples(Path(data_dir) / "test.jsonl")
    out = Path(out_dir or model_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"model_dir": str(model_dir), "data": str(Path(data_dir) / "test.jsonl"),
              "multitask": score(MultiTaskNLU.load(model_dir, device), test)}
    plot_confusion(report["multitask"]["confusion"], out / "confusion_matrix.png",
                   f"multi-task NLU, held-out test split ({len(test)} utterances)")
    if baseline:
        from nlu.baseline import EmbeddingNLU
        base = EmbeddingNLU.train(load_examples(Path(data_dir) / "train.jsonl"))
        report["baseline"] = score(base, test)
    from voicebot.files import atomic_write_text
    atomic_write_text(out / "evaluation.json", json.dumps(report, indent=2) + "\n")
    report["files"] = {"json": str(out / "evaluation.json"), "confusion_png": str(out / "confusion_matrix.png")}
    return report


def print_report(report: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    models = [m for m in ("multitask", "baseline") if m in report]
    t = Table(title=f"NLU on the held-out split ({report['multitask']['examples']} utterances)")
    t.add_column("metric")
    for m in models:
        t.add_column({"multitask": "multi-task MiniLM", "baseline": "embedding baseline"}[m], justify="right")
    rows = [("intent accuracy", lambda r: r["intent"]["accuracy"]), ("intent macro-F1", lambda r: r["intent"]["macro_f1"]),
            ("sentiment accuracy", lambda r: r["sentiment"]["accuracy"]),
            ("entity precision", lambda r: r["entities"]["precision"]), ("entity recall", lambda r: r["entities"]["recall"]),
            ("entity F1", lambda r: r["entities"]["f1"]), ("latency p50 ms", lambda r: r["latency_ms"]["p50"])]
    for name, get in rows:
        t.add_row(name, *[f"{get(report[m]):.3f}" if "ms" not in name else f"{get(report[m]):.1f}" for m in models])
    console.print(t)
    weak = {k: v for k, v in report["multitask"]["intent"]["per_intent_accuracy"].items() if v < 0.95}
    if weak:
        console.print("intents under 95 %: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(weak.items(), key=lambda x: x[1])))
    ents = report["multitask"]["entities"]["per_type"]
    console.print("entity F1 per type: " + ", ".join(f"{k} {v['f1']:.2f}" for k, v in ents.items()))
    if "files" in report:
        console.print(f"wrote {report['files']['json']} and {report['files']['confusion_png']}")
