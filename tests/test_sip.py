"""The SIP phone line (voicebot/phone/sip/): baresip, a real softphone, calls the bot on
loopback with a WAV of espeak-ng/flite speech as its microphone; what baresip heard (its sndfile
dump) is transcribed back with the project's ASR. Bad datagrams and stray RTP come from a plain
UDP socket. Ports are chosen free at run time; every process, thread and port is checked gone.
"""
from __future__ import annotations

import glob
import logging
import random
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from asr import load_recognizer
from asr.audio import resample
from tests.hearing import heard
from voicebot.bench.callers import speak, trim
from voicebot.bot import Bot
from voicebot.config import Config
from voicebot.phone.recording import wait_stored
from voicebot.phone.records import CallStore
from voicebot.phone.sip import serve
from voicebot.phone.sip.rtp import CUSHION, FRAME, jitter_buffer

RATE = 8000


def bindable(ports) -> bool:
    """Whether every (port, socket kind) in `ports` can be bound on loopback now."""
    socks = []
    try:
        for p, kind in ports:
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_udp_range(n: int) -> int:
    """The first of n consecutive UDP ports on loopback that are free now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - n, 2)
        if ports_free(base, base + n - 1):
            return base
    raise RuntimeError("no free UDP port range")


def free_sip_port() -> int:
    """A port for baresip's SIP: free for UDP and TCP, and the next one for TCP too (baresip 1.0
    opens TCP and TLS listeners there whatever `sip_transports` says: a TLS bind on a port another
    test had taken stopped a call through Kamailio with "Address already in use")."""
    for _ in range(200):
        port = free_udp_range(2)
        if bindable([(port, socket.SOCK_STREAM), (port + 1, socket.SOCK_STREAM)]):
            return port
    raise RuntimeError("no free port for baresip")


def ports_free(first: int, last: int) -> bool:
    return bindable((p, socket.SOCK_DGRAM) for p in range(first, last + 1))


def caller_wav(path, lines, tail_s: float = 20.0) -> None:
    """[(seconds of silence before, text, voice)] as 8 kHz 16-bit mono, with silence after: baresip
    hangs up when its source file ends, so the tail outlasts the bot's last reply."""
    parts = []
    for pause, text, voice in lines:
        parts += [np.zeros(int(pause * RATE), np.float32), resample(trim(speak(text, voice)), 16000, RATE)]
    parts.append(np.zeros(int(tail_s * RATE), np.float32))
    sf.write(path, np.concatenate(parts), RATE, subtype="PCM_16")


def baresip(tmp, bot_port: int, wav, seconds: int, uri: str | None = None, name: str = "baresip",
            codecs: str = "PCMU/8000/1,PCMA/8000/1") -> dict:
    """Dial the bot from baresip with `wav` as the microphone; what it heard, and its output."""
    d = tmp / name
    d.mkdir()
    sip_port, rtp = free_sip_port(), free_udp_range(20)
    (d / "config").write_text(f"""sip_listen 127.0.0.1:{sip_port}
sip_transports udp
net_interface 127.0.0.1
audio_source aufile,{wav}
rtp_ports {rtp}-{rtp + 19}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
snd_path {d}
module_app account.so
module_app menu.so
""")
    (d / "accounts").write_text(f"<sip:caller@127.0.0.1:{sip_port}>;regint=0;audio_codecs={codecs}\n")
    t0 = time.monotonic()
    proc = subprocess.Popen(["stdbuf", "-oL", "baresip", "-f", str(d), "-t", str(seconds), "-e",
                             f"/dial {uri or f'sip:bot@127.0.0.1:{bot_port}'}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:  # until the call ends (-t runs baresip on after it), or -t is up
            lines.append(line)
            if "terminated (duration" in line:
                break
    finally:
        time.sleep(0.5)  # sndfile closes its dumps as the call goes
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = "".join(lines)
    dumps = {}
    for kind in ("dec", "enc"):  # what baresip heard (decoded) and what it sent (before encoding)
        found = glob.glob(str(d / f"dump-*-{kind}.wav"))
        dumps[kind] = sf.read(found[0], dtype="float32")[0] if found else np.zeros(0, np.float32)
    return {"out": out, "heard": dumps["dec"], "sent": dumps["enc"], "took_s": time.monotonic() - t0}


@pytest.fixture(scope="module")
def human():
    """A UDP socket standing for the human agents' phone: it records what it gets, answers 486."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    got, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except socket.timeout:
                continue
            got.append(data.decode("utf8", "replace"))
            if data.startswith(b"INVITE"):
                head = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
                keep = [h for h in head[1:] if h.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
                sock.sendto(("\r\n".join(["SIP/2.0 486 Busy Here", *keep, "Content-Length: 0", "", ""])).encode(), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"sip:human@127.0.0.1:{sock.getsockname()[1]}", got
    stop.set()
    t.join(2)
    sock.close()


@pytest.fixture(scope="module")
def bot(human, tmp_path_factory):
    cfg = Config()
    cfg.sip.rtp_port_min = free_udp_range(10)
    cfg.sip.rtp_port_max = cfg.sip.rtp_port_min + 9
    cfg.phone.handover_uri = human[0]
    cfg.phone.record_audio = True
    cfg.phone.audio_dir = str(tmp_path_factory.mktemp("call-audio"))
    bot = Bot(cfg)
    bot.warm_up()
    return bot


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("records")
    return CallStore(f"sqlite:///{d}/calls.db", spool=d / "unsaved")


@pytest.fixture(scope="module")
def server(bot, store):
    srv = serve(bot, "127.0.0.1:0", store)
    yield srv
    srv.stop()
    assert wait_stored(180), "recordings still being stored"  # redacted after each call, on their own threads
    left = [t.name for t in threading.enumerate() if t.name.startswith(("sip", "rtp-", "live-", "phone-"))]
    assert not left, f"threads left behind: {left}"
    assert ports_free(bot.config.sip.rtp_port_min, bot.config.sip.rtp_port_max)


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer("faster-whisper", "base")


def heard_text(recognizer, audio) -> str:
    assert len(audio) > RATE, "baresip heard nothing"
    return heard(recognizer, resample(audio, RATE, 16000))


def wait_idle(server, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while server.calls and time.monotonic() < end:
        time.sleep(0.05)
    assert not server.calls, "a call was left open"


def recording(store, call_id: str, timeout: float = 120.0) -> str:
    """The call's stored recording: it is redacted after the call (voicebot.recording), then recorded."""
    end = time.monotonic() + timeout
    while not (path := store.get_call(call_id)["audio_path"]) and time.monotonic() < end:
        time.sleep(0.2)
    assert path, "the call's recording was not stored"
    return path


def snr_db(got: np.ndarray, ref: np.ndarray) -> float:
    """`got` against `ref` once aligned (their offset found by cross-correlation), in dB."""
    from scipy.signal import correlate
    lag = int(np.argmax(correlate(got, ref, mode="full", method="fft"))) - (len(ref) - 1)
    a, b = (got[lag:], ref) if lag >= 0 else (got, ref[-lag:])
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    return float(10 * np.log10(np.sum(b ** 2) / max(np.sum((a - b) ** 2), 1e-12)))


def records(store, n: int) -> list[dict]:
    """The last n call records, oldest first, with their turns."""
    return [store.get_call(c["id"]) for c in reversed(store.list_calls(n))]


@pytest.mark.slow
def test_baresip_calls_and_the_bot_answers_and_hangs_up(server, store, recognizer, tmp_path, caplog):
    caplog.set_level(logging.INFO, "voicebot.phone.sip")
    wav = tmp_path / "caller.wav"
    # digits spoken by espeak-ng or flite come through 8 kHz mu-law as "for time big" or "45677"
    # to Whisper base (tried): the call asks things it hears every time
    caller_wav(wav, [(8.0, "What are your store opening hours?", "flite:rms"),
                     (10.0, "No, that's all. Thank you, goodbye.", "flite:slt")], tail_s=25.0)
    got = baresip(tmp_path, server.port, wav, seconds=60)
    assert "Call established" in got["out"]
    # the bot hung up after its goodbye (baresip: "session closed") before baresip's file ran out
    assert "session closed" in got["out"] and "end of file)" not in got["out"], got["out"][-2000:]
    assert any("ended (the dialogue ended the call)" in r.getMessage() for r in caplog.records)
    text = heard_text(recognizer, got["heard"])
    for words in ("brightline", "help you", "monday to saturday", "goodbye"):
        assert words in text.replace("bright line", "brightline"), text
    wait_idle(server)
    rec = records(store, 1)[0]
    assert rec["transport"] == "sip" and rec["codec"] == "pcmu" and rec["caller"].startswith("sip:caller@")
    assert [t["intent"] for t in rec["turns"]] == ["store_hours", "goodbye"], rec["turns"]
    assert "Monday to Saturday" in rec["turns"][0]["reply"] and rec["end_reason"] == "the dialogue ended the call"
    # G.711 kept as it came, no 8-bit step: the caller's side of the bot's recording of the call
    # is what baresip sent, to G.711's own precision (~37 dB SNR on speech; pyVoIP's 8-bit
    # decoding gives 27 dB at -20 dBFS, 7 at -40)
    assert snr_db(sf.read(recording(store, rec["id"]), dtype="float32")[0][:, 0], got["sent"]) > 33
    assert ports_free(server.ports.start, server.ports.stop - 1)


@pytest.mark.slow
def test_handover_sends_the_caller_to_the_configured_uri(server, store, human, recognizer, tmp_path, caplog):
    caplog.set_level(logging.INFO, "voicebot.phone.sip")
    uri, got_human = human
    wav = tmp_path / "caller.wav"
    caller_wav(wav, [(8.0, "I want to speak to a real person, please.", "espeak:en-gb")], tail_s=25.0)
    got = baresip(tmp_path, server.port, wav, seconds=50)
    text = heard_text(recognizer, got["heard"])
    assert "colleague" in text, text
    # baresip obeyed the REFER: it called the human agents' URI, got 486, told the bot (NOTIFY)
    assert any(m.startswith(f"INVITE {uri} ") for m in got_human), got_human
    assert any("handed over to " + uri in r.getMessage() for r in caplog.records)
    assert "session closed" in got["out"], got["out"][-2000:]  # and the bot then hung up
    wait_idle(server)
    rec = records(store, 1)[0]
    assert [t["intent"] for t in rec["turns"]] == ["human_agent"] and rec["handover"] == uri, rec


class RawPeer:
    """A plain UDP socket speaking just enough SIP to hold a call, and sending stray RTP."""

    def __init__(self, server_port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.port, self.server = self.sock.getsockname()[1], ("127.0.0.1", server_port)
        self.call_id = f"raw-{random.getrandbits(32):x}"

    def request(self, method: str, cseq: int, to_tag: str = "", body: str = "") -> None:
        if method != "CANCEL":  # a CANCEL is of its INVITE's transaction: the same branch (RFC 3261 9.1)
            self.branch = f"z9hG4bK{random.getrandbits(40):x}"
        lines = [f"{method} sip:bot@127.0.0.1:{self.server[1]} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={self.branch}",
                 "Max-Forwards: 70", f"From: <sip:raw@127.0.0.1:{self.port}>;tag=rawtag",
                 f"To: <sip:bot@127.0.0.1:{self.server[1]}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {self.call_id}", f"CSeq: {cseq} {method}",
                 f"Contact: <sip:raw@127.0.0.1:{self.port}>"]
        lines += ["Content-Type: application/sdp"] if body else []
        lines += [f"Content-Length: {len(body)}", "", body]
        self.sock.sendto("\r\n".join(lines).encode(), self.server)

    def answer(self, request: str, status: str) -> None:
        keep = [h for h in request.split("\r\n\r\n")[0].split("\r\n")[1:]
                if h.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
        self.sock.sendto("\r\n".join([f"SIP/2.0 {status}", *keep, "Content-Length: 0", "", ""]).encode(), self.server)

    def response(self, want: str) -> str:
        while True:
            msg = self.sock.recv(65535).decode()
            if msg.startswith(f"SIP/2.0 {want}"):
                return msg

    def sdp(self) -> str:
        port = self.rtp.getsockname()[1]
        return (f"v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

    def close(self):
        self.sock.close()
        self.rtp.close()


def rtp_packet(pt: int, seq: int, payload: bytes = b"\xff" * 160) -> bytes:
    return bytes([0x80, pt]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big") + b"\0\0\0\x07" + payload


@pytest.mark.slow
def test_bad_sip_and_stray_rtp_are_dropped_with_one_line_each(server, recognizer, tmp_path, caplog):
    caplog.set_level(logging.INFO, "voicebot.phone.sip")
    peer = RawPeer(server.port)
    try:
        junk = [b"\x16\x03\x01 hello, this is not SIP at all",
                b"INVITE sip:bot@x SIP/2.0\r\nVia SIP/2.0/UDP nowhere\r\n\r\n",  # a header with no colon
                b"INVITE sip:bot@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\n\r\n",  # no Call-ID, From...
                "BYE sip:bot@x SIP/2.0\r\nCall-ID: \xff\r\n\r\n".encode("latin-1")]  # not UTF-8
        for data in junk:
            peer.sock.sendto(data, peer.server)
        time.sleep(0.5)
        malformed = [r for r in caplog.records if "malformed SIP message" in r.getMessage()]
        assert len(malformed) == 1  # one line per source and kind in 10 s, not one per datagram

        # a call from the raw peer, then RTP from a stranger, of a wrong type, and garbage
        peer.request("INVITE", 1, body=peer.sdp())
        ok = peer.response("200")
        tag = ok.split("To:")[1].split("tag=")[1].split("\r\n")[0]
        bot_rtp = int(ok.split("m=audio ")[1].split()[0])
        peer.request("ACK", 1, to_tag=tag)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for seq in range(5):
            stranger.sendto(rtp_packet(0, seq), ("127.0.0.1", bot_rtp))
            peer.rtp.sendto(rtp_packet(8, seq), ("127.0.0.1", bot_rtp))  # PCMA in a PCMU call
            peer.rtp.sendto(b"\x80", ("127.0.0.1", bot_rtp))
        stranger.close()
        time.sleep(0.5)
        peer.request("BYE", 2, to_tag=tag)
        peer.response("200")
        wait_idle(server)
    finally:
        peer.close()
    lines = [r.getMessage() for r in caplog.records]
    for what in ("not the caller's", "not the negotiated 0", "bad RTP packet"):
        assert sum(what in m for m in lines) == 1, lines
    assert any("RTP packets dropped" in m and "'source': 5" in m and "'payload': 5" in m for m in lines), lines

    # the server goes on: a proper call (A-law only, this one) is answered and heard
    wav = tmp_path / "caller.wav"
    caller_wav(wav, [], tail_s=7.0)
    got = baresip(tmp_path, server.port, wav, seconds=30, codecs="PCMA/8000/1")
    assert "Call established" in got["out"] and "Set audio encoder: PCMA" in got["out"]
    assert any("answered, PCMA" in r.getMessage() for r in caplog.records)
    assert "how can i help" in heard_text(recognizer, got["heard"])
    wait_idle(server)


def test_the_callers_audio_keeps_its_time_through_loss_late_packets_and_pauses():
    """The RTP receive buffer: G.711 silence (not zero bytes, a full-scale sample in mu-law) for a
    lost packet, a late one dropped, and after a pause in sending (DTX) audio lands at its time."""
    silence = b"\xff" * FRAME
    buf = jitter_buffer(b"\xff")
    assert buf.read() == silence
    buf.write(1000, b"a" * FRAME)
    buf.write(1000 + 2 * FRAME, b"c" * FRAME)  # the packet between is lost
    assert [buf.read() for _ in range(CUSHION // FRAME)] == [silence] * (CUSHION // FRAME)
    assert [buf.read() for _ in range(3)] == [b"a" * FRAME, silence, b"c" * FRAME]
    buf.write(1000 + FRAME, b"b" * FRAME)  # the lost one, after its time
    assert buf.late == 1
    assert [buf.read() for _ in range(10)] == [silence] * 10  # the caller's phone sends nothing
    buf.write(1000 + 13 * FRAME, b"d" * FRAME)
    assert buf.read() == b"d" * FRAME


@pytest.mark.slow
def test_two_callers_at_once_each_hear_their_own_answers(server, store, recognizer, tmp_path):
    asks = {"a": ("What are your store opening hours?", "flite:rms", "monday to saturday", "visa"),
            "b": ("Which payment methods do you accept?", "flite:awb", "visa", "monday")}
    results = {}

    def call(name):
        wav = tmp_path / f"{name}.wav"
        caller_wav(wav, [(7.0, asks[name][0], asks[name][1])], tail_s=14.0)
        results[name] = baresip(tmp_path, server.port, wav, seconds=45, name=name)

    threads = [threading.Thread(target=call, args=(n,)) for n in asks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for name, (_, _, mine, theirs) in asks.items():
        assert "Call established" in results[name]["out"]
        text = heard_text(recognizer, results[name]["heard"])
        assert "how can i help" in text and mine in text and theirs not in text, (name, text)
    wait_idle(server)
    assert sorted(t["intent"] for r in records(store, 2) for t in r["turns"]) == ["payment_methods", "store_hours"]


@pytest.mark.slow
def test_voicebot_serve_sip_answers_and_stops_cleanly(tmp_path, recognizer):
    import os
    import signal
    import sys
    rtp = free_udp_range(10)
    db = f"sqlite:///{tmp_path}/calls.db"
    (tmp_path / "phone.yml").write_text(f"sip: {{rtp_port_min: {rtp}, rtp_port_max: {rtp + 9}}}\n"
                                        f"phone: {{db_url: '{db}'}}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http = s.getsockname()[1]
    sip = free_udp_range(1)
    proc = subprocess.Popen([sys.executable, "-m", "voicebot", "serve", "--port", str(http), "--sip",
                             f"127.0.0.1:{sip}", "--config", str(tmp_path / "phone.yml")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ})
    try:
        lines = []
        for line in proc.stdout:  # it prints the SIP URI once the engines are warm
            lines.append(line)
            if "sip:bot@127.0.0.1" in line:
                break
        assert any(f"sip:bot@127.0.0.1:{sip}" in x for x in lines), "".join(lines)
        wav = tmp_path / "caller.wav"
        caller_wav(wav, [], tail_s=7.0)
        got = baresip(tmp_path, sip, wav, seconds=30)
        assert "Call established" in got["out"]
        assert "how can i help" in heard_text(recognizer, got["heard"])
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        assert proc.returncode == 130 and "stopped (0 calls hung up)" in rest, rest  # Ctrl-C's status
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert ports_free(rtp, rtp + 9) and ports_free(sip, sip)
    calls = CallStore(db).list_calls()
    assert len(calls) == 1 and calls[0]["transport"] == "sip" and calls[0]["end_reason"] == "the caller hung up"


@pytest.mark.slow
def test_a_cancelled_call_ends_with_487_and_leaves_nothing(server, caplog):
    caplog.set_level(logging.INFO, "voicebot.phone.sip")
    peer = RawPeer(server.port)
    try:
        peer.request("INVITE", 1, body=peer.sdp())
        peer.request("CANCEL", 1)  # at once, as a caller who gives up while it rings
        finals = [peer.response("") for _ in range(3)]  # 180, 200 (to CANCEL), 487 (to the INVITE)
        codes = sorted(m.split()[1] + " " + m.split("CSeq:")[1].split()[1] for m in finals)
        assert codes == ["180 INVITE", "200 CANCEL", "487 INVITE"], finals
        peer.request("ACK", 1)
        wait_idle(server)
    finally:
        peer.close()
    assert any("the caller cancelled" in r.getMessage() for r in caplog.records)
    assert ports_free(server.ports.start, server.ports.stop - 1)


@pytest.mark.slow
def test_the_caller_cuts_the_bot_short(server, recognizer, tmp_path):
    """Barge-in: the bot's audio not yet sent is dropped at once, and the new question answered."""
    wav = tmp_path / "caller.wav"
    # the answer takes ~9 s to say; the caller cuts in 4 s after asking
    caller_wav(wav, [(8.0, "What are your store opening hours?", "flite:rms"),
                     (4.0, "Sorry, stop. Which payment methods do you accept?", "flite:awb")], tail_s=14.0)
    got = baresip(tmp_path, server.port, wav, seconds=45)
    text = heard_text(recognizer, got["heard"])
    assert "monday" in text and "visa" in text and "around the clock" not in text, text
    wait_idle(server)


@pytest.mark.slow
def test_a_caller_who_vanishes_is_hung_up_after_the_silence_timeout(server, store, bot):
    """The caller's phone loses its network: no BYE, no RTP. The bot hangs up (BYE) after
    phone.silence_timeout_s, resends the BYE until it is answered, and the record says so."""
    peer = RawPeer(server.port)
    timeout = bot.config.phone.silence_timeout_s
    bot.config.phone.silence_timeout_s = 2.0
    try:
        peer.request("INVITE", 1, body=peer.sdp())
        tag = peer.response("200").split("To:")[1].split("tag=")[1].split("\r\n")[0]
        peer.request("ACK", 1, to_tag=tag)
        peer.sock.settimeout(20)  # the greeting (~4 s), then 2 s of silence
        bye = ""
        while not bye.startswith("BYE "):
            bye = peer.sock.recv(65535).decode()
        assert f"Call-ID: {peer.call_id}" in bye and f"tag={tag}" in bye.split("From:")[1].split("\r\n")[0]
        wait_idle(server)  # the call's ports and threads go at once; its BYE is resent until answered
        peer.sock.settimeout(3)
        assert peer.sock.recv(65535).decode() == bye
        peer.answer(bye, "200 OK")
        time.sleep(0.3)  # one may have crossed the answer
        peer.sock.settimeout(0.1)
        while True:
            try:
                peer.sock.recv(65535)
            except socket.timeout:
                break
        peer.sock.settimeout(2.5)
        with pytest.raises(socket.timeout):  # answered: not resent any more
            peer.sock.recv(65535)
    finally:
        bot.config.phone.silence_timeout_s = timeout
        peer.close()
    rec = records(store, 1)[0]
    assert rec["external_id"] == peer.call_id and rec["end_reason"] == "silence timeout" and rec["turns"] == []
