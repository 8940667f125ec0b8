"""Call data encrypted at rest: AES-256-GCM with a key the operator holds.

An encrypted file is `MAGIC`, the key's id (8 bytes of its SHA-256), a 12-byte nonce, then the
AES-GCM ciphertext and tag; the file's own name is the associated data, so a ciphertext moved to
another call's name no longer opens. The key is 32 random bytes, urlsafe-base64 in a key file
(`voicebot data keygen`) or in $VOICEBOT_KEY. Rotation: the new key writes, the old ones listed in
`privacy.old_key_file` still reads, until `voicebot data rotate-key` has re-encrypted every file.

A missing or wrong key is a clear error before anything is written: with `privacy.encrypt` on,
nothing is ever written in plain text.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
from pathlib import Path

from asr.files import atomic_path

MAGIC = b"VBENC1\n"
SUFFIX = ".enc"
KEY_ENV = "VOICEBOT_KEY"


class CryptoError(ValueError):
    """A key that is missing, malformed or not the one a file was written with."""


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def parse_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise CryptoError(f"{source}: not a voicebot key (32 bytes, urlsafe base64: make one with `voicebot data keygen`)")
    return key


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:8]


class Vault:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: list[bytes]):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        if not keys:
            raise CryptoError("no key given")
        self._keys = {key_id(k): AESGCM(k) for k in keys}
        self.current = key_id(keys[0])

    def encrypt(self, data: bytes, name: str) -> bytes:
        nonce = os.urandom(12)
        return MAGIC + self.current + nonce + self._keys[self.current].encrypt(nonce, data, name.encode())

    def decrypt(self, blob: bytes, name: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        if not blob.startswith(MAGIC):
            raise CryptoError(f"{name}: not a voicebot encrypted file")
        kid, nonce, body = blob[len(MAGIC):len(MAGIC) + 8], blob[len(MAGIC) + 8:len(MAGIC) + 20], blob[len(MAGIC) + 20:]
        if kid not in self._keys:
            raise CryptoError(f"{name}: encrypted with key {kid.hex()}, which is not among the keys given "
                              f"({', '.join(k.hex() for k in self._keys)})")
        try:
            return self._keys[kid].decrypt(nonce, body, name.encode())
        except InvalidTag:
            raise CryptoError(f"{name}: damaged, or renamed from another file (authentication failed)") from None

    def needs_rotation(self, blob: bytes) -> bool:
        return blob.startswith(MAGIC) and blob[len(MAGIC):len(MAGIC) + 8] != self.current


def open_vault(privacy) -> Vault | None:
    """The vault the config asks for; None when encryption is off. Raises CryptoError, naming
    where the key was looked for, when it is on and the key cannot be had."""
    if not privacy.encrypt:
        return None
    keys = [_read_key(privacy.key_file, privacy.key_env)]
    if privacy.old_key_file:
        keys.append(_read_key(privacy.old_key_file, ""))
    return Vault(keys)


def _read_key(key_file: str | None, env: str) -> bytes:
    if env and os.environ.get(env):
        return parse_key(os.environ[env], f"${env}")
    if key_file:
        try:
            return parse_key(Path(key_file).read_text(), key_file)
        except FileNotFoundError:
            raise CryptoError(f"{key_file}: no such key file (privacy.key_file)") from None
    raise CryptoError(f"privacy.encrypt is on but there is no key: set ${env} or privacy.key_file "
                      "(`voicebot data keygen --out FILE` makes one)")


def write_bytes(path: str | os.PathLike, data: bytes, vault: Vault | None, private: bool | None = None) -> Path:
    """`data` written atomically to `path`, or encrypted to `path` + ".enc"; returns the path written.
    `private` (mode 0600, folders made 0700; by default when encrypted: whoever turned encryption
    on wants the files for the operator alone, and a ciphertext's size and name say something too)."""
    path = Path(path)
    if vault is not None:
        path = path.with_name(path.name + SUFFIX)
        data = vault.encrypt(data, path.name)
    with atomic_path(path, private=vault is not None if private is None else private) as tmp:
        Path(tmp).write_bytes(data)
    return path


def read_bytes(path: str | os.PathLike, vault: Vault | None) -> bytes:
    """A stored file's content, decrypted when it is an encrypted one."""
    path = Path(path)
    data = path.read_bytes()
    if path.name.endswith(SUFFIX):
        if vault is None:
            raise CryptoError(f"{path}: encrypted; give the key ($VOICEBOT_KEY or privacy.key_file)")
        return vault.decrypt(data, path.name)
    return data


# ---- one value in a database row or table cell (call records, archive tables)
SEALED = "enc:"  # a sealed value: this prefix and urlsafe base64 of Vault.encrypt(JSON of the value)


def seal(value, vault: Vault, name: str) -> str | None:
    """`value` (anything JSON can hold) as a string only `vault` opens; `name` (e.g. the call's id
    and the column) is bound to it, so a value copied into another row or column no longer opens.
    None stays None: an empty column says nothing."""
    if value is None:
        return None
    import json
    blob = vault.encrypt(json.dumps(value, ensure_ascii=False).encode(), name)
    return SEALED + base64.urlsafe_b64encode(blob).decode()


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def unseal(value, vault: Vault | None, name: str):
    """The value `seal` stored; a value that was never sealed is given back as it is.
    Raises CryptoError when it is sealed and the key is missing or not the one it was sealed with."""
    if not is_sealed(value):
        return value
    if vault is None:
        raise CryptoError(f"{name}: encrypted; give the key ($VOICEBOT_KEY or privacy.key_file)")
    import json
    try:
        blob = base64.urlsafe_b64decode(value[len(SEALED):].encode())
    except ValueError:
        raise CryptoError(f"{name}: damaged (not base64)") from None
    return json.loads(vault.decrypt(blob, name))


def reseal(value, vault: Vault, name: str) -> str | None:
    """A value sealed with one of the vault's older keys, sealed again with its current key;
    None when there is nothing to do (plain, or sealed with the current key already)."""
    if not is_sealed(value):
        return None
    try:
        blob = base64.urlsafe_b64decode(value[len(SEALED):].encode())
    except ValueError:
        raise CryptoError(f"{name}: damaged (not base64)") from None
    if not vault.needs_rotation(blob):
        return None
    return seal(unseal(value, vault, name), vault, name)


def vault_if_key(cfg):
    """The config's keys whether or not encryption is on now (data written while it was on
    still opens); None when no key is to be had."""
    try:
        return open_vault(dataclasses.replace(cfg.privacy, encrypt=True))
    except CryptoError:
        return None  # plain files still export; encrypted ones say they need the key
