"""How many SMS segments a text takes, counted as Twilio counts `num_segments`.

A text that fits one message goes as one segment: 160 GSM-7 characters, or 70 UCS-2 code units
when any character is outside GSM-7. A longer text is split into concatenated segments whose
header takes room: 153 GSM-7 characters or 67 UCS-2 code units each. Characters of GSM-7's
extension table (`^{}\\[~]|€` and form feed) take two septets, and a split never separates the
two (nor the halves of a UTF-16 surrogate pair), so a segment may hold one unit less.
The SMS channel's renderer and the local Twilio sink both count with this one function.
"""

from __future__ import annotations

from typing import Literal

# GSM 03.38 basic character set (one septet each) and its extension table (escape + one septet).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE_GSM7 = 160
SEGMENT_GSM7 = 153
SINGLE_UCS2 = 70
SEGMENT_UCS2 = 67


def encoding(text: str) -> Literal["GSM-7", "UCS-2"]:
    """GSM-7 when every character is in its basic or extension table, else UCS-2."""
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def _units(text: str, gsm7: bool) -> list[int]:
    """The size of each character in its encoding's units (septets, or UTF-16 code units)."""
    if gsm7:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def segments(text: str) -> int:
    """The number of segments `text` is sent as; 0 for an empty text."""
    gsm7 = encoding(text) == "GSM-7"
    units = _units(text, gsm7)
    if sum(units) <= (SINGLE_GSM7 if gsm7 else SINGLE_UCS2):
        return 1 if units else 0
    room = SEGMENT_GSM7 if gsm7 else SEGMENT_UCS2
    count, used = 1, 0
    for size in units:
        if used + size > room:  # a character never straddles two segments
            count, used = count + 1, 0
        used += size
    return count
