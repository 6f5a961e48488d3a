"""What a user reads in the Dagster UI: every asset says what it is, who owns it, where it sits and what
it runs on, and every asset check says what it guarantees. Guards the rule so it cannot rot when an
asset, a dbt model or a dbt test is added without them."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from reengage.definitions import OWNERS_BY_GROUP, build_definitions, with_group_owner
from reengage.defs.warehouse.check_descriptions import describe_dbt_test

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture(scope="module")
def graph():
    return build_definitions().resolve_asset_graph()


def test_every_asset_has_a_description_owner_group_and_kinds(graph) -> None:
    problems = []
    for node in graph.asset_nodes:
        if not node.is_materializable:
            continue
        name = node.key.to_user_string()
        if not (node.description or "").strip():
            problems.append(f"{name}: no description")
        if node.group_name not in OWNERS_BY_GROUP:
            problems.append(f"{name}: group {node.group_name!r} has no owner in OWNERS_BY_GROUP")
        if not node.owners:
            problems.append(f"{name}: no owner")
        if not node.kinds:
            problems.append(f"{name}: no kinds")
    assert not problems, "\n".join(problems)


def test_owners_are_teams_and_descriptions_hold_no_address(graph) -> None:
    for node in graph.asset_nodes:
        for owner in node.owners:
            assert owner.startswith("team:"), f"{node.key.to_user_string()}: owner {owner!r} is not a team"
        assert not EMAIL.search(node.description or ""), f"{node.key.to_user_string()}: an address"


def test_every_asset_check_says_what_it_guarantees(graph) -> None:
    keys = list(graph.asset_check_keys)
    assert len(keys) > 50  # the suites, the breakers and the dbt data tests (not_null is a constraint)
    missing = [
        f"{key.asset_key.to_user_string()}:{key.name}"
        for key in keys
        if not (graph.get_check_spec(key).description or "").strip()
    ]
    assert not missing, f"checks without a description: {missing}"


def test_dbt_models_are_owned_by_analytics_and_the_incremental_state_sits_outside_the_business_lineage(
    graph,
) -> None:
    # Guards the wall between what an analyst edits and the incremental machinery: the bookkeeping
    # models used to sit in the `warehouse` group among the business models, in its lineage.
    dbt_nodes = [n for n in graph.asset_nodes if "dbt" in n.kinds]
    internals = {n.key.to_user_string() for n in dbt_nodes if n.group_name == "warehouse_internals"}
    assert internals == {
        "intermediate/int_identity_relinks",
        "intermediate/int_session_rebuilds",
        "intermediate/int_events_resessionized",
    }
    for node in dbt_nodes:
        assert node.group_name in ("warehouse", "warehouse_internals")
        assert list(node.owners) == [OWNERS_BY_GROUP["warehouse"]]


def test_a_group_owner_fills_in_but_never_replaces_an_assets_own_owner() -> None:
    assert with_group_owner(dg.AssetSpec("a", group_name="scoring")).owners == ["team:data-science"]
    own = dg.AssetSpec("b", group_name="scoring", owners=["team:platform"])
    assert with_group_owner(own).owners == ["team:platform"]
    assert with_group_owner(dg.AssetSpec("c", group_name="elsewhere")).owners == []


def test_generic_dbt_tests_are_described_from_their_arguments() -> None:
    not_null = {"test_metadata": {"name": "not_null", "kwargs": {"column_name": "customer_id"}}}
    assert describe_dbt_test(not_null).startswith("`customer_id` is never null.")
    assert "fails the dbt build" in describe_dbt_test(not_null)
    relationship = {
        "test_metadata": {
            "name": "relationships",
            "kwargs": {"column_name": "id", "to": "ref('stg_crm__customers')", "field": "customer_id"},
        },
        "config": {"severity": "warn"},
    }
    text = describe_dbt_test(relationship)
    assert text.startswith("Every `id` exists as `customer_id` in stg_crm__customers.")
    assert "a failure is a warning" in text


def test_a_written_description_or_a_singular_tests_opening_comment_is_used() -> None:
    written = {"description": "One row per customer.", "test_metadata": {"name": "unique"}}
    assert describe_dbt_test(written) == "One row per customer."
    singular = {"raw_code": "-- Sends must never repeat.\n-- A failure means a duplicate.\nselect 1"}
    assert describe_dbt_test(singular).startswith("Sends must never repeat. A failure means a duplicate.")
