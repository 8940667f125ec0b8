"""SDP offer/answer (RFC 3264) for one audio stream of G.711: the caller's offer read, the bot's
answer written."""
from __future__ import annotations

from voicebot.phone.sip import pyvoip
from voicebot.phone.sip.rtp import CODECS


def offer(msg, prefer: int = 0):
    """(caller's RTP address, codec, telephone-event type or None) from the INVITE's SDP, or why not."""
    body = msg.body
    audio = [m for m in body.get("m", []) if m["type"] == "audio"]
    if not audio or not body.get("c"):
        return "no audio in the SDP offer"
    m = audio[0]
    pts = [int(p) for p in m["methods"] if p.isdigit()]
    # the bot's preferred codec (phone.codec) when offered, else the other G.711
    pt = prefer if prefer in pts else next((p for p in pts if p in CODECS), None)
    if pt is None:
        return f"no G.711 among the offered payload types {pts}"
    names = {int(p): a.get("rtpmap", {}).get("name", "") for p, a in m["attributes"].items() if p.isdigit()}
    dtmf = next((p for p in pts if names.get(p, "").lower() == "telephone-event"), None)
    return (body["c"][0]["address"], int(m["port"])), pt, dtmf


def answer(rtp, host: str) -> str:
    """Our SDP for a call's RTP stream (rtp.open_stream), at `host`: its codec and
    telephone-events, 20 ms a packet."""
    pt = rtp.pt
    event = pyvoip.rtp().PayloadType.EVENT
    fmts = [str(pt)] + [str(p) for p, t in rtp.assoc.items() if t == event]
    lines = ["v=0", f"o=voicebot {rtp.outSSRC} 1 IN IP4 {host}", "s=voicebot",
             f"c=IN IP4 {host}", "t=0 0", f"m=audio {rtp.inPort} RTP/AVP {' '.join(fmts)}",
             f"a=rtpmap:{pt} {CODECS[pt]}/8000"]
    if len(fmts) > 1:
        lines += [f"a=rtpmap:{fmts[1]} telephone-event/8000", f"a=fmtp:{fmts[1]} 0-15"]
    lines += ["a=ptime:20", "a=sendrecv", ""]
    return "\r\n".join(lines)
