"""The shop the demo users browse: event names, products, categories, pages and traffic sources.

Everything is a small lookup table; events store integer codes into these
tables and are turned into strings only when a file is written. ``Shelf`` is
the catalog export's state: the products' names and links (derived from their
codes, no draw) and their stock, which changes a little every day from a
random stream of its own, so the other exports of a seeded world stay the same.

Co-purchases: every product has ``COMPLEMENTS_PER_PRODUCT`` complements, other
products of its category drawn uniformly (so most are not bestsellers), on a
stream of their own. A customer's later sessions favour the complements of
what they last bought (``activity``), which is what a recommender can learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reengage_dev.demo.clock import HOUR_MS, Window
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
COMPLEMENTS_PER_PRODUCT = 3

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
    complements: np.ndarray  # (products, COMPLEMENTS_PER_PRODUCT) product codes: what goes with each

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


def build_catalog(rng: np.random.Generator, complements_rng: np.random.Generator) -> Catalog:
    """The products; `complements_rng` draws only their complements, so no other draw of a seed moves."""
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
    return Catalog(
        product_id=product_id,
        product_category=category,
        price=price,
        pages=pages,
        complements=draw_complements(complements_rng, category),
    )


def draw_complements(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    """Each product's complements: distinct other products of its category, any rank alike."""
    count = len(category)
    # a random order of the other 199 ranks per product; its first few are the complements
    offsets = (
        np.argsort(rng.random((count, PRODUCTS_PER_CATEGORY - 1)), axis=1)[:, :COMPLEMENTS_PER_PRODUCT] + 1
    )
    rank = (np.arange(count) % PRODUCTS_PER_CATEGORY)[:, None]
    other = (rank + offsets) % PRODUCTS_PER_CATEGORY
    return (category.astype(np.int32)[:, None] * PRODUCTS_PER_CATEGORY + other).astype(np.int32)


# The catalog export (products): names from a few words per category, links on an example domain
# (the product pages are the events' `/product/<id>` pages), prices in one currency.
SHOP_URL = "https://shop.example.com"
CURRENCY = "USD"
PRODUCT_WORDS = (
    ("Headphones", "Charger", "Speaker", "Camera", "Keyboard"),
    ("Novel", "Cookbook", "Atlas", "Biography", "Anthology"),
    ("Lamp", "Cushion", "Vase", "Rug", "Clock"),
    ("Jacket", "Scarf", "Sneakers", "Dress", "Belt"),
    ("Serum", "Lipstick", "Cream", "Perfume", "Palette"),
    ("Racket", "Yoga Mat", "Dumbbell", "Jersey", "Ball"),
    ("Puzzle", "Robot", "Doll", "Kite", "Blocks"),
    ("Trowel", "Planter", "Hose", "Seeds", "Shears"),
    ("Coffee", "Olive Oil", "Tea", "Granola", "Pasta"),
    ("Leash", "Cat Tree", "Dog Bed", "Feeder", "Toy Mouse"),
    ("Vinyl", "Ukulele", "Headset", "Metronome", "Songbook"),
    ("Tent", "Backpack", "Lantern", "Sleeping Bag", "Compass"),
)
PRODUCT_STYLES = ("Classic", "Everyday", "Premium", "Compact", "Deluxe", "Essential", "Urban", "Nordic")
# Stock: about 4% of the catalog is out of stock on a day. A product in stock sells out with a
# probability that follows its popularity (the bestsellers the events favour sell out most), one out
# of stock is back with RESTOCK_RATE a day.
OUT_OF_STOCK_SHARE = 0.04
RESTOCK_RATE = 0.35
MAX_SELL_OUT_RATE = 0.2


def product_names(catalog: Catalog) -> pa.StringArray:
    """Each product's name, from its category's words and its number (no draw: the same every run)."""
    index = np.arange(len(catalog.product_id))
    category = catalog.product_category.astype(np.int64)
    words = np.array([w for row in PRODUCT_WORDS for w in row], dtype=object)
    noun = words[category * len(PRODUCT_WORDS[0]) + index % len(PRODUCT_WORDS[0])]
    style = np.array(PRODUCT_STYLES, dtype=object)[(index // len(PRODUCT_WORDS[0])) % len(PRODUCT_STYLES)]
    return pa.array([f"{s} {n} {i + 1}" for s, n, i in zip(style, noun, index, strict=True)], pa.string())


def product_popularity(count: int) -> np.ndarray:
    """Each product's share of its category's views under ``Catalog.sample_product`` (rank = code % 200)."""
    rank = np.arange(count) % PRODUCTS_PER_CATEGORY
    edges = np.arange(PRODUCTS_PER_CATEGORY + 1) / PRODUCTS_PER_CATEGORY
    share = np.diff(edges ** (1 / 2.2))  # P(floor(200 u^2.2) = r) for u uniform
    return share[rank]


class Shelf:
    """The products' stock day by day, and when each product last changed (its updated_at)."""

    def __init__(self, catalog: Catalog, window: Window) -> None:
        self.names = product_names(catalog)
        count = len(catalog.product_id)
        popularity = product_popularity(count)
        odds = OUT_OF_STOCK_SHARE / (1 - OUT_OF_STOCK_SHARE)
        self.sell_out = np.minimum(RESTOCK_RATE * odds * popularity / popularity.mean(), MAX_SELL_OUT_RATE)
        self.in_stock = np.ones(count, bool)
        self.updated_ms = np.full(count, window.start_ms, np.int64)
        self.window = window
        self.next_day = 0

    def day(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Day k's stock and updated_at per product (days in order). The first day starts from the
        long-run state; every later day some products sell out and some come back, early that day."""
        if k != self.next_day:
            raise ValueError(f"stock of day {k} cannot be drawn next; day {self.next_day} comes first")
        count = len(self.in_stock)
        draw, at = rng.random(count), rng.integers(0, 6 * HOUR_MS, count)
        if k == 0:
            self.in_stock = draw >= self.sell_out / (self.sell_out + RESTOCK_RATE)
        else:
            flips = np.where(self.in_stock, draw < self.sell_out, draw < RESTOCK_RATE)
            self.in_stock = self.in_stock ^ flips
            self.updated_ms = np.where(flips, self.window.day_ms(k) + at, self.updated_ms)
        self.next_day += 1
        return self.in_stock.copy(), self.updated_ms.copy()
