"""Request and response bodies derived from the entity types: PATCH (every field optional) and
the stored shape (the config plus `id`, `created_at`, `updated_at`, and `running` for targets).

Derived, not written out: a bound or a default changes in one place and the API, the OpenAPI
document and the UI forms follow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from msgspec import UNSET, UnsetType

from ledgrab.models.devices import DEVICE_TYPES, DeviceConfig
from ledgrab.models.effects import EFFECT_PARAMS, CaptureParams
from ledgrab.models.sources import SOURCE_TYPES, SourceConfig
from ledgrab.models.targets import TargetConfig

__all__ = [
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


def _plain(annotation: Any) -> Any:
    """The annotation without its bounds (for a field whose bounds differ between types)."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _merged_fields(structs: list[type[msgspec.Struct]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for struct in structs:
        hints = msgspec.structs.fields(struct)
        for field in hints:
            if field.name in fields and fields[field.name] != field.type:
                fields[field.name] = _plain(field.type)
            else:
                fields.setdefault(field.name, field.type)
    return fields


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
    """The fields a PATCH body sets, as plain values."""
    return {
        f: msgspec.to_builtins(v)
        for f in patch.__struct_fields__
        if (v := getattr(patch, f)) is not UNSET
    }


_device_fields = _merged_fields(list(DEVICE_TYPES.values()))
_device_fields["type"] = Literal[tuple(DEVICE_TYPES)]  # type: ignore[valid-type]
DevicePatch = _patch_type(
    "DevicePatch",
    _device_fields,
    "Any of a device's fields; `type` may be sent but not changed; a field must apply to the type.",
)
_params_fields = _merged_fields([*EFFECT_PARAMS.values(), CaptureParams])
ParamsPatch = _patch_type(
    "ParamsPatch",
    _params_fields,
    "Some params of the source's kind; they merge into the current ones.",
)
SourcePatch = _patch_type(
    "SourcePatch",
    {
        "name": msgspec.structs.fields(SOURCE_TYPES["static"])[0].type,
        "kind": Literal[tuple(SOURCE_TYPES)],  # type: ignore[valid-type]
        "params": ParamsPatch,
    },
    "A new name, params merged into the current ones, or a new kind (its params from defaults).",
)
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
