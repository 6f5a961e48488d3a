"""Channels as a seam: each channel (email, sms) says how a person is reached on it.

`definition.py` is what a channel is (contact column, consent, suppressions, renderer limits,
sender, quiet hours), `email.py` the email channel, `sms.py` the SMS channel, `registry.py` the
channels campaign files may name. Everything that once assumed email (the policy, the intervention list, the
ledger, delivery, measurement) asks a channel instead.
"""

from reengage.channels.definition import Channel, Consent, RendererLimits, Suppressions
from reengage.channels.email import EMAIL
from reengage.channels.registry import CHANNELS, NOT_AVAILABLE, UnknownChannel, channel, refusal
from reengage.channels.sms import SMS

__all__ = [
    "CHANNELS",
    "EMAIL",
    "NOT_AVAILABLE",
    "Channel",
    "Consent",
    "SMS",
    "RendererLimits",
    "Suppressions",
    "UnknownChannel",
    "channel",
    "refusal",
]
