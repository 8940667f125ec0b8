"""SDP offer/answer (RFC 3264) for one audio stream of G.711: the caller's offer read, the bot's
answer written."""
from __future__ import annotations

import ipaddress

from voicebot.phone.sip import pyvoip
from voicebot.phone.sip.rtp import CODECS


def offer(msg, prefer: int = 0):
    """(caller's RTP address, codec, telephone-event type or None) from the INVITE's SDP, or why not."""
    if getattr(msg, "sdp_error", ""):
        return f"unreadable SDP ({msg.sdp_error[:80]})"
    body = msg.body
    audio = [m for m in body.get("m", []) if m["type"] == "audio"]
    if not audio:
        return "no audio in the SDP offer"
    if not body.get("c"):
        return "no c= line in the SDP offer"
    m = audio[0]
    address = _unicast(body["c"][0].get("address", ""))
    if address is None:
        return f"the SDP's address {str(body['c'][0].get('address'))[:50]!r} is not a unicast IPv4 address"
    if not isinstance(m["port"], int) or not 1 <= m["port"] <= 65535:
        return f"the SDP's audio port {m['port']!r} is out of range (1 to 65535)"
    pts = [int(p) for p in m["methods"] if p.isdigit()]
    # the bot's preferred codec (phone.codec) when offered, else the other G.711
    pt = prefer if prefer in pts else next((p for p in pts if p in CODECS), None)
    if pt is None:
        return f"no G.711 among the offered payload types {pts}"
    names = {int(p): a.get("rtpmap", {}).get("name", "") for p, a in m["attributes"].items() if p.isdigit()}
    dtmf = next((p for p in pts if names.get(p, "").lower() == "telephone-event"), None)
    return (address, m["port"]), pt, dtmf


def _unicast(text) -> str | None:
    """`text` if it is an IPv4 address RTP can be sent to, else None."""
    try:
        ip = ipaddress.IPv4Address(str(text))
    except ValueError:
        return None
    return None if ip.is_multicast or ip.is_unspecified or ip == ipaddress.IPv4Address("255.255.255.255") else str(ip)


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
