"""`voicebot deploy kamailio|haproxy`: the front's config for a list of workers, in a directory,
with a run.sh that starts it in the foreground (SIGTERM stops it)."""
from __future__ import annotations

import ipaddress
import shlex
from pathlib import Path

HERE = Path(__file__).parent


def add_parsers(sub, verb) -> None:
    """The `deploy` group's tasks; `verb` is the CLI's helper that adds one (voicebot.cli.main._verb)."""
    verb(sub, "kamailio", "SIP front: kamailio.cfg, dispatcher.list, run.sh", kamailio_arguments, kamailio_main,
         engines=False, description="Kamailio in front of N SIP workers: kamailio.cfg, dispatcher.list and run.sh in --out")
    verb(sub, "haproxy", "web and media-stream front: haproxy.cfg, run.sh", haproxy_arguments, haproxy_main,
         engines=False, description="HAProxy in front of N workers' web page and media streams: haproxy.cfg and run.sh in --out")


def kamailio_arguments(p) -> None:
    p.add_argument("--worker", action="append", required=True, metavar="HOST:PORT",
                   help="a worker's SIP address (`voicebot serve --sip HOST:PORT`); once per worker")
    p.add_argument("--max-calls", type=int, default=16, metavar="N",
                   help="calls per worker (its sip.max_calls; dispatcher maxload), default 16")
    p.add_argument("--listen", default="udp:127.0.0.1:5060", metavar="udp:IP:PORT",
                   help="Kamailio's socket (default udp:127.0.0.1:5060)")
    p.add_argument("--allow", metavar="NET", help="take calls only from this network (the PBX's, the carrier's)")
    p.add_argument("--ping-s", type=int, default=2, metavar="S",
                   help="seconds between OPTIONS probes of each worker (default 2)")
    p.add_argument("--timeout-ms", type=int, default=2000, metavar="MS",
                   help="a worker that does not answer an INVITE in this time is skipped (default 2000)")
    p.add_argument("--out", required=True, metavar="DIR", help="the directory to write to")


def haproxy_arguments(p) -> None:
    p.add_argument("--worker", action="append", required=True, metavar="HOST:PORT",
                   help="a worker's HTTP address (`voicebot serve --host H --port P`); once per worker")
    p.add_argument("--bind", default="127.0.0.1:8088", help="HAProxy's address (default 127.0.0.1:8088)")
    p.add_argument("--tls-pem", metavar="FILE", help="terminate TLS here: certificate and key in one PEM file")
    p.add_argument("--out", required=True, metavar="DIR", help="the directory to write to")


def kamailio_main(args) -> int:
    out = kamailio(args.out, args.worker, args.max_calls, args.listen, args.allow, args.ping_s, args.timeout_ms)
    print(f"voicebot deploy kamailio: {out}/run.sh starts it ({len(args.worker)} workers, "
          f"{args.max_calls} calls each)")
    return 0


def haproxy_main(args) -> int:
    out = haproxy(args.out, args.worker, args.bind, args.tls_pem)
    print(f"voicebot deploy haproxy: {out}/run.sh starts it ({len(args.worker)} workers)")
    return 0


def kamailio(out, workers: list[str], max_calls: int = 16, listen: str = "udp:127.0.0.1:5060",
             allow: str | None = None, ping_s: int = 2, timeout_ms: int = 2000) -> Path:
    """kamailio.cfg (the template as it is), dispatcher.list and run.sh in `out`; the run's values
    are defines on Kamailio's command line."""
    if max_calls < 1:
        raise ValueError("--max-calls must be 1 or more")
    proto, _, where = listen.rpartition(":")[0].partition(":")
    if proto not in ("udp", "tcp", "tls") or not listen.rsplit(":", 1)[-1].isdigit():
        raise ValueError(f"--listen wants udp:HOST:PORT, got {listen!r}")
    if allow:
        ipaddress.ip_network(allow, strict=False)  # ValueError: said in one line
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "kamailio.cfg").write_text((HERE / "kamailio.cfg").read_text())
    lines = ["# setid destination flags priority attributes (voicebot deploy kamailio); duid: the worker's name"]
    for i, w in enumerate(workers, 1):
        host, port = host_port(w)
        lines.append(f"1 sip:{host}:{port} 0 0 duid=w{i};maxload={max_calls}")
    (out / "dispatcher.list").write_text("\n".join(lines) + "\n")
    defines = {"LISTEN": listen, "DSLIST": f'"{out}/dispatcher.list"', "CTLSOCK": f'"unix:{out}/ctl.sock"',
               "PING_FROM": f'"sip:proxy@{where}"', "PING_S": str(ping_s), "FR_TIMER": str(timeout_ms)}
    if allow:
        defines["ALLOW_NET"] = f'"{allow}"'
    command = ["kamailio", "-DD", "-E", "-f", f"{out}/kamailio.cfg", "-w", str(out), "-Y", str(out),
               "-P", f"{out}/kamailio.pid", "-m", "32", "-M", "4"]
    for name, value in defines.items():
        command += ["-A", f"{name}={value}"]
    script(out, "Kamailio in the foreground (-DD), logging to stderr; SIGTERM stops it. Its workers' state:\n"
                f"#   kamcmd -s unix:{out}/ctl.sock dispatcher.list   (FLAGS AP: up, IP: down; DLGLOAD: calls)",
           command)
    return out


def haproxy(out, workers: list[str], bind: str = "127.0.0.1:8088", tls_pem: str | None = None) -> Path:
    """haproxy.cfg (the template with the bind and one server line a worker) and run.sh in `out`."""
    host_port(bind)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"    server w{i} {':'.join(map(str, host_port(w)))} check" for i, w in enumerate(workers, 1))
    listen = f'"{bind}"' + (f' ssl crt "{Path(tls_pem).resolve()}"' if tls_pem else "")
    text = (HERE / "haproxy.cfg").read_text()
    text = text.replace("@BIND@", listen).replace("@SOCK@", f'"{out}/haproxy.sock"').replace("@SERVERS@", servers)
    (out / "haproxy.cfg").write_text(text)
    script(out, "HAProxy in the foreground (-db), logging to stderr; SIGTERM stops it. Its servers' state:\n"
                f"#   echo 'show servers state voicebot' | socat - unix:{out}/haproxy.sock",
           ["haproxy", "-db", "-f", f"{out}/haproxy.cfg"])
    return out


def script(out: Path, what: str, command: list[str]) -> None:
    text = f"#!/bin/sh\n# {what}\nexec {' '.join(shlex.quote(c) for c in command)}\n"
    (out / "run.sh").write_text(text)
    (out / "run.sh").chmod(0o755)


def host_port(where: str) -> tuple[str, int]:
    """HOST:PORT as (address, port); the host must be an IP address (Kamailio and HAProxy would
    resolve a name once, at start)."""
    host, _, port = where.rpartition(":")
    try:
        ipaddress.ip_address(host)
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ValueError(f"{where!r}: want IP:PORT") from None
    return host, port
