"""What the policy writes: every value lands in the column of its name, whatever order the table keeps."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb

from reengage.defs.interventions.policy import PolicyConfig, run_policy

from .conftest import make_campaign, user, write_features, write_responses, write_suppressions

D = date(2025, 3, 10)
NOW = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)

# The policy's two tables as a warehouse may hold them with the columns in another order: every swap
# pairs two columns of one type, so a positional insert would put values in the wrong column silently.
REORDERED_DECISIONS = """
create table interventions.decisions (
    run_date date, campaign_id varchar, customer_id varchar, reason varchar, outcome varchar,
    priority integer, churn_probability double
)"""
# (Migrations 5 and 8 rebuild a decisions table this old in the declared order; the list already has
# the channel columns, so it keeps its order.)
REORDERED_LIST = """
create table interventions.intervention_list (
    send_id varchar, run_date date, campaign_id varchar, customer_id varchar, first_name varchar,
    contact varchar, channel varchar, timezone varchar, arm varchar, variant varchar, template_id varchar,
    body varchar,
    subject varchar, template_data varchar, scheduled_send_at_utc timestamptz,
    scheduled_send_at_local varchar, priority integer, churn_probability double
)"""


def decide_a_day(con: duckdb.DuckDBPyConnection) -> None:
    write_suppressions(con)
    write_responses(con)
    write_features(
        con, [user(f"u{i}", first_name=f"Name{i}", timezone="Europe/Berlin") for i in range(40)], as_of=D
    )
    campaigns = [make_campaign("a", 10, holdout_share=0.3), make_campaign("b", 20)]
    run_policy(con, D, campaigns, PolicyConfig(global_holdout_share=0.1), NOW)


def stored(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[tuple]:
    return con.execute(f"select {', '.join(columns)} from {table} order by all").fetchall()


def test_a_table_with_its_columns_in_another_order_gets_every_value_in_the_column_of_its_name() -> None:
    # Guards the positional insert the policy used to write with: a table built with another column
    # order (an earlier version, a hand-made table) got customer ids in campaign_id, addresses in
    # first_name and bodies in subject, without any error.
    expected_con, reordered_con = duckdb.connect(), duckdb.connect()
    decide_a_day(expected_con)
    reordered_con.execute("create schema interventions")
    reordered_con.execute(REORDERED_DECISIONS)
    reordered_con.execute(REORDERED_LIST)
    decide_a_day(reordered_con)

    for table in ("interventions.decisions", "interventions.intervention_list"):
        # Every column of the table the policy creates itself, read by name from both warehouses.
        columns = [name for name, *_ in expected_con.execute(f"describe {table}").fetchall()]
        assert sorted(columns) == sorted(
            name for name, *_ in reordered_con.execute(f"describe {table}").fetchall()
        )
        assert stored(reordered_con, table, columns) == stored(expected_con, table, columns), table
    listed = reordered_con.execute(
        "select distinct campaign_id, arm, left(first_name, 4), split_part(contact, '@', 2), timezone"
        " from interventions.intervention_list order by all"
    ).fetchall()
    # Both arms and both columns of each swapped pair are present, so the comparison above had them all.
    assert listed == [
        ("a", "holdout", "Name", "example.com", "Europe/Berlin"),
        ("a", "treatment", "Name", "example.com", "Europe/Berlin"),
    ]


def send_times(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        "decisions": con.execute(
            "select customer_id, campaign_id, scheduled_send_at_utc from interventions.decisions "
            "where scheduled_send_at_utc is not null order by all"
        ).fetchall(),
        "list": con.execute(
            "select send_id, scheduled_send_at_utc, scheduled_send_at_local "
            "from interventions.intervention_list order by all"
        ).fetchall(),
    }


def test_a_rerun_of_the_day_keeps_the_send_times_its_first_run_decided() -> None:
    # Guards the send time of a rerun: once the preferred hour had passed, it became the rerun's
    # "now", so a message the provider already had moved in the list and in the decisions, and
    # its outcome was counted from a clock it was never sent at.
    con = duckdb.connect()
    write_suppressions(con)
    write_responses(con)
    write_features(
        con, [user(f"u{i}", timezone="Europe/Berlin", preferred_local_hour=9) for i in range(40)], as_of=D
    )
    campaigns = [make_campaign("a", 10, holdout_share=0.3)]
    first_now = datetime(2025, 3, 10, 12, 1, 30, tzinfo=UTC)  # 13:01 in Berlin, after the 09:00 hour
    run_policy(con, D, campaigns, PolicyConfig(global_holdout_share=0.1), first_now)
    first = send_times(con)
    later = datetime(2025, 3, 10, 12, 47, tzinfo=UTC)
    run_policy(con, D, campaigns, PolicyConfig(global_holdout_share=0.1), later)

    assert send_times(con) == first
    assert {at for _, at, _ in first["list"]} == {datetime(2025, 3, 10, 12, 2, tzinfo=UTC)}
    assert {local for *_, local in first["list"]} == {"2025-03-10T13:02:00+01:00[Europe/Berlin]"}
    assert len(first["list"]) > 10 and len(first["decisions"]) >= len(first["list"])
    # A day never decided before is scheduled from its own "now".
    con.execute("delete from interventions.decisions")
    run_policy(con, D, campaigns, PolicyConfig(global_holdout_share=0.1), later)
    assert {at for _, at, _ in send_times(con)["list"]} == {datetime(2025, 3, 10, 12, 47, tzinfo=UTC)}
