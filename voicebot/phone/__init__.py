"""The phone line: a caller on SIP (sip/) or on a media stream (media_stream.py, with Twilio's
wire format in twilio.py), both spoken to by one `PhoneCall` (call.py: the call, and its audio
output) over an 8 kHz G.711 `Line`; the call's records in a database (records.py) and its
recording (recording.py)."""
from voicebot.phone.call import Line, PhoneCall
from voicebot.phone.records import CallStore

__all__ = ["CallStore", "Line", "PhoneCall"]
