"""Activity-log settings: persisted in the `settings` table, with the bounds the API enforces."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ledgrab.models.bodies import patch_type_of

__all__ = [
    "SETTINGS_KEY",
    "ActivityLogSettings",
    "ActivityLogSettingsPatch",
    "settings_from_stored",
]

SETTINGS_KEY = "activity_log"
MIB = 1024 * 1024


class ActivityLogSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    max_days: Annotated[int, msgspec.Meta(ge=1, le=3650, description="1..3650")] = 90
    max_entries: Annotated[
        int, msgspec.Meta(ge=1000, le=10_000_000, description="1000..10000000")
    ] = 200_000
    # The whole database file; the log gives way when the file's used pages pass this.
    max_bytes: Annotated[
        int, msgspec.Meta(ge=4 * MIB, le=16 * 1024 * MIB, description="4 MiB..16 GiB")
    ] = 64 * MIB
    # 0 = one commit per entry (a sync per entry: only for a disk that does not wear).
    commit_interval_s: Annotated[float, msgspec.Meta(ge=0, le=300, description="0..300")] = 5.0
    max_batch: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="1..10000")] = 500
    # A signed checkpoint rides on the first commit of entries after this long (no extra sync).
    checkpoint_interval_s: Annotated[float, msgspec.Meta(ge=0, le=3600, description="0..3600")] = (
        60.0
    )


ActivityLogSettingsPatch = patch_type_of(
    ActivityLogSettings, "The settings to change; the others keep their values."
)


def settings_from_stored(value: object) -> ActivityLogSettings:
    """Stored JSON -> settings; a value that no longer validates falls back to the defaults
    field by field rather than stopping the server."""
    if not isinstance(value, dict):
        return ActivityLogSettings()
    good: dict[str, object] = {}
    for name in ActivityLogSettings.__struct_fields__:
        if name in value:
            try:
                msgspec.convert({name: value[name]}, ActivityLogSettings)
            except msgspec.ValidationError:
                continue
            good[name] = value[name]
    return msgspec.convert(good, ActivityLogSettings)
