"""Email through SendGrid: the channel every part of the pipeline was first built for."""

from __future__ import annotations

from reengage.channels.definition import Channel, Consent, RendererLimits, Suppressions
from reengage.emails import VALID_ADDRESS

EMAIL = Channel(
    name="email",
    contact_column="email",
    contact_label="email",
    contact_pattern=VALID_ADDRESS,
    consent=Consent(
        status_column="consent_status",
        crm_column="marketing_consent",
        crm_updated_column="consent_updated_at",
    ),
    suppressions=Suppressions(
        table="marts.fct_email_suppressions",
        contact_column="email",
        reason_column="suppression_reason",
        first_suppressed_column="first_suppressed_at",
    ),
    limits=RendererLimits(template_kinds=("sendgrid", "jinja"), needs_subject=True),
    sender="sendgrid",
    provider_events_source="email_events",
    quiet_hours=None,  # the policy's send window, as before channels
    label="Email",
    message_label="emails",
)
