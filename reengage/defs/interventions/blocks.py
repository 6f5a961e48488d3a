"""Personal blocks a message template can show: what each one is, where it comes from, its limits.

A campaign names the blocks its template shows under `template.blocks` (campaigns/README.md,
"Blocks"): the abandoned cart, recently viewed products, recommendations, social proof and
progress. Each block is read from a context mart as of the run date, for the messages being
rendered only (policy/block_data.py turns this catalogue into set-based SQL), and reaches the
template as a list of objects (progress: one object), under the block's name.

A block's `limit` is the most items it shows (each kind has a ceiling, so one message stays
well within SendGrid's payload limits); `when_empty` says what happens when the person has
nothing to show: `skip` (no message: the decision records `empty_block:<block>`) or `generic`
(the message goes out with the block's fallback: popular products for a product list, nothing
for social proof and progress, and `<block>_fallback` true so the template can word it).

This module only describes; it reads nothing, so the campaign schema and loader can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WHEN_EMPTY = ("skip", "generic")
DEFAULT_WHEN_EMPTY = "generic"

# The catalog fields every product block gives its items, as template keys (the recommendations
# mart names its product `name`, the cart and views marts `product_name`).
PRODUCT_KEYS = ("product_id", "name", "category", "price", "currency", "image_url", "product_url")


@dataclass(frozen=True)
class BlockKind:
    """One kind of block: its mart, the keys of its items and how many it may show."""

    name: str
    table: str  # the mart it reads, as of the run date (`as_of_date`)
    keys: Mapping[str, str]  # item key -> mart column
    rank_column: str | None  # the mart's order for the person's items; None: one object per person
    default_limit: int
    max_limit: int
    products: bool  # a list of products (may fall back to popular products, feeds social proof)
    one_object: bool = False  # one object per person (or null) rather than a list

    @property
    def has_limit(self) -> bool:
        return not self.one_object


def _same_names(*keys: str) -> dict[str, str]:
    """Template keys that are the mart's column names."""
    return {key: key for key in keys}


def _product_keys(name_column: str, **extra: str) -> dict[str, str]:
    return {**_same_names(*PRODUCT_KEYS), "name": name_column, **extra}


BLOCK_KINDS: dict[str, BlockKind] = {
    kind.name: kind
    for kind in (
        BlockKind(
            name="cart_items",
            table="marts.fct_user_cart_items",
            keys=_product_keys("product_name", quantity="quantity", in_stock="in_stock"),
            rank_column="cart_rank",
            default_limit=3,
            max_limit=10,
            products=True,
        ),
        BlockKind(
            name="recent_views",
            table="marts.fct_user_recent_views",
            keys=_product_keys("product_name", in_stock="in_stock"),
            rank_column="view_rank",
            default_limit=3,
            max_limit=10,
            products=True,
        ),
        BlockKind(
            name="recommended",
            table="marts.fct_user_recommendations",
            keys=_product_keys("product_name"),
            rank_column="recommendation_rank",
            default_limit=4,
            max_limit=10,
            products=True,
        ),
        # Claims about the products the message shows (its product blocks, in their order) and
        # about the person's category (enthusiast_category, else favourite_category): only what
        # the mart marks claimable, each count null below the mart's minimum.
        BlockKind(
            name="social_proof",
            table="marts.fct_product_social_proof",
            keys=_same_names(
                "scope", "product_id", "category", "viewers_24h", "viewers_7d", "buyers_24h", "buyers_7d"
            ),
            rank_column=None,
            default_limit=3,
            max_limit=10,
            products=False,
        ),
        # One object: a person has one progress. Empty when there is nothing to celebrate (no
        # order and no active week) or no row.
        BlockKind(
            name="progress",
            table="marts.fct_user_progress",
            keys=_same_names(
                "order_count",
                "total_spend",
                "current_streak_weeks",
                "active_this_week",
                "days_since_last_visit",
                "current_tier",
                "next_tier",
                "orders_to_next_tier",
            ),
            rank_column=None,
            default_limit=1,
            max_limit=1,
            products=False,
            one_object=True,
        ),
    )
}

# What a generic product block falls back to: the catalog (its products as they stood on D).
CATALOG_TABLE = "staging.stg_catalog__products"


@dataclass(frozen=True)
class Block:
    """A block a campaign's template shows: its kind, how many items at most, and its empty rule."""

    name: str
    limit: int
    when_empty: str = DEFAULT_WHEN_EMPTY

    @property
    def kind(self) -> BlockKind:
        return BLOCK_KINDS[self.name]

    @property
    def fallback_variable(self) -> str:
        return fallback_variable(self.name)


def fallback_variable(name: str) -> str:
    """The template name that says a block shows its generic fallback (it was empty)."""
    return f"{name}_fallback"


def column_name(block: str) -> str:
    """The column a block's data has in the policy's work tables (never a features column's name)."""
    return f"block__{block}"


def fallback_column(block: str) -> str:
    return f"block__{block}__fallback"


def block_variables(names: list[str] | tuple[str, ...]) -> set[str]:
    """Template names the declared blocks add: each block's own, and its fallback flag."""
    return {*names, *(fallback_variable(name) for name in names)}
