"""Call records in a real PostgreSQL server (started for the session from the Debian package),
written by a real phone call and read back by `voicebot calls`."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np

from voicebot.phone.call import Line, PhoneCall, encode
from voicebot.phone.records import CallStore

TURN = {"start": 1.2, "end": 2.9, "text": "Where is order 4567?", "intent": "order_status", "confidence": 0.99,
        "sentiment": "neutral", "entities": [{"type": "order_number", "value": "4567"}],
        "reply": "Order 4 5 6 7 is on its way.", "reply_cut": None, "answer_source": "orders",
        "latency_ms": {"endpoint": 350.0, "asr": 120.5, "nlu": 8.1, "dialogue": 0.2, "tts_first_audio": 90.0,
                       "reply": 610.0}}


def test_records_in_postgresql(postgres_url):
    store = CallStore(postgres_url)
    cid = store.start_call("sip", caller="sip:alice@127.0.0.1", external_id="abc@host", codec="pcma",
                           meta={"user_agent": "baresip"})
    store.add_turn(cid, TURN)
    assert store.get_call(cid)["ended"] is None  # visible while the call goes on
    cut = dict(TURN, reply_cut={"heard_s": 0.8, "heard_text": "Order 4"})
    assert store.end_call(cid, "caller hung up", [cut], handover="sip:desk@example.com", late_frames=2)
    rec = store.get_call(cid[:6])
    assert rec["end_reason"] == "caller hung up" and rec["handover"] == "sip:desk@example.com"
    assert rec["meta"] == {"user_agent": "baresip"} and rec["late_frames"] == 2
    (t,) = rec["turns"]
    assert t["entities"] == [{"type": "order_number", "value": "4567"}] and t["answer_source"] == "orders"
    assert t["reply_cut"]["heard_text"] == "Order 4" and t["reply_ms"] == 610.0 and t["asr_ms"] == 120.5
    out = subprocess.run([sys.executable, "-m", "voicebot", "calls", "show", cid, "--db", postgres_url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["turns"][0]["intent"] == "order_status"
    out = subprocess.run([sys.executable, "-m", "voicebot", "calls", "list", "--db", postgres_url, "--json"],
                         capture_output=True, text=True, timeout=60)
    assert cid in [c["id"] for c in json.loads(out.stdout)]


def test_a_phone_call_recorded_in_postgresql(postgres_url):
    from voicebot.bot import Bot
    from voicebot.config import Config
    bot = Bot(Config.from_dict({"phone": {"silence_timeout_s": 1.5}}))
    hung = []

    class Quiet(Line):
        def hangup(self, reason):
            hung.append(reason)

    call = PhoneCall(bot, Quiet(), "pcmu", transport="sip", caller="+15550199", store=CallStore(postgres_url),
                     greet=False)
    silence = encode(np.zeros(160, np.float32), "pcmu")
    deadline = time.monotonic() + 20
    while not call.wait(0) and time.monotonic() < deadline:
        call.push(silence)
        time.sleep(0.02)
    call.close()
    assert hung == ["silence timeout"]
    rec = CallStore(postgres_url).get_call(call.id)
    assert rec["caller"] == "+15550199" and rec["end_reason"] == "silence timeout" and rec["turns"] == []
    assert not [t for t in threading.enumerate() if t.name.startswith(("phone-", "live-"))]
