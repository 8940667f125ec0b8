"""`voicebot serve --workers N`: N worker processes on one machine, each a whole `voicebot serve`
with its own models, started and stopped together.

Worker i (0..N-1: $VOICEBOT_WORKER_INDEX, set by the supervisor) listens on --port + i and, with
--sip, on the SIP port + i, and takes the i-th of N equal slices of sip.rtp_port_min..max;
/health says which worker it is. A front spreads the calls over them (voicebot.deploy: HAProxy
for the web and media streams, Kamailio for SIP).
Every worker writes its call records to phone.db_url: with more than one that must be a database
that takes several writers (PostgreSQL); SQLite is refused, as it would lock the workers out of
each other's writes. No keys configured: one key is made for the run and given to all of them.
SIGINT/SIGTERM go to every worker (each drains its calls: voicebot.serve.drain); a worker that
dies is said in one line and not restarted (run the whole under systemd for that); the
supervisor ends when all have.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time

log = logging.getLogger("voicebot.serve")
INDEX = "VOICEBOT_WORKER_INDEX"  # set by the supervisor for each worker: 0..N-1


def index() -> int | None:
    """Which worker of `--workers N` this process is; None for the supervisor or a lone server."""
    value = os.environ.get(INDEX)
    return int(value) if value and value.isdigit() else None


def check(args, config) -> None:
    """What --workers needs, said before anything starts (ValueError: one line)."""
    if args.workers < 1:
        raise ValueError(f"--workers must be 1 or more, not {args.workers}")
    if args.max_calls is not None and args.max_calls < 1:
        raise ValueError(f"--max-calls must be 1 or more, not {args.max_calls}")
    if args.workers > 1 and config.phone.db_url.split(":", 1)[0].split("+", 1)[0] == "sqlite":
        raise ValueError(f"--workers {args.workers}: every worker writes call records, and SQLite ({config.phone.db_url}) "
                         "takes one writer at a time: set phone.db_url to postgresql://... (docs/deploy.md)")
    sip = config.sip
    if args.sip is not None and sip.rtp_port_max - sip.rtp_port_min + 1 < args.workers:
        raise ValueError(f"--workers {args.workers}: sip.rtp_port_min..max has fewer ports than workers")


def place(args, config) -> None:
    """Worker `args.worker_index`'s ports: --port + i, the SIP port + i, its slice of the RTP range."""
    i, n = args.worker_index, args.workers
    args.port += i
    sip = config.sip
    if args.sip is not None:
        host, _, port = args.sip.rpartition(":") if ":" in args.sip else (args.sip, "", "")
        args.sip = f"{host or sip.host}:{(int(port) if port else sip.port) + i}"
    span = (sip.rtp_port_max - sip.rtp_port_min + 1) // n
    sip.rtp_port_min += i * span
    sip.rtp_port_max = sip.rtp_port_min + span - 1


def supervise(args, config, argv: list[str]) -> int:
    """Run `argv` (this `voicebot serve` command line) as N workers until they have all ended
    (`check` has passed)."""
    if argv[:1] != ["serve"]:  # the workers are started with this command line and their index
        raise ValueError("--workers: run it as `voicebot serve --workers N ...`")
    env = dict(os.environ)
    if not (args.open or args.token or args.keys_file or config.server.keys_file):
        env["VOICEBOT_TOKEN"] = secrets.token_urlsafe(24)  # one key for all: the front may use any worker
        print(f"voicebot serve: no keys configured; log in with this one, for this run only: {env['VOICEBOT_TOKEN']}",
              flush=True)
    # each in its own session: a Ctrl-C at the terminal reaches them once, from here (twice would force)
    procs = [subprocess.Popen([sys.executable, "-m", "voicebot", *argv], env={**env, INDEX: str(i)},
                              start_new_session=True) for i in range(args.workers)]
    print(f"voicebot serve: {args.workers} workers on ports {args.port}-{args.port + args.workers - 1}"
          + (" and as many SIP ports" if args.sip is not None else "") + f" (pids {' '.join(str(p.pid) for p in procs)})",
          flush=True)
    got: list[int] = []

    def forward(sig, frame=None):
        got.append(sig)
        for p in procs:
            if p.poll() is None:
                p.send_signal(sig)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        said = set()
        while any(p.poll() is None for p in procs):
            for i, p in enumerate(procs):
                if p.poll() is not None and i not in said and not got:
                    said.add(i)
                    log.error("worker %d (pid %d) exited with status %d; the others go on", i, p.pid, p.returncode)
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [p.returncode for p in procs]
    if got and all(c in (0, 130) for c in codes):
        return 130 if signal.SIGINT in got else 0
    return max(codes, key=lambda c: c not in (0, 130))
