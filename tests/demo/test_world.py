"""The demo world honours the landing contracts and has every shape the pipeline relies on.

Each check reads the written files back, independently of the generator's
internals, so a regression in any stage of the generator shows up here.
"""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reengage.catalog_values import VALID_URL
from reengage.phones import VALID_NUMBER
from reengage_dev.demo import generate_world
from reengage_dev.demo.catalog import ACTIVE_EVENTS, PRODUCTS_PER_CATEGORY, build_catalog
from reengage_dev.demo.exports import COLUMNS, SOURCES  # the exports the demo writes (no sms_events)
from reengage_dev.demo.generate import main
from reengage_dev.demo.spec import KINDS, load_spec
from reengage_dev.demo.truth import TRUTH_COLUMNS
from reengage_dev.demo.world import _rng

END = date(2024, 3, 31)  # the window crosses the EU daylight-saving change on 31 March
SMALL = {"customers": 300, "days": 10, "end_date": END, "seed": 11, "dirty_share": 0.03}
MODEST = {"customers": 1500, "days": 45, "end_date": END, "seed": 3}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KNOWN_TIMEZONES = zoneinfo.available_timezones()


def _days(end: date, days: int) -> list[str]:
    return [(end - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return pd.read_json(path, lines=True, dtype=False)


def _load(home: Path, source: str) -> pd.DataFrame:
    """Every file of a source, with the file's day in ``_day``."""
    frames = []
    for path in sorted((home / "landing" / source).iterdir()):
        if path.stat().st_size == 0:
            continue  # an empty JSON Lines day: no rows, no header
        frame = _read(path)
        frame["_day"] = path.stem.split("_")[-1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("small")
    return home, generate_world(home, **SMALL)


@pytest.fixture(scope="module")
def modest(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("modest")
    return home, generate_world(home, **MODEST)


@pytest.fixture(scope="module")
def modest_frames(modest):
    home, _ = modest
    return {source: _load(home, source) for source in SOURCES}


def _digest(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_byte_identical_files(small, tmp_path: Path) -> None:
    home, summary = small
    again = generate_world(tmp_path / "again", **SMALL)
    assert _digest(tmp_path / "again") == _digest(home)
    assert again.rows == summary.rows and again.dirty_rows == summary.dirty_rows
    other = generate_world(tmp_path / "other", **{**SMALL, "seed": 12})
    assert _digest(tmp_path / "other") != _digest(home)
    assert other.rows != summary.rows


def test_one_file_per_source_per_day_in_default_formats(small) -> None:
    home, summary = small
    expected_ext = {"customers": "csv", "events": "parquet", "email_events": "jsonl", "products": "csv"}
    for source in SOURCES:
        names = sorted(p.name for p in (home / "landing" / source).iterdir())
        assert names == [f"{source}_{d}.{expected_ext[source]}" for d in _days(END, 10)]
    assert summary.files == dict.fromkeys(SOURCES, 10)
    assert summary.start_date == date(2024, 3, 22) and summary.end_date == END
    assert not list(home.rglob("*.tmp")), "no temporary files left behind"


def test_columns_and_types_follow_the_contract(small) -> None:
    home, summary = small
    for source in SOURCES:
        frame = _load(home, source)
        assert len(frame) == summary.rows[source]
        assert [c for c in frame.columns if c != "_day"] == list(COLUMNS[source])

    events = pq.read_schema(next((home / "landing" / "events").iterdir()))
    assert events.field("event_ts").type == pa.timestamp("ms", tz="UTC")
    assert events.field("value").type == pa.float64()
    customers = _load(home, "customers")
    clean_ts = customers["updated_at"]
    assert clean_ts.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert set(customers["marketing_consent"]) == {"true", "false"}
    emails = _load(home, "email_events")
    assert pd.api.types.is_integer_dtype(emails["timestamp"])
    assert (emails["campaign_id"] == "legacy_newsletter").all()
    assert pd.to_datetime(emails["run_date"], format="%Y-%m-%d").dt.day_of_week.eq(1).all()
    needs_reason = emails["event"].isin(["bounce", "dropped"])
    assert emails.loc[needs_reason, "reason"].notna().all()
    assert emails.loc[~needs_reason, "reason"].isna().all()


def test_other_formats_and_empty_days(tmp_path: Path) -> None:
    formats = {"customers": "parquet", "events": "jsonl", "email_events": "csv"}
    summary = generate_world(
        tmp_path, customers=120, days=4, end_date=date(2024, 3, 25), seed=5, dirty_share=0.0, formats=formats
    )
    for source, fmt in formats.items():
        paths = sorted((tmp_path / "landing" / source).iterdir())
        assert [p.suffix for p in paths] == [f".{fmt}"] * 4
    # The window 22..25 March 2024 holds no Tuesday: email files exist, with a header and no rows.
    for path in (tmp_path / "landing" / "email_events").iterdir():
        assert path.read_text().strip() == ",".join(f'"{c}"' for c in COLUMNS["email_events"])
    customers = pq.read_table(tmp_path / "landing" / "customers" / "customers_2024-03-22.parquet")
    assert customers.schema.field("signup_at").type == pa.timestamp("ms", tz="UTC")
    assert customers.schema.field("marketing_consent").type == pa.bool_()
    events = _load(tmp_path, "events")
    assert _utc(events["event_ts"]).notna().all() and events["event_ts"].str.endswith("Z").all()
    assert summary.rows["email_events"] == 0
    assert all(n == 0 for kinds in summary.dirty_rows.values() for n in kinds.values())


def test_a_different_world_in_the_same_home_needs_replace(tmp_path: Path) -> None:
    generate_world(tmp_path, customers=40, days=3, end_date=END, seed=1)
    (tmp_path / "landing" / "events" / "notes.txt").write_text("not a landing file")
    with pytest.raises(FileExistsError, match="replace"):
        generate_world(tmp_path, customers=40, days=2, end_date=END + timedelta(days=1), seed=1)
    generate_world(tmp_path, customers=40, days=2, end_date=END + timedelta(days=1), seed=1, replace=True)
    names = sorted(p.name for p in (tmp_path / "landing" / "events").iterdir())
    assert names == ["events_2024-03-31.parquet", "events_2024-04-01.parquet", "notes.txt"]
    generate_world(
        tmp_path, customers=40, days=2, end_date=END + timedelta(days=1), seed=1
    )  # same files: fine


def test_rejects_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        generate_world(tmp_path, customers=10, days=1, end_date=END, formats={"events": "xlsx"})
    with pytest.raises(ValueError, match="source"):
        generate_world(tmp_path, customers=10, days=1, end_date=END, formats={"orders": "csv"})


def test_dirty_rows_in_files_match_the_summary(small) -> None:
    home, summary = small
    customers = _load(home, "customers")
    found_customers = {
        "invalid_email": int((~customers["email"].str.match(EMAIL_RE)).sum()),
        "unknown_timezone": int((~customers["timezone"].isin(KNOWN_TIMEZONES)).sum()),
        "negative_lifetime_value": int((customers["lifetime_value"].astype(float) < 0).sum()),
        "unparseable_timestamp": int(_utc(customers["signup_at"]).isna().sum()),
    }
    events = _load(home, "events")
    day_start = pd.to_datetime(events["_day"]).dt.tz_localize("UTC")
    found_events = {
        "duplicate_event_id": len(events) - events["event_id"].nunique(),
        "missing_identity": int((events["user_id"].isna() & events["anonymous_id"].isna()).sum()),
        "future_timestamp": int((events["event_ts"] >= day_start + pd.Timedelta(days=1)).sum()),
    }
    emails = _load(home, "email_events")
    found_emails = {"duplicate_webhook": len(emails) - emails["sg_event_id"].nunique()}
    products = _load(home, "products")
    links = [~products[c].str.match(VALID_URL) for c in ("product_url", "image_url")]
    found_products = {
        "negative_price": int((products["price"].astype(float) < 0).sum()),
        "bad_url": int((links[0] | links[1]).sum()),
    }
    assert summary.dirty_rows == {
        "customers": found_customers,
        "events": found_events,
        "email_events": found_emails,
        "products": found_products,
    }
    assert sum(found_products.values()) > 0
    assert sum(found_events.values()) > 0 and sum(found_customers.values()) > 0
    duplicated = events[events["event_id"].duplicated(keep=False)]
    assert duplicated.drop(columns="_day").duplicated(keep=False).all(), "duplicates are exact copies"


def test_clean_rows_stay_in_their_day(modest_frames) -> None:
    events = modest_frames["events"]
    day_start = pd.to_datetime(events["_day"]).dt.tz_localize("UTC")
    offset = events["event_ts"] - day_start
    assert (offset >= pd.Timedelta(0)).all()
    assert not offset.between(pd.Timedelta(days=1), pd.Timedelta(days=2), inclusive="left").any()
    emails = modest_frames["email_events"]
    when = pd.to_datetime(emails["timestamp"], unit="s").dt.strftime("%Y-%m-%d")
    assert (when == emails["_day"]).all()


def test_funnel_fields(modest_frames) -> None:
    events = modest_frames["events"]
    names = set(events["event_name"])
    assert {"page_view", "product_view", "add_to_cart", "checkout_started", "purchase"} <= names
    assert {"form_submit", "search", "login"} <= names
    product = events["event_name"].isin(["product_view", "add_to_cart", "checkout_started", "purchase"])
    assert events.loc[product, ["product_id", "category"]].notna().all().all()
    assert events.loc[~product, ["product_id", "category"]].isna().all().all()
    priced = events["event_name"].isin(["add_to_cart", "purchase"])
    assert (events.loc[priced, "value"] > 0).all() and events.loc[~priced, "value"].isna().all()
    counts = events["event_name"].value_counts()
    assert counts["page_view"] > counts["product_view"] > counts["add_to_cart"]
    assert counts["add_to_cart"] > counts["checkout_started"] > counts["purchase"] > 0


def test_sessions_have_short_gaps_and_some_long_ones(modest_frames) -> None:
    events = modest_frames["events"]
    known = events.dropna(subset=["anonymous_id"]).sort_values(["anonymous_id", "event_ts"])
    gaps = known.groupby("anonymous_id")["event_ts"].diff().dt.total_seconds()
    assert gaps.quantile(0.25) < 60, "events within a session are seconds apart"
    # A fresh visit opens with page_view or login; a funnel step after a long pause is a split session.
    resumed = (gaps > 30 * 60) & (gaps < 3 * 3600) & ~known["event_name"].isin(["page_view", "login"])
    assert resumed.sum() >= 50, "some visits pause for over 30 minutes mid-funnel"


def test_activity_is_heavy_tailed(modest_frames) -> None:
    events = modest_frames["events"]
    per_user = events.dropna(subset=["user_id"]).groupby("user_id").size().sort_values(ascending=False)
    top_decile = per_user.head(len(per_user) // 10).sum() / per_user.sum()
    assert top_decile > 0.35


def test_sessions_peak_in_the_local_evening(modest_frames) -> None:
    events = modest_frames["events"]
    customers = modest_frames["customers"].drop_duplicates("customer_id", keep="last")
    tz = events["user_id"].map(customers.set_index("customer_id")["timezone"])
    hours = []
    for name, group in events[tz.isin(KNOWN_TIMEZONES)].groupby(tz):
        hours.append(group["event_ts"].dt.tz_convert(name).dt.hour)
    local = pd.concat(hours)
    evening = local.between(18, 22).mean()
    night = local.between(2, 5).mean()
    assert evening > 0.35 and evening > 6 * night


def test_every_dormancy_stage_and_at_risk_users(modest_frames) -> None:
    events, customers = modest_frames["events"], modest_frames["customers"]
    events = events[events["event_ts"] < pd.Timestamp(END + timedelta(days=1), tz="UTC")]
    owner = (
        events.dropna(subset=["user_id", "anonymous_id"])
        .sort_values("event_ts")
        .drop_duplicates("anonymous_id", keep="last")
        .set_index("anonymous_id")["user_id"]
    )
    who = events["user_id"].fillna(events["anonymous_id"].map(owner))
    active = events[events["event_name"].isin(ACTIVE_EVENTS) & who.notna()].assign(who=who)
    last_day = active.groupby("who")["event_ts"].max().dt.tz_localize(None).dt.normalize()
    latest = customers.sort_values("updated_at").drop_duplicates("customer_id", keep="last")
    signup = _utc(latest.set_index("customer_id")["signup_at"]).dropna().dt.tz_localize(None).dt.normalize()
    reference = signup.copy()
    reference.update(last_day)
    days_since = (pd.Timestamp(END) - reference).dt.days
    stages = pd.cut(days_since, [-1, 6, 13, 29, 10**6], labels=["active", "cooling", "dormant", "lapsed"])
    counts = stages.value_counts()
    assert (counts >= 20).all(), counts.to_dict()

    day = active["event_ts"].dt.tz_localize(None)
    early = active[day < pd.Timestamp(END - timedelta(days=24))].groupby("who").size()
    late = active[day >= pd.Timestamp(END - timedelta(days=13))].groupby("who").size()
    busy_early = early[early >= 4]
    gone_quiet = (~busy_early.index.isin(late.index)).sum()
    assert gone_quiet >= 15 and gone_quiet / len(busy_early) > 0.09, "busy users who stopped coming"

    day = active["event_ts"].dt.tz_localize(None).dt.normalize()
    last7 = active[day > pd.Timestamp(END - timedelta(days=7))].groupby("who").size()
    window = (day <= pd.Timestamp(END - timedelta(days=7))) & (day > pd.Timestamp(END - timedelta(days=35)))
    before = active[window].groupby("who").size()
    both = pd.DataFrame({"last7": last7, "before": before}).fillna(0)
    at_risk = (both["before"] > 0) & (both["last7"] < 0.5 * both["before"] / 4)
    assert 20 <= at_risk.sum() < len(both)


def test_anonymous_events_are_stitched_after_login(modest_frames) -> None:
    events = modest_frames["events"].dropna(subset=["anonymous_id"])
    anonymous = events[events["user_id"].isna()].groupby("anonymous_id")["event_ts"].min()
    identified = events[events["user_id"].notna()].groupby("anonymous_id")["event_ts"].min()
    both = pd.concat({"anon": anonymous, "known": identified}, axis=1).dropna()
    assert (both["anon"] < both["known"]).sum() >= 20, "anonymous first, then the same device logs in"
    never = set(anonymous.index) - set(identified.index)
    assert len(never) >= 20, "some anonymous ids never log in"
    ordered = events.sort_values(["anonymous_id", "event_ts"])
    previous = ordered.groupby("anonymous_id")[["user_id", "event_ts"]].shift()
    mid_session_login = (
        (ordered["event_name"] == "login")
        & ordered["user_id"].notna()
        & previous["user_id"].isna()
        & (ordered["event_ts"] - previous["event_ts"] < pd.Timedelta(minutes=30))
    )
    assert mid_session_login.sum() >= 20, "visits that start anonymous and log in part-way"


def test_identified_events_never_precede_signup(modest_frames) -> None:
    events, customers = modest_frames["events"], modest_frames["customers"]
    signup = _utc(customers.drop_duplicates("customer_id").set_index("customer_id")["signup_at"])
    known = events.dropna(subset=["user_id"])
    signed_up = known["user_id"].map(signup)
    checked = signed_up.notna()
    assert checked.mean() > 0.99
    assert (known.loc[checked, "event_ts"] >= signed_up[checked]).all()


def test_consent_mix_and_withdrawals(modest_frames) -> None:
    customers = modest_frames["customers"].sort_values(["customer_id", "updated_at"])
    latest = customers.drop_duplicates("customer_id", keep="last")
    share = (latest["marketing_consent"] == "true").mean()
    assert 0.6 < share < 0.8
    first = customers.drop_duplicates("customer_id", keep="first").set_index("customer_id")
    withdrawn = (first["marketing_consent"] == "true") & (
        latest.set_index("customer_id")["marketing_consent"] == "false"
    )
    assert withdrawn.sum() >= 5


def test_customer_snapshots(modest) -> None:
    home, summary = modest
    days = _days(END, 45)
    first = _read(home / "landing" / "customers" / f"customers_{days[0]}.csv")
    signups = _utc(first["signup_at"]).dropna()
    assert (signups < pd.Timestamp(days[1], tz="UTC")).all()
    later = _load(home, "customers")
    later = later[later["_day"] > days[0]]
    assert set(later["customer_id"]) - set(first["customer_id"]), "new signups appear in later snapshots"
    assert len(later) < 0.5 * summary.customers * 44, "later files hold only changed customers"
    updated = _utc(later["updated_at"]).dt.strftime("%Y-%m-%d")
    assert (updated == later["_day"]).all(), "a later snapshot row changed on its own day"
    assert len(first) + later["customer_id"].nunique() >= summary.customers * 0.99


def test_newsletter_history_feeds_suppressions(modest_frames) -> None:
    emails = modest_frames["email_events"]
    counts = emails["event"].value_counts()
    for kind in ("processed", "delivered", "open", "click", "bounce", "unsubscribe"):
        assert counts.get(kind, 0) > 0, kind
    assert counts["delivered"] < counts["processed"]
    assert counts["open"] > counts["click"]
    per_message = emails.groupby("sg_message_id")["send_id"].nunique()
    assert (per_message == 1).all()
    opted_out = emails[emails["event"].isin(["unsubscribe", "group_unsubscribe", "spamreport"])]
    first_out = opted_out.groupby("email")["timestamp"].min()
    mailed = emails[emails["event"] == "processed"]
    after = mailed["timestamp"] > mailed["email"].map(first_out)
    assert len(first_out) >= 10 and not after.any(), "no mail after an unsubscribe or spam report"


def test_truth_file(modest, modest_frames) -> None:
    home, summary = modest
    truth = pq.read_table(home / "truth" / "user_truth.parquet").to_pandas()
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert len(truth) == summary.customers and truth["customer_id"].is_unique
    assert set(modest_frames["customers"]["customer_id"]) <= set(truth["customer_id"])
    rates = truth.drop(columns=["customer_id", "kind", "responsiveness"])
    assert ((rates >= 0) & (rates <= 1)).all().all()
    assert set(truth["kind"]) == set(KINDS) and (truth["responsiveness"] > 0).all()
    assert (truth["click_rate"] <= truth["open_rate"]).all()
    uplift = truth["treated_conversion_rate"] - truth["baseline_conversion_rate"]
    assert uplift.mean() > 0.005 and uplift.std() > 0.005 and (uplift < 0).any()
    engaged = truth["open_rate"] > truth["open_rate"].median()
    assert uplift[engaged].mean() > uplift[~engaged].mean()
    events = modest_frames["events"]
    recent = events[events["event_ts"] >= pd.Timestamp(END - timedelta(days=6), tz="UTC")]
    busy = set(recent["user_id"].dropna())
    churn = truth.set_index("customer_id")["true_churn_probability"]
    assert churn[churn.index.isin(busy)].mean() + 0.2 < churn[~churn.index.isin(busy)].mean()
    assert (churn == 1.0).any() and np.isclose(churn, 1.0).mean() < 0.6


def test_command_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--home", str(tmp_path), "--customers", "50", "--days", "2", "--seed", "1"]
    assert main([*argv, "--end-date", "2024-03-31", "--format", "events=csv"]) == 0
    out = capsys.readouterr().out
    assert "2024-03-30 .. 2024-03-31" in out and "events" in out
    assert (tmp_path / "landing" / "events" / "events_2024-03-31.csv").exists()
    assert (tmp_path / "truth" / "user_truth.parquet").exists()


def test_the_demo_and_the_warehouse_agree_on_which_events_are_active() -> None:
    """Guards the truth file: its churn probabilities assume the warehouse's active-action catalog."""
    import csv

    from reengage.settings import DBT_PROJECT_DIR
    from reengage_dev.demo.catalog import ACTIVE_EVENTS

    with open(DBT_PROJECT_DIR / "seeds" / "event_catalog.csv") as handle:
        seed = {row["event_name"] for row in csv.DictReader(handle) if row["is_active_action"] == "true"}
    assert set(ACTIVE_EVENTS) == seed


def test_a_tiny_world_never_writes_an_empty_customers_export(tmp_path) -> None:
    # 150 customers over 4 days ending 2026-10-16 drew no CRM change on the second day before
    # profile edits existed, and the volume gate blocks an empty customers export.
    generate_world(tmp_path, customers=150, days=4, end_date=date(2026, 10, 16), seed=3)
    counts = [len(_read(path)) for path in sorted((tmp_path / "landing" / "customers").iterdir())]
    assert len(counts) == 4 and min(counts) >= 1, counts


def test_a_share_of_customers_has_a_number_and_sms_consent_drawn_apart_from_everything_else(
    tmp_path: Path,
) -> None:
    # Guards the SMS channel's demo: the world exported no number and no SMS consent, so nobody could be
    # texted. A share (population.sms_consent_share, 0.30 by default) has an E.164 number and consent;
    # the draw is its own stream, so a world without SMS is the same world in every other column.
    world = {**SMALL, "customers": 600, "days": 3, "dirty_share": 0.0}
    generate_world(tmp_path / "default", **world)
    spec = tmp_path / "no_sms.yaml"
    spec.write_text("population:\n  sms_consent_share: 0.0\n")
    generate_world(tmp_path / "no_sms", **world, spec=load_spec(spec))
    texted = _load(tmp_path / "default", "customers")
    plain = _load(tmp_path / "no_sms", "customers")
    consent = texted["sms_consent"].map({"true": True, "false": False})
    assert 0.2 < consent.mean() < 0.4
    assert texted["phone"].notna().equals(consent)
    assert texted["phone"].dropna().str.fullmatch(VALID_NUMBER[1:-1]).all()
    assert not plain["sms_consent"].map({"true": True, "false": False}).any() and plain["phone"].isna().all()
    sms_columns = ["phone", "sms_consent", "sms_consent_updated_at"]
    pd.testing.assert_frame_equal(texted.drop(columns=sms_columns), plain.drop(columns=sms_columns))
    for source in ("events", "email_events"):
        assert _digest_of(tmp_path / "default", source) == _digest_of(tmp_path / "no_sms", source)


def _digest_of(home: Path, source: str) -> dict[str, str]:
    return {k: v for k, v in _digest(home / "landing").items() if k.startswith(source + "/")}


def test_the_catalog_export_holds_every_product_the_events_name_at_the_price_their_values_use(
    modest_frames,
) -> None:
    # Guards the context marts' joins on the demo: a product the events name but the catalog lacks,
    # another category, or a price the cart values do not use would show a stranger's product.
    products, events = modest_frames["products"], modest_frames["events"]
    assert products.groupby("_day")["product_id"].nunique().eq(len(products["product_id"].unique())).all()
    catalog = products.drop_duplicates("product_id").set_index("product_id")
    named = events.dropna(subset=["product_id"])
    assert set(named["product_id"]) <= set(catalog.index)
    assert (named["category"].to_numpy() == catalog.loc[named["product_id"], "category"].to_numpy()).all()
    clean = (
        products[products["price"].astype(float) >= 0].drop_duplicates("product_id").set_index("product_id")
    )
    carts = named[named["event_name"] == "add_to_cart"]
    quantity = carts["value"].to_numpy() / clean.loc[carts["product_id"], "price"].astype(float).to_numpy()
    assert np.allclose(quantity, np.round(quantity), atol=1e-6) and (np.round(quantity) >= 1).all()
    views = named[named["event_name"] == "product_view"].head(50)
    urls = "https://shop.example.com" + views["page"]
    assert (urls.to_numpy() == clean.loc[views["product_id"], "product_url"].to_numpy()).all()
    assert set(products["currency"]) == {"USD"} and products["name"].notna().all()


def test_a_small_changing_share_of_the_catalog_is_out_of_stock_bestsellers_most_often(modest_frames) -> None:
    products = modest_frames["products"]
    stock = products.pivot_table(index="product_id", columns="_day", values="in_stock", aggfunc="first")
    out = stock.astype(str).eq("false")
    share_by_day = out.mean()
    assert share_by_day.between(0.01, 0.1).all(), share_by_day.describe()
    flipped = out.ne(out.shift(axis=1)).iloc[:, 1:]
    changed = flipped.sum()
    assert (changed > 0).all()  # some products sell out or come back every day
    rank = stock.index.str[4:].astype(int).to_numpy() - 1
    bestseller = rank % PRODUCTS_PER_CATEGORY < 5
    assert out[bestseller].to_numpy().mean() > 3 * out.to_numpy().mean()
    # a product's updated_at moves exactly on the days its stock changes
    updated = products.pivot_table(index="product_id", columns="_day", values="updated_at", aggfunc="first")
    moved = (updated != updated.shift(axis=1)).iloc[:, 1:]
    assert moved.equals(flipped)


def _consecutive_purchases(events: pd.DataFrame) -> pd.DataFrame:
    """Each customer's purchases paired with the one before it: columns earlier, later."""
    bought = events[(events["event_name"] == "purchase") & events["user_id"].notna()]
    bought = bought.assign(ts=_utc(bought["event_ts"])).sort_values(["user_id", "ts", "event_id"])
    earlier = bought.groupby("user_id")["product_id"].shift()
    return pd.DataFrame({"earlier": earlier, "later": bought["product_id"]}).dropna()


def test_later_purchases_favour_complements_of_the_last_one_and_nothing_else_moves(tmp_path: Path) -> None:
    # Guards what recommendations can learn: every product has complements (catalog.py), and a customer
    # who bought before often turns to one of them. The draws are streams of their own, so a world
    # without complements is the same world in every row but which products were viewed and bought.
    world = {"customers": 1500, "days": 45, "end_date": END, "seed": 3, "dirty_share": 0.0}
    generate_world(tmp_path / "default", **world)
    spec = tmp_path / "no_complements.yaml"
    spec.write_text("baseline:\n  complement_share: 0.0\n")
    generate_world(tmp_path / "plain", **world, spec=load_spec(spec))
    catalog = build_catalog(_rng(3, "catalog"), _rng(3, "complements"))
    ids = np.array(catalog.product_id.to_pylist())
    complements = {(ids[i], ids[j]) for i in range(len(ids)) for j in catalog.complements[i]}
    assert all(
        catalog.product_category[i] == catalog.product_category[j]
        for i, j in enumerate(catalog.complements[:, 0])
    )

    shares = {}
    for name in ("default", "plain"):
        pairs = _consecutive_purchases(_load(tmp_path / name, "events"))
        assert len(pairs) > 200, name
        shares[name] = np.mean(
            [pair in complements for pair in zip(pairs["earlier"], pairs["later"], strict=True)]
        )
    # baseline.complement_share 0.4 of the sessions turn to a complement; by chance 3 of 200 in a category
    assert shares["default"] > 0.2 and shares["plain"] < 0.03, shares

    with_complements, plain = _load(tmp_path / "default", "events"), _load(tmp_path / "plain", "events")
    moved = ["page", "product_id", "category", "value"]
    pd.testing.assert_frame_equal(with_complements.drop(columns=moved), plain.drop(columns=moved))
    assert (with_complements["product_id"] != plain["product_id"]).mean() > 0.01
    for source in ("email_events", "products"):
        assert _digest_of(tmp_path / "default", source) == _digest_of(tmp_path / "plain", source)
