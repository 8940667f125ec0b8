"""Training the multi-task NLU model: `voicebot train --config nlu/train_config.yml ...`.

torch is imported by the functions that train, so the command line that imports this module
starts without it."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from asr.device import torch_device
from nlu.multitask import MultiTaskNLU, bio_labels, export_onnx
from nlu.near import similar
from nlu.noisy import noisy_copies
from nlu.validate import check_example, json_lines, load_examples

HEARD_KEYS = {"typed", "voice", "noise", "line"}  # what a heard record adds (voicebot.bench.heard)
# a heard line this unlike what was said (characters, case and punctuation aside) is not trained
# on: "I will not leave you, my dear" for "hello my name is david lee" teaches no greeting
HEARD_MIN_SIMILARITY = 0.4


@dataclass
class TrainConfig:
    seed: int = 13
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    dropout: float = 0.1
    validation_fraction: float = 0.1
    loss_weights: dict = field(default_factory=lambda: {"intent": 1.0, "sentiment": 0.5, "entities": 1.0})
    threads: int = 0
    # also train on heard_train.jsonl beside train.jsonl when it is there: the training lines as
    # Whisper heard them in test voices (issue 28, voicebot.bench.heard). Off: turn intents on
    # test calls in the tuning voices' family went up (held-out 81.6 -> 84.2 %, heard test text
    # 0.751 -> 0.788) but down on calls in voices it never heard (Festival 84.2 -> 76.3 %, other
    # espeak-ng voices 73.0 -> 64.9 %; docs/benchmarks.md, "Heard right"): it learns those voices'
    # slips, not misheard words in general
    heard: bool = False
    # whether heard lines teach sentiment too (a misheard tail, "this is really frustrating",
    # can leave a label the words no longer carry). Measured with heard_train.jsonl (typed /
    # heard test, intent and sentiment accuracy): on 0.952 / 0.788, 0.894 / 0.793; off 0.955 /
    # 0.774, 0.905 / 0.804; without heard lines 0.952 / 0.751, 0.939 / 0.828. Off does not win
    # the sentiment back: on, as the issue asks (the gold labels kept)
    heard_sentiment: bool = True
    # a noisy copy of each training line (nlu/noisy.py: sounds swapped, words lost, run together
    # or cut, another word in one's place; about this share of its words), intent only. Unlike
    # heard lines it learns no voice's slips. Off: at 0.15, over three trainings, intents on heard
    # test text 0.751 -> 0.769-0.780 (seed 14: 0.735 -> 0.767), but the test calls of six fresh
    # sets no better than a second seed of today's model and callers' turns 0.991 -> 0.979-0.991
    # (docs/benchmarks.md, "Third pass"); 0: none
    noisy: float = 0.0

    @classmethod
    def load(cls, path: str | Path | None) -> TrainConfig:
        if path is None:
            return cls()
        data = yaml.safe_load(Path(path).read_text()) or {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**data)


def load_heard(path: str | Path) -> list[dict]:
    """A heard data file (voicebot.bench.heard): data records with `typed`, `voice`, `noise` and
    `line` added, and `"entities": null` where the entity spans could not be found again in the
    heard words (such a record trains intent and sentiment only). Duplicate texts are allowed:
    two lines can be heard alike. Every bad line is named."""
    errors, out = [], []
    for n, ex, bad in json_lines(Path(path).read_text(encoding="utf-8").splitlines()):
        if bad:
            errors.append(f"{path}:{n}: {bad}")
            continue
        if not isinstance(ex, dict) or not HEARD_KEYS <= set(ex):
            errors.append(f"{path}:{n}: a heard record needs the keys {', '.join(sorted(HEARD_KEYS))}")
            continue
        core = {k: v for k, v in ex.items() if k not in HEARD_KEYS}
        errors += [f"{path}:{n}: {msg}" for msg in check_example({**core, "entities": core.get("entities") or []})]
        out.append(ex)
    if errors:
        raise ValueError("\n".join(errors[:20]) + (f"\n... {len(errors) - 20} more" if len(errors) > 20 else ""))
    return out


def similarity(heard: str, typed: str) -> float:
    def norm(t: str) -> str:
        return " ".join(re.sub(r"[^\w\s']", " ", t.lower()).split())
    return similar(norm(heard), norm(typed))


def training_data(data_dir: str | Path, heard: bool = True, limit: int | None = None,
                  heard_sentiment: bool = True) -> tuple[list[dict], dict]:
    """train.jsonl (its first `limit` lines), and with `heard` heard_train.jsonl when it is there
    (its records of those lines, less those heard too unlike what was said): the examples, and
    what they came from. Without `heard_sentiment` the heard records' sentiment is None: not
    trained on."""
    path = Path(data_dir) / "train.jsonl"
    examples = load_examples(path)[:limit]
    info = {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "examples": len(examples)}
    heard_path = Path(data_dir) / "heard_train.jsonl"
    if heard and heard_path.is_file():
        records = [ex for ex in load_heard(heard_path) if limit is None or ex["line"] <= limit]
        extra = [ex if heard_sentiment else {**ex, "sentiment": None}
                 for ex in records if similarity(ex["text"], ex["typed"]) >= HEARD_MIN_SIMILARITY]
        examples = examples + extra
        info["heard"] = {"file": str(heard_path), "sha256": hashlib.sha256(heard_path.read_bytes()).hexdigest(),
                         "examples": len(extra), "too_unlike": len(records) - len(extra),
                         "intent_only": sum(ex["entities"] is None for ex in extra)}
    return examples, info


def split_validation(examples: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Stratified by intent, so every intent is seen in both parts."""
    rng = random.Random(seed)
    by_intent: dict[str, list[dict]] = {}
    for ex in examples:
        by_intent.setdefault(ex["intent"], []).append(ex)
    train, val = [], []
    for group in by_intent.values():
        group = group[:]
        rng.shuffle(group)
        k = max(1, round(len(group) * fraction)) if fraction > 0 and len(group) > 1 else 0
        val += group[:k]
        train += group[k:]
    return train, val


def batches(nlu: MultiTaskNLU, examples: list[dict], size: int, rng: random.Random | None = None):
    import torch
    order = list(range(len(examples)))
    if rng:
        rng.shuffle(order)
    for i in range(0, len(order), size):
        chunk = [examples[j] for j in order[i:i + size]]
        inputs, offsets = nlu.encode([ex["text"] for ex in chunk])
        width = inputs["input_ids"].shape[1]
        # a heard record whose spans were lost ("entities": null) teaches no tags: all ignored
        tags = [bio_labels([tuple(o) for o in offs], ex["entities"])[:width] if ex["entities"] is not None
                else [-100] * width for offs, ex in zip(offsets, chunk)]
        yield (inputs,
               torch.tensor([nlu.intents.index(ex["intent"]) for ex in chunk], device=nlu.device),
               torch.tensor([nlu.sentiments.index(ex["sentiment"]) if ex["sentiment"] else -100 for ex in chunk],
                            device=nlu.device),
               torch.tensor(tags, device=nlu.device))


def evaluate_loss(nlu: MultiTaskNLU, examples: list[dict], cfg: TrainConfig) -> dict:
    """Validation score for picking the best epoch: mean of the three tasks' accuracies."""
    import torch
    nlu.model.eval()
    right = {"intent": 0, "sentiment": 0}
    graded = 0  # examples with a sentiment to grade
    tag_right = tag_total = 0
    with torch.inference_mode():
        for inputs, yi, ys, yt in batches(nlu, examples, 64):
            li, ls, lt = nlu.model(inputs["input_ids"], inputs["attention_mask"])
            right["intent"] += int((li.argmax(-1) == yi).sum())
            right["sentiment"] += int((ls.argmax(-1) == ys).sum())
            graded += int((ys != -100).sum())
            mask = yt != -100
            entity = mask & (yt != 0)  # accuracy over entity pieces: "O" everywhere would score high
            tag_right += int(((lt.argmax(-1) == yt) & entity).sum())
            tag_total += int(entity.sum())
    n = max(1, len(examples))
    scores = {"intent": right["intent"] / n, "sentiment": right["sentiment"] / max(1, graded),
              "entities": tag_right / tag_total if tag_total else 1.0}
    scores["score"] = float(np.mean(list(scores.values())))
    return scores


def _ce(ce, logits, targets):
    """The loss, and 0 (not NaN) for a batch with nothing to learn for this task (heard
    records only, without spans or sentiment)."""
    return ce(logits, targets) if bool((targets != -100).any()) else logits.sum() * 0.0


def train(examples: list[dict], model_dir: str | Path, cfg: TrainConfig, device: str = "auto",
          progress: bool = True, data_info: dict | None = None) -> dict:
    """Train, keep the best epoch by validation score, save it to `model_dir`. Returns the history."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from torch import nn
    from transformers import get_linear_schedule_with_warmup
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    nlu = MultiTaskNLU.new(torch_device(device), cfg.dropout)
    train_set, val_set = split_validation(examples, cfg.validation_fraction, cfg.seed)
    if cfg.noisy:  # copies of the training part only: the best epoch is chosen on lines as written
        train_set = train_set + noisy_copies(train_set, cfg.seed, cfg.noisy)
    heads = [p for n, p in nlu.model.named_parameters() if not n.startswith("encoder.")]
    optimizer = torch.optim.AdamW([
        {"params": nlu.model.encoder.parameters(), "lr": cfg.learning_rate},
        {"params": heads, "lr": cfg.head_learning_rate}], weight_decay=cfg.weight_decay)
    steps = cfg.epochs * -(-len(train_set) // cfg.batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * steps), steps)
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    w = cfg.loss_weights
    rng = random.Random(cfg.seed)
    history, best = [], None
    t_start = time.perf_counter()
    # best epochs are saved beside the model dir and moved into place at the end: an
    # interrupted run leaves the previous model as it was, not an early epoch that looks done
    final = Path(model_dir)
    staging = final.with_name(f".{final.name}.training")
    shutil.rmtree(staging, ignore_errors=True)
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
               TextColumn("{task.fields[losses]}"), TimeElapsedColumn()]
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("training", total=steps, losses="")
        for epoch in range(1, cfg.epochs + 1):
            nlu.model.train()
            sums = {"intent": 0.0, "sentiment": 0.0, "entities": 0.0}
            n = 0
            for inputs, yi, ys, yt in batches(nlu, train_set, cfg.batch_size, rng):
                li, ls, lt = nlu.model(inputs["input_ids"], inputs["attention_mask"])
                losses = {"intent": _ce(ce, li, yi), "sentiment": _ce(ce, ls, ys),
                          "entities": _ce(ce, lt.reshape(-1, lt.shape[-1]), yt.reshape(-1))}
                loss = sum(w.get(k, 1.0) * v for k, v in losses.items())
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(nlu.model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                for k, v in losses.items():
                    sums[k] += v.item()
                n += 1
                bar.update(task, advance=1, description=f"epoch {epoch}/{cfg.epochs}",
                           losses=" ".join(f"{k} {sums[k] / n:.3f}" for k in sums))
            val = evaluate_loss(nlu, val_set, cfg) if val_set else {"score": -epoch}
            history.append({"epoch": epoch, "loss": {k: round(v / max(n, 1), 4) for k, v in sums.items()},
                            "validation": {k: round(v, 4) for k, v in val.items()}})
            if best is None or val["score"] > best["validation"]["score"]:
                best = history[-1]
                nlu.save(staging, {"train_config": dataclasses.asdict(cfg), "best_epoch": epoch,
                                   "history": history, "data": data_info or {}, "examples": len(train_set)})
            if progress:
                bar.console.print(f"epoch {epoch}: validation " + " ".join(f"{k} {v:.3f}" for k, v in val.items())
                                  + (" (best, saved)" if best is history[-1] else ""))
    # the final config also records the whole history, whichever epoch was best
    cfg_path = staging / "config.json"
    saved = json.loads(cfg_path.read_text())
    saved["history"] = history
    saved["train_seconds"] = round(time.perf_counter() - t_start, 1)
    cfg_path.write_text(json.dumps(saved, indent=2) + "\n")  # in staging: nothing reads it yet
    export_onnx(MultiTaskNLU.load(staging, "cpu"), staging / "model.onnx")  # the best epoch, for serving
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return {"history": history, "best_epoch": best["epoch"], "seconds": saved["train_seconds"]}
