"""`TwilioResource`: how Dagster assets reach Twilio's Messages API for SMS, or a local sink when named.

Configuration plus two verbs, `client()` and `deliver()`; the exactly-once logic lives in
`sms_sender.py`. The account SID and its secret (auth token, or API key and secret) are read from
the environment only (reengage/settings.py), at the moment they are needed: they are never a
field of the resource, so neither Dagster's UI nor a repr can show them.

By default texts go to Twilio's API and need the credentials and a Messaging Service. A local
Twilio-compatible sink (the development package's) is used only when `local_sink_url` or
REENGAGE_TWILIO_LOCAL_SINK_URL names it: without credentials and without that setting, SMS
delivery stops with one line before the ledger or the network is touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field
from twilio.rest import Client

from reengage import settings
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.provider import RetryPolicy
from reengage.defs.delivery.report import DeliveryReport
from reengage.defs.delivery.sms_sender import SmsMessage, deliver_sms, new_provider
from reengage.defs.delivery.twilio_provider import make_twilio_client

# A local sink takes any account and secret; these make it obvious in a packet dump.
LOCAL_PLACEHOLDER_ACCOUNT = "AC" + "0" * 32
LOCAL_PLACEHOLDER_SECRET = "local-sink-placeholder-secret"
LOCAL_PLACEHOLDER_SERVICE = "MG" + "0" * 32


class TwilioResource(dg.ConfigurableResource):
    """Sends the pipeline's texts through Twilio's Messages API (or a local sink named by its URL)."""

    api_url: str = Field(default="https://api.twilio.com", description="Twilio's API base URL.")
    local_sink_url: str = Field(
        default="",
        description="A local Twilio-compatible sink's base URL (also $REENGAGE_TWILIO_LOCAL_SINK_URL); when "
        "set, texts go there instead, and no credentials are needed.",
    )
    messaging_service_sid: str = Field(
        default="", description="The Messaging Service (MG...) texts go through."
    )
    status_callback_url: str = Field(
        default="", description="Where Twilio posts statuses; each text's URL carries its send_id."
    )
    messages_per_second: float = Field(default=10.0, gt=0, description="Texts handed to Twilio per second.")
    seconds_between_texts_to_one_number: float = Field(
        default=1.0, ge=0, description="The least time between two texts to one number."
    )
    schedule_lead_seconds: int = Field(
        default=360,
        gt=330,
        description="Every text is scheduled at least this far ahead (Twilio needs more than 300 s), so an "
        "ambiguous send can be looked up while it is still scheduled.",
    )
    max_delay_seconds: int = Field(
        default=6 * 3600, gt=0, description="How late after its planned time a text may still go out."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request HTTP timeout.")
    max_retries: int = Field(
        default=5, ge=0, description="Refused connections in a row before the run stops."
    )
    concurrency: int = Field(default=4, ge=1, le=32, description="Texts in flight at once.")
    settle_delay_seconds: float = Field(
        default=30.0,
        ge=0,
        description="After an ambiguous answer, how long to wait before looking the text up (a request "
        "still on its way lands first).",
    )
    clock_skew_seconds: float = Field(
        default=30.0, ge=0, description="How far Twilio's clock may run behind ours, for the lookup."
    )

    def base_url(self) -> str:
        """Where requests go: the named local sink, else Twilio's API."""
        return (self._local_sink() or self.api_url).rstrip("/")

    def _local_sink(self) -> str:
        return self.local_sink_url or settings.twilio_local_sink_url()

    def _credentials(self) -> settings.TwilioCredentials:
        found = settings.twilio_credentials()
        if found is not None:
            return found
        if self._local_sink():
            return settings.TwilioCredentials(
                LOCAL_PLACEHOLDER_ACCOUNT, LOCAL_PLACEHOLDER_ACCOUNT, LOCAL_PLACEHOLDER_SECRET
            )
        # One line, before the ledger or the network is touched: production never falls back to a sink.
        raise dg.DagsterInvariantViolationError(
            f"TwilioResource: no Twilio credentials for {self.api_url}; set {settings.TWILIO_ACCOUNT_SID} "
            f"with {settings.TWILIO_AUTH_TOKEN} (or {settings.TWILIO_API_KEY} and "
            f"{settings.TWILIO_API_SECRET}), "
            "or set REENGAGE_TWILIO_LOCAL_SINK_URL to a local sink's URL."
        )

    def _service(self) -> str:
        service = self.messaging_service_sid or settings.twilio_messaging_service_sid()
        if service:
            return service
        if self._local_sink():
            return LOCAL_PLACEHOLDER_SERVICE
        raise dg.DagsterInvariantViolationError(
            "TwilioResource: no Messaging Service to send and schedule texts through; set "
            "REENGAGE_TWILIO_MESSAGING_SERVICE_SID (MG...)."
        )

    def check_configured(self) -> None:
        """Raise the one-line error `deliver()` would, without building a client."""
        self._credentials()
        self._service()

    def client(self) -> Client:
        """The official twilio client, for this resource's URL and the environment's credentials."""
        who = self._credentials()
        return make_twilio_client(
            who.username, who.secret, who.account_sid, self.base_url(), self.timeout_seconds
        )

    def deliver(
        self,
        ledger_path: str | Path,
        messages: Iterable[SmsMessage],
        *,
        run_date: str | date | None = None,
        run_id: str | None = None,
    ) -> DeliveryReport:
        """Send the texts exactly once via the ledger at `ledger_path`; see `sms_sender.deliver_sms`."""
        self.check_configured()  # missing credentials stop here, before the ledger is opened
        provider = new_provider(
            self.client,
            messaging_service_sid=self._service(),
            status_callback=self.status_callback_url,
            policy=RetryPolicy(max_retries=self.max_retries, timeout_seconds=self.timeout_seconds),
        )
        return deliver_sms(
            SendLedger(ledger_path),
            messages,
            provider,
            run_date=run_date,
            lead_seconds=self.schedule_lead_seconds,
            max_delay_seconds=self.max_delay_seconds,
            messages_per_second=self.messages_per_second,
            seconds_between_texts_to_one_number=self.seconds_between_texts_to_one_number,
            settle_delay_seconds=self.settle_delay_seconds,
            clock_skew_seconds=self.clock_skew_seconds,
            concurrency=self.concurrency,
            run_id=run_id,
        )


def twilio_from_environment() -> TwilioResource:
    """The resource as the code location configures it, every setting from reengage/settings.py."""
    return TwilioResource(
        api_url=settings.twilio_api_url(),
        local_sink_url=settings.twilio_local_sink_url(),
        messaging_service_sid=settings.twilio_messaging_service_sid(),
        status_callback_url=settings.twilio_status_callback_url(),
        messages_per_second=settings.sms_messages_per_second(),
        seconds_between_texts_to_one_number=settings.sms_seconds_between_texts_to_one_number(),
        schedule_lead_seconds=settings.sms_schedule_lead_seconds(),
    )
