"""Adalight and AWA serial controllers (pyserial), written from the driver's writer thread.

Adalight frame: "Ada", (count-1) high byte, (count-1) low byte, hi ^ lo ^ 0x55, then the pixel
bytes. AWA (HyperSerial) uses "Awa" and appends three Fletcher bytes over the pixel bytes: sum1
and sum2 mod 255, and an extension summing byte ^ position (position wrapping at 256), sent as
0xaa when it equals 0x41 so that it can never look like the start of a header ("A").
"""

from __future__ import annotations

from typing import Any

from ledgrab.core.devices.base import DriverError, ThreadedDriver

__all__ = ["AdalightDriver", "adalight_frame", "awa_trailer"]


def _header(magic: bytes, led_count: int) -> bytes:
    hi, lo = (led_count - 1) >> 8 & 0xFF, (led_count - 1) & 0xFF
    return magic + bytes((hi, lo, hi ^ lo ^ 0x55))


def awa_trailer(data: bytes) -> bytes:
    sum1 = sum2 = ext = 0
    for position, byte in enumerate(data):
        ext = (ext + (byte ^ (position & 0xFF))) % 255
        sum1 = (sum1 + byte) % 255
        sum2 = (sum2 + sum1) % 255
    return bytes((sum1, sum2, 0xAA if ext == 0x41 else ext))


def adalight_frame(data: bytes, led_count: int, protocol: str = "ada") -> bytes:
    if protocol == "awa":
        return _header(b"Awa", led_count) + data + awa_trailer(data)
    return _header(b"Ada", led_count) + data


class AdalightDriver(ThreadedDriver):
    thread_name = "ledgrab-serial-writer"

    def __init__(self, config: Any, context: Any) -> None:
        super().__init__(config)
        self._serial: Any = None
        self._header = _header(b"Awa" if config.protocol == "awa" else b"Ada", config.led_count)

    def _open_blocking(self) -> None:
        import serial  # pyserial

        try:
            self._serial = serial.Serial(
                self.config.serial_port,
                self.config.baud_rate,
                timeout=1,
                # A line that stops draining (unplugged, flow control stuck) fails the write
                # instead of blocking the writer thread forever.
                write_timeout=2,
            )
        except serial.SerialException as exc:
            raise DriverError(f"cannot open {self.config.serial_port}: {exc}") from None

    def _write_blocking(self, frame: bytes) -> None:
        if self.config.protocol == "awa":
            self._serial.write(self._header + frame + awa_trailer(frame))
        else:
            self._serial.write(self._header + frame)

    def _close_blocking(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def details(self) -> dict[str, Any]:
        return {"serial_port": self.config.serial_port, "baud_rate": self.config.baud_rate}
