"""The phone line over SIP: the bot as a SIP user agent on UDP, answering calls (no registrar).

    server = serve(bot, "127.0.0.1:5060")    # settings: the `sip` and `phone` config sections
    server.drain("server stopping")          # SIGTERM: 503 to INVITE and OPTIONS, every call BYE'd
    ...; server.stop()                       # every call hung up, every thread and port freed

Each INVITE gets 180 Ringing, an RTP port of its own (`sip.rtp_port_min`..`max`), a PhoneCall
(voicebot.phone: the conversation and its record) and then 200 OK with the SDP answer; every
20 ms the call's thread pushes it 160 bytes of the caller's G.711, and through its Line it
sends the bot's G.711 a frame at a time on its own 20 ms clock (`call.send`: one RTP packet),
hangs up (BYE) or hands the call to a person (`call.transfer(uri)`: REFER). BYE and CANCEL from the
caller end the call; NOTIFY is answered 200, OPTIONS 200 (486 while every call slot is taken,
503 while draining: a proxy's probes take the bot out of its rotation), other methods 501.
(SipServer takes any `media(call)` factory whose objects have `push(frame)` and `close(reason)`.)

Behind a proxy (Kamailio, voicebot.deploy): the INVITE's Record-Route is copied into our 18x/2xx
(RFC 3261 12.1.1), so the caller's ACK and BYE come back through the proxy, and our own BYE and
REFER carry the route set as Route headers and go to its first hop (a loose router; a strict
one's URI becomes the Request-URI). `sip.trusted: [PROXY]` lets only the proxy call.

Against outsiders (the line has no authentication; a proxy or firewall in front should admit only
the PBX or phones, and `sip.trusted` says the same here):
- INVITEs from addresses outside `sip.trusted` (when set) get 403;
- a call takes one of `sip.max_calls` slots only once it is up (our 200 ACKed); calls being set
  up are held to `sip.max_setup_per_address` per untrusted address and max_calls in all, and one
  never ACKed is torn down (BYE) after 64 T1 (RFC 3261's Timer H, T1 = `sip.t1_s`);
- BYE, NOTIFY and re-INVITEs must carry the dialog's Call-ID, both tags and come from the address
  the INVITE came from; a CANCEL must be of the INVITE's transaction (branch, CSeq, From tag,
  address); others get 481;
- RTP goes only where the caller's RTP comes from, and none before it comes (rtp.py), so an SDP
  naming someone else's address gets them nothing; an SDP out of range (port outside 1..65535,
  no or a bad c= address, unreadable) gets 488.
Not covered: a caller that spoofs its source address (UDP) can still pass the address checks;
a caller's own Record-Route decides where our BYE for its call goes (set sip.trusted).

A call's packets, module by module:

    INVITE ─► server.py   SipServer: the UDP socket; message.py parses it (pyVoIP, lenient)
               ├ sdp.py   the offer: the caller's RTP address and codec (G.711), DTMF's type
               ├ rtp.py   open_stream: a Stream on a free port of the range
               └ call.py  SipCall: 180 Ringing, then on its own thread the media (phone_calls:
                          a PhoneCall on a SipLine), then 200 OK with sdp.py's answer
    caller's RTP ─► rtp.py Stream (the caller's address, the negotiated type only) ─► Jitter
               ─► call.py SipCall, every 20 ms: 160 bytes ─► PhoneCall.push
    PhoneCall's clock ─► SipLine.send_audio ─► SipCall.send ─► Stream.send_frame: one RTP packet
    hangup, handover ─► server.py send_request (message.py builds it): BYE, REFER, resent
                        until a final response
    BYE, CANCEL, NOTIFY, responses ─► server.py ─► the SipCall: end, on_notify, on_response

pyVoIP 1.6.8 parses SIP, SDP and RTP; it is imported on first use (pyvoip.py says what of it is
used and why its phone layer is not). Not done: TCP/TLS, SRTP, digest authentication,
re-INVITE renegotiation (a re-INVITE gets the same answer).
"""
from voicebot.phone.sip.call import SipCall, phone_calls
from voicebot.phone.sip.server import SipServer, serve

__all__ = ["SipCall", "SipServer", "phone_calls", "serve"]
