"""Segment counts as Twilio reports `num_segments` (reengage/channels/sms_segments.py), and the sink's"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.rest import Client

from reengage.channels.sms_segments import GSM7_BASIC, encoding, segments
from tests.sink.sink_helpers import MovableClock
from tests.twilio_sink.test_twilio_sink_messages import schedule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a" * 160, 1),  # one GSM-7 message holds 160
        ("a" * 161, 2),  # then 153 per segment
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets: 160 septets
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 10, 2),  # 164 septets: two segments
        ("é" * 160, 1),  # é is in GSM-7's basic table
        ("ü" * 70 + "ł", 2),  # ł is not: the whole text is UCS-2
        ("ł" * 70, 1),  # one UCS-2 message holds 70
        ("ł" * 71, 2),  # then 67 per segment
        ("ł" * 134, 2),
        ("ł" * 135, 3),
        ("😀" * 35, 1),  # an emoji is two UTF-16 code units
        ("😀" * 36, 2),
        ("a" * 66 + "😀" + "a" * 3, 2),  # 71 units; the pair is not split: 66 | 2 + 3
    ],
)
def test_segments_are_counted_as_twilio_counts_them(text: str, expected: int) -> None:
    # Guards cost and length rules of the SMS channel at each encoding's edges.
    assert segments(text) == expected


def test_a_character_never_straddles_two_segments() -> None:
    # Guards the split rule: 152 septets then an escape pair do not fit 153, so the pair starts segment 2.
    assert segments("a" * 152 + "€" + "a" * 152) == 3
    assert segments("ł" * 66 + "😀" + "ł" * 66) == 3


@given(st.text(alphabet=sorted(GSM7_BASIC), max_size=2000))
def test_plain_gsm7_texts_follow_the_160_153_rule(text: str) -> None:
    # Guards the GSM-7 formula for any text of basic characters.
    assert encoding(text) == "GSM-7"
    expected = 0 if not text else 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    assert segments(text) == expected


@given(st.text(alphabet="łżśćńąęó", min_size=1, max_size=1000))
def test_plain_ucs2_texts_follow_the_70_67_rule(text: str) -> None:
    # Guards the UCS-2 formula for texts of characters outside GSM-7 (one code unit each).
    assert encoding(text) == "UCS-2"
    assert segments(text) == (1 if len(text) <= 70 else math.ceil(len(text) / 67))


def test_the_sink_reports_num_segments_once_a_text_goes_out(twilio: Client, clock: MovableClock) -> None:
    # Guards the sink's num_segments: Twilio's count once the text is out ("0" while scheduled).
    long_ucs2 = schedule(twilio, clock, body="ł" * 71, ahead=600)
    long_gsm = schedule(twilio, clock, body="a" * 161, ahead=600)
    assert long_ucs2.num_segments == "0"
    clock.advance(700)
    assert twilio.messages(long_ucs2.sid).fetch().num_segments == "2"
    assert twilio.messages(long_gsm.sid).fetch().num_segments == "2"
