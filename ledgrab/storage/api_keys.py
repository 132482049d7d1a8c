"""API keys: stored only as SHA-256 hashes, checked in constant time, cached in memory."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from ledgrab.config import LABEL_PATTERN
from ledgrab.storage.database import Database
from ledgrab.utils.files import write_durably

__all__ = [
    "INITIAL_KEY_FILE",
    "KEY_RECHECK_S",
    "ApiKeyError",
    "ApiKeyInfo",
    "ApiKeyStore",
    "generate_key",
    "key_digest",
]

log = logging.getLogger(__name__)
INITIAL_KEY_FILE = "initial-api-key"
# How often a running server rereads the keys, so that `ledgrab keys revoke` from another
# process reaches its requests and open feeds well within the 10 s the README promises.
KEY_RECHECK_S = 2.0
# Without the watcher (the CLI, tests of the store alone), a lookup rereads a cache this old.
_REFRESH_S = 10.0
# A miss may mean a key was created from the CLI a moment ago; reread at most this often.
_MISS_REFRESH_S = 1.0


class ApiKeyError(ValueError):
    """A key operation was refused; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ApiKeyInfo(msgspec.Struct, frozen=True):
    label: str
    hint: str
    created_at: str
    source: str  # "database" or "config" (config keys cannot be revoked through the API)


def generate_key() -> str:
    return "lg_" + secrets.token_urlsafe(32)


def key_digest(key: str) -> bytes:
    """What the store keeps of a key (and what an open feed keeps to be rechecked against)."""
    return _hash(key)


def _hash(key: str) -> bytes:
    # Generated keys carry 256 random bits, so a plain hash suffices (a slow KDF protects weak
    # passwords, which these are not); configured keys must be at least 16 characters.
    return hashlib.sha256(key.encode()).digest()


def _hint(key: str) -> str:
    return key[:6] + "…"


class ApiKeyStore:
    """Keys from the configuration (memory only) and from the database (hashes)."""

    def __init__(self, db: Database, configured: dict[str, str] | None = None) -> None:
        self._db = db
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._configured = {
            label: (_hash(key), ApiKeyInfo(label, _hint(key), now, "config"))
            for label, key in (configured or {}).items()
        }
        self._stored: dict[str, tuple[bytes, ApiKeyInfo]] = {}
        self._loaded_at = 0.0
        self._miss_reload_at = 0.0
        self._listeners: list[Callable[[], None]] = []

    @staticmethod
    def _select(conn: sqlite3.Connection) -> list[tuple]:
        return conn.execute("SELECT label, key_hash, hint, created_at FROM api_keys").fetchall()

    def _apply(self, rows: list[tuple]) -> None:
        before = {label: digest for label, (digest, _info) in self._stored.items()}
        self._stored = {
            label: (bytes(key_hash), ApiKeyInfo(label, hint, created, "database"))
            for label, key_hash, hint, created in rows
        }
        self._loaded_at = time.monotonic()
        if before != {label: digest for label, (digest, _info) in self._stored.items()}:
            for listener in self._listeners:
                listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` (in the thread that reread the keys) whenever the stored keys change."""
        self._listeners.append(listener)

    def is_current(self, label: str, digest: bytes) -> bool:
        """Whether the key with this digest is still the valid key labelled `label`."""
        entry = self._stored.get(label) or self._configured.get(label)
        return entry is not None and hmac.compare_digest(entry[0], digest)

    async def watch(self, interval_s: float = KEY_RECHECK_S) -> None:
        """Reread the keys every `interval_s` until cancelled (a read; nothing is written)."""
        failing = False
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.load()
                failing = False
            except Exception as exc:  # a database being swapped or closing: try again later
                if not failing:
                    log.warning("could not reread the API keys: %s", exc)
                failing = True

    async def load(self) -> None:
        self._apply(await self._db.read(self._select))

    def load_blocking(self) -> None:
        self._apply(self._db.read_blocking(self._select))

    def _match(self, key: str) -> str | None:
        digest = _hash(key)
        found = None
        # Compare against every key without an early exit, so timing says nothing about which.
        for label, (stored, _info) in (*self._configured.items(), *self._stored.items()):
            if hmac.compare_digest(digest, stored):
                found = label
        return found

    async def authenticate(self, key: str | None) -> str | None:
        """Return the label of `key`, or None."""
        if not key:
            return None
        now = time.monotonic()
        if now - self._loaded_at > _REFRESH_S:
            await self.load()
        label = self._match(key)
        if label is None and now - self._miss_reload_at > _MISS_REFRESH_S:
            self._miss_reload_at = now
            await self.load()
            label = self._match(key)
        return label

    def list(self) -> list[ApiKeyInfo]:
        infos = [info for _h, info in (*self._configured.values(), *self._stored.values())]
        return sorted(infos, key=lambda info: info.label)

    @property
    def count(self) -> int:
        return len(self._configured) + len(self._stored)

    # -- changes (run on the writer; callers await db.write(...)) ----------------------------

    def _insert(self, conn: sqlite3.Connection, label: str, key: str) -> ApiKeyInfo:
        # fullmatch: the pattern's `$` alone would let a trailing newline through.
        if not re.fullmatch(LABEL_PATTERN, label):
            raise ApiKeyError(
                f"label {label!r} must be 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        exists = conn.execute("SELECT 1 FROM api_keys WHERE label = ?", (label,)).fetchone()
        if exists or label in self._configured:
            raise ApiKeyError(f"an API key labelled {label!r} already exists", status=409)
        info = ApiKeyInfo(
            label, _hint(key), datetime.now(UTC).isoformat(timespec="seconds"), "database"
        )
        conn.execute(
            "INSERT INTO api_keys (label, key_hash, hint, created_at) VALUES (?, ?, ?, ?)",
            (label, _hash(key), info.hint, info.created_at),
        )
        return info

    def _delete(self, conn: sqlite3.Connection, label: str) -> None:
        if label in self._configured:
            raise ApiKeyError(
                f"API key {label!r} comes from the configuration; remove it there", status=409
            )
        if not conn.execute("SELECT 1 FROM api_keys WHERE label = ?", (label,)).fetchone():
            raise ApiKeyError(f"no API key labelled {label!r}", status=404)
        remaining = conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] - 1
        if remaining + len(self._configured) == 0:
            raise ApiKeyError(
                f"{label!r} is the last API key; create another before revoking it", status=409
            )
        conn.execute("DELETE FROM api_keys WHERE label = ?", (label,))

    async def create(self, label: str) -> tuple[ApiKeyInfo, str]:
        """Create a key; return its info and the key itself, which is never retrievable again."""
        key = generate_key()
        info = await self._db.write(self._insert, label, key)
        await self.load()
        return info, key

    def create_blocking(self, label: str) -> tuple[ApiKeyInfo, str]:
        key = generate_key()
        info = self._db.write_blocking(self._insert, label, key)
        self.load_blocking()
        return info, key

    async def revoke(self, label: str) -> None:
        await self._db.write(self._delete, label)
        await self.load()

    def revoke_blocking(self, label: str) -> None:
        self._db.write_blocking(self._delete, label)
        self.load_blocking()

    def bootstrap_blocking(self, data_dir: Path) -> Path | None:
        """With no key at all, create `admin` and write it once to <data-dir>/initial-api-key."""
        self.load_blocking()
        if self.count:
            return None
        key = generate_key()
        path = data_dir / INITIAL_KEY_FILE
        # The file first, whole and synced (its name too), then the key's row: a power cut in
        # between leaves a file whose key is not stored yet, and the next start makes a new
        # one. The other order could leave the key stored and its only copy lost.
        write_durably(path, (key + "\n").encode(), 0o600)
        self._db.write_blocking(self._insert, "admin", key)
        self.load_blocking()
        return path
