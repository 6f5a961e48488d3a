"""What a channel is: how a person is reached, whether they may be, and what may be sent to them.

A channel is data, not code paths: the policy, the intervention list, the ledger and measurement
read these fields instead of assuming email. Adding a channel is a module defining one `Channel`
and a line in `registry.py` (docs/architecture.md, "Channels: how a channel plugs in").
"""

from __future__ import annotations

from dataclasses import dataclass

from reengage.channels.sms_segments import segments


@dataclass(frozen=True)
class Consent:
    """Where a channel's consent lives: a status in the features mart, decided by dbt from the CRM.

    Only `granted_value` may be sent; `withdrawn_value` reads as a refusal, anything else as an
    unverified profile (consent in doubt is never consent). `crm_column` and `crm_updated_column`
    are the CRM contract's consent flag and the time it last changed, from which dbt decides the
    status.
    """

    status_column: str
    crm_column: str
    crm_updated_column: str
    granted_value: str = "granted"
    withdrawn_value: str = "withdrawn"


@dataclass(frozen=True)
class Suppressions:
    """The channel's suppression list: a dbt mart with one row per suppressed contact and its first reason.

    Built from the channel's provider events (bounces, complaints, unsubscribes for email).
    """

    table: str
    contact_column: str
    reason_column: str
    first_suppressed_column: str


@dataclass(frozen=True)
class RendererLimits:
    """What a message on the channel may hold: the template kinds it can send and its size rules."""

    template_kinds: tuple[str, ...]  # "sendgrid" (a provider-side template), "jinja" (rendered here)
    needs_subject: bool
    max_body_characters: int | None = None  # None: no limit of the channel's own
    # The most SMS segments a body may take (counted as Twilio counts them, sms_segments.py); None: none.
    max_segments: int | None = None
    # The body formats a Jinja template may have ("html" is escaped for markup, "text" is not).
    formats: tuple[str, ...] = ("html", "text")

    def too_long(self, body: str, max_segments: int | None = None) -> str | None:
        """Why a rendered body is over the channel's limits (`too_long:<n>_segments`,
        `too_long:<n>_characters`), or None. A long text is refused, never cut: a cut offer misleads.

        `max_segments` is a campaign's own segment limit; it applies only where segments are counted.
        """
        if self.max_segments is not None:
            count = segments(body)
            if count > (max_segments or self.max_segments):
                return f"too_long:{count}_segments"
        if self.max_body_characters is not None and len(body) > self.max_body_characters:
            return f"too_long:{len(body)}_characters"
        return None


@dataclass(frozen=True)
class Channel:
    """One way of reaching a person, everything the pipeline needs to know about it in one place."""

    name: str  # as campaign files, decisions, the list, the ledger and measurement spell it
    contact_column: str  # the column of marts.fct_user_features holding the contact key
    contact_label: str  # what a missing or broken contact is called in a reason: missing_<label>
    contact_pattern: str  # a regular expression every usable contact key matches in full
    consent: Consent
    suppressions: Suppressions
    limits: RendererLimits
    sender: str  # the kind of resource that sends it (kinds={...} of the delivery asset)
    provider_events_source: str  # the ingest source of the provider's event export
    # Local hours [start, end) a message may go out; None: the policy's send window (PolicyConfig).
    quiet_hours: tuple[int, int] | None = None
    # Whether the provider's events say a message was opened or clicked, or reported as spam: where
    # they cannot (a text), measurement leaves those outcomes null, never zero.
    reports_opens_and_clicks: bool = True
    reports_spam: bool = True
    # What a person reads for the channel, and for its messages (the report's per-channel section).
    label: str = ""
    message_label: str = "messages"

    def contact_key_sql(self, column: str) -> str:
        """SQL of the key a contact is matched on (suppressions, provider events), null when blank."""
        return f"nullif(lower(trim({column})), '')"
