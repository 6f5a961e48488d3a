"""The channels a campaign may name, and the ones the product is designed for but cannot send yet."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from reengage.channels.definition import Channel
from reengage.channels.email import EMAIL

CHANNELS: Mapping[str, Channel] = MappingProxyType({EMAIL.name: EMAIL})

# Named so a campaign file asking for one gets a clear refusal rather than "unknown channel".
NOT_AVAILABLE: Mapping[str, str] = MappingProxyType(
    {"sms": "SMS through Twilio is not available yet (no sender, consent or suppressions for it)"}
)


class UnknownChannel(KeyError):
    """A channel name the registry does not hold."""


def channel(name: str, channels: Mapping[str, Channel] = CHANNELS) -> Channel:
    try:
        return channels[name]
    except KeyError:
        raise UnknownChannel(f"no channel {name!r} (available: {', '.join(sorted(channels))})") from None


def refusal(name: str, channels: Mapping[str, Channel] = CHANNELS) -> str | None:
    """Why a campaign may not name `name`, or None when it may."""
    if name in channels:
        return None
    available = ", ".join(sorted(channels))
    if name in NOT_AVAILABLE:
        return f"channel '{name}' is not available: {NOT_AVAILABLE[name]} (available: {available})"
    return f"'{name}' is not a channel (available: {available}; designed, not yet available: " + (
        ", ".join(sorted(NOT_AVAILABLE)) + ")"
    )
