"""Live conversation: one caller heard and answered as the audio comes.

A transport (the microphone, the browser, a phone line, the simulated device) pushes caller audio
into a `LiveSession` and plays what it sends back through the `AudioOutput` interface (output.py).
Inside, the listen thread runs echo cancelling (echo.py), the VAD and the turn-taker (turns.py:
when a turn ends, barge-ins, holds); the speak thread runs the dialogue and the voice (session.py).
"""
from voicebot.live.output import AudioOutput
from voicebot.live.session import Error, LiveSession

__all__ = ["AudioOutput", "Error", "LiveSession"]
