"""`voicebot analyze CALLS... --out DIR`: analytics of recorded customer calls in bulk.

    OUT/calls/<call>.json                 every utterance and the call's analysis, written atomically
    OUT/calls.{parquet,csv}               one row per call of the run
    OUT/utterances.{parquet,csv}          one row per utterance
    calls, turns, archive_calls, archive_utterances    the same in the phone line's database (--db URL)
    OUT/report.html, OUT/report/*.png     the report across calls

Embedded (default): a pool of worker processes, each loading the models once. `--ray
auto|ADDRESS` runs the same analysis on Ray Data actor pools (voicebot.archive.on_ray).
A rerun skips the calls whose file content (SHA-256) and settings already have a result.

Privacy (the config's `privacy:`). redact (on by default): utterance text, the summary and the
values of personal entities (emails, phone numbers, names) carry tags ([CARD], [EMAIL]) in every
result: JSON, tables, database rows, report. encrypt: each call's JSON is `calls/<call>.json.enc`
(voicebot export decrypts it; a rerun still resumes from it); the tables are written encrypted
as `calls.csv.enc` / `utterances.csv.enc` and no Parquet is written (a Parquet file is either
readable or not: its text columns would be in the clear); in the database the text columns
(turn text, entities, summary, metadata) are sealed per value (voicebot.privacy.crypto.seal) while ids,
dates, intents, categories and times stay plain SQL. No key: one error line, nothing written.
Encrypted results are mode 0600 and the folders made for them 0700; a SQLite database is made
0600 whether or not (voicebot.phone.records.private_file).
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from asr.audio import AudioError, audio_info, find_audio_files
from asr.files import atomic_path, atomic_write_text, make_dirs
from voicebot.archive.analysis import Analyzer, analysis_settings, analyze_one, file_sha256, parse_channels
from voicebot.archive.db import ArchiveDB, call_row, utterance_rows
from voicebot.archive.on_ray import run_ray
from voicebot.archive.report import write_report
from voicebot.options import load_config
from voicebot.privacy.crypto import CryptoError, open_vault, read_bytes, write_bytes
from voicebot.recorded import call_name


def add_arguments(p) -> None:
    p.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR", help="call files and directories")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--channels", help="stereo archives: which channel is who, e.g. agent=0,customer=1 "
                   "(default: channels mixed down, speakers not separated)")
    p.add_argument("--manifest", help="CSV or JSONL with a file (or path) column and per-call metadata "
                   "(call_id, date, agent, queue, any other columns are carried through)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: 1 per core); 0 with "
                   "--ray: one actor per CPU of the cluster")
    p.add_argument("--ray", metavar="auto|ADDRESS|local", help="run on a Ray cluster (pip install '.[archive]')")
    p.add_argument("--db", help="SQLAlchemy URL for the results (default: the phone line's call records, "
                   "config phone.db_url, sqlite:///runs/calls.db)")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def default_workers() -> int:
    # one worker per core, one thread each: on this 2-core machine, quiet, 16 calls took 16.0-16.9 s
    # with two workers against 35.2-47.6 s with one worker of two threads (docs/benchmarks.md;
    # an earlier run on a machine shared with three other jobs had pointed the other way)
    return max(1, os.cpu_count() or 1)


# ---- inputs

def read_manifest(path: str | Path, err=None) -> list[dict]:
    """Rows with a `file`; relative paths are taken from the manifest's folder. Bad rows named, skipped."""
    err = err or sys.stderr
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{p}: cannot read the manifest ({e})") from None
    rows = []
    if p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                print(f"voicebot: {p}:{n}: bad manifest line ({e})", file=err)
                continue
            rows.append((n, row))
    else:
        rows = [(n, dict(r)) for n, r in enumerate(csv.DictReader(io.StringIO(text)), 2)]
    out = []
    for n, row in rows:
        f = row.pop("file", None) or row.pop("path", None)
        if not f:
            print(f"voicebot: {p}:{n}: manifest row has no file (or path) column", file=err)
            continue
        row = {k: ("" if v is None else v) for k, v in row.items()}
        out.append({"file": str(p.parent / f) if not Path(f).is_absolute() else f, "meta": row})
    return out


def gather(inputs: list[str], manifest: str | None, err=None) -> tuple[list[dict], list[str]]:
    """Jobs {file, name, meta} (names unique in the batch) and errors for bad inputs."""
    entries = read_manifest(manifest, err) if manifest else []
    by_file = {str(Path(e["file"]).resolve()): e for e in entries}
    files, errors = find_audio_files(inputs) if inputs else ([], [])
    jobs = [{"file": str(f), "meta": by_file.pop(str(f.resolve()), {"meta": {}})["meta"]} for f in files]
    if not inputs:
        jobs = [{"file": e["file"], "meta": e["meta"]} for e in entries]
    taken: set[str] = set()
    for j in jobs:
        wanted = str(j["meta"].get("call_id") or "").strip()
        j["name"] = call_name(Path(_safe(wanted) + ".x") if wanted else Path(j["file"]), taken)
    return jobs, errors


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:150] or "call"


def call_date(job: dict) -> str:
    d = str(job["meta"].get("date") or "").strip()
    if d:
        return d
    try:  # no date given: the recording's modification time
        return datetime.fromtimestamp(os.stat(job["file"]).st_mtime, timezone.utc).date().isoformat()
    except OSError:
        return ""


def load_done(out: Path, vault=None) -> dict[tuple[str, str], dict]:
    """Earlier results by (content hash, settings); a file that does not parse (or open with
    the key) was never finished by us (writes are atomic) and is redone."""
    done = {}
    for p in sorted([*(out / "calls").glob("*.json"), *(out / "calls").glob("*.json.enc")]):
        try:
            doc = json.loads(read_bytes(p, vault).decode("utf-8"))
            done[(doc["sha256"], json.dumps(doc["settings"], sort_keys=True))] = doc
        except (ValueError, KeyError, OSError):  # CryptoError is a ValueError
            continue
    return done


def write_doc(out: Path, doc: dict, vault=None) -> None:
    """OUT/calls/<call>.json, or .json.enc with a vault (mode 0600, folders made 0700)."""
    make_dirs(out / "calls", private=vault is not None)
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    write_bytes(out / "calls" / f"{doc['call']}.json", data, vault)


# ---- the embedded pool

_worker = None


def _init_worker(config, threads: int) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _worker = Analyzer(config, threads).load()


def _work(job: dict, channels: dict | None) -> tuple[dict | None, str | None]:
    return analyze_one(_worker, job, channels)


def run_embedded(jobs: list[dict], config, channels: dict | None, workers: int):
    """Yield (job, doc, error) as calls finish, from `workers` processes."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    # Whisper decodes a turn faster on one thread than on two (asr/faster.py): more cores
    # mean more workers, not more threads per decode, unless asr.threads says otherwise.
    threads = (config.asr.threads if config is not None else 0) or 1
    # The OpenMP and BLAS pools in a worker otherwise size themselves to every core, beside
    # CTranslate2's own threads (one process, 8 calls: Whisper 7.7 s, 5.7 s with
    # OMP_NUM_THREADS=1, measured once on a busy machine; Ray sets the same for its actors).
    # Read when the libraries load, so set before the workers start.
    limits = {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in limits}
    os.environ.update(limits)
    # spawn: a forked copy of a parent with ONNX/CTranslate2 thread pools can hang
    pool = ProcessPoolExecutor(workers, mp.get_context("spawn"), initializer=_init_worker, initargs=(config, threads))
    try:
        futures = {pool.submit(_work, j, channels): j for j in longest_first(jobs)}
        for f in as_completed(futures):
            try:
                doc, error = f.result()
            except Exception as e:  # a worker that died (out of memory, a crash in native code)
                doc, error = None, f"failed ({type(e).__name__}: {e})"
            yield futures[f], doc, error
    except BaseException:
        # Ctrl-C: stop now, not after the calls in flight (3.11's executor cannot terminate them)
        for p in list(getattr(pool, "_processes", {}).values()):
            p.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def longest_first(jobs: list[dict]) -> list[dict]:
    """The longest calls first: a long call taken last would keep one worker busy while the
    others have nothing left to do. A file whose length cannot be read goes last (it is
    reported when its turn comes)."""
    def seconds(job: dict) -> float:
        try:
            return audio_info(job["file"]).duration
        except AudioError:
            return -1.0
    return sorted(jobs, key=seconds, reverse=True)


# ---- writing

def write_tables(out: Path, docs: list[dict], vault=None) -> None:
    """CSV and Parquet tables; with a vault the CSV encrypted (NAME.csv.enc) and no Parquet."""
    calls = [call_row(d) for d in docs]
    utts = [r for d in docs for r in utterance_rows(d)]
    for name, rows in (("calls", calls), ("utterances", utts)):
        if not rows:
            continue
        buf = io.StringIO()
        w = csv.DictWriter(buf, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        if vault is not None:
            write_bytes(out / f"{name}.csv", buf.getvalue().encode(), vault)
            continue
        atomic_write_text(out / f"{name}.csv", buf.getvalue())
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            continue  # the `archive` extra brings pyarrow; the CSV is there either way
        with atomic_path(out / f"{name}.parquet") as tmp:
            pq.write_table(pa.Table.from_pylist(rows), tmp)


def progress_bar(quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("left"),
                    TimeRemainingColumn(), disable=quiet, transient=False)


def run(args, config, err=None) -> int:
    err = err or sys.stderr  # looked up now: a caller (or a test) may have replaced it
    out = Path(args.out)
    channels = parse_channels(args.channels)
    jobs, errors = gather(args.inputs, args.manifest, err)
    for e in errors:
        print(f"voicebot: {e}", file=err)
    if not jobs and not errors:
        print("voicebot analyze: no calls given (files, directories or --manifest)", file=err)
        return 2
    try:
        vault = open_vault(config.privacy)  # no key: stop here, before a file is written
    except CryptoError as e:
        print(f"voicebot analyze: {e}", file=err)
        return 2
    settings = json.dumps(analysis_settings(config, channels), sort_keys=True)
    done = load_done(out, vault)
    todo, docs, bad = [], [], len(errors)
    for j in jobs:
        try:
            j["sha256"] = file_sha256(j["file"])
        except OSError as e:
            print(f"voicebot: {j['file']}: cannot read ({e.strerror or e})", file=err)
            bad += 1
            continue
        j["date"] = call_date(j)
        old = done.get((j["sha256"], settings))
        if old is None:
            todo.append(j)
            continue
        if (old["call"], old["file"], old["meta"], old.get("date")) != (j["name"], j["file"], j["meta"], j["date"]):
            old = {**old, "call": j["name"], "file": j["file"], "meta": j["meta"], "date": j["date"]}
            write_doc(out, old, vault)
        docs.append(old)
    if docs:
        print(f"voicebot analyze: {len(docs)} call(s) already done in {out}/calls, skipped", file=err)
    make_dirs(out, private=vault is not None)
    db = ArchiveDB(args.db or config.phone.db_url, vault)  # the phone line's database: one query covers both

    def save(doc) -> bool:
        """The JSON is the result; a database that fails is named, and a rerun saves the call again."""
        try:
            db.save(doc)
            return True
        except Exception as e:
            print(f"voicebot: {doc['call']}: not saved in the database ({type(e).__name__}: "
                  f"{(str(e).strip().splitlines() or [''])[0][:200]})", file=err)
            return False
    bad += sum(not save(d) for d in docs)
    workers = args.workers or default_workers()
    ray_info: dict = {}
    if args.ray:
        results = run_ray(todo, config, channels, args.ray, args.workers, ray_info)
    else:
        results = run_embedded(todo, config, channels, workers) if todo else iter(())
    t0, audio_s = time.perf_counter(), 0.0
    try:
        with progress_bar(args.quiet or not todo) as bar:
            task = bar.add_task("calls", total=len(todo), rate="")
            for n, (job, doc, error) in enumerate(results, 1):
                if error:
                    print(f"voicebot: {job['file']}: {error}", file=err)
                    bad += 1
                else:
                    write_doc(out, doc, vault)
                    bad += not save(doc)
                    docs.append(doc)
                    audio_s += doc["duration_s"]
                    if doc.get("warning"):
                        print(f"voicebot: warning: {job['file']}: {doc['warning']}", file=err)
                wall = time.perf_counter() - t0
                bar.update(task, advance=1, description=f"call {job['name']}",
                           rate=f"{n / wall:.2f} calls/s, {audio_s / wall:.0f}x real time")
    finally:
        db.close()
        docs.sort(key=lambda d: d["call"])
        write_tables(out, docs, vault)
    if vault is not None:
        print("voicebot analyze: privacy.encrypt: results are encrypted (calls/*.json.enc, calls.csv.enc, "
              "utterances.csv.enc; `voicebot export` decrypts them); no Parquet tables", file=err)
    report = docs and not args.no_report
    if report and vault is not None and not config.privacy.redact:
        print("voicebot analyze: no report: with privacy.encrypt on and privacy.redact off it would hold "
              "the calls' words in the clear", file=err)
        report = False
    if report:
        write_report(docs, out)
    if ray_info.get("nodes"):
        print(f"voicebot analyze: Ray: {ray_info['actors']} actor(s) on {len(ray_info['nodes'])} node(s)", file=err)
    total = len(jobs) + len(errors)
    print(f"{len(docs)} of {total} call(s) analysed; results in {out}/ (calls/, calls.csv, utterances.csv"
          f"{', report.html' if report else ''})")
    return 0 if not bad else 1


def main(args) -> int:
    return run(args, load_config(args))
