"""World specifications: defaults, the example worlds, precedence of effect cells, clear mistakes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reengage import settings as reengage_settings
from reengage.defs.interventions.campaigns import load_campaigns
from reengage_dev.demo.clock import DAY_MS
from reengage_dev.demo.command import main
from reengage_dev.demo.keyed import KeyedDraws
from reengage_dev.demo.spec import KINDS, WORLDS_DIR, Effect, WorldSpecError, load_spec
from reengage_dev.demo.truth import SentEffect, conversion_probabilities, truth_table
from reengage_dev.demo.world import World

EXAMPLES = ("nothing_works", "against_churn_risk", "harms_a_segment")


def _true_lifts(world: World, campaign: str, variant: str) -> np.ndarray:
    """Every customer's true lift in a 7-day attribution window from a message on day 20 at 12:00."""
    who = np.flatnonzero(world.pop.signup_day < 20)
    send = world.window.day_ms(20) + 12 * 3_600_000
    cells = world.spec.effects.by_kind(campaign, variant)
    kind = world.pop.kind[who]
    sent = SentEffect(
        start_ms=np.full(len(who), world.window.day_ms(21)),
        end_ms=np.full(len(who), send + int(world.spec.effects.duration_days * DAY_MS)),
        extra=np.array([c.extra_purchases for c in cells])[kind] * world.pop.responsiveness[who],
        factor=np.array([c.activity_factor for c in cells])[kind],
        delivered=np.ones(len(who), bool),
    )
    start, end = np.full(len(who), send), np.full(len(who), send + 7 * DAY_MS)
    mean_delay = world.spec.effects.mean_delay_days * DAY_MS
    without, with_message = conversion_probabilities(
        world.pop, world.window, who, start, end, sent, mean_delay
    )
    lifts = np.full(world.pop.n, np.nan)
    lifts[who] = with_message - without
    return lifts


def _campaign_variants() -> list[tuple[str, str]]:
    return [(c.id, v.name) for c in load_campaigns(reengage_settings.campaigns_dir()) for v in c.variants]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, World]:
    """One small history per example world (the same seed: the same people, different effects)."""
    return {
        name: World(
            tmp_path_factory.mktemp(name),
            customers=4_000,
            days=30,
            end_date=date(2024, 3, 31),
            seed=9,
            spec=load_spec(WORLDS_DIR / f"{name}.yaml"),
        )
        for name in EXAMPLES
    }


def test_the_default_world_has_a_zero_effect_campaign_a_split_variant_and_put_off_users() -> None:
    # Guards what the demo is meant to show: a campaign whose truth is zero for everyone, a variant
    # that beats its control for some kinds of user and loses for others, and users a message
    # puts off.
    effects = load_spec().effects
    assert all(effects.lookup("browse_abandonment", "control", kind) == Effect() for kind in KINDS)
    variants = ("generic", "personal_free_shipping")
    control, free = (effects.lookup("cart_abandonment", v, "steady") for v in variants)
    assert free.extra_purchases * effects.personal_content_factor > control.extra_purchases
    control, free = (effects.lookup("cart_abandonment", v, "decaying") for v in variants)
    assert free.extra_purchases * effects.personal_content_factor < control.extra_purchases
    assert effects.lookup("cart_abandonment", "generic", "put_off").activity_factor < 1
    # Personal content is the only difference between the generic and the personal reminder.
    assert effects.by_kind("cart_abandonment", "generic") == effects.by_kind("cart_abandonment", "personal")
    assert effects.personal_content_factor > 1
    assert load_spec().population.put_off_share > 0


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_world_loads_and_does_what_its_file_says(worlds: dict[str, World], name: str) -> None:
    # Guards the example worlds a check runs the product on: their effects, computed from the
    # truth, must have the shape each file promises, for every campaign and variant in campaigns/.
    world = worlds[name]
    churn = truth_table(world.pop, world.window)["true_churn_probability"].to_numpy()
    kind = np.array(KINDS)[world.pop.kind]
    for campaign, variant in _campaign_variants():
        lifts = _true_lifts(world, campaign, variant)
        known = ~np.isnan(lifts)
        if name == "nothing_works":
            assert np.all(np.abs(lifts[known]) < 1e-12), (campaign, variant)
        elif name == "against_churn_risk":
            assert np.corrcoef(lifts[known], churn[known])[0, 1] < -0.2, (campaign, variant)
            assert lifts[known & (kind == "steady")].mean() > 0.05
            assert lifts[known & (kind == "decaying")].max() <= 0
        else:
            assert lifts[known & (kind == "decaying")].max() <= 0, (campaign, variant)
            assert lifts[known & (kind == "decaying")].mean() < 0
            assert lifts[known & (kind == "steady")].min() > 0


def test_effect_cells_prefer_the_users_kind_then_the_campaign_then_the_variant(tmp_path: Path) -> None:
    # Guards the documented precedence: a rule for a kind of user in every campaign must beat a
    # campaign's rule for everyone, or "every message harms a segment" could not be written once.
    path = tmp_path / "precedence.yaml"
    path.write_text(
        "effects:\n  campaigns:\n"
        "    all:\n      all: {all: 0.01, decaying: 0.02}\n"
        "    cart_abandonment:\n      all: {all: 0.03}\n      control: {all: 0.04, stopped: 0.05}\n"
    )
    effects = load_spec(path).effects

    def extra(campaign: str, variant: str, kind: str) -> float:
        return effects.lookup(campaign, variant, kind).extra_purchases

    assert extra("cart_abandonment", "control", "stopped") == 0.05
    assert extra("cart_abandonment", "control", "decaying") == 0.02
    assert extra("cart_abandonment", "control", "steady") == 0.04
    assert extra("cart_abandonment", "free_shipping", "steady") == 0.03
    assert extra("browse_abandonment", "control", "steady") == 0.01


def test_a_world_file_keeps_every_default_it_leaves_out(tmp_path: Path) -> None:
    # Guards partial files: changing one number must not need a copy of the whole default world.
    path = tmp_path / "busier.yaml"
    path.write_text("baseline:\n  weekend_factor: 1.5\n")
    spec, default = load_spec(path), load_spec()
    assert spec.baseline.weekend_factor == 1.5
    assert spec.population == default.population and spec.effects == default.effects
    assert default.effects.personal_content_factor == 1.6  # the default world's, kept
    assert spec.source == str(path) and "weekend_factor: 1.5" in spec.text


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "effects:\n  campaigns:\n    cart_abandonment:\n      control:\n"
            "        decaying: {activity_factor: 1.5}\n",
            5,
            "effects.campaigns.cart_abandonment.control.decaying.activity_factor: "
            "expected a number between 0 and 1",
        ),
        ("effects:\n  campaigns:\n    x:\n      y:\n        sleepy: 0.1\n", 5, "x.y.sleepy: unknown field"),
        ("population:\n  lifecycle_shares:\n    {steady: 0.5, decaying: 0.2, stopped: 0.2,"
         " never_activated: 0.2}",
         2, "population.lifecycle_shares: shares must add up to 1, they add up to 1.1"),
        ("baseline:\n  weekend_factor: lots\n", 2, "baseline.weekend_factor: expected a number above 0"),
        ("weather: sunny\n", 1,
         "weather: unknown field (allowed: population, baseline, email, sms, effects)"),
        ("effects: [1, 2\n", 2, "not valid YAML"),
        ("effects:\n  personal_content:\n    factor: -1\n", 3,
         "effects.personal_content.factor: expected a number between 0 and 10, got -1"),
        ("effects:\n  personal_content: {boost: 2}\n", 2,
         "effects.personal_content.boost: unknown field (allowed: factor)"),
    ],
)  # fmt: skip
def test_a_mistake_in_a_world_file_names_the_file_the_line_and_the_field(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    # Guards bad input: a check author's typo must point at its line, before anything is generated.
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(WorldSpecError) as error:
        load_spec(path)
    assert str(error.value).startswith(f"{path}:{line}: ")
    assert message in str(error.value)


def test_the_demo_refuses_a_bad_world_file_before_touching_the_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Guards the demo command: an invalid --world stops it with the reason, keeping the old demo.
    path = tmp_path / "bad.yaml"
    path.write_text("effects:\n  duration_days: -1\n")
    keep = reengage_settings.home() / "warehouse.duckdb"
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_bytes(b"an earlier demo")
    assert main(["--world", str(path)]) == 2
    assert f"{path}:2: effects.duration_days: expected a number above 0" in capsys.readouterr().err
    assert keep.read_bytes() == b"an earlier demo"


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40, unique=True),
    data=st.data(),
)
def test_a_keyed_draw_depends_only_on_its_own_key(keys: list[int], data: st.DataObject) -> None:
    # Guards the property every independence guarantee rests on: a row's numbers are the same
    # whichever other rows are drawn with it, in whatever order.
    subset = data.draw(st.lists(st.sampled_from(keys), min_size=1, unique=True))
    everyone = KeyedDraws(3, "messages", np.array(keys, np.uint64))
    some = KeyedDraws(3, "messages", np.array(subset, np.uint64))
    position = {key: i for i, key in enumerate(keys)}
    for _ in range(3):  # successive calls stay aligned too
        full, part = everyone.random(len(keys)), some.random(len(subset))
        assert np.array_equal(full[[position[k] for k in subset]], part)
        assert ((part > 0) & (part < 1)).all()
