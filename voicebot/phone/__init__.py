"""The phone line: a caller on SIP (sip/) or on a media stream (media_stream.py), both spoken to
by one `PhoneCall` (call.py) over an 8 kHz G.711 `Line`; the call's records in a database
(records.py) and its recording (recording.py)."""
from voicebot.phone.call import Line, PhoneCall
from voicebot.phone.records import CallStore

__all__ = ["CallStore", "Line", "PhoneCall"]
