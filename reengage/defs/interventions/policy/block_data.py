"""The blocks of a set of (customer, campaign) rows, read from the context marts in one query.

`blocks_sql` turns the campaigns' `template.blocks` (blocks.py) into one set-based query over
a relation of rows (the day's candidates when deciding, the chosen rows when rendering): each
product block takes the person's items from its mart as of D, in the mart's order, up to the
block's limit; a `generic` product block that is empty takes the popular products instead;
social proof claims what the mart marks claimable about the products those blocks show and
about the person's category; progress is the person's row when it has something to show.

One row per (customer_id, campaign_id) comes out, with `empty_block` (the first block the file
names whose rule is `skip` and which has nothing of the person's own: the policy records
`empty_block:<name>` for it), and for every block kind used, `block__<name>` (a list of
structs, or one struct for progress) and `block__<name>__fallback` (the block was empty and
its generic fallback stands in). Nothing here runs per user.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from reengage.defs.interventions.blocks import (
    BLOCK_KINDS,
    CATALOG_TABLE,
    PRODUCT_KEYS,
    Block,
    column_name,
    fallback_column,
)
from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.policy.config import PolicyError
from reengage.defs.interventions.policy.sql import date_literal
from reengage.defs.interventions.predicates import sql_literal
from reengage.tables import relation_exists

# What the popular products (a generic product block's fallback) are ranked by: people who bought
# them, then who viewed them, in the 7 days ending D, as the social-proof mart counts them.
SOCIAL_PROOF_TABLE = BLOCK_KINDS["social_proof"].table
PRODUCT_BLOCKS = tuple(name for name, kind in BLOCK_KINDS.items() if kind.products)
# Where a category claim sorts among the product claims: after every product shown.
_CATEGORY_POSITION = 1_000_000


def with_blocks(campaigns: Sequence[Campaign], *, skip_only: bool = False) -> list[Campaign]:
    """The enabled campaigns whose template shows blocks (with a `skip` block, for `skip_only`)."""
    return [
        c
        for c in campaigns
        if c.enabled
        and c.template.blocks
        and (not skip_only or any(b.when_empty == "skip" for b in c.template.blocks))
    ]


def tables_needed(campaigns: Sequence[Campaign]) -> list[str]:
    """The marts (and the catalog) the campaigns' blocks read, each once."""
    tables: dict[str, None] = {}
    for campaign in campaigns:
        for block in campaign.template.blocks:
            tables[block.kind.table] = None
            if block.kind.products and block.when_empty == "generic":
                tables[CATALOG_TABLE] = None
                tables[SOCIAL_PROOF_TABLE] = None
    return list(tables)


def empty_blocks_sql(campaigns: Sequence[Campaign], run_date: date) -> str:
    """customer_id, campaign_id, empty_block of the day's candidates whose `skip` block is empty.

    Reads the decision query's `candidates` and `base`: it is one of its subqueries.
    """
    skipping = with_blocks(campaigns, skip_only=True)
    if not skipping:
        return (
            "select null::varchar as customer_id, null::varchar as campaign_id,"
            " null::varchar as empty_block where false"
        )
    rows = """(select c.customer_id, c.campaign_id, b.enthusiast_category, b.favourite_category
               from candidates c join base b on b.customer_id = c.customer_id)"""
    return f"""select customer_id, campaign_id, empty_block
        from ({blocks_sql(rows, skipping, run_date)})
        where empty_block is not null"""


def check_tables(con: duckdb.DuckDBPyConnection, campaigns: Sequence[Campaign], run_date: date) -> None:
    """Refuse to decide when a mart a block reads is missing: guessing "empty" would skip or mislead."""
    for table in tables_needed(with_blocks(campaigns)):
        if not relation_exists(con, table):
            users = sorted(c.id for c in with_blocks(campaigns) if table in tables_needed([c]))
            raise PolicyError(
                f"{table} does not exist; run the dbt models for {run_date} first "
                f"(read by the blocks of {', '.join(users)})"
            )


def _values(rows: list[str], columns: str, empty: str) -> str:
    if not rows:
        return f"select * from (values {empty}) t({columns}) where false"
    return f"select * from (values {', '.join(rows)}) t({columns})"


def _limits_sql(campaigns: Sequence[Campaign]) -> str:
    """One row per (campaign, block): its limit, rule and place in the file's order."""
    rows = [
        f"({sql_literal(c.id)}::varchar, {sql_literal(b.name)}::varchar, {b.limit}::integer, "
        f"{sql_literal(b.when_empty)}::varchar, {order}::integer)"
        for c in campaigns
        for order, b in enumerate(c.template.blocks, start=1)
    ]
    return _values(
        rows,
        "campaign_id, block, item_limit, when_empty, block_order",
        "(null::varchar, null::varchar, null::integer, null::varchar, null::integer)",
    )


def _own_products_sql(block: str, run_date: date) -> str:
    kind = BLOCK_KINDS[block]
    keys = kind.keys
    quantity = f"m.{keys['quantity']}" if "quantity" in keys else "null::bigint"
    in_stock = f"m.{keys['in_stock']}" if "in_stock" in keys else "null::boolean"
    fields = ", ".join(f"m.{keys[key]} as {key}" for key in PRODUCT_KEYS)
    return f"""
        select r.customer_id, r.campaign_id, l.block, l.block_order, l.item_limit,
               row_number() over (
                   partition by r.customer_id, r.campaign_id order by m.{kind.rank_column}, m.product_id
               ) as position,
               {fields}, {quantity} as quantity, {in_stock} as in_stock
        from block_rows r
        join limits l on l.campaign_id = r.campaign_id and l.block = {sql_literal(block)}
        join {kind.table} m on m.customer_id = r.customer_id and m.as_of_date = {date_literal(run_date)}"""


def _popular_sql(run_date: date) -> str:
    """In-stock catalog products most people bought (then viewed) in the 7 days ending D.

    Only products the social-proof mart marks claimable: nothing below its minimum is called
    popular, so a quiet week has no popular products and the generic block is an empty list.
    """
    return f"""
        select row_number() over (
                   order by s.buyers_7d desc nulls last, s.viewers_7d desc nulls last, p.product_id
               ) as position,
               p.product_id, p.product_name as name, p.category, p.price, p.currency, p.image_url,
               p.product_url, null::bigint as quantity, p.in_stock
        from {CATALOG_TABLE} p
        join {SOCIAL_PROOF_TABLE} s
          on s.scope = 'product' and s.scope_id = p.product_id and s.as_of_date = {date_literal(run_date)}
        where s.claimable and p.in_stock"""


def _struct(keys: Sequence[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return "struct_pack(" + ", ".join(f"{key} := {prefix}{key}" for key in keys) + ")"


def _empty_case(campaigns: Sequence[Campaign]) -> str:
    """SQL: the first `skip` block (in the file's order) with nothing of the person's own."""
    cases = []
    for campaign in campaigns:
        whens = " ".join(
            f"when {_own_empty(block)} then {sql_literal(block.name)}"
            for block in campaign.template.blocks
            if block.when_empty == "skip"
        )
        if whens:
            cases.append(f"when {sql_literal(campaign.id)} then case {whens} end")
    return f"case r.campaign_id {' '.join(cases)} end" if cases else "null::varchar"


def _own_empty(block: Block) -> str:
    if block.name in PRODUCT_BLOCKS:
        return f"coalesce(pl.own_{block.name}, 0) = 0"
    if block.name == "social_proof":
        return "cl.social_proof is null"
    return "pr.progress is null"


def blocks_sql(rows: str, campaigns: Sequence[Campaign], run_date: date) -> str:
    """One row per distinct (customer_id, campaign_id) of `rows` whose campaign shows blocks.

    `rows` is a relation (table name or subquery) with customer_id, campaign_id,
    enthusiast_category and favourite_category.
    """
    campaigns = with_blocks(campaigns)
    used = {b.name for c in campaigns for b in c.template.blocks}
    ids = ", ".join(sql_literal(c.id) for c in campaigns) or "null"
    ctes = [
        f"""block_rows as (
        select distinct customer_id, campaign_id,
               coalesce(enthusiast_category, favourite_category) as proof_category
        from {rows}
        where campaign_id in ({ids}))""",
        f"limits as ({_limits_sql(campaigns)})",
    ]
    product_blocks = [name for name in PRODUCT_BLOCKS if name in used]
    product_columns = (
        "customer_id, campaign_id, block, block_order, position, "
        f"{', '.join(PRODUCT_KEYS)}, quantity, in_stock, fallback"
    )
    if product_blocks:
        own = " union all ".join(_own_products_sql(name, run_date) for name in product_blocks)
        ctes.append(f"own as (select * from ({own}) where position <= item_limit)")
        products = f"select {product_columns.replace('fallback', 'false as fallback')} from own"
        generic = [
            n
            for n in product_blocks
            if any(b.name == n and b.when_empty == "generic" for c in campaigns for b in c.template.blocks)
        ]
        if generic:
            ctes.append(f"popular as ({_popular_sql(run_date)})")
            # A generic product block with none of the person's own shows the popular products.
            ctes.append(f"""fallback as (
        select r.customer_id, r.campaign_id, l.block, l.block_order, p.position,
               {", ".join(f"p.{key}" for key in PRODUCT_KEYS)}, p.quantity, p.in_stock, true as fallback
        from block_rows r
        join limits l on l.campaign_id = r.campaign_id and l.when_empty = 'generic'
             and l.block in ({", ".join(sql_literal(n) for n in generic)})
        join popular p on p.position <= l.item_limit
        where not exists (
            select 1 from own o
            where o.customer_id = r.customer_id and o.campaign_id = r.campaign_id and o.block = l.block))""")
            products += f" union all select {product_columns} from fallback"
        ctes.append(f"products as ({products})")
        item_keys = [*PRODUCT_KEYS, "quantity", "in_stock"]
        lists = []
        for name in product_blocks:
            keys = [k for k in item_keys if k in BLOCK_KINDS[name].keys]
            lists.append(
                f"list({_struct(keys)} order by position) filter (where block = {sql_literal(name)})"
                f" as {name}"
            )
            lists.append(
                f"count(*) filter (where block = {sql_literal(name)} and not fallback) as own_{name}"
            )
        ctes.append(f"""product_lists as (
        select customer_id, campaign_id, {", ".join(lists)}
        from products group by customer_id, campaign_id)""")
    if "social_proof" in used:
        proof = BLOCK_KINDS["social_proof"]
        counts = ", ".join(f"s.{key}" for key in ("viewers_24h", "viewers_7d", "buyers_24h", "buyers_7d"))
        shown = (
            """union all
            select p.customer_id, p.campaign_id, min(p.block_order * 1000 + p.position) as shown_rank,
                   'product' as scope, p.product_id
            from products p
            join limits l on l.campaign_id = p.campaign_id and l.block = 'social_proof'
            group by p.customer_id, p.campaign_id, p.product_id"""
            if product_blocks
            else ""
        )
        ctes.append(f"""subjects as (
            select r.customer_id, r.campaign_id, {_CATEGORY_POSITION} as shown_rank,
                   'category' as scope, r.proof_category as scope_id
            from block_rows r
            join limits l on l.campaign_id = r.campaign_id and l.block = 'social_proof'
            where r.proof_category is not null
            {shown})""")
        ctes.append(f"""claims as (
        select u.customer_id, u.campaign_id, u.shown_rank, s.scope, s.product_id, s.category, {counts},
               l.item_limit
        from subjects u
        join limits l on l.campaign_id = u.campaign_id and l.block = 'social_proof'
        join {proof.table} s
          on s.scope = u.scope and s.scope_id = u.scope_id and s.as_of_date = {date_literal(run_date)}
        where s.claimable
        qualify row_number() over (partition by u.customer_id, u.campaign_id order by u.shown_rank)
                <= l.item_limit)""")
        ctes.append(f"""claim_lists as (
        select customer_id, campaign_id, list({_struct(list(proof.keys))} order by shown_rank) as social_proof
        from claims group by customer_id, campaign_id)""")
    if "progress" in used:
        progress = BLOCK_KINDS["progress"]
        ctes.append(f"""progress_rows as (
        select r.customer_id, r.campaign_id, {_struct(list(progress.keys), "m")} as progress
        from block_rows r
        join limits l on l.campaign_id = r.campaign_id and l.block = 'progress'
        join {progress.table} m on m.customer_id = r.customer_id and m.as_of_date = {date_literal(run_date)}
        -- Nothing to celebrate is nothing to show.
        where m.order_count > 0 or m.current_streak_weeks > 0)""")

    selects = ["r.customer_id", "r.campaign_id"]
    joins = []
    if product_blocks:
        joins.append(
            "left join product_lists pl on pl.customer_id = r.customer_id and pl.campaign_id = r.campaign_id"
        )
        for name in product_blocks:
            selects.append(f"pl.{name} as {column_name(name)}")
            selects.append(f"coalesce(pl.own_{name}, 0) = 0 as {fallback_column(name)}")
    if "social_proof" in used:
        joins.append(
            "left join claim_lists cl on cl.customer_id = r.customer_id and cl.campaign_id = r.campaign_id"
        )
        selects.append(f"cl.social_proof as {column_name('social_proof')}")
        selects.append(f"cl.social_proof is null as {fallback_column('social_proof')}")
    if "progress" in used:
        joins.append(
            "left join progress_rows pr on pr.customer_id = r.customer_id and pr.campaign_id = r.campaign_id"
        )
        selects.append(f"pr.progress as {column_name('progress')}")
        selects.append(f"pr.progress is null as {fallback_column('progress')}")
    selects.append(f"{_empty_case(campaigns)} as empty_block")
    return (
        "with " + ",\n".join(ctes) + f"\nselect {', '.join(selects)}\nfrom block_rows r\n" + "\n".join(joins)
    )
