"""The shop the demo users browse: event names, products, categories, pages and traffic sources.

Everything is a small lookup table; events store integer codes into these
tables and are turned into strings only when a file is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reengage_dev.demo.strings import numbered_ids

EVENT_NAMES = (
    "page_view",
    "login",
    "search",
    "product_view",
    "add_to_cart",
    "checkout_started",
    "purchase",
    "form_submit",
)
PAGE_VIEW, LOGIN, SEARCH, PRODUCT_VIEW, ADD_TO_CART, CHECKOUT_STARTED, PURCHASE, FORM_SUBMIT = range(8)

# Events that count as an *active* action for dormancy and churn; must agree with the
# warehouse's event catalog seed (dbt_project/seeds/event_catalog.csv), which a test checks.
ACTIVE_EVENTS = ("add_to_cart", "checkout_started", "purchase", "form_submit")
PASSIVE_EVENTS = ("page_view", "login", "search", "product_view")

CATEGORIES = (
    "electronics", "books", "home", "fashion", "beauty", "sports",
    "toys", "garden", "grocery", "pets", "music", "outdoors",
)  # fmt: skip
CATEGORY_WEIGHTS = 1.0 / np.arange(1, len(CATEGORIES) + 1) ** 0.8
CATEGORY_WEIGHTS = CATEGORY_WEIGHTS / CATEGORY_WEIGHTS.sum()
PRODUCTS_PER_CATEGORY = 200

# A visit's channel: the first six are drawn for the world's own sessions (with these weights); a
# visit a text brings says "sms" (after them, so no draw of a seed moves).
CHANNELS = ("direct", "organic_search", "paid_search", "social", "email", "referral", "sms")
CHANNEL_WEIGHTS = np.array([0.30, 0.27, 0.13, 0.12, 0.08, 0.10])

GENERAL_PAGES = ("/", "/deals", "/new", "/blog", "/help", "/account")
FORM_PAGES = ("/contact", "/survey", "/newsletter", "/account/preferences")
FIXED_PAGES = GENERAL_PAGES + FORM_PAGES + ("/login", "/search", "/cart", "/checkout", "/checkout/complete")
PAGE_LOGIN = FIXED_PAGES.index("/login")
PAGE_SEARCH = FIXED_PAGES.index("/search")
PAGE_CART = FIXED_PAGES.index("/cart")
PAGE_CHECKOUT = FIXED_PAGES.index("/checkout")
PAGE_PURCHASE = FIXED_PAGES.index("/checkout/complete")
PAGE_FORMS = len(GENERAL_PAGES)


@dataclass(frozen=True)
class Catalog:
    """Products sorted by category; pages = fixed pages, then category pages, then product pages."""

    product_id: pa.StringArray
    product_category: np.ndarray
    price: np.ndarray
    pages: pa.StringArray

    @property
    def category_page_base(self) -> int:
        return len(FIXED_PAGES)

    @property
    def product_page_base(self) -> int:
        return len(FIXED_PAGES) + len(CATEGORIES)

    def sample_product(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """A product in each given category; a few bestsellers get most views."""
        rank = np.floor(PRODUCTS_PER_CATEGORY * rng.random(len(category)) ** 2.2).astype(np.int32)
        return category.astype(np.int32) * PRODUCTS_PER_CATEGORY + rank


def build_catalog(rng: np.random.Generator) -> Catalog:
    count = len(CATEGORIES) * PRODUCTS_PER_CATEGORY
    product_id = numbered_ids("prd_", np.arange(1, count + 1), 5)
    category = np.repeat(np.arange(len(CATEGORIES), dtype=np.int16), PRODUCTS_PER_CATEGORY)
    median_price = np.array([180, 15, 45, 40, 25, 55, 30, 35, 12, 20, 18, 70], dtype=float)[category]
    price = np.floor(median_price * rng.lognormal(0, 0.6, count)) + 0.99
    pages = pa.concat_arrays(
        [
            pa.array(FIXED_PAGES),
            pc.binary_join_element_wise("/category/", pa.array(CATEGORIES), ""),
            pc.binary_join_element_wise("/product/", product_id, ""),
        ]
    )
    return Catalog(product_id=product_id, product_category=category, price=price, pages=pages)
