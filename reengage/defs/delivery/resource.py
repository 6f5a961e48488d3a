"""`SendGridResource`: how Dagster assets reach SendGrid, or a local sink when one is named.

The resource is configuration plus two verbs, `client()` and `deliver()`; the
exactly-once logic lives in `sender.py` (and the modules it names) so it can be tested
without Dagster.
The API key is never part of the repr, and should be given as
`dg.EnvVar("SENDGRID_API_KEY")` so Dagster's UI shows the variable name, not the key.

By default mail goes to the real SendGrid API and needs a key. A local SendGrid-compatible
sink (the development package's) is used only when `local_sink_url` or REENGAGE_LOCAL_SINK_URL
names it: without a key and without that setting, delivery stops before any request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field
from sendgrid import SendGridAPIClient

from reengage import settings
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.payloads import OutboundMessage, PayloadOptions
from reengage.defs.delivery.sender import DeliveryReport, RetryPolicy, deliver, make_client
from reengage.defs.delivery.windows import MAX_CANCEL_PLACES

API_KEY_ENV_VAR = settings.SENDGRID_API_KEY
# A local sink accepts any non-empty key; this one makes it obvious in a packet dump.
LOCAL_PLACEHOLDER_KEY = "local-sink-placeholder-key"


class SendGridResource(dg.ConfigurableResource):
    """Sends the pipeline's mail through SendGrid's v3 API (or a local sink named by its URL)."""

    api_key: str = Field(
        default="",
        repr=False,
        description=f"SendGrid API key; empty means ${API_KEY_ENV_VAR}, or a placeholder for a local sink.",
    )
    host: str = Field(default=settings.SENDGRID_API, description="The SendGrid API's base URL.")
    local_sink_url: str = Field(
        default="",
        description=f"A local SendGrid-compatible sink's base URL (also ${settings.LOCAL_SINK_URL}); "
        "when set, mail goes there instead of the host, and no key is needed.",
    )
    from_email: str = Field(default="reengage@example.com", description="Verified sender address.")
    from_name: str | None = Field(default="Re-engagement", description="Sender display name.")
    sandbox_mode: bool = Field(default=False, description="Validate only; SendGrid delivers nothing.")
    asm_group_id: int | None = Field(default=None, description="Unsubscribe group id, if used.")
    batch_size: int = Field(default=1000, ge=1, le=1000, description="Personalizations per request.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request HTTP timeout.")
    max_retries: int = Field(
        default=5,
        ge=0,
        description="Refused connections in a row before the run stops (429, 5xx and timeouts are "
        "retried until the message's send window closes).",
    )
    concurrency: int = Field(
        default=1, ge=1, le=16, description="Requests in flight at once (each with its own batch id)."
    )
    min_lead_seconds: int = Field(
        default=1800,
        ge=0,
        description="Schedule each message at least this far ahead so an ambiguous send can be cancelled.",
    )
    max_delay_seconds: int = Field(
        default=6 * 3600,
        gt=0,
        description="How late after its planned send time a message may still go out; after that it is "
        "expired with the reason.",
    )
    cancel_places: int = Field(
        default=MAX_CANCEL_PLACES,
        ge=1,
        le=MAX_CANCEL_PLACES,
        description="How many of the account's ten cancel/pause places delivery may use (fewer if "
        "something else on the account cancels batches).",
    )

    def base_url(self) -> str:
        """Where requests go: the named local sink, else the host."""
        return (self._local_sink() or self.host).rstrip("/")

    def _local_sink(self) -> str:
        return self.local_sink_url or settings.local_sink_url()

    def _resolved_key(self) -> str:
        key = self.api_key or settings.sendgrid_api_key()
        if key:
            return key
        if self._local_sink():
            return LOCAL_PLACEHOLDER_KEY
        # One line, before the ledger or the network is touched: production never falls back to a sink.
        raise dg.DagsterInvariantViolationError(
            f"SendGridResource: no SendGrid API key for {self.host}; set {API_KEY_ENV_VAR} "
            f"(or api_key with dg.EnvVar), or set {settings.LOCAL_SINK_URL} to a local sink's URL."
        )

    def check_configured(self) -> None:
        """Raise the one-line error `client()` would, without building a client."""
        self._resolved_key()

    def client(self) -> SendGridAPIClient:
        """The official sendgrid client, configured for this resource's host and key."""
        return make_client(self._resolved_key(), self.base_url())

    def payload_options(self) -> PayloadOptions:
        return PayloadOptions(
            from_email=self.from_email,
            from_name=self.from_name,
            asm_group_id=self.asm_group_id,
            sandbox_mode=self.sandbox_mode,
        )

    def deliver(
        self,
        ledger_path: str | Path,
        messages: Iterable[OutboundMessage],
        *,
        run_date: str | date | None = None,
        run_id: str | None = None,
    ) -> DeliveryReport:
        """Send the messages exactly once via the ledger at `ledger_path`; see `sender.deliver`."""
        client = self.client()  # a missing key or sink stops here, before the ledger is opened
        return deliver(
            SendLedger(ledger_path),
            messages,
            client,
            options=self.payload_options(),
            run_date=run_date,
            policy=RetryPolicy(max_retries=self.max_retries, timeout_seconds=self.timeout_seconds),
            batch_size=self.batch_size,
            min_lead_seconds=self.min_lead_seconds,
            max_delay_seconds=self.max_delay_seconds,
            cancel_places=self.cancel_places,
            concurrency=self.concurrency,
            run_id=run_id,
        )


def sendgrid_from_environment() -> SendGridResource:
    """The resource as the code location configures it: key, host and local sink from the environment.

    The key is a `dg.EnvVar` (the UI shows the variable's name, never its value). Without
    one, delivery needs REENGAGE_LOCAL_SINK_URL and sends there with a placeholder key.
    """
    return SendGridResource(
        api_key=dg.EnvVar(API_KEY_ENV_VAR) if settings.sendgrid_api_key() else "",
        host=settings.sendgrid_host(),
        local_sink_url=settings.local_sink_url(),
    )
