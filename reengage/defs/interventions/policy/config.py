"""Run-time knobs of the policy, and the error it raises rather than decide on unsafe ground."""

from __future__ import annotations

from collections.abc import Collection

import dagster as dg
import duckdb
from pydantic import Field

from reengage.channels import CHANNELS
from reengage.defs.interventions.scheduling import SendWindow


class PolicyError(RuntimeError):
    """The inputs cannot be decided on safely (missing table or column, duplicate customers)."""


class PolicyConfig(dg.Config):
    """Run-time knobs of the policy, defaults as in docs/meanings.md (descriptions show in the launchpad)."""

    salt: str = Field(
        "reengage-v1",
        description="Hash salt for holdouts and variants; changing it reshuffles every assignment.",
    )
    global_holdout_share: float = Field(
        0.05, description="Share of all users who never receive any campaign."
    )
    max_per_day: int = Field(
        1, description="Messages a user may receive on one local day, on all channels together."
    )
    max_per_week: int = Field(
        3,
        description="Messages a user may receive in the rolling 7 local days ending D, all channels "
        "together.",
    )
    channel_max_per_day: dict[str, int] = Field(
        default_factory=dict,
        description="Per channel (e.g. {'email': 1}): messages on it a user may receive on one local day, "
        "within the overall cap. A channel not named has only the overall cap.",
    )
    channel_max_per_week: dict[str, int] = Field(
        default_factory=dict,
        description="Per channel: messages on it a user may receive in the rolling 7 local days ending D.",
    )
    channel_cooldown_days: dict[str, int] = Field(
        default_factory=dict,
        description="Per channel: days after a message on it before the user gets another on it "
        "(from any campaign); a campaign's own cooldown counts its messages on every channel.",
    )
    default_local_hour: int = Field(10, description="Local send hour when the user has no preferred hour.")
    send_window_start_hour: int = Field(8, description="First local hour messages may go out.")
    send_window_end_hour: int = Field(
        20, description="Local hour from which no message goes out (exclusive)."
    )
    default_timezone: str = Field(
        "UTC", description="IANA zone for users with a missing or unknown timezone."
    )
    response_pause_days: int = Field(
        7,
        description="UTC days, D included, in which a response to a campaign's message "
        "(marts.fct_user_responses) holds the user out of every campaign; 0 turns the pause off.",
    )

    def window(self) -> SendWindow:
        return SendWindow(self.send_window_start_hour, self.send_window_end_hour, self.default_local_hour)

    def check(self, con: duckdb.DuckDBPyConnection, channels: Collection[str] = tuple(CHANNELS)) -> None:
        """Reject nonsense before it turns into a silent mass send or a mass skip.

        `channels`: the channel names a per-channel setting may name (a misspelt one would cap nobody).
        """
        for setting in ("channel_max_per_day", "channel_max_per_week", "channel_cooldown_days"):
            unknown = sorted(set(getattr(self, setting)) - set(channels))
            if unknown:
                raise PolicyError(
                    f"{setting} names {', '.join(unknown)}, not a channel "
                    f"(channels: {', '.join(sorted(channels))})"
                )
        try:
            self.window()
        except ValueError as error:
            raise PolicyError(str(error)) from error
        if not 0 <= self.global_holdout_share < 1:
            raise PolicyError(f"global_holdout_share must be in [0, 1), got {self.global_holdout_share}")
        per_channel = [*self.channel_max_per_day.values(), *self.channel_max_per_week.values(),
                       *self.channel_cooldown_days.values()]  # fmt: skip
        if min([self.max_per_day, self.max_per_week, self.response_pause_days, *per_channel]) < 0:
            raise PolicyError("caps, cooldowns and pause days must not be negative")
        known = con.execute(
            "select count(*) from pg_timezone_names() where name = ?", [self.default_timezone]
        )
        if known.fetchone() != (1,):
            raise PolicyError(f"default_timezone {self.default_timezone!r} is not an IANA timezone name")
