"""Who lives in the demo world: customers with hidden traits, and visitors who never sign up.

Every trait that later shapes behaviour (session rate, lifecycle, funnel
propensities, email responsiveness, kind of user) is drawn once here, so
activity, email, responses and the truth files all read the same numbers and
stay consistent. The shares and medians come from the world specification
(``spec``); the shapes (spreads, correlations) are fixed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reengage_dev.demo.clock import DAY_MS, TZ_WEIGHTS, Window
from reengage_dev.demo.spec import LIFECYCLES, PUT_OFF, WorldSpec
from reengage_dev.demo.strings import from_codes, numbered_ids, uuid4_codes

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mateo", "Amelia", "Leon",
    "Hannah", "Felix", "Chloe", "Hugo", "Alice", "Louis", "Grace", "Oscar", "Yuki", "Haruto", "Sakura", "Ren",
    "Aarav", "Priya", "Vihaan", "Ananya", "Diya", "Arjun", "Gabriel", "Julia", "Miguel", "Beatriz", "Rafael",
    "Laura", "Jack", "Isla", "Charlotte", "James", "Harper", "Ben", "Lena", "Jonas", "Marie", "Paul", "Zoe",
    "Max", "Ella", "Leo", "Ruby", "Sam", "Nina", "Omar", "Sara", "Kenji", "Mei", "Wei", "Lucia", "Tom",
)  # fmt: skip
SURNAMES = (
    "smith", "jones", "brown", "miller", "garcia", "silva", "santos", "muller", "schmidt", "martin",
    "bernard", "tanaka", "suzuki", "sato", "sharma", "patel", "singh", "kumar", "wilson", "taylor", "clark",
    "lee", "tan", "lim", "nguyen", "costa", "weber", "fischer", "dubois", "moreau", "walker", "young", "king",
    "wright",
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "inbox.example.org")
PLANS = ("free", "basic", "pro", "enterprise")
DEVICES = ("desktop", "mobile", "tablet")

STEADY, DECAYING, STOPPED, NEVER = (LIFECYCLES.index(name) for name in LIFECYCLES)

SIGNUP_HISTORY_DAYS = 365  # signups spread over the year before the window, plus the window itself


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


@dataclass
class Population:
    """Customer traits as parallel arrays indexed 0..n-1 (customer_id order)."""

    n: int
    customer_id: pa.StringArray
    email: pa.StringArray
    first_name: np.ndarray
    tz: np.ndarray
    signup_ms: np.ndarray
    signup_day: np.ndarray  # floor day index relative to the window start (negative: before it)
    lam: np.ndarray  # sessions per day at full intensity
    lifecycle: np.ndarray
    onset_day: np.ndarray  # DECAYING: decay starts (days from window start)
    tau_days: np.ndarray  # DECAYING: e-folding time
    stop_day: np.ndarray  # STOPPED/NEVER: activity ends
    p_cart: np.ndarray  # add_to_cart given a session with product views
    p_buy: np.ndarray  # purchase given checkout_started
    pref_category: np.ndarray
    device1: np.ndarray
    device2: np.ndarray
    has_device2: np.ndarray
    link_day: np.ndarray  # first day the second device logs in
    open_rate: np.ndarray
    click_rate: np.ndarray
    unsubscribe_rate: np.ndarray
    spam_rate: np.ndarray
    dead_mailbox: np.ndarray
    newsletter_member: np.ndarray
    persuadability: np.ndarray  # the generic one-message uplift of user_truth.parquet
    put_off: np.ndarray  # any message puts them off (kind put_off)
    kind: np.ndarray  # int8 index into spec.KINDS: the lifecycle, or put_off
    responsiveness: np.ndarray  # multiplies a campaign's extra_purchases (lognormal, mean 1)
    weekend_factor: float
    plan0: np.ndarray
    ltv0: np.ndarray
    consent0: np.ndarray
    consent_updated0_ms: np.ndarray
    updated0_ms: np.ndarray
    sms_consent: np.ndarray  # a mobile number and consent to texts, given at signup (never changes)


@dataclass
class Visitors:
    """Anonymous-only visitors: they browse for a while and never log in."""

    n: int
    tz: np.ndarray
    lam: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    device: np.ndarray
    weekend_factor: float


def _emails(rng: np.random.Generator, n: int, first_name: np.ndarray) -> pa.StringArray:
    """``first.surnameN@domain``: lowercase ASCII, unique thanks to the customer number."""
    first = pc.utf8_lower(pa.array(FIRST_NAMES)).take(pa.array(first_name))
    surname = pa.array(SURNAMES).take(pa.array(rng.integers(0, len(SURNAMES), n)))
    domain = pa.array(DOMAINS).take(pa.array(rng.choice(len(DOMAINS), n, p=[0.4, 0.2, 0.2, 0.1, 0.1])))
    number = pa.array(np.arange(1, n + 1)).cast(pa.string())
    return pc.binary_join_element_wise(first, ".", surname, number, "@", domain, "")


def _signup_days(rng: np.random.Generator, n: int, window: Window) -> np.ndarray:
    """Signup day offsets in [-365, days): a business that doubles its signups each year."""
    growth = np.log(2.0) / 365.0
    lo, hi = np.exp(growth * -SIGNUP_HISTORY_DAYS), np.exp(growth * window.days)
    return np.log(lo + rng.random(n) * (hi - lo)) / growth


def build_population(
    rng: np.random.Generator,
    traits: np.random.Generator,
    n: int,
    window: Window,
    spec: WorldSpec,
    contacts: np.random.Generator,
) -> Population:
    """Draw every customer's identity and hidden traits in one vectorised pass.

    `traits` draws what the responding world added (responsiveness), and `contacts` who has a
    mobile number and SMS consent, each on its own stream so the history's draws stay as they were.
    """
    people, baseline, email = spec.population, spec.baseline, spec.email
    first_name = rng.integers(0, len(FIRST_NAMES), n).astype(np.int16)
    tz = rng.choice(len(TZ_WEIGHTS), n, p=TZ_WEIGHTS).astype(np.int8)
    signup_rel = _signup_days(rng, n, window)
    signup_ms = (window.start_ms + signup_rel * DAY_MS).astype(np.int64) // 1000 * 1000
    signup_day = np.floor_divide(signup_ms - window.start_ms, DAY_MS)
    signup_f = (signup_ms - window.start_ms) / DAY_MS

    median, spread = people.median_sessions_per_day, people.session_rate_spread
    log_lam = rng.normal(np.log(median), spread, n)
    lam = np.exp(log_lam)
    z = (log_lam - np.log(median)) / spread if spread > 0 else np.zeros(n)

    shares = [people.lifecycle_shares[name] for name in LIFECYCLES]
    lifecycle = rng.choice(len(LIFECYCLES), n, p=shares).astype(np.int8)
    onset_day = np.maximum(rng.uniform(-20, window.days - 3, n), signup_f)
    tau_days = rng.uniform(3.0, 25.0, n)
    stop_day = np.maximum(rng.uniform(-120, window.days, n), signup_f + rng.uniform(0, 10, n))
    stop_day = np.where(lifecycle == NEVER, signup_f, stop_day)
    inactive = np.isin(lifecycle, (STOPPED, NEVER))

    p_cart = _sigmoid(_logit(baseline.median_cart_rate) + 0.3 * z + rng.normal(0, 0.5, n))
    p_buy = _sigmoid(_logit(baseline.median_purchase_rate) + rng.normal(0, 0.4, n))
    pref_category = rng.integers(0, 12, n).astype(np.int16)

    device1 = rng.choice(3, n, p=[0.45, 0.45, 0.10]).astype(np.int8)
    device2 = ((device1 + rng.integers(1, 3, n)) % 3).astype(np.int8)
    has_device2 = rng.random(n) < 0.35
    link_day = rng.integers(-30, window.days + 20, n).astype(np.int32)

    open_rate = _sigmoid(_logit(email.median_open_rate) + 0.5 * z + rng.normal(0, 0.6, n) - 0.8 * inactive)
    click_rate = open_rate * _sigmoid(_logit(email.median_click_rate) + 0.4 * z + rng.normal(0, 0.5, n))
    unsub_logit = _logit(email.median_unsubscribe_rate)
    unsubscribe_rate = _sigmoid(unsub_logit - 0.4 * z + rng.normal(0, 0.5, n) + 0.6 * inactive)
    spam_rate = email.spam_per_unsubscribe * unsubscribe_rate

    plan_score = z + rng.normal(0, 1.0, n)
    plan0 = np.digitize(plan_score, [0.2, 1.1, 2.2]).astype(np.int8)  # ~55% free ... ~5% enterprise
    tenure = np.maximum(0.0, -signup_f)
    orders = tenure * lam * 0.6 * p_cart * 0.55 * p_buy
    ltv0 = np.round(orders * 45.0 * rng.lognormal(0, 0.5, n) + plan0 * 20.0 * tenure / 30.0, 2)

    consent0 = rng.random(n) < people.marketing_consent_share
    changed = (rng.random(n) < 0.2) & (signup_f < 0)
    consent_updated0_ms = np.where(
        changed,
        signup_ms + (rng.random(n) * np.maximum(0, window.start_ms - signup_ms)).astype(np.int64),
        signup_ms,
    )
    consent_updated0_ms = consent_updated0_ms // 1000 * 1000
    profile_ms = signup_ms + (rng.random(n) * np.maximum(0, window.start_ms - signup_ms)).astype(np.int64)
    updated0_ms = np.maximum(consent_updated0_ms, np.where(rng.random(n) < 0.5, profile_ms // 1000 * 1000, 0))
    email = _emails(rng, n, first_name)  # drawn here, between the traits, as it always was
    dead_mailbox = rng.random(n) < people.dead_mailbox_share
    newsletter_member = rng.random(n) < people.newsletter_member_share
    persuadability = rng.lognormal(0, 0.5, n) * np.where(lifecycle == DECAYING, 1.5, 1.0)
    put_off = rng.random(n) < people.put_off_share
    sigma = spec.effects.responsiveness_spread

    return Population(
        n=n,
        customer_id=numbered_ids("cus_", np.arange(1, n + 1), max(7, len(str(n)))),
        email=email,
        first_name=first_name,
        tz=tz,
        signup_ms=signup_ms,
        signup_day=signup_day,
        lam=lam,
        lifecycle=lifecycle,
        onset_day=onset_day,
        tau_days=tau_days,
        stop_day=stop_day,
        p_cart=p_cart,
        p_buy=p_buy,
        pref_category=pref_category,
        device1=device1,
        device2=device2,
        has_device2=has_device2,
        link_day=link_day,
        open_rate=open_rate,
        click_rate=click_rate,
        unsubscribe_rate=unsubscribe_rate,
        spam_rate=spam_rate,
        dead_mailbox=dead_mailbox,
        newsletter_member=newsletter_member,
        persuadability=persuadability,
        put_off=put_off,
        kind=np.where(put_off, PUT_OFF, lifecycle).astype(np.int8),
        responsiveness=traits.lognormal(-(sigma**2) / 2, sigma, n),
        weekend_factor=baseline.weekend_factor,
        plan0=plan0,
        ltv0=ltv0,
        consent0=consent0,
        consent_updated0_ms=consent_updated0_ms,
        updated0_ms=updated0_ms,
        sms_consent=contacts.random(n) < people.sms_consent_share,
    )


def phone_numbers(pop: Population, rows: np.ndarray) -> pa.StringArray:
    """`+1555` and seven digits of the customer number for customers with SMS consent, else null."""
    number = pa.array(np.asarray(rows, dtype=np.int64) + 1).cast(pa.string())
    phone = pc.binary_join_element_wise("+1555", pc.utf8_lpad(number, 7, "0"), "")
    return pc.if_else(pa.array(pop.sms_consent[rows]), phone, pa.nulls(len(rows), pa.string()))


def build_visitors(rng: np.random.Generator, customers: int, window: Window, spec: WorldSpec) -> Visitors:
    """Visitors arrive during (or shortly before) the window and drift away after a while."""
    n = int(round(customers * spec.population.visitors_per_customer))
    first_day = rng.uniform(-30, window.days, n)
    return Visitors(
        n=n,
        tz=rng.choice(len(TZ_WEIGHTS), n, p=TZ_WEIGHTS).astype(np.int8),
        lam=rng.lognormal(np.log(0.12), 0.9, n),
        first_day=first_day,
        last_day=first_day + rng.exponential(10.0, n),
        device=rng.choice(3, n, p=[0.35, 0.55, 0.10]).astype(np.int8),
        weekend_factor=spec.baseline.weekend_factor,
    )


def anonymous_ids(rng: np.random.Generator, population: Population, visitors: Visitors) -> pa.StringArray:
    """Device ids: customer i's first device at i, second at n+i, visitor j at 2n+j."""
    return from_codes(uuid4_codes(rng, 2 * population.n + visitors.n))
