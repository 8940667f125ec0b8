"""Privacy: call data encrypted at rest (crypto.py: keys, files, sealed database values) and an
audit log of who read what (audit.py). The commands that manage keys and stored data are
`voicebot data ...` (voicebot/cli/data.py); redaction itself is the engine's (nlu/redact.py,
nlu/redact_audio.py)."""
from voicebot.privacy.audit import audit
from voicebot.privacy.crypto import CryptoError, open_vault, vault_if_key

__all__ = ["CryptoError", "audit", "open_vault", "vault_if_key"]
