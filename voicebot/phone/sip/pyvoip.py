"""pyVoIP 1.6.8, imported on first use: it is optional (the `live` extra), so the SIP line's
modules load without it, and SipServer.start() imports it before the first call comes.

It does the protocol work it does well: parsing SIP messages and SDP (SIPMessage) and RTP
(RTPClient: packets, a jitter buffer ordered by timestamp, DTMF events). Its phone layer
(VoIPPhone, VoIPCall) is not used, for reasons found by trying it with baresip
(../shared/docs/sip-and-browser.md) and by reading its code:
- it always REGISTERs (with no registrar it blocks ~30 s a try, holds the receive lock, and
  shuts itself down after three failures);
- it sends every message to one configured server, so one phone object serves one peer; here
  each message is answered at the address it came from, so any number of peers can call;
- its message builders rebuild Via (dropping parameters), put a fresh To tag on every 200 (an
  in-dialog 200 to BYE must keep the dialog's tag), put the caller's Via on its own BYE, answer
  CANCEL without a 487, start the call's callback 1 s late, and count incoming calls' RTP ports
  nowhere (so a port still in use can be handed out again); there is no REFER at all. The few
  messages this needs are built in message.py, by RFC 3261's rules.
The pyVoIP classes used are worked around where they fail: its parser in message.py, its RTP
client and buffers in rtp.py.
"""
from __future__ import annotations

import functools
import warnings


@functools.cache
def _modules():
    with warnings.catch_warnings():  # pyVoIP imports audioop (deprecated, audioop-lts from Python 3.13)
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyVoIP.VoIP  # noqa: F401  first: importing pyVoIP.SIP first fails on a circular import
        from pyVoIP import RTP, SIP
    return SIP, RTP


def sip():
    """The pyVoIP.SIP module."""
    return _modules()[0]


def rtp():
    """The pyVoIP.RTP module."""
    return _modules()[1]
