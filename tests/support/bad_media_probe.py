"""Run inside `unshare -rm`: auto-backup onto a full and a read-only tmpfs; print JSON results."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from ledgrab.config import BackupSettings
from ledgrab.core.backup.auto_backup import AutoBackup, AutoBackupConfig, AutoBackupError
from ledgrab.core.backup.service import BackupService
from ledgrab.storage.database import Database
from tests.support.db_files import fill_settings


def main(base: Path) -> dict:
    full, read_only = base / "full", base / "ro"
    full.mkdir()
    read_only.mkdir()
    for options, where in (("size=64k", full), ("ro,size=1m", read_only)):
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    db = Database(base / "live.db")
    db.open()
    results: dict = {}
    try:
        db.write_blocking(fill_settings, 800)  # well over the 64 KiB stick
        auto = AutoBackup(BackupService(db, base / "data", BackupSettings()))
        for name, dest in (("full", full), ("read_only", read_only)):
            auto.config = AutoBackupConfig(enabled=True, destination=str(dest))
            try:
                asyncio.run(auto.run_once())
                results[name] = "ok"
            except AutoBackupError as exc:
                results[name] = str(exc)
            results[f"{name}_health"] = auto.health().state
            results[f"{name}_files"] = sorted(os.listdir(dest))
        results["db_still_writable"] = db.write_blocking(lambda c: 1) == 1
    finally:
        db.close()
        subprocess.run(["umount", str(full)], check=False)
        subprocess.run(["umount", str(read_only)], check=False)
    return results


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
