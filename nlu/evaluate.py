"""Scoring an NLU model on the held-out split: `voicebot evaluate --model-dir models/nlu`."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from asr.files import atomic_write_text, save_png
from nlu.baseline import EmbeddingNLU
from nlu.domain import load_domain
from nlu.faq import KnowledgeBase
from nlu.multitask import MultiTaskNLU
from nlu.schema import INTENTS, SENTIMENTS
from nlu.train import HEARD_MIN_SIMILARITY, load_heard, similarity
from nlu.validate import load_examples


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


def load_callers(path: str | Path) -> list[dict]:
    """The hand-written callers' split: `text<TAB>intent<TAB>sentiment` lines, `#` comments.
    No entity spans: it measures intents and sentiment on phrasings the templates never had."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0].strip() or parts[1] not in INTENTS or parts[2] not in SENTIMENTS:
            raise ValueError(f"{path}:{n}: want text<TAB>intent<TAB>sentiment with known labels, got {line!r}")
        out.append({"text": parts[0].strip(), "intent": parts[1], "sentiment": parts[2], "entities": None})
    return out


def faq_scores(kb, path: str | Path) -> dict:
    """The knowledge base on hand-written questions (`text<TAB>faq id or -`): how many it
    answers with the right entry, how many it answers wrongly, how many it should not answer."""
    rows = [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    matches = kb.match_batch([r[0] for r in rows])
    pos = [(r, m) for r, m in zip(rows, matches) if r[1] != "-"]
    neg = [(r, m) for r, m in zip(rows, matches) if r[1] == "-"]
    return {"threshold": kb.threshold, "questions": len(pos), "others": len(neg),
            "right": sum(m.accepted and m.entry.id == r[1] for r, m in pos) / max(1, len(pos)),
            "wrong_entry": sum(m.accepted and m.entry.id != r[1] for r, m in pos) / max(1, len(pos)),
            "unanswered": sum(not m.accepted for r, m in pos) / max(1, len(pos)),
            "matched_others": sum(m.accepted for r, m in neg) / max(1, len(neg)),
            "misses": [{"text": r[0], "want": r[1], "got": m.entry.id, "score": round(m.score, 3)}
                       for r, m in zip(rows, matches) if (r[1] != "-") != m.accepted or (m.accepted and m.entry.id != r[1])]}


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
        **({"entities": entity_scores([ex["entities"] for ex in examples], [r.entities for r in results])}
           if all(ex["entities"] is not None for ex in examples) else {}),
        "latency_ms": {"p50": round(float(np.percentile(single, 50)), 2), "p95": round(float(np.percentile(single, 95)), 2),
                       "batch_per_utterance": round(batch_ms, 2)},
        "confusion": confusion_matrix(gi, pi, labels=list(INTENTS)).tolist(),
        "intent_errors": errors[:50],
    }


def plot_confusion(matrix: list[list[int]], path: str | Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def report_model(model_dir, device):
    return MultiTaskNLU.load(model_dir, device)


def evaluate(model_dir: str | Path, data_dir: str | Path, out_dir: str | Path | None = None,
             baseline: bool = True, device: str = "auto") -> dict:
    test = load_examples(Path(data_dir) / "test.jsonl")
    out = Path(out_dir or model_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = report_model(model_dir, device)  # loaded once for both splits (6 s each on 2 cores)
    report = {"model_dir": str(model_dir), "data": str(Path(data_dir) / "test.jsonl"),
              "multitask": score(model, test)}
    plot_confusion(report["multitask"]["confusion"], out / "confusion_matrix.png",
                   f"multi-task NLU, held-out test split ({len(test)} utterances)")
    callers_path = Path(data_dir) / "callers.tsv"
    callers = load_callers(callers_path) if callers_path.is_file() else []
    if callers:
        report["callers"] = {"data": str(callers_path), "multitask": score(model, callers)}
    heard_path = Path(data_dir) / "heard_test.jsonl"  # test.jsonl as Whisper heard it (issue 28)
    if heard_path.is_file():
        report["heard"] = {"data": str(heard_path), "multitask": score(model, load_heard(heard_path))}
    if baseline:
        base = EmbeddingNLU.default(data=Path(data_dir) / "train.jsonl")  # the bot's cached one, if it is that data
        report["baseline"] = score(base, test)
        if callers:
            report["callers"]["baseline"] = score(base, callers)
    faq_path = Path(data_dir) / "faq_test.tsv"
    if faq_path.is_file():
        domain = load_domain()
        report["faq"] = {"data": str(faq_path), **faq_scores(
            KnowledgeBase(domain.faq, domain.setting("faq_threshold", 0.6)), faq_path)}
    atomic_write_text(out / "evaluation.json", json.dumps(report, indent=2) + "\n")
    report["files"] = {"json": str(out / "evaluation.json"), "confusion_png": str(out / "confusion_matrix.png")}
    return report


def print_report(report: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    names = {"multitask": "multi-task MiniLM", "baseline": "embedding baseline"}
    cols = [(f"templates: {names[m]}", report[m]) for m in ("multitask", "baseline") if m in report]
    callers = report.get("callers", {})
    cols += [(f"callers: {names[m]}", callers[m]) for m in ("multitask", "baseline") if m in callers]
    cols += [("heard: multi-task MiniLM", report["heard"]["multitask"])] if "heard" in report else []
    title = f"NLU on the held-out template split ({report['multitask']['examples']} utterances)"
    if callers:
        title += f" and the hand-written callers' split ({callers['multitask']['examples']})"
    if "heard" in report:
        title += f", and the template split as Whisper heard it ({report['heard']['multitask']['examples']})"
    t = Table(title=title)
    t.add_column("metric")
    for name, _ in cols:
        t.add_column(name, justify="right")
    rows = [("intent accuracy", lambda r: r["intent"]["accuracy"]), ("intent macro-F1", lambda r: r["intent"]["macro_f1"]),
            ("sentiment accuracy", lambda r: r["sentiment"]["accuracy"]),
            ("entity precision", lambda r: r["entities"]["precision"]), ("entity recall", lambda r: r["entities"]["recall"]),
            ("entity F1", lambda r: r["entities"]["f1"]), ("latency p50 ms", lambda r: r["latency_ms"]["p50"])]
    for name, get in rows:
        t.add_row(name, *["-" if "entity" in name and "entities" not in r  # the callers' split has no spans
                          else f"{get(r):.3f}" if "ms" not in name else f"{get(r):.1f}" for _, r in cols])
    console.print(t)
    if callers:
        weak = {k: v for k, v in callers["multitask"]["intent"]["per_intent_accuracy"].items() if v < 0.9}
        if weak:
            console.print("callers' split, intents under 90 %: "
                          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(weak.items(), key=lambda x: x[1])))
    if "faq" in report:
        f = report["faq"]
        console.print(f"knowledge base (threshold {f['threshold']}): {f['right']:.3f} of {f['questions']} questions "
                      f"answered by the right entry, {f['wrong_entry']:.3f} by a wrong one, {f['unanswered']:.3f} unanswered; "
                      f"{f['matched_others']:.3f} of {f['others']} other turns matched")
    weak = {k: v for k, v in report["multitask"]["intent"]["per_intent_accuracy"].items() if v < 0.95}
    if weak:
        console.print("intents under 95 %: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(weak.items(), key=lambda x: x[1])))
    ents = report["multitask"]["entities"]["per_type"]
    console.print("entity F1 per type: " + ", ".join(f"{k} {v['f1']:.2f}" for k, v in ents.items()))
    if "files" in report:
        console.print(f"wrote {report['files']['json']} and {report['files']['confusion_png']}")


def compare(model_dirs: list[str], data_dir: str | Path, device: str = "auto") -> list[dict]:
    """Intent (and sentiment) accuracy of several models on the typed test split, the same split
    as Whisper heard it, and the callers' split: which model understands what the line hears."""
    data_dir = Path(data_dir)
    splits = {"typed test": load_examples(data_dir / "test.jsonl")}
    if (data_dir / "heard_test.jsonl").is_file():
        splits["heard test"] = load_heard(data_dir / "heard_test.jsonl")
        # less the lines heard as something else altogether, which no NLU can read (nlu.train)
        splits["heard, recognizable"] = [ex for ex in splits["heard test"]
                                         if similarity(ex["text"], ex["typed"]) >= HEARD_MIN_SIMILARITY]
    if (data_dir / "callers.tsv").is_file():
        splits["callers"] = load_callers(data_dir / "callers.tsv")
    rows = []
    for model_dir in model_dirs:
        model = MultiTaskNLU.load(model_dir, device)
        for name, examples in splits.items():
            results = model.parse_batch([ex["text"] for ex in examples])
            rows.append({"model": str(model_dir), "split": name, "examples": len(examples),
                         "intent": round(sum(r.intent == ex["intent"] for r, ex in zip(results, examples)) / len(examples), 4),
                         "sentiment": round(sum(r.sentiment == ex["sentiment"] for r, ex in zip(results, examples))
                                            / len(examples), 4)})
    return rows


def print_comparison(rows: list[dict], console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    splits = list(dict.fromkeys(r["split"] for r in rows))
    t = Table(title="intent accuracy (sentiment accuracy) by split")
    t.add_column("model")
    for name in splits:
        n = next(r["examples"] for r in rows if r["split"] == name)
        t.add_column(f"{name} ({n})", justify="right")
    for model in dict.fromkeys(r["model"] for r in rows):
        by = {r["split"]: r for r in rows if r["model"] == model}
        t.add_row(model, *[f"{by[s]['intent']:.3f} ({by[s]['sentiment']:.3f})" if s in by else "-" for s in splits])
    (console or Console()).print(t)


if __name__ == "__main__":  # python -m nlu.evaluate models/nlu models/nlu-heard [--data-dir nlu/data]
    import argparse
    parser = argparse.ArgumentParser(description="intent accuracy of NLU models on typed and heard test text")
    parser.add_argument("model_dirs", nargs="+")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parent / "data"))
    parser.add_argument("--json", help="also write the rows as JSON")
    parser.add_argument("--device", default="auto")
    a = parser.parse_args()
    table = compare(a.model_dirs, a.data_dir, a.device)
    print_comparison(table)
    if a.json:
        atomic_write_text(a.json, json.dumps(table, indent=2) + "\n")
