"""The `[engine]` settings a frame benchmark may change to compare placements: the command-line
options, the TOML lines for the server they start, and the words for the table's heading."""

from __future__ import annotations

import argparse

__all__ = ["add_engine_options", "engine_profile", "engine_toml"]


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-frame-thread", action="store_true", help="frame loops on the server's event loop"
    )
    parser.add_argument(
        "--frame-priority", type=int, default=None,
        help="[engine] frame_priority for the server (its default: 1; 0: normal scheduling)",
    )  # fmt: skip
    parser.add_argument(
        "--send-ahead-ms", type=float, default=None,
        help="[engine] send_ahead_ms for the server (its default: 6; 0: no frame pacer process)",
    )  # fmt: skip
    parser.add_argument(
        "--pacing", choices=("on-demand", "always"), default=None,
        help="[engine] pacing for the server (its default: on-demand)",
    )  # fmt: skip


def engine_toml(args: argparse.Namespace) -> str:
    """The `[engine]` table for the options given ("" when none departs from the defaults)."""
    lines = []
    if args.no_frame_thread:
        lines.append("frame_thread = false")
    if args.frame_priority is not None:
        lines.append(f"frame_priority = {args.frame_priority}")
    if args.send_ahead_ms is not None:
        lines.append(f"send_ahead_ms = {args.send_ahead_ms}")
    if args.pacing is not None:
        lines.append(f'pacing = "{args.pacing}"')
    return "\n".join(["[engine]", *lines, ""]) if lines else ""


def engine_profile(args: argparse.Namespace) -> list[str]:
    """What the heading says of the options given, one phrase each."""
    phrases = []
    if args.no_frame_thread:
        phrases.append("frame loops on the server's event loop")
    if args.frame_priority is not None:
        phrases.append(f"frame_priority = {args.frame_priority}")
    if args.send_ahead_ms is not None:
        phrases.append(f"send_ahead_ms = {args.send_ahead_ms:g}")
    if args.pacing is not None:
        phrases.append(f"pacing = {args.pacing}")
    return phrases
