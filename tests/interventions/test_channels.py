"""Channels: each one names columns and tables the warehouse really has."""

from __future__ import annotations

import duckdb

from reengage.channels import CHANNELS, NOT_AVAILABLE, refusal
from reengage.defs.ingest.contracts import CONTRACTS
from reengage.defs.interventions.schema import FEATURE_COLUMNS
from reengage.defs.warehouse import manifest
from reengage.phones import VALID_NUMBER


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


def test_email_and_sms_may_be_named_and_an_unknown_channel_names_the_available_ones() -> None:
    # Guards the registry: sms was designed but refused as not available until its consent,
    # suppressions and renderer limits existed; a typo names what may be used instead.
    assert refusal("email") is None and refusal("sms") is None
    assert "sms" not in NOT_AVAILABLE
    assert refusal("fax") == "'fax' is not a channel (available: email, sms)"


def test_the_sms_channel_reads_phone_numbers_by_the_e164_rule_and_keys_them_as_written() -> None:
    # Guards one rule per contact: the policy's contact check and the suppressions' match key must
    # read an E.164 number as ingest and the Twilio sink do (reengage/phones.py).
    sms = CHANNELS["sms"]
    assert sms.contact_pattern == VALID_NUMBER
    assert (sms.contact_column, sms.consent.status_column, sms.suppressions.table) == (
        "phone",
        "sms_consent_status",
        "marts.fct_sms_suppressions",
    )
    assert sms.quiet_hours == (8, 21) and sms.sender == "twilio"
    with duckdb.connect() as con:
        key = con.execute("select " + sms.contact_key_sql("' +4915123456789 '")).fetchone()
    assert key == ("+4915123456789",)


def test_a_text_over_the_channels_segment_limit_is_too_long_with_its_count() -> None:
    # Guards texts that would be billed as many messages (and read as spam): a body over the SMS
    # channel's segments is refused with how many it would take, never cut; email has no such limit.
    sms = CHANNELS["sms"].limits
    assert sms.max_segments == 3
    assert sms.too_long("a" * 459) is None  # 3 GSM-7 segments of 153
    assert sms.too_long("a" * 460) == "too_long:4_segments"
    assert sms.too_long("é" * 200 + "€") is None  # GSM-7 still: é is in the basic table, € in the extension
    assert sms.too_long("✓" * 202) == "too_long:4_segments"  # UCS-2: 3 segments hold 201
    assert CHANNELS["email"].limits.too_long("a" * 100_000) is None
