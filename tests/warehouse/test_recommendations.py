"""fct_user_recommendations keeps its rules on real data: a small demo world, loaded by the real
ingest and built by the real dbt project, checked against the events and the catalog read
directly. The boundaries (ties, the fallback, each exclusion) are dbt unit tests in the models' YAML;
benchmarks/recommendations.py measures how good the recommendations are."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest.loader import load_day
from reengage_dev.demo import exports
from reengage_dev.demo.world import generate_world

from .conftest import run_dbt

RUN_DATE = date(2026, 3, 10)
DAYS = 40
LOOKBACK_DAYS = 90  # dbt_project.yml recommendations_lookback_days
PER_USER = 10  # dbt_project.yml recommendations_per_user
RULES_TEST = "assert_recommendations_are_buyable_new_and_ranked_from_1"


@dataclass(frozen=True)
class BuiltWorld:
    warehouse: Path
    work_dir: Path


@pytest.fixture(scope="module")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> BuiltWorld:
    home = tmp_path_factory.mktemp("recommendations_world")
    generate_world(home, customers=600, days=DAYS, end_date=RUN_DATE, seed=5)
    warehouse = home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for k in range(DAYS):
            for source in exports.SOURCES:
                load_day(con, str(home / "landing"), source, RUN_DATE - timedelta(days=DAYS - 1 - k))
    build = run_dbt(
        [
            "build",
            "--select",
            "+fct_user_recommendations",
            "--indirect-selection",
            "cautious",
            "--vars",
            json.dumps({"run_date": str(RUN_DATE)}),
        ],
        warehouse,
        home,
    )
    assert build.returncode == 0 and not build.not_passed(), build.explain()
    return BuiltWorld(warehouse, home)


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_no_customer_is_recommended_a_product_they_bought_in_the_look_back(built_world: BuiltWorld) -> None:
    # Read from the stitched events themselves, not from the model that feeds the exclusion.
    bought = set(
        _rows(
            built_world.warehouse,
            "select distinct customer_id, product_id from intermediate.int_events_stitched "
            "where event_kind = 'purchase' and customer_id is not null and product_id is not null "
            f"and event_date > date '{RUN_DATE}' - interval {LOOKBACK_DAYS} day",
        )
    )
    recommended = set(
        _rows(built_world.warehouse, "select customer_id, product_id from marts.fct_user_recommendations")
    )
    assert len(bought) > 100 and len(recommended) > 1000
    assert not recommended & bought
    # the exclusion is not empty by luck: customers who bought are recommended something
    assert {c for c, _ in bought} & {c for c, _ in recommended}


def test_every_recommended_product_is_in_the_catalog_and_in_stock_with_its_fields(
    built_world: BuiltWorld,
) -> None:
    rows = _rows(
        built_world.warehouse,
        "select r.product_id, p.in_stock, r.product_name = p.product_name and r.price = p.price "
        "and r.currency = p.currency and r.product_url = p.product_url "
        "and r.category is not distinct from p.category "
        "from marts.fct_user_recommendations as r "
        "left join staging.stg_catalog__products as p on r.product_id = p.product_id",
    )
    assert all(in_stock is True and same is True for _, in_stock, same in rows)
    out_of_stock = _rows(
        built_world.warehouse, "select count(*) from staging.stg_catalog__products where not in_stock"
    )
    assert out_of_stock[0][0] > 0  # the world has products out of stock that the rule keeps out


def test_each_customer_has_at_most_the_limit_ranked_densely_co_occurrence_first(
    built_world: BuiltWorld,
) -> None:
    by_customer: dict[str, list[tuple]] = defaultdict(list)
    for row in _rows(
        built_world.warehouse,
        "select customer_id, recommendation_rank, source, score, as_of_date "
        "from marts.fct_user_recommendations order by customer_id, recommendation_rank",
    ):
        by_customer[row[0]].append(row[1:])
    assert by_customer
    sources = set()
    for customer, rows in by_customer.items():
        ranks = [rank for rank, *_ in rows]
        assert ranks == list(range(1, len(rows) + 1)) and len(rows) <= PER_USER, customer
        order = [source for _, source, _, _ in rows]
        assert order == sorted(order, key=["co_occurrence", "popular_in_category"].index), customer
        for source in set(order):
            scores = [score for _, s, score, _ in rows if s == source]
            assert scores == sorted(scores, reverse=True), customer
        assert {as_of for *_, as_of in rows} == {RUN_DATE}
        sources.update(order)
    assert sources == {"co_occurrence", "popular_in_category"}
    # the fallback fills lists up to the limit: most customers with a history get the full ten
    full = sum(len(rows) == PER_USER for rows in by_customer.values())
    assert full > len(by_customer) / 2


def test_the_rules_data_test_fails_on_a_recommendation_of_a_purchase(
    built_world: BuiltWorld, tmp_path: Path
) -> None:
    # The singular test guards the daily build; prove it fails when a purchase slips into the mart.
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "update marts.fct_user_recommendations set product_id = ("
            "  select i.product_id from intermediate.int_customer_product_interactions as i"
            "  where i.customer_id = fct_user_recommendations.customer_id and i.is_bought limit 1) "
            "where recommendation_id = ("
            "  select min(r.recommendation_id) from marts.fct_user_recommendations as r"
            "  where exists (select 1 from intermediate.int_customer_product_interactions as i"
            "    where i.customer_id = r.customer_id and i.is_bought))"
        )
    vars_ = json.dumps({"run_date": str(RUN_DATE)})
    result = run_dbt(["test", "--select", RULES_TEST, "--vars", vars_], copy, tmp_path)
    assert result.statuses()[f"test.reengage.{RULES_TEST}"] == "fail", result.explain()
    clean = run_dbt(["test", "--select", RULES_TEST, "--vars", vars_], built_world.warehouse, tmp_path)
    assert clean.statuses()[f"test.reengage.{RULES_TEST}"] == "pass", clean.explain()
