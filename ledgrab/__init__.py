"""LedGrab Embedded: an LED controller for single-board computers."""

__version__ = "0.1.0"
