"""The hand-written world (raw_world.py) with a cart worth showing, built by the real dbt project.

c_atrisk (D = 2026-01-10) looks at two shoes and fills a cart:

- views s1 and s2 on D-3 (with c_fan's views of the same shoes, two people each: at a
  social-proof minimum of 2 they are claimable; p2, viewed by c_sessions alone, is not);
- adds s1 on D-3, p2 twice on D-2 (quantity 2), x1 on D-2 (a product whose catalog name holds
  markup), p3 on D-1 and s2 on D-1; buys p3 on D-1 after adding it.

So the cart, most recent add first, is s2, x1, p2, s1; p3 was bought since. The other customers
keep their own carts (c_new: p1) or have none. `marts.fct_user_recommendations` is built by a
model of its own; here it is a table of its contract's shape holding c_atrisk's two products.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from .conftest import run_dbt
from .raw_world import RUN_DATE, create_raw_warehouse, insert_sql, raw_event

SOCIAL_PROOF_MIN_COUNT = 2
MARKUP_NAME = "<script>alert('x')</script> Trail Boots"


def _atrisk(
    event_id: str, name: str, at: str, product: str, category: str, **more: float
) -> dict[str, object]:
    return raw_event(event_id, name, at, user_id="c_atrisk", product_id=product, category=category, **more)


EXTRA_EVENTS = [
    _atrisk("blk_v1", "product_view", "2026-01-07 10:00:00", "s1", "shoes"),
    _atrisk("blk_v2", "product_view", "2026-01-07 10:05:00", "s2", "shoes"),
    _atrisk("blk_a1", "add_to_cart", "2026-01-07 10:10:00", "s1", "shoes"),
    _atrisk("blk_a2", "add_to_cart", "2026-01-08 10:00:00", "p2", "books"),
    _atrisk("blk_a3", "add_to_cart", "2026-01-08 10:30:00", "p2", "books"),
    _atrisk("blk_a4", "add_to_cart", "2026-01-08 11:00:00", "x1", "shoes"),
    _atrisk("blk_a5", "add_to_cart", "2026-01-09 09:00:00", "p3", "books"),
    _atrisk("blk_b1", "purchase", "2026-01-09 13:00:00", "p3", "books", value=8.0),
    _atrisk("blk_a6", "add_to_cart", "2026-01-09 12:00:00", "s2", "shoes"),
]

MARKUP_PRODUCT = {
    "product_id": "x1",
    "name": MARKUP_NAME,
    "category": "shoes",
    "price": 45.0,
    "currency": "EUR",
    "image_url": "https://shop.example.com/images/x1.jpg",
    "product_url": "https://shop.example.com/product/x1",
    "in_stock": True,
    "updated_at": "2025-12-01 06:00:00+00:00",
    "_source_file": "products/products_2025-12-01.csv",
    "_source_row": 100,
    "_partition_date": "2025-12-01",
    "_loaded_at": "2025-12-01 23:00:00+00:00",
}

# The recommendations the tests read, in place of the ones dbt built for the raw world: one row per
# (customer, product), as the mart's contract gives it.
RECOMMENDATIONS = [
    # (customer, product, rank, name, price): ranked out of order on purpose
    ("c_atrisk", "p9", 2, "Product P9", 15.0),
    ("c_atrisk", "p1", 1, "Product P1", 24.5),
]


def build_blocks_warehouse(work_dir: Path) -> Path:
    """Raw world + the extra rows above, every model built (no tests) for RUN_DATE."""
    path = work_dir / "warehouse.duckdb"
    create_raw_warehouse(path, extra_events=EXTRA_EVENTS)
    with duckdb.connect(str(path)) as con:
        columns = list(MARKUP_PRODUCT)
        con.execute(insert_sql("products", columns), [MARKUP_PRODUCT[c] for c in columns])
    variables = {"run_date": RUN_DATE, "social_proof_min_count": SOCIAL_PROOF_MIN_COUNT}
    result = run_dbt(
        ["build", "--exclude-resource-type", "test", "unit_test", "--vars", json.dumps(variables)],
        path,
        work_dir,
    )
    if result.returncode != 0:
        raise AssertionError(result.explain())
    with duckdb.connect(str(path)) as con:
        con.execute("delete from marts.fct_user_recommendations")
        con.executemany(
            "insert into marts.fct_user_recommendations (recommendation_id, customer_id, as_of_date,"
            " product_id, recommendation_rank, score, source, product_name, category, price, currency,"
            " image_url, product_url) values "
            "(md5(? || '|' || ?), ?, ?, ?, ?, 1.0 / ?, 'co_occurrence', ?, 'misc', ?, 'EUR', "
            "'https://shop.example.com/images/' || ?, 'https://shop.example.com/product/' || ?)",
            [
                [c, p, c, RUN_DATE, p, rank, rank, name, price, p, p]
                for c, p, rank, name, price in RECOMMENDATIONS
            ],
        )
    return path
