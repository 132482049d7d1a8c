"""RecoveryNotice: a file set aside at startup stays on /health until an operator acknowledges it.

Kept in the database (setting `database.recovery`), so a restart before anyone looked does not
make it disappear.
"""

from __future__ import annotations

from typing import Any

from ledgrab.core.backup.journal import note
from ledgrab.core.backup.recovery import StartupRecovery
from ledgrab.storage.database import Database

__all__ = ["ACK_PATH", "SETTINGS_KEY", "RecoveryNotice"]

SETTINGS_KEY = "database.recovery"
ACK_PATH = "/api/v1/system/database/recovery/ack"


class RecoveryNotice:
    """The unacknowledged startup recovery, if any."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: dict[str, Any] | None = None

    async def load(self) -> None:
        self.pending = await self.db.get_setting(SETTINGS_KEY)

    async def remember(self, recovery: StartupRecovery) -> None:
        self.pending = {
            "kind": recovery.kind,
            "quarantined": recovery.quarantined,
            "reason": recovery.reason,
        }
        await self.db.set_setting(SETTINGS_KEY, self.pending)

    def reason(self) -> str | None:
        """For /health: what happened and how to acknowledge it; None when nothing waits."""
        if not self.pending:
            return None
        what = "set aside as corrupt" if self.pending.get("kind") == "corrupt" else "rebuilt"
        return (
            f"at startup the database was {what}; the original is kept as "
            f"{self.pending.get('quarantined')} (acknowledge with POST {ACK_PATH})"
        )

    async def acknowledge(self) -> dict[str, Any] | None:
        """Forget the notice (recorded in the activity log); return it, or None if none."""
        pending = self.pending
        if not pending:
            return None
        await self.db.write(_delete_setting)
        self.pending = None
        note(
            "database.recovery_acknowledged",
            f"the startup recovery of the database (original kept as {pending.get('quarantined')})"
            " was acknowledged",
            metadata=dict(pending),
        )
        return pending


def _delete_setting(conn: Any) -> None:
    conn.execute("DELETE FROM settings WHERE key = ?", (SETTINGS_KEY,))
