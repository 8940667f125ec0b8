"""`voicebot bench calls`'s tables and plot: one run's calls, or a sweep of counts with how many
calls the machine held (voicebot/bench/calls.py makes the figures)."""
from __future__ import annotations

from rich.table import Table

from asr.files import save_png


def print_run(console, result: dict) -> None:
    table = Table(title=f"{result['calls']} concurrent media-stream calls ({where(result)})")
    for col in ["call", "turns", "p50 ms", "p95 ms", "late", "dropped", "ended", "error"]:
        table.add_column(col)
    for c in result["per_call"]:
        table.add_row(str(c["call"]), str(c["turns"]), str(c["reply_latency_ms"]["p50"]), str(c["reply_latency_ms"]["p95"]),
                      str(c["late_frames"]), shown(c["dropped_frames"]), c["end_reason"] or "", c["error"])
    table.add_row("all", str(result["reply_latency_ms"]["n"]), str(result["reply_latency_ms"]["p50"]),
                  str(result["reply_latency_ms"]["p95"]), str(result["late_frames"]), shown(result["dropped_frames"]),
                  "", f"{result['failed_calls']} failed")
    console.print(table)
    if result["server_ms"]:
        console.print("bot's side per turn, p50/p95 ms: " + ", ".join(
            f"{k} {v['p50']}/{v['p95']}" for k, v in result["server_ms"].items()))


def shown(value) -> str:
    return "-" if value is None else str(value)


def print_sweep(console, result: dict, runs: int) -> None:
    table = Table(title=f"concurrent media-stream calls ({where(result)}), {runs} run(s) each, turns pooled")
    for col in ["calls", "turns", "p50 ms", "p95 ms", "p95 of each run", "ASR p95", "first audio p95",
                "late", "dropped", "failed calls"]:
        table.add_column(col)
    for p in result["counts"]:
        ms = p["server_ms"]
        table.add_row(str(p["calls"]), str(p["reply_latency_ms"]["n"]), str(p["reply_latency_ms"]["p50"]),
                      str(p["reply_latency_ms"]["p95"]), ", ".join(str(r["reply_latency_ms"]["p95"]) for r in p["runs"]),
                      shown(ms.get("asr", {}).get("p95")), shown(ms.get("tts_first_audio", {}).get("p95")),
                      str(p["late_frames"]), shown(p["dropped_frames"]), str(p["failed_calls"]))
    console.print(table)
    console.print(f"holds {result['holds']} call(s) at once with the reply p95 under {result['target_ms']:g} ms")
    per_worker = (f"{result['holds_per_worker']:g} per worker ({result['workers']})" if result["workers"]
                  else "per worker: not known, give --workers N")
    per_core = f"{result['holds_per_core']:g} per core ({result['cores']})" if result["cores"] else "per core: not known"
    console.print(f"calls held: {per_worker}, {per_core}")


def where(result: dict) -> str:
    """Who answered: the front's address, or the server started here (its recognizer)."""
    return f"front {result['front']}" if result.get("front") else str(result.get("asr"))


def plot(result: dict, path: str, target_ms: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    if "counts" in result:  # a sweep: latency against calls at once
        n = [p["calls"] for p in result["counts"]]
        for q, style in (("p50", "o-"), ("p95", "s-")):
            ax.plot(n, [p["reply_latency_ms"][q] for p in result["counts"]], style, label=q)
        ax.set_xlabel("calls at once")
        ax.set_xticks(n)
        ax.legend()
        ax.set_title(f"reply latency against calls at once: holds {result['holds']} under {target_ms:g} ms")
    else:
        for c in result["per_call"]:
            ax.scatter([c["call"]] * len(c["latencies_ms"]), c["latencies_ms"], s=18)
        ax.set_xlabel("call")
        ax.set_title(f"{result['calls']} concurrent calls: p50 {result['reply_latency_ms']['p50']} ms, "
                     f"p95 {result['reply_latency_ms']['p95']} ms")
    ax.axhline(target_ms, color="grey", ls="--", lw=1)
    ax.set_ylabel("reply latency (ms)")
    fig.tight_layout()
    save_png(fig, path, dpi=120)
