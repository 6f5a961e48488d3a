"""SMS through Twilio: a text to an E.164 number, with its own consent, suppressions and quiet hours."""

from __future__ import annotations

from reengage.channels.definition import Channel, Consent, RendererLimits, Suppressions
from reengage.phones import VALID_NUMBER

# A body may take at most this many segments (3 GSM-7 segments are 459 characters, 3 UCS-2 ones 201):
# every segment is billed as one text, and a longer message reads as spam on a phone.
MAX_SEGMENTS = 3
# Twilio refuses a longer Body (error 21617); binding only if MAX_SEGMENTS is raised past 10.
MAX_BODY_CHARACTERS = 1600

SMS = Channel(
    name="sms",
    contact_column="phone",
    contact_label="phone",
    contact_pattern=VALID_NUMBER,
    consent=Consent(
        status_column="sms_consent_status",
        crm_column="sms_consent",
        crm_updated_column="sms_consent_updated_at",
    ),
    suppressions=Suppressions(
        table="marts.fct_sms_suppressions",
        contact_column="phone",
        reason_column="suppression_reason",
        first_suppressed_column="first_suppressed_at",
    ),
    limits=RendererLimits(
        template_kinds=("jinja",),
        needs_subject=False,
        max_body_characters=MAX_BODY_CHARACTERS,
        max_segments=MAX_SEGMENTS,
        formats=("text",),
    ),
    sender="twilio",
    provider_events_source="sms_events",
    # Local hours [8:00, 21:00): texts wake people, so they keep narrower hours than the mail window
    # would allow at its end.
    quiet_hours=(8, 21),
    # Twilio reports delivery and failure, and STOP replies (the text's unsubscribe); a text has no
    # open or click to report, and carriers pass no spam reports back.
    reports_opens_and_clicks=False,
    reports_spam=False,
    label="SMS",
    message_label="texts",
)
