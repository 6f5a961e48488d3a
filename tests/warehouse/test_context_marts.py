"""The context marts a message about the person reads, on the real build of the hand-written world
(raw_world.py, run date 2026-01-10): the catalog as it stood on D, the cart, recent views, social
proof and progress. The boundaries are dbt unit tests in each model's YAML."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import duckdb

from .conftest import BuiltWarehouse, run_dbt
from .raw_world import RUN_DATE


def test_the_catalog_is_each_products_latest_row_exported_by_the_end_of_the_run_date(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards a price changed after D showing in D's messages, and a daily snapshot's repeats
    # multiplying a product.
    products = built_warehouse.rows_by_key("staging.stg_catalog__products", key="product_id")
    assert set(products) == {"p1", "p2", "p3", "p4", "p9", "s0", "s1", "s2", "s3", "s4"}
    assert (products["p1"]["price"], products["p1"]["exported_on"]) == (24.5, date(2026, 1, 8))
    assert products["p2"]["exported_on"] == date(2026, 1, 9)
    assert products["p4"]["in_stock"] is False


def test_the_cart_holds_what_was_added_and_not_bought_since_with_its_catalog_fields(
    built_warehouse: BuiltWarehouse,
) -> None:
    # c_new added p1 anonymously before logging in (stitched); c_fan bought after adding s4 (an order
    # naming no product closes the cart); c_dormant's add is older than the 7-day window.
    rows = built_warehouse.query(
        "select customer_id, product_id, cart_rank, quantity, last_added_at, product_name, price, "
        "currency, product_url, in_stock from marts.fct_user_cart_items order by customer_id, cart_rank"
    )
    assert rows == [
        (
            "c_new",
            "p1",
            1,
            1,
            datetime(2026, 1, 9, 18, 5),
            "Product P1",
            24.5,
            "EUR",
            "https://shop.example.com/product/p1",
            True,
        )
    ]


def test_recent_views_rank_products_looked_at_but_not_carted_most_recent_first(
    built_warehouse: BuiltWarehouse,
) -> None:
    rows = built_warehouse.query(
        "select customer_id, product_id, view_rank, in_stock from marts.fct_user_recent_views "
        "order by customer_id, view_rank"
    )
    assert rows == [
        # s4 went into the cart: it is the cart's, not a view
        ("c_fan", "s3", 1, True),
        ("c_fan", "s2", 2, True),
        ("c_fan", "s1", 3, True),
        ("c_fan", "s0", 4, True),
        ("c_sessions", "p4", 1, False),
        ("c_sessions", "p3", 2, True),
        ("c_sessions", "p2", 3, True),
    ]


def test_social_proof_claims_nothing_below_the_minimum_and_counts_people_at_it(
    built_warehouse: BuiltWarehouse,
) -> None:
    # At the default minimum (10) this world's handful of people claims nothing, every count null.
    rows = built_warehouse.query(
        "select scope, scope_id, viewers_24h, viewers_7d, buyers_24h, buyers_7d, claimable "
        "from marts.fct_product_social_proof"
    )
    assert len(rows) == 10 + 5  # the catalog's products and its five categories
    assert all(row[2:] == (None, None, None, None, False) for row in rows)
    # At a minimum of 1, on a copy of the same build, it claims what happened: p2..p4 were each viewed
    # by c_sessions on D-2 (in the 7 days, not the last 24 h), the books category by that one person,
    # and shoes by c_fan on D-1 (five products, one person); p9 saw nobody.
    work_dir = built_warehouse.work_dir / "social_proof_minimum_1"
    work_dir.mkdir()
    copy = work_dir / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.path, copy)
    result = run_dbt(
        [
            "run",
            "--select",
            "fct_product_social_proof",
            "--vars",
            json.dumps({"run_date": RUN_DATE, "social_proof_min_count": 1}),
        ],
        copy,
        work_dir,
    )
    assert result.returncode == 0, result.explain()
    with duckdb.connect(str(copy), read_only=True) as con:
        claims = {
            (row[0], row[1]): row[2:]
            for row in con.execute(
                "select scope, scope_id, viewers_24h, viewers_7d, buyers_24h, buyers_7d, claimable "
                "from marts.fct_product_social_proof"
            ).fetchall()
        }
    assert claims[("product", "p3")] == (None, 1, None, None, True)
    assert claims[("category", "books")] == (None, 1, None, None, True)
    assert claims[("category", "shoes")] == (None, 1, None, None, True)
    assert claims[("product", "p9")] == (None, None, None, None, False)


def test_progress_counts_orders_spend_streak_and_the_next_tier(built_warehouse: BuiltWarehouse) -> None:
    progress = built_warehouse.rows_by_key("marts.fct_user_progress")
    assert len(progress) == 8  # every customer
    active = progress["c_active"]
    # one purchase of 40 on D, 15 refunded; active in D's week only
    assert (active["order_count"], active["total_spend"], active["current_streak_weeks"]) == (1, 25.0, 1)
    assert (active["current_tier"], active["next_tier"], active["orders_to_next_tier"]) == (
        "Bronze",
        "Silver",
        2,
    )
    # active every week from 2025-12-07 on: six weeks in a row up to D's
    assert progress["c_atrisk"]["current_streak_weeks"] == 6
    # last active on D-7 (a Saturday, the week before D's) and only browsing since: the streak holds
    cooling = progress["c_cooling"]
    assert (cooling["current_streak_weeks"], cooling["active_this_week"]) == (1, False)
    assert cooling["days_since_last_visit"] == 1
    lapsed = progress["c_lapsed"]  # nothing up to D (its purchase is just after)
    assert (lapsed["order_count"], lapsed["days_since_last_visit"], lapsed["current_tier"]) == (0, None, None)
    assert lapsed["next_tier"] == "Bronze"
