"""The `intervention_list` asset: one partition per run date, readable metadata, no personal data."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from reengage import settings
from reengage.defs.interventions.assets import intervention_list, preview
from reengage.defs.interventions.campaigns import load_campaigns
from reengage.defs.interventions.policy import PolicyConfig, run_policy
from reengage.defs.warehouse.assets import model_key
from reengage.warehouse import WarehouseResource

from .conftest import (
    user,
    write_context_marts,
    write_features,
    write_responses,
    write_sms_suppressions,
    write_suppressions,
)

PARTITION = "2025-03-10"


@pytest.fixture
def warehouse(tmp_path: Path) -> WarehouseResource:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    write_suppressions(con, [("suppressed@example.com", "bounce")])
    write_sms_suppressions(con)  # the shipped campaigns text too: dbt builds both suppression marts
    write_responses(con)
    write_features(
        con,
        [
            user("cart", cart_abandoned=True, email="secret.cart@example.com"),
            user("new", is_new_user=True, first_name="Noor", timezone="Europe/Berlin"),
            user("dormant", dormancy_stage="dormant", segment="dormant", tenure_days=100),
            user("vip", is_at_risk=True, is_high_value=True, lifetime_value=900.0, cart_abandoned=True),
            user("suppressed", cart_abandoned=True),
            user("browse", browse_abandoned=True, marketing_consent=False),
            # the newest CRM row was refused at ingest (int_customer_consent)
            user("unsure", cart_abandoned=True, consent_status="unverified"),
        ],
        as_of=date.fromisoformat(PARTITION),
    )
    # The carts the cart reminder shows (an empty one would skip it)
    write_context_marts(con, date.fromisoformat(PARTITION), carts={"cart": 2, "vip": 1, "suppressed": 1})
    con.close()
    return WarehouseResource(path=str(path))


def materialize(warehouse: WarehouseResource, **config: object) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [intervention_list],
        partition_key=PARTITION,
        resources={"warehouse": warehouse},
        run_config={"ops": {"intervention_list": {"config": config}}} if config else None,
        raise_on_error=False,
    )


def test_the_asset_writes_the_days_list_with_the_shipped_campaigns(warehouse: WarehouseResource) -> None:
    result = materialize(warehouse, global_holdout_share=0.0)
    assert result.success
    metadata = result.asset_materializations_for_node("intervention_list")[0].metadata
    with duckdb.connect(warehouse.path) as con:
        listed = dict(
            con.execute("select customer_id, campaign_id from interventions.intervention_list").fetchall()
        )
        counts = preview(con, date.fromisoformat(PARTITION))
    assert listed == {
        "cart": "cart_abandonment",
        "new": "welcome_onboarding",
        "dormant": "dormant_win_back",
        "vip": "at_risk_concierge",  # outranks its own abandoned cart
    }
    assert metadata["dagster/row_count"].value == 4
    assert metadata["candidates"].value == int(counts["n"].sum()) == 8
    table = metadata["decisions"].value
    assert "| cart_abandonment |" in table and "suppressed" in table and "lower_priority" in table
    assert metadata["suppressed_by_reason"].value == {"bounce": 1, "no_consent": 1, "unverified_profile": 1}
    # Guards consent failing safe: the run says how many customers it held back as unverified.
    assert metadata["unverified_profiles"].value == 1
    change = metadata["change_since_previous_day"].value
    assert "| cart_abandonment | campaign_holdout | 1 | 0 | +1 |" in change
    assert "| (all campaigns) | chosen | 3 | 0 | +3 |" in change
    assert "no stored decisions for 2025-03-09" in change


def test_the_asset_shows_the_change_since_the_stored_day_before(warehouse: WarehouseResource) -> None:
    with duckdb.connect(warehouse.path) as con:  # the stored run of the 10th, without Dagster
        run_policy(
            con,
            date(2025, 3, 10),
            load_campaigns(settings.campaigns_dir()),
            PolicyConfig(global_holdout_share=0.0),
        )
        # The same people, as the features mart describes them on the 11th.
        con.execute("update marts.fct_user_features set as_of_date = date '2025-03-11'")
    result = dg.materialize(
        [intervention_list],
        partition_key="2025-03-11",
        resources={"warehouse": warehouse},
        run_config={"ops": {"intervention_list": {"config": {"global_holdout_share": 0.0}}}},
    )
    change = (
        result.asset_materializations_for_node("intervention_list")[0]
        .metadata["change_since_previous_day"]
        .value
    )
    # Nothing was delivered on the 10th, so the treated users are chosen again on the 11th; the
    # held-out cart user counts as if sent, so the cart campaign's cooldown now holds them back.
    assert "2025-03-10 (stored run)" in change
    assert "| (all campaigns) | chosen | 3 | 3 | 0 |" in change
    assert "| cart_abandonment | campaign_holdout | 0 | 1 | -1 |" in change
    assert "| cart_abandonment | cooldown | 1 | 0 | +1 |" in change


def test_no_email_address_or_message_body_reaches_dagster_metadata(warehouse: WarehouseResource) -> None:
    result = materialize(warehouse)
    assert result.success
    metadata = result.asset_materializations_for_node("intervention_list")[0].metadata
    text = json.dumps({k: str(v.value) for k, v in metadata.items()})
    assert "@" not in text and "secret" not in text and "<p>" not in text


def test_rerunning_a_partition_gives_the_same_list(warehouse: WarehouseResource) -> None:
    assert materialize(warehouse).success
    with duckdb.connect(warehouse.path) as con:
        first = con.execute(
            "select send_id, variant, arm from interventions.intervention_list order by 1"
        ).fetchall()
    assert materialize(warehouse).success
    with duckdb.connect(warehouse.path) as con:
        second = con.execute(
            "select send_id, variant, arm from interventions.intervention_list order by 1"
        ).fetchall()
    assert first == second and len(first) > 0


def test_an_invalid_campaign_file_fails_the_run_before_anything_is_written(
    warehouse: WarehouseResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "campaigns"
    shutil.copytree(settings.EXAMPLE_CAMPAIGNS_DIR, folder)
    bad = folder / "cart_abandonment.yaml"
    bad.write_text(bad.read_text().replace("holdout_share: 0.1", "holdout_share: 10%"))
    monkeypatch.setenv("REENGAGE_CAMPAIGNS", str(folder))
    result = materialize(warehouse)
    assert not result.success
    failure = result.failure_data_for_node("intervention_list")
    assert failure is not None
    line = next(
        i for i, text in enumerate(bad.read_text().splitlines(), 1) if text.startswith("holdout_share")
    )
    assert f"cart_abandonment.yaml:{line}: holdout_share" in failure.user_failure_data.description
    with duckdb.connect(warehouse.path) as con:
        assert con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'interventions'"
        ).fetchone() == (0,)


def test_the_asset_is_partitioned_grouped_and_described() -> None:
    spec = intervention_list.specs_by_key[dg.AssetKey(["intervention_list"])]
    assert spec.group_name == "interventions"
    assert set(spec.kinds) == {"duckdb", "python"}
    assert intervention_list.partitions_def is not None
    assert spec.description and "\n" not in spec.description
    assert {d.asset_key for d in spec.deps} == {
        model_key("fct_user_features"),
        model_key("fct_email_suppressions"),
        # the pause after a response reads it: built by dbt before every policy run, never assumed
        model_key("fct_user_responses"),
        dg.AssetKey(["churn_scores"]),
        # uplift targeting ranks by the day's predictions: computed before the policy reads them
        dg.AssetKey(["uplift_scores"]),
        dg.AssetKey(["preferred_send_hours"]),
    }
