"""Channels: each one names columns and tables the warehouse really has."""

from __future__ import annotations

from reengage.channels import CHANNELS, NOT_AVAILABLE, refusal
from reengage.defs.ingest.contracts import CONTRACTS
from reengage.defs.interventions.schema import FEATURE_COLUMNS
from reengage.defs.warehouse import manifest


def test_every_channel_reads_its_contact_and_consent_from_columns_the_features_contract_declares() -> None:
    # Guards a channel defined against a column the mart does not have: the policy would refuse
    # every run (or, worse, read a column of the same name meaning something else).
    for channel in CHANNELS.values():
        assert channel.contact_column in FEATURE_COLUMNS, channel.name
        assert channel.consent.status_column in FEATURE_COLUMNS, channel.name
        crm = {column.name for column in CONTRACTS["customers"].columns}
        assert {channel.consent.crm_column, channel.consent.crm_updated_column} <= crm, channel.name
        assert channel.provider_events_source in CONTRACTS, channel.name


def test_every_channel_reads_suppressions_from_a_mart_whose_contract_has_their_columns() -> None:
    # Guards the suppression list the policy fails closed on: a renamed column must stop the build
    # of the definition, not quietly suppress nobody.
    for channel in CHANNELS.values():
        model = channel.suppressions.table.split(".")[-1]
        columns = manifest.contract_columns(model)
        wanted = (
            channel.suppressions.contact_column,
            channel.suppressions.reason_column,
            channel.suppressions.first_suppressed_column,
        )
        assert set(wanted) <= set(columns), channel.name


def test_a_channel_not_built_yet_is_refused_as_not_available_and_an_unknown_one_names_the_available() -> None:
    # Guards the difference between a typo and a channel that is designed but not built yet.
    assert refusal("email") is None
    assert "sms" in NOT_AVAILABLE and "not available" in (refusal("sms") or "")
    assert "is not a channel (available: email" in (refusal("fax") or "")
