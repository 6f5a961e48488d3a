"""Channels as a seam: each channel (email today) says how a person is reached on it.

`definition.py` is what a channel is (contact column, consent, suppressions, renderer limits,
sender, quiet hours), `email.py` the email channel, `registry.py` the channels campaign
files may name. Everything that once assumed email (the policy, the intervention list, the
ledger, delivery, measurement) asks a channel instead.
"""

from reengage.channels.definition import Channel, Consent, RendererLimits, Suppressions
from reengage.channels.email import EMAIL
from reengage.channels.registry import CHANNELS, NOT_AVAILABLE, UnknownChannel, channel, refusal

__all__ = [
    "CHANNELS",
    "EMAIL",
    "NOT_AVAILABLE",
    "Channel",
    "Consent",
    "RendererLimits",
    "Suppressions",
    "UnknownChannel",
    "channel",
    "refusal",
]
