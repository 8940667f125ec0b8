"""One typed configuration object, loadable from YAML.

Every section is a dataclass with defaults, so a YAML file only names what it changes:

    device: auto
    asr: {backend: faster-whisper, model: base}
    vad: {engine: silero, hangover_ms: 400}
    tts: {engine: piper, sample_rate: 8000}
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from asr.vad import VADSettings


@dataclass
class AudioConfig:
    frame_ms: int = 30
    channel: int | None = None  # which channel of a stereo call is the caller; None mixes down


@dataclass
class ASRConfig:
    backend: str = "faster-whisper"  # faster-whisper | openai-whisper
    model: str = "base"  # tiny.en, base, a hub name, or a local path
    compute_type: str = "auto"  # int8 on CPU, float16 on GPU
    # a turn heard alone (live calls; recorded ones with whole_call off): greedy, 1 s margin.
    # On 28 noisy calls in other voices WER 15.9 %; beam_size 5 with margin_s 3 gave 13.7 % at
    # 1.15x the time (docs/benchmarks.md, "Noisy calls"): not worth it for live replies
    beam_size: int = 1
    threads: int = 0  # CPU threads per decode; 0: one (faster here than two: asr/faster.py)
    short_context: bool = True  # encode the utterance's own length, not a padded 30 s window
    margin_s: float = 1.0
    max_tokens_per_s: float = 8.0
    no_speech_threshold: float = 0.6
    # the caller's previous turn (up to this long) goes before the next one in Whisper's window,
    # its text as the decoder's prefix: same voice, same line, heard better; 0 turns it off
    context_s: float = 10.0
    # utterances of calls at once that wait for Whisper together are decoded as one batch
    # (asr/batching.py); 1: one at a time
    max_batch: int = 8
    # threads that take batches from that queue: 2 decodes two calls' turns at once on two cores
    # (the model's two copies) instead of one after the other. 2 against 1, alternated on 2 cores:
    # ASR p95 at 6-8 calls 460-558 against 667-682 ms, reply p95 no worse at any count
    # (docs/deploy.md, "Capacity per core")
    decoders: int = 2
    # recorded calls and archives: the turns decoded together, in windows of up to 30 s with
    # this beam, instead of one by one as a live call must (asr/whole_call.py): on two sets of
    # 28 noisy calls WER 15.9 -> 13.0 % and 24.1 -> 19.8 %, plain faster-whisper 12.8 and 23.0 %
    whole_call: bool = True
    whole_call_beam_size: int = 5
    # silence (as zero features) after each window's audio, so the decoder hears where it ends:
    # 2 s against 3 s, bench-archive 7 % faster at WER 2.3 against 2.5 %, the noisy sets even
    # (docs/benchmarks.md, "Call archives")
    whole_call_margin_s: float = 2.0
    # the turns of one window, at most (Whisper's limit is 30 s), and how many windows are
    # decoded together: a long track's next windows and the other track's. 20 s and 4 against
    # 30 s and one a track: bench-archive 192 calls 13 % faster at the same WER, 2.5-minute
    # calls 21 % faster at WER 5.8 against 8.1 % (docs/benchmarks.md, "Call archives")
    whole_call_window_s: float = 20.0
    whole_call_batch: int = 4
    # a window read unsure (or failed, or a turn left without words) is read again in Whisper's
    # 30 s window, and the reading that leaves no turn without words and Whisper is surer of is
    # kept (asr/whole_call.py): 442 -> 412 word errors on ten test sets, archives 3.2 -> 1.6 %
    # WER; read twice everywhere it cost about twice the Whisper time (docs/benchmarks.md, "Fourth pass")
    whole_call_two_readings: bool = True
    # archives: the company's name (the domain file's) as Whisper's previous text before the
    # agent's windows (a mono call's too), not the customer's: agents say it in every greeting,
    # and Whisper base writes it "Bright iron foam" unprompted (docs/benchmarks.md, "Call archives")
    company_prompt: bool = True
    # recorded calls (`voicebot call`, `bench score`): the domain file's words callers say
    # (products, payment names, weekdays: nlu.domain.Domain.asr_words) as Whisper's previous text
    # before the caller's windows: "" off, "words" a plain list, "sentence" the same written as
    # lines. Off: it fixes the domain's words ("paper" -> PayPal, "earth fryer" -> air fryer; 12
    # calls naming products and payments WER 12.6 -> 6.6 %, "words" 5.0 %) but costs elsewhere:
    # the held-out 28 noisy calls 12.2 -> 13.9 % WER and 31 -> 28 of 38 intents ("billed" ->
    # "built", "pause" -> "phone", "That's great, thank you" -> "not spread, not you"), the 28
    # tuning calls 11.7 -> 11.2 %. Near misses left in the text are mapped back to the catalogue
    # either way (nlu/entities.py). Live calls never: each turn decoded alone, it made Whisper worse
    domain_prompt: str = ""
    # archives too, before the customer's track (with domain_prompt set): off, it cost there
    # (bench-archive 8 calls WER 3.8 -> 6.0 %: the batch's prompts are padded to one length, the
    # agent's company name then misheard again, and a customer's order number dropped)
    archive_domain_prompt: bool = False
    # digit strings as said ("four four one two zero" is 44120, never 414120 or 58213A): "check"
    # decodes a recorded call's window holding digits again with digits suppressed (Whisper then
    # writes the words, asr.digits joins them) and keeps that where its numbers differ by one
    # digit; live turns join spoken digits only. "words": always suppressed; "digits": Whisper's own
    numerals: str = "check"


@dataclass
class NLUConfig:
    model: str = "auto"  # auto (models/nlu when trained, else baseline) | baseline | a model directory


@dataclass
class DialogueConfig:
    domain: str | None = None  # a domain YAML; None: nlu/domain.yml
    db_url: str | None = None  # SQLAlchemy URL of the order database; None: the sample orders, in memory


@dataclass
class TTSConfig:
    engine: str = "piper"  # piper | coqui
    voice: str | None = None  # a Piper .onnx voice or a Coqui model name/directory; None: bundled
    length_scale: float | None = None
    sample_rate: int | None = None  # output rate; None: the voice's own
    # a first sentence longer than this is spoken in two pieces, cut at its first comma, so
    # the caller hears the reply start sooner (measured: 692 -> 106 ms); 0 turns it off
    first_piece_chars: int = 40
    # seconds of spoken lines kept to be played again (the greeting, the goodbye, fixed
    # replies: tts/cache.py), shared by every call; 0 (default): synthesize every time. Off by
    # default: Piper samples noise, so each rendition differs, and a cached one that a phone
    # line's recogniser mishears ("Brightland" for "Brightline") is then every caller's
    cache_s: float = 0.0
    # Piper's CPU threads; 0: every core, where one call's first audio comes soonest (bench-calls,
    # 1 call: reply p50 580-640 ms against 720-820 ms with one thread). One thread shortened the
    # 8-call tail a little (p95 5-12 %) but lost three calls in nine runs to misheard turns,
    # none with every core: docs/benchmarks.md, "Phone calls at once"
    threads: int = 0


@dataclass
class SIPConfig:
    """The SIP phone line (`voicebot serve --sip`, voicebot.phone.sip): UDP, no registrar."""
    host: str = "127.0.0.1"  # address to listen on; 0.0.0.0 for every interface
    port: int = 5060
    # the address put in Contact and SDP (where the caller sends SIP and RTP); "": host, or the
    # address of the interface that reaches the caller when host is 0.0.0.0
    advertise: str = ""
    user: str = "bot"  # the user part of the bot's own SIP URI
    rtp_port_min: int = 10000  # one UDP port per call from this range
    rtp_port_max: int = 10999
    max_calls: int = 16  # calls up (ACKed) at once; more are answered 486 Busy Here
    # who may call: addresses or networks (CIDR), a list or one string split on commas or spaces;
    # INVITEs from others get 403. Empty: anyone who reaches the port (put a proxy or a firewall
    # in front). Trusted addresses (a PBX, a proxy) are also spared max_setup_per_address
    trusted: list | str = field(default_factory=list)
    # INVITEs being set up (not yet ACKed) at once from one untrusted address; more get 486, so a
    # sender who never ACKs holds no more than this (they expire after 64 * t1_s, RFC 3261's
    # Timer H); calls being set up from all addresses together are held to max_calls too
    max_setup_per_address: int = 4
    t1_s: float = 0.5  # RFC 3261's T1 (round-trip estimate): 200 OK resent at T1, 2 T1, ... until 64 T1
    # symmetric RTP: the bot sends RTP only to where the caller's RTP comes from, once it comes
    # from the SDP's address (ip:port). True: from any address (callers behind NAT whose SDP
    # names a private address), which lets whoever sends first to the call's port have its audio
    rtp_latch_any: bool = False

    def __post_init__(self):
        import ipaddress  # only here: the one setting that needs it
        items = self.trusted.replace(",", " ").split() if isinstance(self.trusted, str) else self.trusted
        try:
            self.trusted = [str(ipaddress.ip_network(str(a).strip(), strict=False)) for a in items]
        except ValueError as e:
            raise ValueError(f"sip.trusted: {e}") from None


@dataclass
class LiveConfig:
    """Turn-taking in live calls (voicebot.live). Times are of call audio."""
    # the VAD engine for live audio (the rest of the `vad` section applies): webrtc takes steady
    # noise for speech (measured: white noise at -60 dBFS or mains hum at -50 is one endless
    # utterance), Silero does not; "" keeps the vad section's engine
    vad_engine: str = "silero"
    short_pause_ms: int = 150  # the VAD hangover: a pause this long starts a speculative transcript
    # begin that transcript where the voice stops, not after the hangover, when the decoder is
    # free (a pause shorter than the hangover wastes the decode): the reply comes that much sooner
    decode_at_pause: bool = True
    # ... and queue that decode even when the decoder is busy, as a guess behind every call's
    # turn decodes (dropped when more wait than a batch takes; decoded as a turn if not begun
    # when the hangover is up): asr/batching.py. Off: alternated on 2 cores it held the same 4
    # calls, p95 lower at 3-6 calls but not at 8 (docs/deploy.md, "Capacity per core")
    decode_priority: bool = False
    # a reply's next sentence waits while a caller turn is being decoded and the caller has more
    # than yield_ahead_ms of the reply still to hear (voicebot/live/session.py). Off: alternated
    # on 2 cores it held 4 and 3 calls where the default held 4 and 4 (docs/deploy.md)
    synthesis_yields: bool = False
    yield_ahead_ms: int = 1500
    # sound that comes back within this long of a pause is the caller going on (vad.resume_ms:
    # Silero's lower, going-on threshold, or as loud as the speech before): flite rms on a phone
    # line, "What time do your | stores open on Sunday?", scored 0.30-0.45 at -18 dBFS after a
    # 0.1 s pause, and the bot answered "What time do yours?" before the caller had finished
    resume_ms: int = 500
    # silence that ends a turn, chosen from the speculative words: a confident request of three
    # words or more; a confident answer of one or two (they often go on: "Yes, please cancel it");
    # anything else; after a trailing filler or an unfinished phrase ("my order number is")
    complete_ms: int = 350
    short_answer_ms: int = 500
    silence_ms: int = 700
    incomplete_ms: int = 1500
    confident: float = 0.8  # intent confidence of a complete request
    barge_in: str = "on"  # on | off | cautious
    min_voiced_ms: int = 250  # caller speech this long over the bot's voice is looked at (on)
    cautious_voiced_ms: int = 700  # ... in cautious mode, which also wants two words that are not a backchannel
    # voiced sound over the bot's reply that pauses it at once, before the words are read
    # (it resumes if they are a backchannel or echo); 0: no pause, stop only on the words
    hold_voiced_ms: int = 60
    echo_max_delay_ms: int = 400  # where to look for the bot's own voice in the microphone
    greet: bool = True


@dataclass
class PrivacyConfig:
    """What stored call data may hold."""
    # personal data in stored transcripts and call records becomes typed tags ([CARD], [EMAIL]:
    # nlu/redact.py); the running dialogue still sees the words. Off only to score ASR on test calls.
    redact: bool = True
    # stored call data (transcripts, reply audio, phone recordings, archive results; the text
    # columns of call records) encrypted with AES-GCM (voicebot/crypto.py); on with no key is
    # an error before anything is written, never a plain-text file
    encrypt: bool = False
    key_file: str | None = None  # a key from `voicebot keygen`; $VOICEBOT_KEY (key_env) wins
    key_env: str = "VOICEBOT_KEY"
    old_key_file: str | None = None  # the key being rotated out: still reads, never writes
    audit_log: str = "runs/audit.log"  # who exported which call, one JSON line each


@dataclass
class PhoneConfig:
    """Phone calls (voicebot.phone.call), whatever the transport (SIP, media stream)."""
    db_url: str = "sqlite:///runs/calls.db"  # call records (voicebot.phone.records): any SQLAlchemy URL
    # where a call goes when the caller asks for a person: a SIP URI (SIP REFER) or, for a media
    # stream, what the TwiML after <Connect> dials; "" hangs up after the handover reply
    handover_uri: str = ""
    silence_timeout_s: float = 20.0  # no caller speech, no bot audio this long: the bot hangs up
    record_audio: bool = False  # a stereo WAV per call (caller left, bot right) in audio_dir
    audio_dir: str = "runs/calls"
    codec: str = "pcmu"  # G.711 mu-law (pcmu) or A-law (pcma): what the bot offers first


@dataclass
class ServerConfig:
    """Who may use `voicebot serve` (voicebot.serve.access)."""
    keys_file: str | None = None  # `NAME sha256:HEX` per client (`voicebot api-key add NAME`)
    max_failures: int = 5  # wrong keys from one address within a minute before it is locked out
    lockout_s: float = 60.0
    session_hours: float = 12.0  # how long a login from the form lasts
    # what one client may take before it has shown a key (voicebot.serve.limits): a WebSocket
    # (/ws, /media) that has not authenticated in auth_timeout_s is closed; a request's head must
    # come whole within header_timeout_s and be under max_header_bytes; its body under
    # max_body_bytes (a larger Content-Length is refused before a byte is read) within
    # body_timeout_s. A form or a webhook is a few hundred bytes: 64 KB is generous
    auth_timeout_s: float = 5.0
    header_timeout_s: float = 10.0
    max_header_bytes: int = 16384
    max_body_bytes: int = 65536
    body_timeout_s: float = 10.0
    # open connections (HTTP and WebSocket) from one address, and in all; one more is closed at
    # once. A proxy named by --forwarded-allow-ips is not limited by address: it should limit its clients
    max_connections_per_ip: int = 64
    max_connections: int = 1000
    # SIGTERM/SIGINT: new calls refused, live ones hung up, their records and recordings written;
    # past this (or at a second signal) the server stops anyway
    drain_timeout_s: float = 15.0


@dataclass
class Config:
    device: str = "auto"  # auto | cpu | cuda
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VADSettings = field(default_factory=VADSettings)
    asr: ASRConfig = field(default_factory=ASRConfig)
    nlu: NLUConfig = field(default_factory=NLUConfig)
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    phone: PhoneConfig = field(default_factory=PhoneConfig)
    sip: SIPConfig = field(default_factory=SIPConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    server: ServerConfig = field(default_factory=ServerConfig)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "Config":
        return _build(cls, data or {}, source)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Config":
        if path is None:
            return cls()
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text())
        except FileNotFoundError:
            raise ValueError(f"{p}: no such config file") from None
        except yaml.YAMLError as e:
            raise ValueError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"{p}: a config file must be a mapping of sections")
        return cls.from_dict(data or {}, str(p))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# checked when a file loads, so a bad value is named before any model loads:
# a set lists the choices, a pair is a numeric range (inclusive)
LIMITS = {
    "device": {"auto", "cpu", "cuda"},
    "audio.frame_ms": {10, 20, 30},
    "audio.channel": (0, 63),
    "vad.engine": {"webrtc", "silero"},
    "vad.aggressiveness": (0, 3),
    "vad.threshold": (0.0, 1.0),
    "vad.release": (0.0, 1.0),
    "vad.pre_roll_ms": (0, 2000),
    "vad.hangover_ms": (30, 5000),
    "vad.start_ms": (0, 2000),
    "vad.min_speech_ms": (0, 10000),
    "vad.max_utterance_s": (1.0, 30.0),
    "vad.snr_db": (0.0, 40.0),
    "vad.drop_db": (0.0, 60.0),
    "vad.resume_ms": (0, 5000),
    "asr.backend": {"faster-whisper", "openai-whisper"},
    "asr.numerals": {"check", "words", "digits"},
    "asr.beam_size": (1, 20),
    "asr.threads": (0, 256),
    "asr.margin_s": (0.0, 29.0),
    "asr.max_tokens_per_s": (1.0, 100.0),
    "asr.no_speech_threshold": (0.0, 1.0),
    "asr.context_s": (0.0, 20.0),
    "asr.max_batch": (1, 64),
    "asr.decoders": (1, 4),
    "asr.whole_call_beam_size": (1, 20),
    "asr.whole_call_margin_s": (0.5, 10.0),
    "asr.whole_call_window_s": (2.0, 30.0),
    "asr.whole_call_batch": (1, 16),
    "tts.engine": {"piper", "coqui"},
    "tts.sample_rate": (4000, 96000),
    "tts.length_scale": (0.1, 10.0),
    "tts.first_piece_chars": (0, 10000),
    "tts.cache_s": (0.0, 36000.0),
    "tts.threads": (0, 256),
    "live.vad_engine": {"", "webrtc", "silero"},
    "live.barge_in": {"on", "off", "cautious"},
    "live.confident": (0.0, 1.0),
    "live.resume_ms": (0, 5000),
    "phone.silence_timeout_s": (1.0, 3600.0),
    "phone.codec": {"pcmu", "pcma"},
    "sip.port": (1, 65535),
    "sip.rtp_port_min": (1024, 65535),
    "sip.rtp_port_max": (1024, 65535),
    "sip.max_calls": (1, 1000),
    "sip.max_setup_per_address": (1, 1000),
    "sip.t1_s": (0.01, 10.0),
    "live.hold_voiced_ms": (0, 2000),
    "server.max_failures": (1, 1000),
    "server.lockout_s": (1.0, 86400.0),
    "server.session_hours": (0.01, 720.0),
    "server.auth_timeout_s": (0.1, 300.0),
    "server.header_timeout_s": (0.1, 300.0),
    "server.max_header_bytes": (1024, 1 << 20),
    "server.max_body_bytes": (1024, 1 << 30),
    "server.body_timeout_s": (0.1, 3600.0),
    "server.max_connections_per_ip": (1, 100000),
    "server.max_connections": (1, 1000000),
}


def _check(key: str, value, hint, where: str):
    """`value` against its annotation (int, float, bool, str, X | None) and LIMITS[key]."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    kinds = [a for a in (typing.get_args(hint) if union else (hint,)) if a is not type(None)]
    if value is None:
        if union and len(kinds) < len(typing.get_args(hint)):
            return None
        raise ValueError(f"{where}: a value is needed, not null")

    def fits(k):
        if isinstance(value, bool):
            return k is bool
        return isinstance(value, (int, float)) if k is float else isinstance(value, k)
    if not any(fits(k) for k in kinds):
        raise ValueError(f"{where}: expected {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    limit = LIMITS.get(key)
    if isinstance(limit, set) and value not in limit:
        raise ValueError(f"{where}: {value!r} is not one of {', '.join(map(str, sorted(limit)))}")
    if isinstance(limit, tuple) and not limit[0] <= value <= limit[1]:
        raise ValueError(f"{where}: {value!r} is out of range ({limit[0]} to {limit[1]})")
    return value


def _build(cls, data: dict, where: str, path: str = ""):
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            values[name] = _build(type(default), value or {}, f"{where}.{name}", f"{path}{name}.")
        else:
            values[name] = _check(f"{path}{name}", value, hints[name], f"{where}.{name}")
    return cls(**values)
