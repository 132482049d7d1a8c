"""WS281x strips on the board: rpi-ws281x (Pi 1-4, Zero) or /dev/leds<n> (Pi 5, ws2812-pio).

rpi_ws281x is imported only when a strip is opened on a board that is a Raspberry Pi other than
a Pi 5: constructing a PixelStrip that never `begin()`s crashes the interpreter at exit, so one is
never built where it cannot begin. The Pi 5 moved GPIO behind the RP1 chip, which rpi-ws281x
cannot drive; there the kernel's ws2812-pio overlay offers /dev/leds<n>, which takes 4 bytes per
LED in R, G, B, W order (W ignored unless the overlay says rgbw) and handles the wire order.
All writes happen on the driver's writer thread: `show()` blocks for the whole DMA transfer.
"""

from __future__ import annotations

import os
import stat
import sys
from array import array
from pathlib import Path
from typing import Any

from ledgrab.core.devices.base import DriverError, ThreadedDriver

__all__ = ["Ws281xDriver", "board_model"]

_FREQ_HZ = 800_000
# rpi_ws281x strip types for raw byte order (LedGrab has already put the bytes in wire order).
_STRIP_RGB = 0x00100800
_STRIP_RGBW = 0x18100800


def board_model(path: str) -> str:
    try:
        return Path(path).read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        return ""


class Ws281xDriver(ThreadedDriver):
    thread_name = "ledgrab-ws281x-writer"

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config)
        self._context = context
        self.backend: str | None = None
        self._strip: Any = None
        self._fd: int | None = None
        self._regular_file = False
        self._stride = 4 if config.rgbw else 3
        # Where each of R, G, B sits in the wire-ordered frame, for /dev/leds<n>'s RGBW layout.
        self._slot = tuple(config.color_order.index(c) for c in "rgb")

    @property
    def leds_path(self) -> Path:
        return Path(self._context.leds_dev_dir) / f"leds{self.config.leds_index}"

    def _choose_backend(self) -> str:
        wanted = self.config.backend
        if wanted != "auto":
            return wanted
        if self.leds_path.exists():
            return "leds_dev"
        return "rpi_ws281x"

    def _open_blocking(self) -> None:
        self.backend = self._choose_backend()
        if self.backend == "leds_dev":
            self._open_leds_dev()
        else:
            self._open_rpi_ws281x()

    def _open_leds_dev(self) -> None:
        try:
            self._fd = os.open(self.leds_path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise DriverError(
                f"{self.leds_path} does not exist: on a Raspberry Pi 5 add "
                f"'dtoverlay=ws2812-pio,gpio={self.config.pin},num_leds={self.config.led_count}' "
                "to config.txt and reboot"
            ) from None
        self._regular_file = stat.S_ISREG(os.fstat(self._fd).st_mode)

    def _open_rpi_ws281x(self) -> None:
        model = board_model(self._context.board_model_path)
        if "Raspberry Pi" not in model:
            raise DriverError(
                f"no WS281x output here: this board is not a Raspberry Pi ({model or 'unknown'}) "
                f"and {self.leds_path} does not exist"
            )
        if "Raspberry Pi 5" in model:
            raise DriverError(
                "rpi-ws281x does not support the Raspberry Pi 5; use the ws2812-pio overlay "
                f"(dtoverlay=ws2812-pio,gpio={self.config.pin}) and backend 'leds_dev'"
            )
        try:
            import rpi_ws281x
        except ImportError:
            raise DriverError("rpi-ws281x is not installed: pip install 'ledgrab[pi]'") from None
        strip = rpi_ws281x.PixelStrip(
            self.config.led_count,
            self.config.pin,
            freq_hz=_FREQ_HZ,
            dma=self.config.dma,
            invert=self.config.invert,
            brightness=255,
            channel=self.config.channel,
            strip_type=_STRIP_RGBW if self.config.rgbw else _STRIP_RGB,
        )
        try:
            strip.begin()
        except RuntimeError as exc:
            raise DriverError(f"rpi-ws281x could not start (run as root?): {exc}") from None
        self._strip = strip

    def _words(self, frame: bytes) -> array:
        """Frame bytes -> 32-bit colour words (W<<24 | b0<<16 | b1<<8 | b2) in one C pass."""
        n = len(frame) // self._stride
        buf = bytearray(4 * n)
        little = sys.byteorder == "little"
        for byte_index in range(self._stride):
            shift = (2 - byte_index) if byte_index < 3 else 3
            pos = shift if little else 3 - shift
            buf[pos::4] = frame[byte_index :: self._stride]
        return array("I", bytes(buf))

    def _rgbw_layout(self, frame: bytes) -> bytes:
        n = len(frame) // self._stride
        buf = bytearray(4 * n)
        for out_slot, in_slot in enumerate(self._slot):
            buf[out_slot::4] = frame[in_slot :: self._stride]
        if self.config.rgbw:
            buf[3::4] = frame[3::4]
        return bytes(buf)

    def _write_blocking(self, frame: bytes) -> None:
        if self._fd is not None:
            data = self._rgbw_layout(frame)
            if self._regular_file:
                os.pwrite(self._fd, data, 0)
            else:
                os.write(self._fd, data)
            return
        strip = self._strip
        for index, word in enumerate(self._words(frame)):
            strip.setPixelColor(index, word)
        strip.show()

    def _close_blocking(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._strip is not None:
            cleanup = getattr(self._strip, "_cleanup", None)
            if cleanup is not None:
                cleanup()
            self._strip = None

    def details(self) -> dict[str, Any]:
        return {"backend": self.backend}
