"""The report across analysed calls: one self-contained HTML page (plots inlined) with the
same plots as PNG files beside it.

    OUT/report.html      volume and reasons over time, sentiment by reason, products in
                         complaints, keywords rising week over week, topics found without
                         labels, the longest and most negative calls (linked to their JSON)
    OUT/report/*.png

    voicebot report OUT      # again, from OUT/calls/*.json (and *.json.enc, with the config's key)
"""
from __future__ import annotations

import base64
import html
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from asr.files import atomic_write_text, save_png
from voicebot.options import load_config
from voicebot.privacy.crypto import CryptoError, read_bytes, vault_if_key

STOP = set("""a about after again all am an and any are as at be because been before being but by can could
did do does doing don't for from had has have having he her here hi hello him his how i i'd i'm i've if in
into is it it's its just let me more my no not now of off okay ok on one or our out please right she should
so some than thank thanks that that's the their them then there these they this to too up us very was we
were what when where which who why will with would yeah yes you your bye goodbye oh um uh well sure also
get got want like know need""".split())


def _day(text: str | None) -> date | None:
    try:
        return datetime.fromisoformat(str(text)[:10]).date()
    except (TypeError, ValueError):
        return None


def _week(d: date) -> date:
    return d - timedelta(days=d.weekday())  # the Monday


def _png(fig, path: Path) -> str:
    save_png(fig, path)
    return base64.b64encode(path.read_bytes()).decode()


def customer_texts(doc: dict) -> list[str]:
    return [u["text"] for u in doc["utterances"] if u["speaker"] != "agent"]


def rising_keywords(docs: list[dict], top: int = 10) -> tuple[list[dict], str]:
    """Words and two-word phrases in customer turns whose share of calls rose most from the
    second-last week with calls to the last."""
    weeks: dict[date, list[set[str]]] = defaultdict(list)
    for d in docs:
        day = _day(d.get("date"))
        if day is None:
            continue
        words = [w for w in re.findall(r"[a-z][a-z']+", " ".join(customer_texts(d)).lower())]
        terms = {w for w in words if w not in STOP}
        terms |= {f"{a} {b}" for a, b in zip(words, words[1:]) if a not in STOP and b not in STOP}
        weeks[_week(day)].append(terms)
    if len(weeks) < 2:
        return [], "Needs calls from two weeks or more."
    last, prev = sorted(weeks)[-1], sorted(weeks)[-2]

    def share(week):
        c = Counter(t for terms in weeks[week] for t in terms)
        return {t: n / len(weeks[week]) for t, n in c.items()}
    now, before = share(last), share(prev)
    rows = [{"term": t, "now": now[t], "before": before.get(t, 0.0), "rise": now[t] - before.get(t, 0.0)}
            for t in now]
    rows = sorted((r for r in rows if r["rise"] > 0), key=lambda r: (-r["rise"], r["term"]))[:top]
    return rows, f"Week of {last} ({len(weeks[last])} calls) against the week of {prev} ({len(weeks[prev])} calls)."


def topics(docs: list[dict], most: int = 6, words: int = 8) -> tuple[list[dict], str]:
    """NMF on TF-IDF of customer turns: call drivers found without the intent labels."""
    texts = [t for d in docs for t in customer_texts(d) if len(t.split()) >= 3]
    if len(texts) < 6:
        return [], f"Needs 6 customer turns of three words or more ({len(texts)} here)."
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer
    vec = TfidfVectorizer(stop_words=sorted(STOP), token_pattern=r"(?u)\b[a-z][a-z']+\b", ngram_range=(1, 2),
                          max_features=5000)
    x = vec.fit_transform(texts)
    k = max(2, min(most, len(texts) // 4, x.shape[1] - 1))
    model = NMF(n_components=k, init="nndsvda", random_state=0, max_iter=400)
    weights = model.fit_transform(x)
    vocab = vec.get_feature_names_out()
    share = Counter(weights.argmax(1))
    out = []
    for i, comp in enumerate(model.components_):
        out.append({"topic": i + 1, "turns": int(share.get(i, 0)),
                    "words": [str(vocab[j]) for j in comp.argsort()[::-1][:words] if comp[j] > 0]})
    out.sort(key=lambda t: -t["turns"])
    return out, f"{k} topics over {len(texts)} customer turns (NMF on TF-IDF, words and two-word phrases)."


def write_report(docs: list[dict], out: str | Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(out)
    pics = out / "report"
    pics.mkdir(parents=True, exist_ok=True)
    images = {}

    dated = [(d, _day(d.get("date"))) for d in docs]
    days = sorted({day for _, day in dated if day})
    by_week = len(days) > 1 and (days[-1] - days[0]).days > 21
    period = (lambda day: _week(day)) if by_week else (lambda day: day)
    cats = ["complaint", "consultation", "suggestion", "other"]
    volume: dict[date, Counter] = defaultdict(Counter)
    reasons: dict[date, Counter] = defaultdict(Counter)
    for d, day in dated:
        if day:
            volume[period(day)][d["category"]] += 1
            reasons[period(day)][d["main_reason"]] += 1
    xs = sorted(volume)
    if xs:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        bottom = [0] * len(xs)
        for c in cats:
            ys = [volume[x][c] for x in xs]
            ax.bar([str(x) for x in xs], ys, bottom=bottom, label=c)
            bottom = [a + b for a, b in zip(bottom, ys)]
        ax.set_ylabel("calls"), ax.set_title(f"Calls per {'week' if by_week else 'day'} by category"), ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        fig.tight_layout()
        images["volume"] = _png(fig, pics / "volume.png")
        top = [r for r, _ in Counter(d["main_reason"] for d in docs).most_common(8)]
        fig, ax = plt.subplots(figsize=(8, 3.2))
        for r in top:
            ax.plot([str(x) for x in xs], [reasons[x][r] for x in xs], marker="o", label=r)
        ax.set_ylabel("calls"), ax.set_title("Main reasons over time"), ax.legend(fontsize=7, ncol=2)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        fig.tight_layout()
        images["reasons"] = _png(fig, pics / "reasons.png")

    senti: dict[str, list[float]] = defaultdict(list)
    for d in docs:
        if d.get("sentiment_mean") is not None:
            senti[d["main_reason"]].append(d["sentiment_mean"])
    if senti:
        names = sorted(senti, key=lambda r: sum(senti[r]) / len(senti[r]))
        fig, ax = plt.subplots(figsize=(8, 0.4 * len(names) + 1.2))
        vals = [sum(senti[r]) / len(senti[r]) for r in names]
        ax.barh([f"{r} ({len(senti[r])})" for r in names], vals,
                color=["#c0392b" if v < 0 else "#7f8c8d" if v == 0 else "#27ae60" for v in vals])
        ax.axvline(0, color="#333", lw=0.8)  # a neutral reason has no bar: the line marks it
        ax.set_xlim(-1, 1), ax.set_xlabel("mean customer sentiment (-1 negative, +1 positive)")
        ax.set_title("Sentiment by main reason (calls)")
        fig.tight_layout()
        images["sentiment"] = _png(fig, pics / "sentiment_by_reason.png")

    products = Counter(p for d in docs if d["category"] == "complaint" for p in d["products"])
    if products:
        items = products.most_common(10)[::-1]
        fig, ax = plt.subplots(figsize=(8, 0.4 * len(items) + 1.2))
        ax.barh([p for p, _ in items], [n for _, n in items], color="#c0392b")
        ax.set_xlabel("complaint calls naming it"), ax.set_title("Top products in complaints")
        fig.tight_layout()
        images["products"] = _png(fig, pics / "complaint_products.png")

    rising, rising_note = rising_keywords(docs)
    found, topic_note = topics(docs)
    longest = sorted(docs, key=lambda d: -d["duration_s"])[:10]
    negative = sorted((d for d in docs if d.get("sentiment_mean") is not None),
                      key=lambda d: (d["sentiment_mean"], -d["duration_s"]))[:10]
    page = _html(docs, images, rising, rising_note, found, topic_note, longest, negative, by_week)
    path = out / "report.html"
    atomic_write_text(path, page)
    atomic_write_text(pics / "report.json", json.dumps({"rising_keywords": rising, "topics": found}, indent=2) + "\n")
    return path


def _html(docs, images, rising, rising_note, found, topic_note, longest, negative, by_week) -> str:
    e = html.escape

    def img(key, alt):
        return (f'<img alt="{e(alt)}" src="data:image/png;base64,{images[key]}">' if key in images
                else f"<p class=note>No data for {e(alt.lower())}.</p>")

    def link(d):
        return f'<a href="calls/{e(d["call"])}.json">{e(d["call"])}</a>'

    def calls_table(rows, what):
        body = "".join(f"<tr><td>{link(d)}</td><td>{e(str(d.get('date') or ''))}</td><td>{d['duration_s']:.0f} s</td>"
                       f"<td>{e(d['main_reason'])}</td><td>{e(d['category'])}</td>"
                       f"<td>{'' if d.get('sentiment_mean') is None else format(d['sentiment_mean'], '+.2f')}</td>"
                       f"<td>{e(d['summary'])}</td></tr>" for d in rows)
        return (f"<table><caption>{e(what)}</caption><tr><th>call</th><th>date</th><th>length</th><th>reason</th>"
                f"<th>category</th><th>sentiment</th><th>summary</th></tr>{body}</table>")
    cats = Counter(d["category"] for d in docs)
    esc = Counter(w for d in docs for w in d["escalation_words"])
    hours = sum(d["duration_s"] for d in docs) / 3600
    rise = "".join(f"<tr><td>{e(r['term'])}</td><td>{r['before']:.0%}</td><td>{r['now']:.0%}</td></tr>" for r in rising)
    tops = "".join(f"<tr><td>{t['topic']}</td><td>{t['turns']}</td><td>{e(', '.join(t['words']))}</td></tr>" for t in found)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Call archive report</title>
<style>body{{font:14px/1.4 sans-serif;margin:2em auto;max-width:1100px;color:#222}}
img{{max-width:100%;display:block;margin:.5em 0 1.5em}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top;font-size:13px}}caption{{text-align:left;font-weight:bold}}
.note{{color:#666}}</style></head><body>
<h1>Call archive report</h1>
<p>{len(docs)} calls, {hours:.2f} hours of audio. Categories: {e(', '.join(f'{c} {n}' for c, n in cats.most_common()))}.
Escalation words: {e(', '.join(f'{w} ({n})' for w, n in esc.most_common(10))) or 'none'}.</p>
<h2>Volume and reasons over time</h2>{img("volume", "Call volume")}{img("reasons", "Reasons over time")}
<h2>Sentiment by reason</h2>{img("sentiment", "Sentiment by reason")}
<h2>Top products in complaints</h2>{img("products", "Top products in complaints")}
<h2>Rising keywords</h2><p class=note>{e(rising_note)} Share of calls whose customer said the term.</p>
{f"<table><tr><th>term</th><th>week before</th><th>last week</th></tr>{rise}</table>" if rise else ""}
<h2>Topics found without labels</h2><p class=note>{e(topic_note)}</p>
{f"<table><tr><th>topic</th><th>turns</th><th>top words</th></tr>{tops}</table>" if tops else ""}
<h2>Calls to look at</h2>{calls_table(longest, "Longest calls")}{calls_table(negative, "Most negative calls")}
</body></html>
"""


def add_arguments(p) -> None:
    p.add_argument("out", help="a `voicebot analyze` output directory")


def main(args) -> int:
    out = Path(args.out)
    files = sorted([*(out / "calls").glob("*.json"), *(out / "calls").glob("*.json.enc")])
    vault = vault_if_key(load_config(args)) if any(p.name.endswith(".enc") for p in files) else None
    try:
        docs = [json.loads(read_bytes(p, vault).decode("utf-8")) for p in files]
    except CryptoError as e:
        print(f"voicebot report: {e}", file=sys.stderr)
        return 2
    if vault is not None and not all(d["settings"].get("redact") for d in docs):
        print("voicebot report: encrypted results that are not redacted: no report (it would hold "
              "the calls' words in the clear)", file=sys.stderr)
        return 2
    if not docs:
        print(f"voicebot report: no results in {out}/calls", file=sys.stderr)
        return 1
    print(write_report(docs, out))
    return 0
