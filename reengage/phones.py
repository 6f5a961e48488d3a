"""What counts as a phone number: E.164, the form Twilio's Messages API takes in `To`.

`VALID_NUMBER` is the one test of a number, beside the address rule (reengage/emails.py):
ingest sets a CRM `phone` that fails it to null and keeps the row (naming file, row and column),
the SMS channel re-checks every number it would text with it, and a number is never repaired:
"0151 2345678" has no country, and guessing one would text a stranger.
"""

from __future__ import annotations

# A plus, then digits only: a country code (never starting with 0) and the subscriber number, at
# most 15 digits in all (ITU-T E.164) and at least 7 (the shortest complete numbers, a 3-digit
# country code and a 4-digit number, as in Niue).
VALID_NUMBER = r"^\+[1-9][0-9]{6,14}$"
