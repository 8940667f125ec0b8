"""`voicebot data ...`: operator commands for stored call data: keygen, export (decrypt), rotate-key,
retention, redact (silence personal data in recordings).

    voicebot data keygen --out KEYFILE
    voicebot data export RESULTS... --out DIR       # decrypted copies, each read written to the audit log
    voicebot data rotate-key RESULTS...             # re-encrypt with privacy.key_file; old_key_file still reads
    voicebot data retention RESULTS... --days N [--dry-run]

RESULTS are `voicebot call` output directories (one folder per call). Every command reports
files it cannot handle by name and goes on with the others (exit 1 if any). Keys, exported
copies and re-encrypted files are written mode 0600, the folders made for them 0700.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from asr.audio import AudioError, find_audio_files, load_audio, write_wav
from asr.files import atomic_path, atomic_write_text
from nlu.redact_audio import redact_audio
from voicebot.bot import Bot
from voicebot.config import Config
from voicebot.options import load_config
from voicebot.phone.records import CallStore
from voicebot.privacy.audit import audit
from voicebot.privacy.crypto import SUFFIX, CryptoError, new_key, open_vault, read_bytes, vault_if_key, write_bytes

AUDIO = (".wav", ".flac", ".mp3", ".ogg")


def _config(args):
    return Config.load(getattr(args, "config", None))


def _files(roots: list[str]):
    for root in map(Path, roots):
        if root.is_file():
            yield root.parent, root
        elif root.is_dir():
            for f in sorted(root.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    yield root, f
        else:
            print(f"voicebot: {root}: no such file or directory", file=sys.stderr)


def keygen(args) -> int:
    out = Path(args.out)
    if out.exists():
        print(f"voicebot keygen: {out} exists; a key is never overwritten", file=sys.stderr)
        return 2
    with atomic_path(out, private=True) as tmp:  # 0600 from the start, never readable by others
        Path(tmp).write_text(new_key() + "\n")
    print(f"voicebot keygen: wrote {out} (keep it off the machine's backups of call data)")
    return 0


def export(args) -> int:
    cfg = _config(args)
    vault = open_vault(cfg.privacy) if cfg.privacy.encrypt else vault_if_key(cfg)
    out, bad = Path(args.out), 0
    for root, f in _files(args.results):
        target = out / f.relative_to(root)
        try:
            data = read_bytes(f, vault)
        except (CryptoError, OSError) as e:
            print(f"voicebot export: {e}", file=sys.stderr)
            bad += 1
            continue
        if target.name.endswith(SUFFIX):
            target = target.with_name(target.name[:-len(SUFFIX)])
        with atomic_path(target, private=True) as tmp:  # call data in the clear: the operator's alone
            Path(tmp).write_bytes(data)
        audit(cfg, "export", f)
    print(f"voicebot export: wrote {out}" + (f"; {bad} file(s) could not be read" if bad else ""))
    return 1 if bad else 0


def rotate(args) -> int:
    cfg = _config(args)
    if not cfg.privacy.old_key_file:
        print("voicebot rotate-key: set privacy.old_key_file to the key being replaced", file=sys.stderr)
        return 2
    import dataclasses
    vault = open_vault(dataclasses.replace(cfg.privacy, encrypt=True))
    done = bad = 0
    for _, f in _files(args.results):
        if not f.name.endswith(SUFFIX):
            continue
        blob = f.read_bytes()
        if not vault.needs_rotation(blob):
            continue  # done already: a rotation stopped half way goes on where it stopped
        try:
            data = vault.decrypt(blob, f.name)
        except CryptoError as e:
            print(f"voicebot rotate-key: {f}: {e}", file=sys.stderr)
            bad += 1
            continue
        write_bytes(f.with_name(f.name[:-len(SUFFIX)]), data, vault)
        done += 1
    print(f"voicebot rotate-key: {done} file(s) re-encrypted" + (f", {bad} failed" if bad else "")
          + ("; the old key can go once no file needs it" if not bad else ""))
    return 1 if bad else 0


def retention(args) -> int:
    """Calls older than --days go, their audio first, so a stop half way never leaves audio
    without the transcript or record that says whose it is: result folders of `voicebot call`
    (a folder holding a transcript) and, with --records, the phone line's call records
    (phone.db_url) with their recordings."""
    cutoff = time.time() - args.days * 86400
    calls = []
    for root in map(Path, args.results):
        for t in sorted(root.rglob("transcript.json*")):
            if t.stat().st_mtime < cutoff:
                calls.append(t.parent)
    for call in calls:
        audio = [f for f in call.iterdir() if f.name.removesuffix(SUFFIX).endswith(AUDIO)]
        print(f"{'would delete' if args.dry_run else 'deleting'} {call} ({len(audio)} audio file(s))")
        if args.dry_run:
            continue
        for f in audio:
            f.unlink()
        shutil.rmtree(call)
    records = _old_records(args, cutoff) if args.records else 0
    print(f"voicebot retention: {len(calls)} call folder(s)" + (f" and {records} call record(s)" if args.records else "")
          + f" older than {args.days:g} days" + (" (dry run)" if args.dry_run else ""))
    return 0


def _old_records(args, cutoff: float) -> int:
    from datetime import datetime, timezone

    cfg = _config(args)
    store = CallStore(cfg.phone.db_url)
    try:
        old = store.started_before(datetime.fromtimestamp(cutoff, timezone.utc))
        for row in old:
            audio = [p for p in (row["audio_path"], (row["audio_path"] or "") + SUFFIX) if p and Path(p).exists()]
            print(f"{'would delete' if args.dry_run else 'deleting'} call record {row['id']} "
                  f"({row['started']:%Y-%m-%d}, {len(audio)} recording(s))")
            if not args.dry_run:
                for p in audio:
                    Path(p).unlink()
        if old and not args.dry_run:
            store.delete_calls([r["id"] for r in old])
        return len(old)
    finally:
        store.close()


def add_parsers(sub) -> None:
    p = sub.add_parser("keygen", help="make an encryption key for stored call data")
    p.add_argument("--out", required=True, help="the key file to write (mode 600)")
    p.set_defaults(func=keygen)
    for name, func, text in [("export", export, "decrypted copies of stored call data, for an authorised operator (audited)"),
                             ("rotate-key", rotate, "re-encrypt stored call data with the current key")]:
        p = sub.add_parser(name, help=text)
        p.add_argument("results", nargs="+", help="`voicebot call` output directories or files")
        p.add_argument("--config", help="YAML config with the privacy section (keys)")
        if name == "export":
            p.add_argument("--out", required=True, help="where the decrypted copies go")
        p.set_defaults(func=func)
    p = sub.add_parser("retention", help="delete stored calls older than N days (audio first)")
    p.add_argument("results", nargs="*", help="result folders of `voicebot call`")
    p.add_argument("--days", type=float, required=True)
    p.add_argument("--records", action="store_true",
                   help="also the phone line's call records (phone.db_url) and their recordings")
    p.add_argument("--config", help="YAML config (phone.db_url for --records)")
    p.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    p.set_defaults(func=retention)


def redact_audio_main(args) -> int:
    """`voicebot redact-audio FILES... --out DIR`: copies with personal data silenced, and what went."""
    files, errors = find_audio_files(args.inputs)
    for e in errors:
        print(f"voicebot: {e}", file=sys.stderr)
    recognizer = Bot(load_config(args)).recognizer
    out, report = Path(args.out), {}
    for f in files:
        try:
            audio = load_audio(f)
        except AudioError as e:
            print(f"voicebot: {e}", file=sys.stderr)
            errors.append(str(e))
            continue
        clean, spans = redact_audio(recognizer, audio)
        write_wav(out / f"{f.stem}.wav", clean, 16000)
        report[f.name] = [{"kind": s.kind, "start": float(s.start), "end": float(s.end)} for s in spans]
        print(f"{f.name}: {len(spans)} span(s) silenced" + "".join(f"; {s.kind} {s.start:.2f}-{s.end:.2f} s" for s in spans))
    atomic_write_text(out / "redactions.json", json.dumps(report, indent=2) + "\n")
    return 1 if errors else 0


def add_redact_audio_arguments(p) -> None:
    p.add_argument("inputs", nargs="+", help="call recordings (files or directories)")
    p.add_argument("--out", required=True, help="where the silenced copies (16 kHz WAV) and redactions.json go")
