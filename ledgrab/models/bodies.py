"""Request and response bodies derived from the entity types: PATCH (every field optional) and
the stored shape (the config plus `id`, `created_at`, `updated_at`, and `running` for targets).

Derived, not written out: a bound or a default changes in one place and the API, the OpenAPI
document and the UI forms follow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args

import msgspec
from msgspec import UNSET, UnsetType

from ledgrab.models.devices import DEVICE_TYPES, DeviceConfig, Name
from ledgrab.models.sources import SOURCE_TYPES, SourceConfig
from ledgrab.models.targets import TargetConfig

__all__ = [
    "BODY_TYPES",
    "DeviceOut",
    "DevicePatch",
    "SourceOut",
    "SourcePatch",
    "TargetOut",
    "TargetPatch",
    "out_type",
    "patch_fields",
    "patch_type_of",
]

Timestamp = Annotated[str, msgspec.Meta(description="ISO 8601 UTC with milliseconds")]
_STORED = [("id", str), ("created_at", Timestamp), ("updated_at", Timestamp)]


def _patch_type(name: str, fields: dict[str, Any], doc: str) -> type[msgspec.Struct]:
    return msgspec.defstruct(
        name,
        [(key, annotation | UnsetType, UNSET) for key, annotation in fields.items()],
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
        namespace={"__doc__": doc},
    )


def patch_type_of(struct: type[msgspec.Struct], doc: str) -> type[msgspec.Struct]:
    """A PATCH type for `struct`: its fields, bounds kept, each optional."""
    fields = {f.name: f.type for f in msgspec.structs.fields(struct)}
    return _patch_type(struct.__name__ + "Patch", fields, doc)


def patch_fields(patch: msgspec.Struct) -> dict[str, Any]:
    """The fields a PATCH body sets, as plain values (a nested PATCH as its own set fields)."""
    return {
        f: msgspec.to_builtins(v)
        for f in patch.__struct_fields__
        if (v := getattr(patch, f)) is not UNSET
    }


def _tagged_patch(cls: type[msgspec.Struct], tag_field: str, doc: str) -> type[msgspec.Struct]:
    """A PATCH type for one member of a tagged union: its tag required, every field optional."""
    tag = cls.__struct_config__.tag
    fields = [(f.name, f.type | UnsetType, UNSET) for f in msgspec.structs.fields(cls)]
    return msgspec.defstruct(
        cls.__name__ + "Patch",
        fields,
        tag_field=tag_field,
        tag=tag,
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
        namespace={"__doc__": doc},
    )


def _source_patch(cls: type[msgspec.Struct]) -> type[msgspec.Struct]:
    params = next(f.type for f in msgspec.structs.fields(cls) if f.name == "params")
    params_patch = patch_type_of(params, "Params to change; the others keep their values.")
    tag = cls.__struct_config__.tag
    return msgspec.defstruct(
        cls.__name__ + "Patch",
        [("name", Name | UnsetType, UNSET), ("params", params_patch | UnsetType, UNSET)],
        tag_field="kind",
        tag=tag,
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
        namespace={"__doc__": f"Change a source to (or keep it) {tag}."},
    )


def _all_fields(structs: list[type[msgspec.Struct]]) -> dict[str, Any]:
    """Every field of these Structs by name (a name has one type across them all)."""
    fields: dict[str, Any] = {}
    for struct in structs:
        for field in msgspec.structs.fields(struct):
            assert fields.setdefault(field.name, field.type) == field.type, field.name
    return fields


# `type` may be left out; a field of another type, or another type, is a 409 (see api/devices).
DevicePatch = _patch_type(
    "DevicePatch",
    {"type": Literal[tuple(DEVICE_TYPES)], **_all_fields(list(DEVICE_TYPES.values()))},  # type: ignore[misc]
    "Fields to change (those of the device's type); `type` may be sent but not changed. A change "
    "that breaks a rule between fields (E1.31 universe and LED count, ws281x pin and channel) "
    "with the device's other fields is a 409 naming the field.",
)
# Same kind: the params sent change those fields; another kind starts from its defaults.
SourcePatch = Union[tuple(_source_patch(cls) for cls in SOURCE_TYPES.values())]  # type: ignore[valid-type]  # noqa: UP007
TargetPatch = patch_type_of(
    TargetConfig, "Any of a target's fields; a running target follows the change at once."
)


def _out(cls: type[msgspec.Struct], extra: list[tuple[str, Any]]) -> type[msgspec.Struct]:
    return msgspec.defstruct(
        cls.__name__ + "Out",
        extra,
        bases=(cls,),
        kw_only=True,
        tag=cls.__struct_config__.tag,
        module=__name__,
    )


_OUT: dict[type, type[msgspec.Struct]] = {
    cls: _out(cls, _STORED) for cls in (*DEVICE_TYPES.values(), *SOURCE_TYPES.values())
}
_OUT[TargetConfig] = _out(TargetConfig, [*_STORED, ("running", bool)])
DeviceOut = Union[tuple(_OUT[cls] for cls in get_args(DeviceConfig))]  # type: ignore[valid-type]  # noqa: UP007
SourceOut = Union[tuple(_OUT[cls] for cls in get_args(SourceConfig))]  # type: ignore[valid-type]  # noqa: UP007
TargetOut = _OUT[TargetConfig]


def out_type(config: msgspec.Struct) -> type[msgspec.Struct]:
    return _OUT[type(config)]


# Every entity body and answer, for the OpenAPI document's schemas.
BODY_TYPES: list[Any] = [
    DeviceConfig,
    SourceConfig,
    TargetConfig,
    DevicePatch,
    SourcePatch,
    TargetPatch,
    DeviceOut,
    SourceOut,
    TargetOut,
]
