"""The gap marker as a syslog message, read back with the tests' RFC 5424 parser."""

from __future__ import annotations

from ledgrab.core.forwarding.records import Gap
from ledgrab.core.forwarding.syslog_format import format_message, octet_frame
from tests.support.rsyslog import parse_rfc5424


def test_a_gap_is_a_warning_message_naming_the_missing_seqs():
    raw = format_message(Gap(11, 40), "local0", "board-7", 2048, "abc123")
    message = parse_rfc5424(raw)
    assert message["pri"] == 16 * 8 + 4 and message["msgid"] == "forward.gap"
    assert message["sd"]["ledgrabGap@32473"] == {
        "first": "11",
        "last": "40",
        "count": "30",
        "device": "abc123",
    }
    assert message["hostname"] == "board-7" and message["bom"]


def test_octet_counting_frames_the_byte_length():
    assert octet_frame("ü".encode()) == b"2 \xc3\xbc"
