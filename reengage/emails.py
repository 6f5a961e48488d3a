"""What counts as an email address, and how one is found inside free text.

`VALID_ADDRESS` is the one test of an address: ingest refuses a CRM row whose email fails it
(naming file, row and column), an erasure request must pass it, and the policy re-checks every
address it would mail with it (a hand-edited warehouse row gets no message). `IN_TEXT` finds
anything address-like in messages that may quote one (Great Expectations results, provider
errors) so `mask_addresses` can mask it before it reaches a log or metadata: it is deliberately
broader, since a malformed address ("a@@b", "a@b") is as personal as a valid one.
"""

from __future__ import annotations

import re

VALID_ADDRESS = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
IN_TEXT = re.compile(r"[^\s'\"<>(),;\[\]{}]*@[^\s'\"<>(),;\[\]{}]*")


def mask_addresses(text: str, mask: str) -> str:
    """`text` with everything address-like replaced by `mask`."""
    return IN_TEXT.sub(mask, text)
