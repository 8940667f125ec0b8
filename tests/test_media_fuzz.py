"""Media-stream messages of every wrong shape (issue 27, row 3): `twilio.parse` fuzzed with
Hypothesis, every field of every event with wrong types, missing, nested, huge; then a live call
on the real server that gets the issue's three messages and a burst of fuzzed ones, and goes on."""
from __future__ import annotations

import base64
import copy
import json
import logging
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from tests.test_media_stream import TOKEN, Twilio, bot, health, line_audio, record_of, server  # noqa: F401 (fixtures)
from tests.test_phone import heard_text
from voicebot.phone import twilio
from voicebot.phone.records import CallStore

SILENCE = base64.b64encode(b"\xff" * 160).decode()  # 20 ms of mu-law silence
TEMPLATES = {  # one message of each kind as Twilio sends it (and the /ws convention's auth)
    "connected": {"event": "connected", "protocol": "Call", "version": "1.0.0"},
    "start": {"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
        "accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": ["inbound"],
        "customParameters": {"token": "k", "caller": "+15550100", "To": "+15550199"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}},
    "media": {"event": "media", "sequenceNumber": "2", "streamSid": "MZ1", "media": {
        "track": "inbound", "chunk": "1", "timestamp": "5", "payload": SILENCE}},
    "mark": {"event": "mark", "sequenceNumber": "3", "streamSid": "MZ1", "mark": {"name": "m1"}},
    "dtmf": {"event": "dtmf", "sequenceNumber": "4", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": "1"}},
    "stop": {"event": "stop", "sequenceNumber": "5", "streamSid": "MZ1", "stop": {"accountSid": "AC1", "callSid": "CA1"}},
    "auth": {"type": "auth", "token": "k"},
    "unknown": {"event": "dance", "dance": {"step": 1}},
}
# the issue's three: each ended a live call
ISSUE = ['{"event": "mark", "mark": "x"}', '{"event": "media", "media": "x"}', "[" * 100_000 + "]" * 100_000]

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.sampled_from(["\ud800", "a\x00b", "two\nlines", "\u202e", "", "8000", "audio/x-alaw", "stop"]))
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=10)
# huge values, as JSON text (put in after the rest is written, like deep nesting)
HUGE = [json.dumps(v) for v in ("x" * 200_000, list(range(25_000)), {f"k{i}": i for i in range(12_000)}, "\x00" * 30_000)]


def _paths(value, path=()):
    """Every (dict key or list index) path inside a message."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield path + (key,)
        yield from _paths(inner, path + (key,))


def _nest(depth: int, kind: str) -> str:
    """JSON text `depth` deep: written as text, since json.dumps would itself recurse."""
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@st.composite
def messages(draw, events=tuple(TEMPLATES)):
    """A message from a template with 1-3 of its fields broken: junk, deleted, nested, huge; or cut short."""
    msg = copy.deepcopy(TEMPLATES[draw(st.sampled_from(events))])
    swaps = {}  # placeholder -> JSON text
    for n in range(draw(st.integers(1, 3))):
        paths = list(_paths(msg))
        if draw(st.sampled_from([True, True, True, False])):  # mostly a field of the event, not which event it is
            paths = [p for p in paths if p != ("event",)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = msg
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["junk", "junk", "delete", "nest", "huge"]))
        if how == "delete":
            del parent[path[-1]]
        elif how == "junk":
            parent[path[-1]] = draw(junk)
        else:
            parent[path[-1]] = marker = f"@{how}{n}@"
            swaps[json.dumps(marker)] = draw(st.sampled_from(HUGE)) if how == "huge" else \
                _nest(draw(st.integers(5, 30_000)), draw(st.sampled_from(["list", "dict"])))
    text = json.dumps(msg)
    for marker, value in swaps.items():
        text = text.replace(marker, value)
    if draw(st.sampled_from([False] * 9 + [True])):  # sampled_from: drawn evenly (integers lean to their ends)
        text = text[:draw(st.integers(1, len(text) - 1))]
    return text


texts = st.one_of(st.text(max_size=50), junk.map(json.dumps), st.integers(1, 200_000).map(lambda d: _nest(d, "list")),
                  st.sampled_from(ISSUE), messages())


def _clean(value, limit=4096) -> bool:
    """Text the session can log (no line breaks), store (UTF-8, and Postgres refuses NUL) and send back."""
    if not isinstance(value, str) or len(value) > limit:
        return False
    value.encode()  # raises on a lone surrogate
    return not any(unicodedata.category(ch) == "Cc" for ch in value)


def _used_as_the_session_uses_it(msg) -> None:
    """What voicebot.phone.media_stream reads of each value: only BadMessage may come out."""
    assert isinstance(msg, (twilio.Start, twilio.Media, twilio.Mark, twilio.Stop, twilio.Auth, twilio.Ignored))
    repr(msg)
    if isinstance(msg, twilio.Media):
        try:
            payload = msg.payload()
        except twilio.BadMessage:
            return
        assert isinstance(payload, bytes) and len(payload) <= twilio.MAX_PAYLOAD
    elif isinstance(msg, twilio.Mark):
        assert _clean(msg.name(), 256)
    elif isinstance(msg, twilio.Auth):
        assert msg.token is None or _clean(msg.token)
    elif isinstance(msg, twilio.Start):
        assert msg.token is None or _clean(msg.token)
        assert _clean(msg.call_sid, 100) and _clean(msg.stream_sid, 100)  # external_id: String(100)
        assert all(_clean(s) for s in (msg.caller, msg.callee))
        assert msg.codec() in (None, "pcmu", "pcma")
        assert len(json.dumps(msg.meta()).encode()) < 100_000 and len(str(msg.media_format)) < 1000
    elif isinstance(msg, twilio.Ignored):
        assert msg.event in ("connected", "dtmf")


def test_the_issues_messages_are_dropped():
    for text in ISSUE + ['{"event": "mark", "mark": {"name": ' + "[" * 5000 + "]" * 5000 + "}}"]:
        with pytest.raises(twilio.BadMessage):
            twilio.parse(text)


def test_depth_is_counted_outside_strings_and_quickly():
    for name in ["[" * 40, '{[}"' * 20, 'a\\"' + "[" * 40, "\\" * 9 + "[" * 40]:  # in a string, brackets do not nest
        assert twilio.parse(json.dumps({"event": "mark", "mark": {"name": name}})).name() == name
    for depth, kind in [(twilio.MAX_DEPTH, "event"), (twilio.MAX_DEPTH + 1, "deep")]:
        with pytest.raises(twilio.BadMessage) as e:
            twilio.parse('{"event": "dance", "x": ' + _nest(depth - 1, "dict") + "}")
        assert e.value.kind == kind
    # a megabyte of the shapes that make a scan go back over itself, or nest without end: quick
    for text in ['\\"' * 500_000, '"\\' * 500_000, "[{" * 250_000 + "}]" * 250_000, '{"a":' * 200_000,
                 '"a\\"[' * 250_000, "[]" * 500_000, "[" * 1_000_000]:
        t0 = time.monotonic()
        with pytest.raises(twilio.BadMessage):
            twilio.parse(text)
        assert time.monotonic() - t0 < 0.5, text[:20]


def test_the_templates_read_as_twilio_means_them():
    start = twilio.parse(json.dumps(TEMPLATES["start"]))
    assert (start.stream_sid, start.call_sid, start.token, start.caller, start.callee, start.codec()) == \
        ("MZ1", "CA1", "k", "+15550100", "+15550199", "pcmu")
    assert twilio.parse(json.dumps(TEMPLATES["media"])).payload() == b"\xff" * 160
    assert twilio.parse(json.dumps(TEMPLATES["mark"])).name() == "m1"
    assert twilio.parse(json.dumps(TEMPLATES["auth"])).token == "k"
    assert isinstance(twilio.parse(json.dumps(TEMPLATES["stop"])), twilio.Stop)
    for name in ("connected", "dtmf"):
        assert twilio.parse(json.dumps(TEMPLATES[name])) == twilio.Ignored(name)
    with pytest.raises(twilio.BadMessage):
        twilio.parse(json.dumps(TEMPLATES["unknown"]))


FUZZ = settings(max_examples=50, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _parsed(text) -> None:
    try:
        msg = twilio.parse(text)
    except twilio.BadMessage as e:
        event(f"dropped: {e.kind}")  # --hypothesis-show-statistics: what the examples met
        assert e.kind and str(e).endswith("dropped") and len(str(e)) < 200  # one short log line
        return
    event(type(msg).__name__)
    _used_as_the_session_uses_it(msg)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_field_of_every_event_broken_gives_a_well_formed_value_or_bad_message(name):
    FUZZ(given(messages(events=(name,)))(_parsed))()  # 50 examples an event: 400 in all


@FUZZ
@given(texts)
def test_any_text_gives_a_well_formed_value_or_bad_message(text):
    _parsed(text)


# ---- a live call on the real server (the bot and server fixtures of tests/test_media_stream.py)

def _not_a_stop(text: str) -> bool:  # a stop is the caller hanging up: not in the burst
    try:
        return json.loads(text).get("event") != "stop"
    except (ValueError, RecursionError, AttributeError):  # not JSON, too deep, not an object
        return True


@pytest.mark.slow
def test_a_live_call_goes_on_through_messages_of_every_wrong_shape(bot, server, caplog):
    caplog.set_level(logging.INFO, logger="voicebot.media")
    c = Twilio(server, params={"token": TOKEN, "caller": "+15550127"}, call_sid="CA2701")

    def answered(before):  # a reply came, was all played, and no more audio for 0.6 s
        return lambda: len(c.of("media")) > before and not c.unplayed() and time.monotonic() - c.last_media > 0.6
    c.stream(b"", answered(0), tail_s=15)  # the greeting
    assert c.close_code is None and c.of("media"), "no greeting"
    for text in ISSUE:
        c.ws.send(text)
    sent = []

    @settings(max_examples=150, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(messages(events=tuple(e for e in TEMPLATES if e != "stop")).filter(_not_a_stop))
    def burst(text):
        try:
            c.ws.send(text)
            sent.append(len(text))
        except ConnectionClosed:  # asserted below
            pass
    burst()
    time.sleep(0.5)
    assert c.close_code is None, f"the call ended after {len(sent)} fuzzed messages (close code {c.close_code})"
    lines = [r.getMessage() for r in caplog.records if r.name == "voicebot.media"]
    assert not [m for m in lines if "ended by" in m], lines
    for words in ("mark message", "media message", "nested"):  # each of the issue's three: one line
        assert sum(words in m for m in lines) == 1, (words, lines)
    assert len(lines) < 30, lines  # one line per kind of fault, not one per message

    n, start = len(c.of("media")), len(c.heard)  # the next turn is answered
    c.stream(line_audio("I want to check on my order.", "flite:slt"), answered(n))
    assert c.close_code is None
    assert "order number" in heard_text(bot, c.heard[start:], "pcmu")
    c.hang_up()
    rec = record_of(CallStore(bot.config.phone.db_url), "CA2701")
    assert rec["end_reason"] == "stop: the caller hung up" and rec["caller"] == "+15550127"
    assert [t["intent"] for t in rec["turns"]] == ["order_status"]
    assert health(server)["status"] == "ok"
