"""The SIP line behind a proxy (issue 29). First the bot's side, on raw UDP: Record-Route copied
into its answers, its own BYE along the route set, OPTIONS that say full or draining. Then the
real front: Kamailio (Debian's, started from what `voicebot deploy kamailio` writes) before two
`voicebot serve --sip` workers on 127.0.0.2 and 127.0.0.3, called by baresip and by raw SIP.
"""
from __future__ import annotations

import json
import logging
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.request

import pytest

from tests.test_sip import baresip, caller_wav, free_udp_range, human  # noqa: F401 (human: a fixture)
from voicebot.cli.main import main as voicebot
from voicebot.config import Config
from voicebot.deploy import kamailio
from voicebot.phone.records import CallStore
from voicebot.phone.sip import SipCall, SipServer, message

INVITE = """INVITE sip:bot@127.0.0.1:5070 SIP/2.0\r
Via: SIP/2.0/UDP 127.0.0.4:5060;branch=z9hG4bKproxy\r
Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKphone;rport=5080\r
Record-Route: <sip:127.0.0.4:5060;lr>\r
record-route: <sip:edge.example.com;lr;ftag=a>, "x, y" <sip:10.0.0.9:5099>\r
Max-Forwards: 69\r
From: <sip:caller@127.0.0.1:5080>;tag=caller1\r
To: <sip:bot@127.0.0.1:5070>\r
Call-ID: routed-1\r
CSeq: 7 INVITE\r
Contact: <sip:caller@127.0.0.1:5080;transport=udp>\r
Content-Length: 0\r
\r
"""


def test_the_route_set_is_the_invites_record_route_in_order():
    inv = message.parse(INVITE.encode())
    route = message.route_set(inv)
    assert route == ["<sip:127.0.0.4:5060;lr>", "<sip:edge.example.com;lr;ftag=a>", '"x, y" <sip:10.0.0.9:5099>']
    assert [message.loose(r) for r in route] == [True, True, False]
    assert message.host_port(message.uri_of(route[0])) == ("127.0.0.4", 5060)
    assert message.host_port("sip:bot@[::1]:5070;lr") == ("::1", 5070)
    assert message.host_port("sips:edge.example.com;lr") == ("edge.example.com", 5060)
    # 18x and 2xx carry every Record-Route as it came (RFC 3261 12.1.1); a refusal does not
    ringing = message.response(inv, 180, "Ringing", "t1", "", (), "sip:bot@127.0.0.2:5070").decode()
    assert ringing.count("Record-Route: ") == 2 and "Record-Route: <sip:127.0.0.4:5060;lr>\r\n" in ringing
    assert 'Record-Route: <sip:edge.example.com;lr;ftag=a>, "x, y" <sip:10.0.0.9:5099>\r\n' in ringing
    busy = message.response(inv, 486, "Busy Here", "t1", "", (), "sip:bot@127.0.0.2:5070").decode()
    assert "Record-Route" not in busy


def test_our_requests_carry_the_route_set():
    inv = message.parse(INVITE.encode())
    call = SipCall(None, inv, ("127.0.0.4", 5060))
    assert call.hop == ("127.0.0.4", 5060)  # the first route's address: the proxy nearest us
    bye = message.request(call, "BYE", "127.0.0.2:5070", "z9hG4bKx", "sip:bot@127.0.0.2:5070").decode()
    head = bye.split("\r\n")
    assert head[0] == "BYE sip:caller@127.0.0.1:5080;transport=udp SIP/2.0"  # the caller's Contact
    assert [h for h in head if h.startswith("Route:")] == [
        "Route: <sip:127.0.0.4:5060;lr>", "Route: <sip:edge.example.com;lr;ftag=a>", 'Route: "x, y" <sip:10.0.0.9:5099>']
    # a strict router first (no lr): its URI is the Request-URI, the caller's Contact the last Route
    call.route = ['<sip:10.0.0.9:5099>', "<sip:127.0.0.4:5060;lr>"]
    bye = message.request(call, "BYE", "127.0.0.2:5070", "z9hG4bKx", "sip:bot@127.0.0.2:5070").decode()
    assert bye.startswith("BYE sip:10.0.0.9:5099 SIP/2.0\r\n")
    assert bye.count("Route: ") == 2 and "Route: <sip:caller@127.0.0.1:5080;transport=udp>\r\n" in bye
    # no Record-Route: straight back to where the INVITE came from, as before
    direct = SipCall(None, message.parse(INVITE.replace("Record-Route", "X-Old").replace("record-route", "X-Old")
                                         .encode()), ("127.0.0.1", 5080))
    assert direct.route == [] and direct.hop == ("127.0.0.1", 5080)
    assert "Route:" not in message.request(direct, "BYE", "h:1", "z9hG4bKy", "sip:bot@h:1").decode()


class Silent:
    """The call's media: the SIP dialog is what these tests look at."""

    def __init__(self, call):
        self.call = call

    def push(self, frame: bytes) -> None:
        pass

    def close(self, reason: str) -> None:
        pass


def udp(ip: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    s.settimeout(5)
    return s


def recv(sock, start: str) -> str:
    """The next datagram that starts with `start` (others skipped: 180, resends)."""
    while True:
        msg = sock.recv(65535).decode()
        if msg.startswith(start):
            return msg


def header(msg: str, name: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in msg.split("\r\n\r\n")[0].split("\r\n")[1:]
            if line.split(":", 1)[0].strip().lower() == name.lower()]


def sdp(ip: str, port: int) -> str:
    return (f"v=0\r\no=p 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def options(sock, server) -> str:
    sock.sendto((f"OPTIONS sip:bot@127.0.0.1:{server.port} SIP/2.0\r\n"
                 f"Via: SIP/2.0/UDP {sock.getsockname()[0]}:{sock.getsockname()[1]};branch=z9hG4bK{random.getrandbits(32):x}\r\n"
                 "From: <sip:proxy@127.0.0.4>;tag=p\r\nTo: <sip:bot@127.0.0.1>\r\n"
                 f"Call-ID: probe-{random.getrandbits(32):x}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(),
                ("127.0.0.1", server.port))
    return recv(sock, "SIP/2.0")


def test_the_bot_behind_a_proxy_answers_along_the_route_and_probes_see_it_full():
    """A real SipServer (silent media): a proxy at 127.0.0.4 relays an INVITE that it and a second
    proxy (127.0.0.6) record-routed; the bot's 200 keeps the route, its BYE goes to the second
    proxy's address with both Routes, and OPTIONS say 200, 486 (its one slot taken), 503 (draining)."""
    cfg = Config()
    cfg.sip.max_calls = 1
    cfg.sip.rtp_port_min = free_udp_range(4)
    cfg.sip.rtp_port_max = cfg.sip.rtp_port_min + 3
    server = SipServer(types.SimpleNamespace(config=cfg), Silent, "127.0.0.1", 0).start()
    proxy, second, rtp = udp("127.0.0.4"), udp("127.0.0.6"), udp("127.0.0.4")
    try:
        ok = options(proxy, server)
        assert ok.startswith("SIP/2.0 200 ") and ";tag=" in header(ok, "To")[0] and "INVITE" in header(ok, "Allow")[0]
        p2 = f"127.0.0.6:{second.getsockname()[1]}"
        invite = INVITE.replace("sip:bot@127.0.0.1:5070", f"sip:bot@127.0.0.1:{server.port}")
        invite = invite.replace("Record-Route: <sip:127.0.0.4:5060;lr>", f"Record-Route: <sip:{p2};lr>")
        invite = invite.replace("record-route: <sip:edge.example.com;lr;ftag=a>, \"x, y\" <sip:10.0.0.9:5099>",
                                f"Record-Route: <sip:127.0.0.4:{proxy.getsockname()[1]};lr>")
        body = sdp("127.0.0.4", rtp.getsockname()[1])
        invite = invite.replace("Content-Length: 0\r\n\r\n",
                                f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}")
        proxy.sendto(invite.encode(), ("127.0.0.1", server.port))
        ringing = recv(proxy, "SIP/2.0 180")
        answer = recv(proxy, "SIP/2.0 200")
        routes = [f"<sip:{p2};lr>", f"<sip:127.0.0.4:{proxy.getsockname()[1]};lr>"]
        assert header(ringing, "Record-Route") == routes and header(answer, "Record-Route") == routes
        tag = header(answer, "To")[0].split(";tag=")[1]
        ack = invite.split("\r\n\r\n")[0].replace("INVITE sip:", "ACK sip:", 1).replace("CSeq: 7 INVITE", "CSeq: 7 ACK")
        ack = ack.replace("To: <sip:bot@127.0.0.1:5070>", f"To: <sip:bot@127.0.0.1:5070>;tag={tag}")
        proxy.sendto((ack.split("Content-Type")[0] + "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", server.port))
        end = time.monotonic() + 5
        while not server.full() and time.monotonic() < end:
            time.sleep(0.02)
        busy = options(proxy, server)  # its one call is up: a probe sees it full, as an INVITE would
        assert busy.startswith("SIP/2.0 486 ") and ";tag=" in header(busy, "To")[0]
        (call,) = server.calls.values()
        call.hangup("test over")
        bye = recv(second, "BYE ")  # to the first route's address, not to where the INVITE came from
        assert bye.startswith("BYE sip:caller@127.0.0.1:5080;transport=udp SIP/2.0")
        assert header(bye, "Route") == routes and header(bye, "Call-ID") == ["routed-1"]
        keep = [h for h in bye.split("\r\n\r\n")[0].split("\r\n")[1:]
                if h.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
        second.sendto("\r\n".join(["SIP/2.0 200 OK", *keep, "Content-Length: 0", "", ""]).encode(), ("127.0.0.1", server.port))
        end = time.monotonic() + 5
        while (server.calls or server._out) and time.monotonic() < end:  # answered from the hop: not resent
            time.sleep(0.02)
        assert not server.calls and not server._out
        assert options(proxy, server).startswith("SIP/2.0 200 ")
        server.drain("test", 2)
        assert options(proxy, server).startswith("SIP/2.0 503 ")
    finally:
        server.stop()
        for s in (proxy, second, rtp):
            s.close()


def test_no_authentication_warning_on_loopback(caplog):
    caplog.set_level(logging.WARNING, "voicebot.phone.sip")
    cfg = Config()
    server = SipServer(types.SimpleNamespace(config=cfg), Silent, "127.0.0.2", 0).start()
    server.stop()
    assert not [r for r in caplog.records if "no authentication" in r.getMessage()]


# ---- the real front: Kamailio before two `voicebot serve --sip` workers

WORKERS = ["127.0.0.2", "127.0.0.3"]
PROXY_IP = "127.0.0.4"  # baresip and the raw callers are 127.0.0.1: only the proxy is trusted by the workers


def free_port(ip: str, kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def healthy(ip: str, port: int, timeout: float) -> dict:
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{ip}:{port}/health", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.3)


class Front:
    """Kamailio in `dir`, its workers (Popen, SIP and HTTP ports, their call stores)."""

    def __init__(self, dir):
        self.dir, self.workers, self.kamailio = dir, [], None

    def state(self) -> dict[str, tuple[str, int]]:
        """Each worker's (FLAGS, DLGLOAD) as Kamailio has them: AP up, IP down (inactive, probing)."""
        out = subprocess.run(["kamcmd", "-s", f"unix:{self.dir}/ctl.sock", "dispatcher.list"],
                             capture_output=True, text=True, timeout=10).stdout
        return {uri.split(":")[1]: (flags, int(load))
                for uri, flags, load in re.findall(r"URI: (\S+)\s+FLAGS: (\S+).*?DLGLOAD: (\d+)", out, re.S)}

    def wait(self, want, timeout: float = 10.0) -> dict:
        """Until `want(state)`; the last state."""
        end = time.monotonic() + timeout
        while not want(state := self.state()) and time.monotonic() < end:
            time.sleep(0.1)
        assert want(state), state
        return state

    def records(self, ip: str) -> list[dict]:
        w = next(w for w in self.workers if w["ip"] == ip)
        return [w["store"].get_call(c["id"]) for c in reversed(w["store"].list_calls(50))]


@pytest.fixture(scope="module")
def front(tmp_path_factory, human):
    d = tmp_path_factory.mktemp("front")
    kport = free_port(PROXY_IP)
    f = Front(d)
    try:
        for ip in WORKERS:  # each its own directory, ports, RTP range and call records
            w = {"ip": ip, "dir": d / ip, "sip": free_port(ip), "http": free_port(ip, socket.SOCK_STREAM),
                 "rtp": free_udp_range(10)}
            w["dir"].mkdir()
            (w["dir"] / "bot.yml").write_text(
                f"sip: {{rtp_port_min: {w['rtp']}, rtp_port_max: {w['rtp'] + 9}, max_calls: 1, trusted: [{PROXY_IP}]}}\n"
                f"phone: {{db_url: 'sqlite:///calls.db', handover_uri: '{human[0]}'}}\n")
            w["log"] = open(w["dir"] / "serve.log", "w")
            w["proc"] = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--host", ip, "--port", str(w["http"]),
                                          "--token", "front-test", "--sip", f"{ip}:{w['sip']}", "--config", "bot.yml"],
                                         cwd=w["dir"], stdout=w["log"], stderr=subprocess.STDOUT)
            w["store"] = CallStore(f"sqlite:///{w['dir']}/calls.db")
            f.workers.append(w)
        # as an operator writes it: maxload = the workers' sip.max_calls; probes each second for the test
        assert voicebot(["deploy", "kamailio", *[x for w in f.workers for x in ("--worker", f"{w['ip']}:{w['sip']}")],
                         "--max-calls", "1", "--listen", f"udp:{PROXY_IP}:{kport}", "--ping-s", "1",
                         "--timeout-ms", "1000", "--out", str(d)]) == 0
        f.kamailio = start_kamailio(d)
        f.address = (PROXY_IP, kport)
        for w in f.workers:
            healthy(w["ip"], w["http"], 90)
        f.wait(lambda s: len(s) == 2 and all(flags.startswith("A") for flags, _ in s.values()), 10)
        yield f
    finally:
        for w in f.workers:
            if w["proc"].poll() is None:
                w["proc"].send_signal(signal.SIGINT)
        if f.kamailio is not None:
            f.kamailio.send_signal(signal.SIGTERM)
            f.kamailio.wait(10)
            assert not (d / "ctl.sock").exists() and not (d / "kamailio.pid").exists()
        for w in f.workers:
            try:
                w["proc"].wait(20)
            except subprocess.TimeoutExpired:
                w["proc"].kill()
                w["proc"].wait()
            w["log"].close()


class Caller:
    """A phone speaking raw SIP to the proxy, as a UAC keeps a dialog (RFC 3261 12.1.2): the route
    set is the 200's Record-Route reversed, the remote target its Contact."""

    def __init__(self, proxy):
        self.sock, self.rtp = udp("127.0.0.1"), udp("127.0.0.1")
        self.proxy, self.cseq = proxy, 1
        self.id = f"front-{random.getrandbits(32):x}"
        self.me = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def send(self, method: str, uri: str, to_tag: str = "", route=(), branch: str = "", body: str = "") -> None:
        self.branch = branch or f"z9hG4bK{random.getrandbits(40):x}"
        lines = [f"{method} {uri} SIP/2.0", f"Via: SIP/2.0/UDP {self.me};branch={self.branch};rport",
                 "Max-Forwards: 70", f"From: <sip:caller@{self.me}>;tag=c{self.id}",
                 f"To: <sip:bot@{self.proxy[0]}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {self.id}", f"CSeq: {self.cseq if method != 'BYE' else self.cseq + 1} {method}",
                 f"Contact: <sip:caller@{self.me}>", *[f"Route: {r}" for r in route]]
        lines += ["Content-Type: application/sdp"] if body else []
        lines += [f"Content-Length: {len(body)}", "", body]
        self.sock.sendto("\r\n".join(lines).encode(), self.proxy)

    def invite(self) -> None:
        self.uri = f"sip:bot@{self.proxy[0]}:{self.proxy[1]}"
        self.send("INVITE", self.uri, body=sdp("127.0.0.1", self.rtp.getsockname()[1]))
        self.invite_branch = self.branch

    def final(self, timeout: float = 15.0) -> str:
        """The INVITE's final answer; a 2xx is ACKed along the route, others hop by hop."""
        self.sock.settimeout(timeout)
        while True:
            msg = recv(self.sock, "SIP/2.0 ")
            if "INVITE" in header(msg, "CSeq")[0] and int(msg.split()[1]) >= 200:
                break
        self.tag = header(msg, "To")[0].split(";tag=")[1]
        if msg.startswith("SIP/2.0 2"):
            self.route = list(reversed(message.entries(", ".join(header(msg, "Record-Route")))))
            self.target = header(msg, "Contact")[0].strip("<>")
            self.send("ACK", self.target, self.tag, self.route)
        else:
            self.send("ACK", self.uri, self.tag, branch=self.invite_branch)
        return msg

    def bye(self) -> str:
        self.send("BYE", self.target, self.tag, self.route)
        return recv(self.sock, "SIP/2.0 ")

    def close(self):
        self.sock.close()
        self.rtp.close()


def worker_of(answer: str) -> str:
    return message.host_port(header(answer, "Contact")[0].strip("<>"))[0]


@pytest.mark.slow
def test_calls_through_kamailio_land_on_both_workers_and_go_through_it_to_the_end(front, human, tmp_path):
    """Two baresip calls at once through the proxy: one to each worker. One asks the store hours
    and hangs up (its BYE through the proxy); the other asks for a person: the bot's REFER, the
    phone's NOTIFY and the bot's BYE all pass the proxy. Kamailio's call load is 0 again after."""
    uri, got_human = human
    asks = {"hours": [(7.0, "What are your store opening hours?", "flite:rms")],
            "person": [(7.0, "I want to speak to a real person, please.", "espeak:en-gb")]}
    results = {}

    def call(name):
        caller_wav(tmp_path / f"{name}.wav", asks[name], tail_s=12.0)
        results[name] = baresip(tmp_path, 0, tmp_path / f"{name}.wav", seconds=45, name=name,
                                uri=f"sip:bot@{front.address[0]}:{front.address[1]}")

    threads = [threading.Thread(target=call, args=(n,)) for n in asks]
    for t in threads:
        t.start()
        time.sleep(0.3)  # one INVITE after the other: the second sees the first's load
    for t in threads:
        t.join(90)
    for name in asks:
        assert "Call established" in results[name]["out"], results[name]["out"][-2000:]
    front.wait(lambda s: all(load == 0 for _, load in s.values()), 10)  # both BYEs counted by the proxy
    recs = {ip: front.records(ip) for ip in WORKERS}
    assert all(len(r) == 1 for r in recs.values()), recs  # one call on each worker
    by_intent = {tuple(t["intent"] for t in r[0]["turns"]): r[0] for r in recs.values()}
    assert set(by_intent) == {("store_hours",), ("human_agent",)}, by_intent
    assert by_intent[("human_agent",)]["handover"] == uri
    assert any(m.startswith(f"INVITE {uri} ") for m in got_human)  # baresip obeyed the REFER
    assert all(r[0]["ended"] for r in recs.values())


@pytest.mark.slow
def test_a_full_worker_is_skipped_all_full_is_busy_and_cancel_passes(front):
    front.wait(lambda s: all(f.startswith("A") and load == 0 for f, load in s.values()), 10)
    direct = Caller(("127.0.0.2", front.workers[0]["sip"]))  # around the proxy: not trusted
    callers = [Caller(front.address) for _ in range(4)]
    try:
        direct.uri = f"sip:bot@127.0.0.2:{front.workers[0]['sip']}"
        direct.send("INVITE", direct.uri, body=sdp("127.0.0.1", direct.rtp.getsockname()[1]))
        assert recv(direct.sock, "SIP/2.0 ").startswith("SIP/2.0 403 ")
        a, b, c, d = callers
        a.invite()
        first = a.final()
        assert first.startswith("SIP/2.0 200 ")
        b.invite()
        second = b.final()
        assert second.startswith("SIP/2.0 200 ") and {worker_of(first), worker_of(second)} == set(WORKERS)
        # both full: each answers the proxy's probes 486, and the proxy counts one call on each
        front.wait(lambda s: all(f.startswith("I") and load == 1 for f, load in s.values()), 5)
        c.invite()
        busy = c.final()
        assert busy.split()[1] in ("486", "503"), busy
        assert a.bye().startswith("SIP/2.0 200 ")  # through the proxy: its worker is free again
        freed = worker_of(first)
        front.wait(lambda s: s[freed] == ("AP", 0), 5)
        d.invite()  # and a caller who gives up while it rings: CANCEL through the proxy
        d.sock.settimeout(5)
        recv(d.sock, "SIP/2.0 180")
        d.send("CANCEL", d.uri, branch=d.invite_branch)
        d.cseq = 1
        got = [recv(d.sock, "SIP/2.0 2"), d.final()]
        assert "CANCEL" in header(got[0], "CSeq")[0] and got[1].startswith("SIP/2.0 487 "), got
        assert b.bye().startswith("SIP/2.0 200 ")
        front.wait(lambda s: all(f == "AP" and load == 0 for f, load in s.values()), 5)
    finally:
        for p in (direct, *callers):
            p.close()


def start_kamailio(out) -> subprocess.Popen:
    with open(out / "kamailio.log", "w") as log:  # the child has its own copy
        proc = subprocess.Popen(["sh", str(out / "run.sh")], cwd=out, stdout=log, stderr=subprocess.STDOUT)
    end = time.monotonic() + 10
    while not (out / "ctl.sock").exists() and time.monotonic() < end:
        time.sleep(0.05)
    return proc


@pytest.mark.slow
def test_a_worker_that_says_busy_passes_the_call_to_the_next(front, tmp_path):
    """A second Kamailio that allows 2 calls a worker (their sip.max_calls is 1) and probes once a
    minute learns that a worker is full only from its 486: the call goes on to the next worker, and
    when both say 486 the caller gets it; its call counts come back to 0."""
    front.wait(lambda s: all(f == "AP" and load == 0 for f, load in s.values()), 10)
    held = Caller(front.address)  # through the first proxy: the second one knows nothing of it
    address = (PROXY_IP, free_port(PROXY_IP))
    b, c = Caller(address), Caller(address)
    proc = None
    try:
        held.invite()
        full = worker_of(held.final())
        free = next(ip for ip in WORKERS if ip != full)
        port = {w["ip"]: w["sip"] for w in front.workers}
        # the full worker on the list's last line: algorithm 10 tries it first while loads are equal
        out = kamailio(tmp_path / "k2", [f"{free}:{port[free]}", f"{full}:{port[full]}"], max_calls=2,
                       listen=f"udp:{address[0]}:{address[1]}", ping_s=60, timeout_ms=1000)
        proc = start_kamailio(out)
        second = Front(out)
        b.invite()
        ok = b.final()
        assert ok.startswith("SIP/2.0 200 ") and worker_of(ok) == free, ok
        assert f"failover -> sip:{free}:" in (out / "kamailio.log").read_text()
        c.invite()  # both full now: each says 486, and so does the proxy
        assert c.final().startswith("SIP/2.0 486 ")
        second.wait(lambda s: s[free][1] == 1 and s[full][1] == 0, 3)
        assert b.bye().startswith("SIP/2.0 200 ") and held.bye().startswith("SIP/2.0 200 ")
        second.wait(lambda s: all(load == 0 for _, load in s.values()), 3)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        for p in (held, b, c):
            p.close()


@pytest.mark.slow
def test_a_killed_worker_is_marked_down_and_new_calls_go_to_the_other(front):
    """SIGKILL of a worker holding a call: no drain, no 503 to the probes; only the timer tells."""
    front.wait(lambda s: all(f == "AP" and load == 0 for f, load in s.values()), 10)
    end = time.monotonic() + 10
    while not all(r["ended"] for ip in WORKERS for r in front.records(ip)) and time.monotonic() < end:
        time.sleep(0.1)  # the last calls' records are closed just after their BYE
    finished = {ip: front.records(ip) for ip in WORKERS}
    held = Caller(front.address)
    try:
        held.invite()
        ok = held.final()
        assert ok.startswith("SIP/2.0 200 ")
        dead = next(w for w in front.workers if w["ip"] == worker_of(ok))
        live = next(w for w in front.workers if w is not dead)
        dead["proc"].kill()
        t0 = time.monotonic()
        front.wait(lambda s: s[dead["ip"]][0].startswith("I"), 5)
        assert time.monotonic() - t0 < 3.5  # within the probing interval (1 s) and the timeout (1 s)
        for _ in range(2):
            caller = Caller(front.address)
            try:
                caller.invite()
                ok = caller.final()
                assert ok.startswith("SIP/2.0 200 ") and worker_of(ok) == live["ip"]
                assert caller.bye().startswith("SIP/2.0 200 ")
            finally:
                caller.close()
        # the held call's caller hangs up: its BYE finds no one (408 from the proxy) and its load goes
        assert held.bye().startswith("SIP/2.0 408 ")
        front.wait(lambda s: s[dead["ip"]][1] == 0 and s[live["ip"]][1] == 0, 3)
    finally:
        held.close()
    # the killed worker's finished calls are all there, each written whole
    after = {r["id"]: r for r in front.records(dead["ip"])}
    assert all(after[r["id"]]["ended"] == r["ended"] for r in finished[dead["ip"]])
