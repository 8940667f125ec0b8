"""Privacy: call data encrypted at rest (crypto.py), an audit log of who read what (audit.py), and
the commands that manage keys and stored data and redact recordings (cli.py)."""
from voicebot.privacy.crypto import CryptoError, open_vault

__all__ = ["CryptoError", "open_vault"]
