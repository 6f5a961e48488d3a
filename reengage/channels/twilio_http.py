"""The official `twilio` client's HTTP client, aimed at another base URL (the local Twilio sink).

The client builds absolute `https://api.twilio.com/...` URLs (and, with TWILIO_EDGE or
TWILIO_REGION set, `api.<edge>.<region>.twilio.com`); its documented extension point is the
`http_client` it is given. This one keeps the scheme and host of `base_url` and the rest of every
URL (path and query), so list paging (`next_page_uri`) follows too:

    Client(account_sid, secret, http_client=BaseUrlHttpClient(sink_url, timeout=10))

It also keeps the client's request log quiet: the library logs every query string at INFO, and a
list filtered by `To` carries a phone number. The headers of the last answer stay readable
(`last_headers`): the client's exceptions drop them, and a 429's `Retry-After` is among them. Use one
client per thread, as the SMS sender does, so that the last answer is the caller's own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

_quiet = logging.getLogger("reengage.twilio_http")
_quiet.setLevel(logging.WARNING)


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends each request to `base_url`'s scheme and host, keeping its path and query."""

    def __init__(self, base_url: str, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout, logger=_quiet)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an absolute http(s) URL")
        self.scheme, self.netloc = parts.scheme, parts.netloc
        self.last_headers: Mapping[str, str] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        aimed = urlunsplit((self.scheme, self.netloc, parts.path, parts.query, parts.fragment))
        self.last_headers = {}
        response = super().request(method, aimed, *args, **kwargs)
        self.last_headers = response.headers or {}
        return response
