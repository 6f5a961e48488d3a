"""What counts as a product's link and currency in a catalog export.

`VALID_URL` and `VALID_CURRENCY` are the one test of each, beside the address and number rules
(reengage/emails.py, reengage/phones.py): ingest refuses a products row whose `product_url` or
`image_url` fails the first or whose `currency` fails the second (naming file, row and column),
and the raw_products Great Expectations suite checks the loaded rows with the same patterns. A
link goes into a message a customer clicks: anything but a plain web address (`javascript:`, a
path without a host, text with spaces) is refused, never repaired.
"""

from __future__ import annotations

# http or https (lower-case scheme), a host name, an optional port, then an optional path, query
# or fragment of printable ASCII without spaces (a non-ASCII character is percent-encoded).
VALID_URL = r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$"
# An ISO 4217 alphabetic code: three letters, upper-cased at ingest (`eur` reads as EUR).
VALID_CURRENCY = r"^[A-Z]{3}$"
