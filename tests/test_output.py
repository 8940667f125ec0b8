"""The output side of every transport: one interface (voicebot.live.output.AudioOutput), and
control events that reach it by their type, ahead of the reply audio still queued. Real classes,
no models: a second or two in all."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from nlu.events import BotReply, Hold, Interrupted
from tts.events import AudioChunk
from voicebot.live.microphone import Speaker
from voicebot.live.output import AudioOutput, Outbox
from voicebot.live.simulated import RATE, SimulatedDevice
from voicebot.phone import twilio
from voicebot.phone.call import PhoneCall
from voicebot.serve.app import PageOutput

REPLY = BotReply("Your order ships on Monday.")


def chunks(reply=REPLY, seconds=(0.2, 0.2), rate=RATE):
    """The reply's audio as the session sends it: numbered chunks of a tone, then an empty last one."""
    out = [AudioChunk(np.full(int(s * rate), 0.5, np.float32), rate, reply, i) for i, s in enumerate(seconds)]
    return out + [AudioChunk(np.zeros(0, np.float32), rate, reply, len(seconds), last=True)]


def cut(heard_s=0.1):
    return Interrupted(t=1.0, reply=REPLY, heard_s=heard_s, heard_text="Your order", decided_t=1.2)


@pytest.mark.parametrize("cls", [SimulatedDevice, Speaker, PageOutput, PhoneCall])
def test_every_transport_is_an_audio_output(cls):
    assert issubclass(cls, AudioOutput)


def test_the_simulated_device_holds_resumes_and_drops_by_the_events_type():
    dev = SimulatedDevice()
    finished = []
    dev.on_playback_finished = lambda reply, played_s, interrupted: finished.append((reply, played_s, interrupted))
    for c in chunks():
        dev.on_event(c)
    out, started, _, n = dev._take(1600)  # 100 ms played
    assert started is REPLY and n == 1600 and out.any()
    dev.played(n / RATE)
    dev.on_event(Hold(t=1.0, on=True))
    assert not dev._take(320)[0].any()  # held: silence, the rest kept
    dev.on_event(Hold(t=1.1, on=False))
    assert dev._take(320)[0].any()  # goes on from where it paused
    dev.on_event(cut())
    assert not dev._take(3200)[0].any() and not dev._out  # what was not played never is
    assert dev._holds[0]["t"] == 1.0 and dev._holds[0]["resumed"] is not None
    assert dev._interruptions[0]["heard_s"] == 0.1 and dev._interruptions[0]["decided"] == 1.2
    assert finished == [(REPLY, 0.1, True)]


def test_a_reply_played_to_its_end_is_reported_finished():
    spk = Speaker()
    finished = []
    spk.on_playback_finished = lambda *a: finished.append(a)
    for c in chunks():
        spk.route(c)
    spk.take(int(0.3 * RATE))
    assert not finished
    spk.take(int(0.2 * RATE))  # past its end: the rest is silence
    assert finished == [(REPLY, 0.4, False)]


def test_the_speaker_pauses_and_drops_on_control_events():
    spk = Speaker()
    for c in chunks():
        assert spk.route(c)
    assert spk.route(Hold(t=0.5, on=True))
    assert not spk.take(320).any() and spk.queue
    assert spk.route(cut())
    assert not spk.paused and not spk.queue and not spk.take(320).any()
    assert not spk.route(REPLY)  # not an output's business


def test_the_outbox_puts_control_ahead_of_queued_audio():
    async def run():
        box = Outbox(lambda m: isinstance(m, bytes))
        for m in [b"a", {"type": "reply"}, b"b"]:
            box.put(m)
        box.ahead({"type": "hold", "on": True})  # a hold keeps the audio for a resume
        assert [await box.get() for _ in range(2)] == [{"type": "hold", "on": True}, b"a"]
        box.cut_in({"type": "interrupted"})  # a barge-in drops it
        return [await box.get() for _ in range(len(box))]
    assert asyncio.run(run()) == [{"type": "interrupted"}, {"type": "reply"}]


def test_the_page_gets_interrupted_ahead_of_the_audio_queued_for_it():
    async def run():
        loop = asyncio.get_running_loop()
        box = Outbox(lambda m: isinstance(m, bytes))
        page = PageOutput(loop, box)
        for c in chunks(rate=22050):
            page.route(c)
        page.route(Hold(t=1.0, on=True))
        await asyncio.sleep(0)  # the loop hands over what the session's thread posted
        first = [await box.get() for _ in range(len(box))]
        for c in chunks(BotReply("Anything else?"), rate=22050):
            page.route(c)
        page.route(cut())
        await asyncio.sleep(0)
        return first, [await box.get() for _ in range(len(box))]
    first, after_cut = asyncio.run(run())
    assert first[0] == {"type": "hold", "on": True}
    assert [type(m) for m in first[1:]] == [bytes, bytes, dict] and first[-1] == {"type": "audio_end"}
    assert after_cut == [{"type": "interrupted", "heard_s": 0.1, "heard_text": "Your order"}, {"type": "audio_end"}]


def test_a_media_stream_clear_goes_ahead_of_the_media_queued():
    async def run():
        box = Outbox(twilio.is_audio)
        for i in range(3):
            box.put(twilio.media("MZ1", b"\xff" * 160))
        box.put(twilio.mark("MZ1", "m0"))
        box.cut_in(twilio.clear("MZ1"))
        return [await box.get() for _ in range(len(box))]
    assert asyncio.run(run()) == [{"event": "clear", "streamSid": "MZ1"},
                                  {"event": "mark", "streamSid": "MZ1", "mark": {"name": "m0"}}]
