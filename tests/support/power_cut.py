"""Power cuts for a real process: tests/native/power_cut.c journals what is not yet durable under
a directory; after the process is killed, `lose()` rolls back all, none or a random subset of it.

What counts as durable is what POSIX promises and no more: a file's pages once that file was
fsynced (or fdatasynced), a directory entry (a create, rename, unlink, mkdir) once its directory
was fsynced. Anything else may be lost, page by page (4096 bytes), and a file's size may be its
size at the last sync or its latest. Unsynced directory changes are undone newest first, a
random number of them per directory (a file system commits its metadata in order). A rename
counts as its new directory's change.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Loss", "PowerCut", "build_shim"]

PAGE = 4096
_SHIM = Path(__file__).resolve().parents[1] / "native" / "power_cut.c"
_HEADER = struct.Struct("<4I6Q")


def build_shim(out_dir: Path) -> Path:
    """Compile the shim into `out_dir`; gcc is installed by scripts/system-deps.sh."""
    out = Path(out_dir) / "power_cut.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(out), str(_SHIM), "-ldl"], check=True
    )
    return out


@dataclass
class _Record:
    kind: str
    a: int
    b: int
    c: int
    d: int
    name1: str
    name2: str
    data: bytes


def _records(journal: Path) -> list[_Record]:
    raw = journal.read_bytes() if journal.exists() else b""
    out, pos = [], 0
    while pos + _HEADER.size <= len(raw):
        kind, n1, n2, nd, a, b, c, d, _e, _f = _HEADER.unpack_from(raw, pos)
        pos += _HEADER.size
        if pos + n1 + n2 + nd > len(raw):
            break  # the last record was cut short with the process
        name1 = raw[pos : pos + n1].decode(errors="surrogateescape")
        name2 = raw[pos + n1 : pos + n1 + n2].decode(errors="surrogateescape")
        data = raw[pos + n1 + n2 : pos + n1 + n2 + nd]
        pos += n1 + n2 + nd
        out.append(_Record(chr(kind), a, b, c, d, name1, name2, data))
    return out


@dataclass
class Loss:
    """What one power cut took back."""

    mode: str
    killed_at_us: int | None = None
    files_rolled_back: list[str] = field(default_factory=list)
    pages_rolled_back: int = 0
    entries_undone: list[str] = field(default_factory=list)  # "rename a -> b", ...

    def summary(self) -> str:
        return (
            f"{self.mode}: {self.pages_rolled_back} pages in {len(self.files_rolled_back)} files, "
            f"{len(self.entries_undone)} directory changes undone"
        )


class PowerCut:
    """One process's journal under `root`; `env()` for the process, `lose()` once it is dead."""

    def __init__(self, shim: Path, root: Path, work: Path, kill_after: int | None = None) -> None:
        self.shim, self.root, self.work = shim, Path(root).resolve(), Path(work).resolve()
        self.kill_after = kill_after
        self.journal = self.work / "journal"
        self.stash = self.work / "stash"

    def env(self) -> dict[str, str]:
        self.work.mkdir(parents=True, exist_ok=True)
        self.stash.mkdir(exist_ok=True)
        self.journal.unlink(missing_ok=True)
        env = {
            "LD_PRELOAD": str(self.shim),
            "POWERCUT_DIR": str(self.root),
            "POWERCUT_JOURNAL": str(self.journal),
            "POWERCUT_STASH": str(self.stash),
        }
        if self.kill_after is not None:
            env["POWERCUT_KILL_AFTER"] = str(self.kill_after)
        return env

    def run_python(self, code: str, *args: str) -> subprocess.CompletedProcess:
        """`python -c code args…` under the shim, with the root as its first argument."""
        return subprocess.run(
            [sys.executable, "-c", code, str(self.root), *args],
            env={**self.env(), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def operations(self) -> int:
        """How many journalled operations the process did (to spread cut points over a run)."""
        return sum(1 for r in _records(self.journal) if r.kind != "K")

    def lose(self, mode: str, rng: random.Random) -> Loss:
        """Roll back what was not durable: mode "all", "none" or "random"."""
        records = _records(self.journal)
        loss = Loss(mode)
        pending: dict[tuple[int, int], tuple[int, dict[int, bytes]]] = {}
        entries: list[tuple[_Record, set[tuple[int, int]]]] = []
        for rec in records:
            if rec.kind == "W":
                _size, pages = pending.setdefault((rec.a, rec.b), (rec.d, {}))
                pages.setdefault(rec.c, rec.data)
            elif rec.kind == "S":
                pending.pop((rec.a, rec.b), None)
            elif rec.kind in "CMRUX":
                # A rename is durable once its new directory is synced (where the name now is).
                entries.append((rec, {(rec.a, rec.b)}))
            elif rec.kind == "D":
                for _rec, dirs in entries:
                    dirs.discard((rec.a, rec.b))
            elif rec.kind == "K":
                loss.killed_at_us = rec.a
        unsynced = [rec for rec, dirs in entries if dirs]
        for rec in self._entries_to_undo(unsynced, mode, rng)[::-1]:
            loss.entries_undone.append(self._undo(rec))
        if mode != "none":
            self._roll_back_pages(pending, mode, rng, loss)
        return loss

    @staticmethod
    def _entries_to_undo(unsynced: list[_Record], mode: str, rng: random.Random) -> list[_Record]:
        if mode == "none":
            return []
        if mode == "all":
            return unsynced
        by_dir: dict[tuple[int, int], list[_Record]] = {}
        for rec in unsynced:
            by_dir.setdefault((rec.a, rec.b), []).append(rec)
        undo = set()
        for recs in by_dir.values():
            keep = rng.randint(0, len(recs))  # the first `keep` made it to the card
            undo.update(id(r) for r in recs[keep:])
        return [rec for rec in unsynced if id(rec) in undo]

    def _undo(self, rec: _Record) -> str:
        if rec.kind == "C":
            if os.path.lexists(rec.name1) and not os.path.isdir(rec.name1):
                os.unlink(rec.name1)
            return f"create {rec.name1}"
        if rec.kind == "M":
            shutil.rmtree(rec.name1, ignore_errors=True)
            return f"mkdir {rec.name1}"
        if rec.kind == "R":
            if os.path.lexists(rec.name2) and os.path.isdir(os.path.dirname(rec.name1)):
                os.replace(rec.name2, rec.name1)
            if rec.data:
                os.link(rec.data.decode(errors="surrogateescape"), rec.name2)
            return f"rename {rec.name1} -> {rec.name2}"
        if rec.kind == "U":
            if rec.data and not os.path.lexists(rec.name1):
                os.link(rec.data.decode(errors="surrogateescape"), rec.name1)
            return f"unlink {rec.name1}"
        os.makedirs(rec.name1, exist_ok=True)  # "X": rmdir
        return f"rmdir {rec.name1}"

    def _paths_by_inode(self) -> dict[tuple[int, int], str]:
        found = {}
        for directory, _dirs, files in os.walk(self.root):
            for name in files:
                path = os.path.join(directory, name)
                st = os.lstat(path)
                found.setdefault((st.st_dev, st.st_ino), path)
        return found

    def _roll_back_pages(self, pending, mode: str, rng: random.Random, loss: Loss) -> None:
        paths = self._paths_by_inode()
        for inode, (old_size, pages) in pending.items():
            path = paths.get(inode)
            if path is None:
                continue  # gone from the tree (unlinked, or its creation undone)
            size = os.path.getsize(path)
            if mode == "all" or rng.random() < 0.5:
                size = old_size
            chosen = [p for p in pages if mode == "all" or rng.random() < 0.5]
            with open(path, "r+b") as f:
                f.truncate(size)
                for page in chosen:
                    room = max(0, min(PAGE, size - page * PAGE))
                    if room:
                        f.seek(page * PAGE)
                        f.write(pages[page].ljust(PAGE, b"\0")[:room])
            loss.files_rolled_back.append(os.path.relpath(path, self.root))
            loss.pages_rolled_back += len(chosen)
