"""Transports: what carries a LiveSession's audio. One module each (simulated device, PyAudio)."""
