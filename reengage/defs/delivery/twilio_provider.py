"""The Twilio calls the SMS sender makes through the official client, each answer classified.

Three calls, all on Twilio's Messages resource through a Messaging Service:

* `create`: one text scheduled for `SendAt` (`ScheduleType=fixed`), with a `StatusCallback` URL
  carrying the send id when a callback URL is configured;
* `find`: the recipient's messages (`To` filter, every page) whose body is the text's, whose status
  is `scheduled` and that were created after the row was first claimed. Twilio returns neither
  `SendAt` nor `StatusCallback` on a message, so this is how an ambiguous create is settled;
* `cancel`: `Status=canceled` on a scheduled message.

Answers are the sender's `Outcome` kinds (outcomes.py). Twilio differs from SendGrid in one way
that matters: a 5xx may follow a create Twilio accepted, so every 5xx is `ambiguous` (settled by
`find`), never resent blindly. Reasons name Twilio's error code, never its message: Twilio quotes
the number in some of them.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.response import Response
from twilio.rest import Client

from reengage.channels.twilio_http import BaseUrlHttpClient
from reengage.defs.delivery.outcomes import Outcome, rate_limit_wait
from reengage.defs.delivery.provider import Provider, RetryPolicy

# Twilio's codes the sender names in a reason (the rest are named by number only).
KNOWN_CODES = {
    21211: "invalid 'To' number",
    21610: "the recipient replied STOP (unsubscribed)",
    21614: "'To' is not a mobile number",
    21617: "body too long",
    35114: "SendAt outside the scheduling window",
}
OPTED_OUT = 21610
CONFIG_STATUSES = frozenset({401, 403, 404, 405})
LIST_PAGE_SIZE = 1000


def make_twilio_client(username: str, secret: str, account_sid: str, base_url: str, timeout: float) -> Client:
    """The official client, sending to `base_url` (Twilio's API or a local sink) with a quiet request log."""
    return Client(username, secret, account_sid, http_client=BaseUrlHttpClient(base_url, timeout=timeout))


def callback_url(base: str, params: Mapping[str, str]) -> str:
    """The status callback URL of one text: `base` with `params` (its send id, campaign, variant
    and run date: `SmsMessage.callback_params`) added to its query. Twilio posts every status to
    this URL, so they come back in each callback, as an email's custom args do in its events."""
    parts = urlsplit(base)
    query = "&".join(q for q in (parts.query, urlencode(dict(params))) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def rejection_reason(status: int, code: int | None) -> str:
    """A refusal in words safe to keep: the status and Twilio's code, never Twilio's message."""
    known = KNOWN_CODES.get(code or 0)
    return f"HTTP {status}: Twilio error {code}" + (f" ({known})" if known else "")


@dataclass(frozen=True)
class Found:
    """What `find` saw: the outcome of the listing and, when it is ok, the matching SIDs, oldest first."""

    outcome: Outcome
    sids: tuple[str, ...] = ()


class TwilioProvider(Provider):
    """One SMS delivery's line to Twilio (or the sink): one client per thread, answers classified.

    `new_client` builds a client; each sending thread gets its own, so the last answer's headers
    (a 429's Retry-After) are that thread's. Backoff and `retrying` are the SendGrid provider's.
    """

    def __init__(
        self,
        new_client: Callable[[], Client],
        policy: RetryPolicy,
        *,
        messaging_service_sid: str,
        status_callback: str = "",
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rng: random.Random,
    ) -> None:
        super().__init__(None, policy, clock=clock, sleep=sleep, rng=rng)  # type: ignore[arg-type]
        self.new_client = new_client
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self._local = threading.local()

    def thread_client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self.new_client()
        return client

    def call(self, request: Callable[[], Any]) -> Outcome:
        """Make one call (on this thread's client) and classify it; its result is the outcome's body."""
        client = self.thread_client()
        try:
            return Outcome("ok", 200, "", request())
        except TwilioRestException as exc:
            return self._classify(exc, getattr(client.http_client, "last_headers", {}))
        except (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
            return Outcome("unreachable", None, f"transport error: {type(exc).__name__}")
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                return Outcome("unreachable", None, "transport error: connection refused")
            return Outcome("ambiguous", None, f"transport error: {type(exc).__name__}")
        except (requests.exceptions.RequestException, OSError) as exc:  # read timeouts, resets
            return Outcome("ambiguous", None, f"transport error: {type(exc).__name__}")
        except TwilioException as exc:
            # A list page that is not a 200 comes as TwilioException("Unable to fetch page", response).
            response = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Response) else None
            if response is not None:
                code = _error_code(response.text)
                return self._classify(
                    TwilioRestException(response.status_code, "", "", code), response.headers
                )
            return Outcome("ambiguous", None, f"unreadable answer: {type(exc).__name__}")

    def _classify(self, exc: TwilioRestException, headers: Any) -> Outcome:
        status = int(exc.status)
        reason = rejection_reason(status, exc.code)
        if status == 429:
            return Outcome("rate_limited", status, reason, wait=rate_limit_wait(headers, self.clock()))
        if status in CONFIG_STATUSES:
            return Outcome("config", status, reason)
        if status >= 500:  # Twilio may have created the message before failing: look it up
            return Outcome("ambiguous", status, reason)
        return Outcome("rejected", status, reason, errors=({"code": exc.code},))

    # -- the calls -----------------------------------------------------------

    def create(self, to: str, body: str, send_at: int, callback_params: Mapping[str, str]) -> Outcome:
        """Schedule one text for `send_at`; the outcome's body is the new message's SID.

        `callback_params` go into its status callback URL (`callback_url`)."""
        extra = (
            {"status_callback": callback_url(self.status_callback, callback_params)}
            if self.status_callback
            else {}
        )
        return self.call(
            lambda: (
                self.thread_client()
                .messages.create(
                    to=to,
                    body=body,
                    messaging_service_sid=self.messaging_service_sid,
                    send_at=datetime.fromtimestamp(send_at, tz=UTC),
                    schedule_type="fixed",
                    **extra,
                )
                .sid
            )
        )

    def find(self, to: str, body: str, created_after: float, *, until: float) -> Found:
        """The scheduled messages to `to` with this body created at or after `created_after`, oldest first;
        transient answers are retried while the next try would start before `until`."""
        outcome = self.retrying(
            "look up a text",
            lambda: [
                (m.date_created.timestamp(), m.sid)
                for m in self.thread_client().messages.stream(to=to, page_size=LIST_PAGE_SIZE)
                if m.status == "scheduled"
                and m.body == body
                and m.date_created is not None
                and m.date_created.timestamp() >= created_after
            ],
            until=until,
        )
        if outcome.kind != "ok":
            return Found(outcome)
        return Found(Outcome("ok", outcome.status, ""), tuple(sid for _, sid in sorted(outcome.body)))

    def cancel(self, sid: str, *, until: float) -> Outcome:
        """Cancel a scheduled message, through transient answers until `until` (Twilio refuses with
        30409 once it is no longer scheduled)."""
        return self.retrying(
            "cancel a text",
            lambda: self.thread_client().messages(sid).update(status="canceled").status,
            until=until,
        )


def _error_code(text: str) -> int | None:
    """Twilio's error code from an error body, if it has one."""
    try:
        code = json.loads(text).get("code")
    except (ValueError, AttributeError):
        return None
    return int(code) if isinstance(code, int) else None


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """A refused or unresolvable connection: the request never left, so it cannot have been accepted."""
    cause: Any = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    text = type(reason).__name__ + " " + str(reason)
    return "NewConnectionError" in text or "NameResolutionError" in text
