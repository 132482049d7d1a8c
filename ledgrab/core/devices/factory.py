"""create_driver(): the driver for a device config; driver modules are imported on first use."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ledgrab.core.devices.base import DeviceDriver
from ledgrab.core.processing.pacer import FramePacer
from ledgrab.models.devices import DeviceConfig

__all__ = ["DRIVER_MODULES", "DriverContext", "create_driver"]

# type -> (module, class). Lazy, so that a board without a WS281x strip never imports rpi_ws281x.
DRIVER_MODULES: dict[str, tuple[str, str]] = {
    "virtual": ("ledgrab.core.devices.virtual", "VirtualDriver"),
    "ws281x": ("ledgrab.core.devices.ws281x", "Ws281xDriver"),
    "adalight": ("ledgrab.core.devices.adalight", "AdalightDriver"),
    "wled": ("ledgrab.core.devices.wled", "WledDriver"),
    "ddp": ("ledgrab.core.devices.ddp", "DdpDriver"),
    "e131": ("ledgrab.core.devices.e131", "E131Driver"),
}


@dataclass(frozen=True)
class DriverContext:
    """What drivers take from the settings rather than from the device."""

    leds_dev_dir: str = "/dev"
    http_timeout_s: float = 2.0
    board_model_path: str = "/proc/device-tree/model"
    # Network drivers hand their frames to it when it is enabled (processing/pacer.py).
    pacer: FramePacer | None = None


def create_driver(config: DeviceConfig, context: DriverContext | None = None) -> DeviceDriver:
    kind = config.__struct_config__.tag
    module_name, class_name = DRIVER_MODULES[kind]
    cls = getattr(importlib.import_module(module_name), class_name)
    if kind == "virtual":
        return cls(config)
    return cls(config, context or DriverContext())
