"""The device's Ed25519 key and signed notes (C2SP signed-note form) for checkpoints and anchors.

The private key lives in `<data-dir>/activity-key.pem` (mode 0600), outside the database, so no
backup or export ever holds it; `<data-dir>/activity-key.pub` holds the public half as one line
`<origin> <base64 key>`, the form `ledgrab verify --public-key` reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ledgrab.utils import ed25519
from ledgrab.utils.files import sync_directory, write_durably

__all__ = [
    "KEY_FILE",
    "PUBLIC_KEY_FILE",
    "DeviceKey",
    "NoteError",
    "PublicKey",
    "SignedNote",
    "open_note",
    "parse_public_key",
]

KEY_FILE = "activity-key.pem"
PUBLIC_KEY_FILE = "activity-key.pub"
_DASH = "\u2014"  # the em dash that starts a signature line
_ED25519 = b"\x01"  # signed-note signature type for Ed25519


class NoteError(ValueError):
    """A note is malformed or its signature does not verify; the message says which."""


@dataclass(frozen=True)
class PublicKey:
    """A verifying key with the names it goes by."""

    origin: str
    raw: bytes

    @property
    def key_id(self) -> bytes:
        """signed-note key hash: SHA-256(name ‖ LF ‖ 0x01 ‖ key)[:4]."""
        return hashlib.sha256(self.origin.encode() + b"\n" + _ED25519 + self.raw).digest()[:4]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key, hex: what a person compares."""
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def line(self) -> str:
        return f"{self.origin} {base64.b64encode(self.raw).decode()}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        return ed25519.verify(self.raw, signature, message)


class DeviceKey:
    """The device's signing key: created on first start, then loaded."""

    def __init__(self, private: ed25519.SigningKey, path: Path, created: bool) -> None:
        self._private = private
        self.path = path
        self.created = created
        raw = private.public
        # The origin names the log; derived from the key, so a copy of the card keeps it and a
        # new key (a new device) is visibly a new log.
        device_id = hashlib.sha256(raw).hexdigest()[:12]
        self.public = PublicKey(f"ledgrab/{device_id}", raw)
        self.origin = self.public.origin

    @staticmethod
    def check(data_dir: str | os.PathLike[str]) -> None:
        """Raise KeyFileError when `<data-dir>/activity-key.pem` exists but is no key this server
        can sign with; a missing one is fine (the start makes it). Changes nothing."""
        path = Path(data_dir) / KEY_FILE
        try:
            _existing_key(path)
        except OSError as exc:
            raise ed25519.KeyFileError(f"{path} cannot be read: {exc.strerror}") from None

    @classmethod
    def load_or_create(cls, data_dir: str | os.PathLike[str]) -> DeviceKey:
        """Read `<data-dir>/activity-key.pem`, or create it (mode 0600) and its .pub beside it."""
        path = Path(data_dir) / KEY_FILE
        existing = _existing_key(path)
        if existing is None:
            private = ed25519.SigningKey.generate()
            pem = private.to_pem()
            # O_EXCL: two starts racing never write two different keys.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            sync_directory(path.parent)  # the name too: checkpoints it signs are kept
            key = cls(private, path, created=True)
        else:
            key = cls(existing, path, created=False)
        public_path = path.with_name(PUBLIC_KEY_FILE)
        if not public_path.exists() or public_path.read_text().strip() != key.public.line:
            write_durably(public_path, (key.public.line + "\n").encode(), 0o600)
        return key

    def sign_note(self, body: str) -> str:
        """`body` + blank line + `— <origin> <base64(key id ‖ signature)>`."""
        signature = self._private.sign(body.encode())
        blob = base64.b64encode(self.public.key_id + signature).decode()
        return f"{body}\n{_DASH} {self.origin} {blob}\n"


def _existing_key(path: Path) -> ed25519.SigningKey | None:
    """The key in `path`; None when there is no such file, KeyFileError when it holds no key."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        return None
    return ed25519.SigningKey.from_pem(pem, path)


@dataclass(frozen=True)
class SignedNote:
    body: str
    lines: list[str]
    key: PublicKey


def open_note(text: str, keys: list[PublicKey]) -> SignedNote:
    """Split a signed note, and verify it against the first of `keys` its signature names;
    NoteError says what is wrong (unknown key, bad signature, bad form)."""
    body, sep, signatures = text.partition("\n\n")
    if not sep or not body:
        raise NoteError("not a signed note: no blank line before the signature")
    body += "\n"
    names = []
    for line in signatures.splitlines():
        if not line.startswith(_DASH + " "):
            continue
        try:
            name, blob = line[2:].rsplit(" ", 1)
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("a signature line is malformed") from None
        names.append(name)
        for key in keys:
            if key.origin == name and key.key_id == raw[:4]:
                if not key.verify(raw[4:], body.encode()):
                    raise NoteError(f"the signature by {name} does not verify")
                return SignedNote(body, body.splitlines(), key)
    if not names:
        raise NoteError("the note carries no signature")
    return _unknown(names)


def _unknown(names: list[str]) -> SignedNote:
    raise NoteError(f"signed by a key that is not trusted here ({', '.join(names)})")


def parse_public_key(text: str) -> PublicKey:
    """`<origin> <base64 key>` (an activity-key.pub line) -> PublicKey."""
    parts = text.strip().split()
    if len(parts) != 2:
        raise ValueError("a public key is '<origin> <base64 Ed25519 key>' (activity-key.pub)")
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise ValueError("the public key is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this one {len(raw)}")
    return PublicKey(parts[0], raw)
