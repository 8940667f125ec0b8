"""`voicebot analyze`: archive calls between an agent and a customer in two test voices (stereo
16 kHz, and one mixed 8 kHz mu-law track), through the real ASR and NLU, embedded and on a local
Ray instance; resume after an interrupted run; bad files in the batch.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest

from tests.conftest import ROOT
from voicebot.bench.archive_calls import CALLS, write
from voicebot.cli.main import main

STEREO = [c for c in CALLS if not c.mono_8k]
MONO = [c for c in CALLS if c.mono_8k]
ARGS = ["--channels", "agent=0,customer=1", "--nlu-model", "baseline", "-q"]  # baseline: no training needed


@pytest.fixture(scope="module")
def args(tmp_path_factory):
    """ARGS, and each window read once: these tests are about the archive's runs (embedded, Ray,
    resumed, stored), the same either way; the second reading of recorded calls' windows is tested
    in test_whole_call.py and, in archives, test_privacy_store.py."""
    config = tmp_path_factory.mktemp("config") / "archive.yml"
    config.write_text("asr: {whole_call_two_readings: false}\n")
    return [*ARGS, "--config", str(config)]


@pytest.fixture(scope="module")
def calls_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("archive")
    for i, call in enumerate(CALLS):
        write(call, d, seed=i)
    (d / "broken.wav").write_text("not audio at all")
    (d / "empty.wav").write_bytes(b"")
    manifest = d.parent / f"{d.name}-manifest.csv"
    manifest.write_text("file,call_id,date,agent,queue,region\n"
                        f"{d}/headphones_complaint.wav,C-001,2026-11-02,ana,returns,north\n"
                        f"{d}/coffee_maker_price.wav,C-002,2026-11-10,ben,sales,south\n")
    return d, manifest


@pytest.fixture(scope="module")
def embedded(calls_dir, tmp_path_factory, args):
    d, manifest = calls_dir
    out = tmp_path_factory.mktemp("embedded")
    err = out / "stderr.txt"
    proc = subprocess.run([sys.executable, "-m", "voicebot", "analyze", str(d), "--out", str(out), "--manifest",
                           str(manifest), "--workers", "2", "--db", f"sqlite:///{out}/calls.db", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    err.write_text(proc.stderr)
    return out, proc


def docs(out):
    return {p.stem: json.loads(p.read_text()) for p in (out / "calls").glob("*.json")}


def named(name):  # the manifest gives two calls their own ids
    return {"headphones_complaint": "C-001", "coffee_maker_price": "C-002"}.get(name, name)


def test_bad_files_are_named_and_skipped(embedded):
    out, proc = embedded
    assert proc.returncode == 1
    assert "broken.wav" in proc.stderr and "empty.wav" in proc.stderr
    assert "4 of 6 call(s) analysed" in proc.stdout
    assert set(docs(out)) == {named(c.name) for c in CALLS}


def test_stereo_calls_by_speaker(embedded):
    out, _ = embedded
    got = docs(out)
    for call in STEREO:
        doc = got[named(call.name)]
        assert doc["tracks"].startswith("stereo"), call.name
        assert [u["speaker"] for u in doc["utterances"]] == [t[0] for t in call.turns], call.name
        for u in doc["utterances"]:
            assert u["text"] and u["end"] > u["start"]
            if u["speaker"] == "customer":
                assert u["intent"] and u["sentiment"] in ("negative", "neutral", "positive")
            else:
                assert "intent" not in u  # agents' lines are transcribed, not classified
        assert doc["main_reason"] == call.reason, call.name
        assert doc["category"] == call.category, call.name
        assert doc["products"] == call.products, call.name
        assert doc["order_numbers"] == call.order_numbers, call.name
        if call.sentiment_end:
            assert doc["sentiment_end"] == call.sentiment_end, call.name
        assert doc["talk_s"]["agent"] > 2 and doc["talk_s"]["customer"] > 2 and doc["silence_s"] > 2
        assert abs(doc["overlap_s"] - call.overlap_s) < 0.5, call.name
        assert doc["summary"] and doc["summary"].split()[0] in " ".join(u["text"] for u in doc["utterances"])
    # the agent's greeting names the company: heard as written (asr.company_prompt) in all three
    # calls here, two with AVX2 kernels; without the prompt, in one
    named_it = [c.name for c in STEREO if "Brightline Home" in {x["name"] for x in got[named(c.name)]["companies"]}]
    assert len(named_it) >= len(STEREO) - 1, named_it
    complaint = got["C-001"]
    assert complaint["sentiment_start"] == "negative"
    assert "headphones" in complaint["summary"]
    assert complaint["meta"] == {"call_id": "C-001", "date": "2026-11-02", "agent": "ana", "queue": "returns",
                                 "region": "north"}


def test_mono_8k_call_is_one_track(embedded):
    out, _ = embedded
    for call in MONO:
        doc = docs(out)[call.name]
        assert doc["tracks"].startswith("mono") and doc["sample_rate"] == 8000
        assert {u["speaker"] for u in doc["utterances"]} == {"mixed"}
        assert len(doc["utterances"]) == len(call.turns)
        assert doc["main_reason"] == call.reason and doc["category"] == call.category
        assert doc["order_numbers"] == call.order_numbers
        assert set(call.companies) <= {c["name"] for c in doc["companies"]}  # the carrier the agent named


def test_tables_and_database(embedded):
    out, _ = embedded
    rows = list(csv.DictReader((out / "calls.csv").open()))
    assert sorted(r["call"] for r in rows) == sorted(named(c.name) for c in CALLS)
    first = next(r for r in rows if r["call"] == "C-001")
    assert (first["date"], first["agent"], first["queue"], first["category"]) == ("2026-11-02", "ana", "returns", "complaint")
    import pyarrow.parquet as pq
    table = pq.read_table(out / "utterances.parquet").to_pylist()
    assert len(table) == sum(len(d["utterances"]) for d in docs(out).values())
    assert any(u["speaker"] == "customer" and "headphones" in u["text"] for u in table)
    # a phone call in the same database, written by the phone line's own store
    from voicebot.phone.records import CallStore
    store = CallStore(f"sqlite:///{out}/calls.db", spool=out / "spool")
    cid = store.start_call(transport="media-stream", caller="+15550100")
    store.end_call(cid, "caller hung up", turns_list=[{"start": 0.5, "end": 2.0, "text": "where is my order",
                                                       "intent": "order_status", "sentiment": "neutral"}])
    store.close()
    with sqlite3.connect(out / "calls.db") as db:
        got = dict(db.execute("select c.call, count(*) from archive_calls c join archive_utterances u "
                              "on u.call = c.call group by c.call").fetchall())
        assert got == {d["call"]: len(d["utterances"]) for d in docs(out).values()}
        assert db.execute("select main_reason from archive_calls where call = 'C-002'").fetchone() == ("pricing",)
        # one query over both: customer turns by intent, phone line and archive alike
        rows = db.execute("select c.transport, t.intent, count(*) from calls c join turns t on t.call_id = c.id "
                          "group by c.transport, t.intent").fetchall()
        by = {(tr, i): n for tr, i, n in rows}
        assert by[("media-stream", "order_status")] == 1
        assert by[("archive", "order_status")] >= 2 and by[("archive", "suggestion")] >= 1
        assert db.execute("select count(*) from calls where transport = 'archive'").fetchone() == (len(CALLS),)
        assert db.execute("select c.started, c.audio_path from calls c join archive_calls a on a.call_id = c.id "
                          "where a.call = 'C-001'").fetchone()[0].startswith("2026-11-02")


def test_results_in_postgresql(embedded, calls_dir, postgres_url, args):
    d, manifest = calls_dir
    out, _ = embedded
    # the same output folder again: every call is already done, and its rows go to PostgreSQL
    rc = main(["analyze", str(d), "--out", str(out), "--manifest", str(manifest), "--no-report", "--db", postgres_url, *args])
    assert rc == 1  # the bad files are still bad
    from sqlalchemy import text

    from voicebot.phone.records import open_engine
    engine = open_engine(postgres_url)
    with engine.connect() as db:
        got = dict(db.execute(text("select a.call, a.category from archive_calls a join calls c on c.id = a.call_id "
                                   "where c.transport = 'archive'")).fetchall())
        turns = db.execute(text("select count(*) from turns t join archive_calls a on a.call_id = t.call_id")).scalar()
    engine.dispose()
    assert got == {named(c.name): c.category for c in CALLS}
    assert turns == sum(1 for doc in docs(out).values() for u in doc["utterances"] if "intent" in u)


def test_resume_after_an_interrupted_run(calls_dir, tmp_path, args):
    src, _ = calls_dir
    batch = tmp_path / "batch"
    batch.mkdir()
    for n, c in [(n, c) for n in range(2) for c in CALLS][:6]:  # six calls: stopped while still busy
        shutil.copy(src / f"{c.name}.wav", batch / f"{c.name}_{n}.wav")
        with open(batch / f"{c.name}_{n}.wav", "ab") as f:
            f.write(b"\0" * (n + 1) * 2)  # other content, other hash (a sample of silence)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "voicebot", "analyze", str(batch), "--out", str(out), "--workers", "1", "--no-report",
           "--db", f"sqlite:///{tmp_path}/calls.db", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list((out / "calls").glob("*.json")) and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a terminal sends it: to the whole group
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    first = {p.name: p.stat().st_mtime_ns for p in (out / "calls").glob("*.json")}
    assert 1 <= len(first) < 6
    assert not [p for p in (out / "calls").iterdir() if p.suffix != ".json"]  # no half-written file
    for p in (out / "calls").glob("*.json"):
        json.loads(p.read_text())
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} call(s) already done" in again.stderr
    assert len(list((out / "calls").glob("*.json"))) == 6
    assert {p: (out / "calls" / p).stat().st_mtime_ns for p in first} == first  # kept, not redone
    assert len(list(csv.DictReader((out / "calls.csv").open()))) == 6


@pytest.fixture(scope="session")
def local_ray():
    tmp = tempfile.mkdtemp(prefix="/tmp/rt")  # short: Ray's unix sockets live under it
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_TMPDIR": tmp,
           "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import ray
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(tmp, ignore_errors=True)


SAME = ["call", "sha256", "duration_s", "tracks", "main_reason", "category", "products", "order_numbers",
        "companies", "sentiment_start", "sentiment_end", "talk_s", "silence_s", "overlap_s", "escalation_words",
        "summary", "meta", "date"]


def test_ray_gives_the_embedded_results(local_ray, embedded, calls_dir, tmp_path, capsys, args):
    d, manifest = calls_dir
    out = tmp_path / "ray"
    rc = main(["analyze", str(d), "--out", str(out), "--manifest", str(manifest), "--ray", "local", "--workers", "2",
               "--no-report", "--db", f"sqlite:///{tmp_path}/calls.db", *args])
    assert rc == 1  # the same two bad files
    err = capsys.readouterr().err
    assert "broken.wav" in err and "empty.wav" in err
    want, got = docs(embedded[0]), docs(out)
    assert set(got) == set(want)
    for name in want:
        assert {k: got[name][k] for k in SAME} == {k: want[name][k] for k in SAME}, name
        assert got[name]["utterances"] == want[name]["utterances"], name


CHROMIUM = "/usr/bin/chromium"


def test_report_opens_in_chromium(embedded, tmp_path):
    out, _ = embedded
    # `make test` installs Debian's chromium and Playwright: a missing one is a failed set-up, not a skip
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (scripts/system-deps.sh installs chromium)"
    (out / "report.html").unlink()
    assert main(["archive-report", str(out)]) == 0  # the report again, from the JSON results
    for png in ["volume", "reasons", "sentiment_by_reason", "complaint_products"]:
        assert (out / "report" / f"{png}.png").stat().st_size > 1000, png
    import playwright.sync_api as playwright
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.goto((out / "report.html").as_uri())
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            images = page.eval_on_selector_all("img", "els => els.map(i => [i.alt, i.naturalWidth])")
            links = page.eval_on_selector_all("a", "els => els.map(a => a.getAttribute('href'))")
            text = page.inner_text("body")
            negative = page.locator("table", has_text="Most negative calls").locator("a").first.inner_text()
            topics = page.locator("table", has_text="top words").locator("tr").count() - 1
        finally:
            browser.close()
    assert not problems
    assert (tmp_path / "report.png").stat().st_size > 10000
    assert len(images) == 4 and all(w > 300 for _, w in images), images
    assert links and all((out / href).is_file() for href in links)  # each call's JSON
    assert "4 calls" in text and "complaint 1" in text and "suggestion 1" in text
    assert negative == "C-001"  # the headphones complaint
    assert topics >= 2


CLUSTER = """
import sys, ray
from ray.cluster_utils import Cluster
c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                  "object_store_memory": 200_000_000})
c.add_node(num_cpus=1, resources={"worker_node": 1}, object_store_memory=200_000_000)
c.wait_for_nodes()
print(c.address, flush=True)
sys.stdin.read()  # until the test closes it
c.shutdown()
"""


def test_two_node_cluster_gives_the_embedded_results(embedded, calls_dir, tmp_path, args):
    d, manifest = calls_dir
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_TMPDIR": tempfile.mkdtemp(prefix="/tmp/rc"), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    # a head node and a worker node on this machine, one CPU each, in a process of their own
    cluster = subprocess.Popen([sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    try:
        address = cluster.stdout.readline().strip()
        assert address, "the cluster did not start"
        out = tmp_path / "cluster"
        run = subprocess.run([sys.executable, "-m", "voicebot", "analyze", str(d), "--out", str(out), "--manifest",
                              str(manifest), "--ray", address, "--no-report", "--db", f"sqlite:///{tmp_path}/calls.db", *args],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        cluster.stdin.close()
        cluster.wait(timeout=60)
    assert run.returncode == 1 and "broken.wav" in run.stderr  # the same bad files
    assert "Ray: 2 actor(s) on 2 node(s)" in run.stderr
    want, got = docs(embedded[0]), docs(out)
    assert set(got) == set(want)
    for name in want:
        assert {k: got[name][k] for k in SAME} == {k: want[name][k] for k in SAME}, name
        assert got[name]["utterances"] == want[name]["utterances"], name
    shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)


def test_the_longest_calls_go_to_the_workers_first(tmp_path):
    """A long call taken last keeps one worker busy after the others are done: the pool gets the
    calls longest first, and a file that cannot be read goes last (it is reported in its turn)."""
    import soundfile as sf

    from voicebot.archive.analyze import longest_first
    for name, seconds, rate in [("short", 2, 16000), ("long", 9, 8000), ("mid", 5, 16000)]:
        sf.write(tmp_path / f"{name}.wav", [0.0] * (seconds * rate), rate)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    jobs = [{"file": tmp_path / f"{n}.wav", "name": n} for n in ("bad", "short", "long", "mid")]
    assert [j["name"] for j in longest_first(jobs)] == ["long", "mid", "short", "bad"]
