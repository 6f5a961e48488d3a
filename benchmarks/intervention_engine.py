"""Benchmark the intervention engine: 1,000,000 users, the 7 shipped campaigns, one run date.

    python benchmarks/intervention_engine.py [--users 1000000] [--keep PATH]

1. Synthesizes a warehouse with DuckDB SQL over range(): marts.fct_user_features
   (segments, flags, DST and non-DST timezones, ~70% consent, a few broken
   addresses), marts.fct_email_suppressions, marts.fct_user_responses (so the
   pause after a response bites), the context marts the campaigns' blocks read (carts,
   recent views, social proof, progress), scoring.churn_scores and a week of
   delivery.campaign_sends (so caps and cooldowns bite).
2. Runs `run_policy` for the run date in a fresh child process, so the peak
   memory reported is the engine's alone (ru_maxrss of that process, which
   includes DuckDB's native memory), with a per-stage breakdown.

Target: under 20 s wall and under 4 GiB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402

from reengage.defs.interventions.schema import FEATURE_COLUMNS  # noqa: E402

RUN_DATE = date(2025, 3, 30)  # Europe springs forward this morning; the US did on 2025-03-09
TARGET_SECONDS, TARGET_GIB = 20.0, 4.0

ZONES = [  # (zone, weight): DST north and south, half-hour and 45-minute offsets, junk
    ("America/New_York", 20), ("America/Chicago", 8), ("America/Los_Angeles", 12),
    ("America/Sao_Paulo", 4), ("Europe/London", 10), ("Europe/Berlin", 10), ("Europe/Paris", 6),
    ("Australia/Sydney", 4), ("Pacific/Auckland", 2), ("Asia/Tokyo", 5), ("Asia/Kolkata", 6),
    ("Asia/Kathmandu", 1), ("Pacific/Chatham", 1), ("UTC", 5), ("europe/madrid", 2),
    ("Mars/Olympus", 1), (None, 3),
]  # fmt: skip
COUNTRIES = [("US", 40), ("GB", 12), ("DE", 12), ("FR", 8), ("IN", 8), ("JP", 5), ("AU", 5), ("BR", 5),
             ("NZ", 2), ("ES", 3)]  # fmt: skip
SEGMENTS = [("new", 8), ("engaged", 34), ("high_value", 8), ("at_risk", 15), ("dormant", 17), ("lapsed", 18)]
NAMES = ["Ada", "Noor", "Liam", "Mia", "Kenji", "Priya", "Lucas", "Sofia", "Omar", "Chloe", "Mateo",
         "Aiko", "Ravi", "Emma", "Jonas", "Zoe", "Ivan", "Lea", "Hugo", "Ana", "Tariq", "Ines", "Finn",
         "Mei", "Sven", "Lina", "Diego", "Nia", "Arjun", "Maya"]  # fmt: skip
CATEGORIES = ["books", "shoes", "kitchen", "garden", "toys", "electronics", "beauty", "sports", "music"]
CAMPAIGN_IDS = [
    "at_risk_concierge", "cart_abandonment", "welcome_onboarding", "browse_abandonment",
    "category_enthusiast", "dormant_win_back", "engaged_milestone",
]  # fmt: skip


def _pick(weighted: list[tuple[object, int]], draw: str) -> str:
    """SQL CASE choosing a value by weight from a uniform [0, 1) expression."""
    total, running, cases = sum(w for _, w in weighted), 0, []
    for value, weight in weighted[:-1]:
        running += weight
        literal = "null" if value is None else f"'{value}'"
        cases.append(f"when {draw} < {running / total} then {literal}")
    last = weighted[-1][0]
    return f"case {' '.join(cases)} else {'null' if last is None else repr(last)} end"


def _u(salt: str) -> str:
    """A uniform [0, 1) per user from a hash (reproducible, unlike random())."""
    return f"(hash(i, '{salt}') % 1000000) / 1000000.0"


def synthesize(path: Path, users: int) -> dict[str, int]:
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    d = f"date '{RUN_DATE.isoformat()}'"
    names = "[" + ", ".join(f"'{n}'" for n in NAMES) + "]"
    cats = "[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    category = f"{cats}[1 + cast(hash(i, 'c') % {len(CATEGORIES)} as integer)]"
    enthusiast = f"{cats}[1 + cast(hash(i, 'ec') % {len(CATEGORIES)} as integer)]"
    for schema in ("marts", "scoring", "delivery"):
        con.execute(f"create schema if not exists {schema}")
    columns = ", ".join(f'"{name}" {kind}' for name, kind in FEATURE_COLUMNS.items())
    con.execute(f"create table marts.fct_user_features ({columns})")
    con.execute(f"""
        insert into marts.fct_user_features by name
        with u as (
            select i,
                   {_pick(SEGMENTS, _u("segment"))} as segment,
                   {_u("ltv")} as r_ltv
            from range({users}) t(i)
        )
        select 'c' || lpad(cast(i as varchar), 8, '0') as customer_id,
               {d} as as_of_date,
               case when {_u("email")} < 0.004 then null
                    when {_u("email")} < 0.008 then 'not-an-address'
                    else 'user' || i || '@example.com' end as email,
               case when {_u("name")} < 0.06 then null
                    else {names}[1 + cast(hash(i, 'n') % {len(NAMES)} as integer)] end as first_name,
               {_pick(COUNTRIES, _u("country"))} as country,
               {_pick(ZONES, _u("zone"))} as timezone,
               case when {_u("plan")} < 0.7 then 'free' when {_u("plan")} < 0.93 then 'pro'
                    else 'business' end as plan,
               round(-ln(1 - r_ltv) * 120, 2) as lifetime_value,
               {_u("consent")} < 0.7 as marketing_consent,
               -- about 1% whose newest CRM row was refused at ingest (int_customer_consent)
               case when {_u("consent")} >= 0.7 then 'withdrawn'
                    when {_u("consent")} < 0.007 then 'unverified' else 'granted' end as consent_status,
               timestamptz '2020-01-01 00:00:00+00' + to_days(cast(hash(i, 'signup') % 1900 as integer))
                   as signup_at,
               case when segment = 'new' then cast(hash(i, 't') % 14 as integer)
                    else 14 + cast(hash(i, 't') % 1800 as integer) end as tenure_days,
               case segment when 'dormant' then 14 + cast(hash(i, 'a') % 16 as integer)
                            when 'lapsed' then 30 + cast(hash(i, 'a') % 300 as integer)
                            when 'at_risk' then 5 + cast(hash(i, 'a') % 9 as integer)
                            else cast(hash(i, 'a') % 5 as integer) end as days_since_last_active,
               case segment when 'dormant' then 'dormant' when 'lapsed' then 'lapsed'
                            when 'at_risk' then 'cooling' else 'active' end as dormancy_stage,
               segment = 'at_risk' or (segment = 'high_value' and {_u("risk")} < 0.2) as is_at_risk,
               cast(hash(i, 'a7') % 20 as integer) as active_actions_7d,
               cast(hash(i, 'a28') % 60 as integer) as active_actions_prior_28d,
               round({_u("trend")} * 2, 3) as activity_trend,
               cast(hash(i, 's') % 30 as integer) as sessions_28d,
               cast(hash(i, 'e') % 400 as integer) as events_28d,
               case when segment in ('engaged', 'high_value') then cast(hash(i, 'p') % 8 as integer)
                    else cast(hash(i, 'p') % 2 as integer) end as purchases_90d,
               round({_u("rev")} * 300, 2) as revenue_90d,
               round(-ln(1 - r_ltv) * 120, 2) + round({_u("rev")} * 300, 2) as customer_value,
               1 + cast(hash(i, 'rs') % 5 as integer) as recency_score,
               1 + cast(hash(i, 'fs') % 5 as integer) as frequency_score,
               1 + cast(hash(i, 'ms') % 5 as integer) as monetary_score,
               case when {_u("cat")} < 0.1 then null
                    else {category} end as favourite_category,
               case when {_u("hour")} < 0.4 then null
                    else cast(hash(i, 'h') % 24 as integer) end as preferred_local_hour,
               {_u("cart")} < 0.08 as cart_abandoned,
               {_u("browse")} < 0.12 as browse_abandoned,
               {_u("enth")} < 0.05 as category_enthusiast,
               case when {_u("enth")} < 0.05 then {enthusiast} end as enthusiast_category,
               segment = 'new' as is_new_user,
               segment,
               segment = 'high_value' or r_ltv > 0.9 as is_high_value
        from u""")
    con.execute(f"""
        create table marts.fct_email_suppressions as
        select 'user' || i || '@example.com' as email,
               {d} as as_of_date,
               {_pick([("unsubscribe", 60), ("bounce", 25), ("spamreport", 10), ("erased", 5)], _u("why"))}
                   as suppression_reason,
               null::varchar as provider_reason,
               timestamptz '2025-01-01 00:00:00+00' + to_minutes(cast(hash(i, 'when') % 100000 as integer))
                   as first_suppressed_at
        from range({users}) t(i)
        where {_u("suppressed")} < 0.03""")
    con.execute(f"""
        create table scoring.churn_scores as
        select 'c' || lpad(cast(i as varchar), 8, '0') as customer_id, {d} - 1 as run_date,
               round({_u("churn")}, 4) as churn_probability, 'v1' as model_version
        from range({users}) t(i)""")
    campaigns = "[" + ", ".join(f"'{c}'" for c in CAMPAIGN_IDS) + "]"
    con.execute(f"""
        create table delivery.campaign_sends as
        with s as (
            select i, k, {d} - cast(k as integer) as run_date
            from range({users}) t(i), range(1, 8) d(k)
            where (hash(i, k, 'sent') % 1000) < 90  -- ~9% of users reached per day
        )
        select left(sha256(i || '|' || k), 32) as send_id, run_date,
               'c' || lpad(cast(i as varchar), 8, '0') as customer_id,
               {campaigns}[1 + cast(hash(i, k, 'camp') % 7 as integer)] as campaign_id,
               'control' as variant,
               case when hash(i, k, 'state') % 100 < 92 then 'accepted' else 'failed' end as state,
               cast(run_date as timestamptz) + to_minutes(cast(420 + hash(i, k, 'at') % 840 as integer))
                   as accepted_at
        from s""")
    # ~8% answered a message in the last two weeks, a quarter of them another tool's newsletter.
    con.execute(f"""
        create table marts.fct_user_responses as
        select md5(i || '|response') as response_id,
               'c' || lpad(cast(i as varchar), 8, '0') as customer_id,
               left(sha256(i || '|response'), 32) as send_id,
               case when {_u("response_campaign")} < 0.25 then 'legacy_newsletter'
                    else {campaigns}[1 + cast(hash(i, 'response_campaign') % 7 as integer)]
               end as campaign_id,
               'control' as variant,
               {d} - 14 as message_run_date,
               {_pick([("open", 60), ("click", 25), ("conversion", 15)], _u("response_type"))}
                   as response_type,
               cast({d} as timestamp) - to_minutes(cast(hash(i, 'responded_at') % (14 * 1440) as integer))
                   as responded_at,
               null::timestamp as reached_at,
               {d} as as_of_date
        from range({users}) t(i)
        where {_u("responded")} < 0.08""")
    # The shipped campaigns text too: nobody's number is suppressed.
    con.execute(
        "create table marts.fct_sms_suppressions"
        " (phone varchar, suppression_reason varchar, first_suppressed_at timestamp)"
    )
    _context_marts(con, d)
    counts = {
        table: con.execute(f"select count(*) from {table}").fetchone()[0]
        for table in (
            "marts.fct_user_features",
            "marts.fct_email_suppressions",
            "marts.fct_user_responses",
            "marts.fct_user_cart_items",
            "marts.fct_user_recent_views",
            "marts.fct_product_social_proof",
            "marts.fct_user_progress",
            "marts.fct_user_recommendations",
            "scoring.churn_scores",
            "delivery.campaign_sends",
        )
    }
    con.close()
    return counts


def _context_marts(con: duckdb.DuckDBPyConnection, d: str) -> None:
    """The marts the campaigns' blocks read: a cart (1-4 items) for 90% of cart abandoners, recent views
    (1-5) for 90% of browse abandoners, social proof over a 2,000-product catalog (a third claimable),
    everyone's progress, four recommendations for every browse abandoner and the catalog."""
    product = "'p' || cast(hash(i, k, 'product') % 2000 as varchar)"
    catalog = f"""'Product ' || {product} as product_name, 'books' as category,
               round(5 + hash(i, k, 'price') % 9500 / 100.0, 2) as price, 'EUR' as currency,
               'https://shop.example.com/i/' || {product} || '.jpg' as image_url,
               'https://shop.example.com/p/' || {product} as product_url"""
    for table, flag, rank, count, extra in (
        ("fct_user_cart_items", "cart_abandoned", "cart_rank", 4, "1::bigint as quantity,"),
        ("fct_user_recent_views", "browse_abandoned", "view_rank", 5, "1::bigint as view_count,"),
    ):
        key = "cart_item_id" if rank == "cart_rank" else "recent_view_id"
        at = "last_added_at" if rank == "cart_rank" else "last_viewed_at"
        con.execute(f"""
            create table marts.{table} as
            select md5(customer_id || '|' || k) as {key}, customer_id, {d} as as_of_date,
                   {product} as product_id,
                   row_number() over (partition by customer_id order by k) as {rank}, {extra}
                   cast({d} as timestamp) - to_minutes(cast(k as integer)) as {at}, {catalog},
                   true as in_stock
            from (select customer_id, cast(substr(customer_id, 2) as bigint) as i from marts.fct_user_features
                  where {flag} and hash(customer_id, '{table}') % 10 < 9) f,
                 range(1, 2 + cast(hash(i, '{table}') % {count} as integer)) r(k)
            qualify row_number() over (partition by customer_id, {product} order by k) = 1""")
    con.execute(f"""
        create table marts.fct_product_social_proof as
        select md5('product|' || i) as social_proof_id, 'product' as scope, 'p' || i as scope_id,
               'p' || i as product_id, 'books' as category, {d} as as_of_date,
               null::bigint as viewers_24h,
               case when i % 3 = 0 then 10 + i % 90 end::bigint as viewers_7d,
               null::bigint as buyers_24h, null::bigint as buyers_7d, i % 3 = 0 as claimable
        from range(2000) t(i)""")
    con.execute(f"""
        create table marts.fct_user_progress as
        select customer_id, {d} as as_of_date, cast(purchases_90d as bigint) as order_count,
               revenue_90d as total_spend,
               cast(hash(customer_id, 'streak') % 6 as integer) as current_streak_weeks,
               hash(customer_id, 'week') % 2 = 0 as active_this_week, null::timestamp as last_visit_at,
               days_since_last_active as days_since_last_visit,
               case when purchases_90d >= 3 then 'Silver'
                    when purchases_90d >= 1 then 'Bronze' end as current_tier,
               case when purchases_90d >= 3 then 'Gold'
                    when purchases_90d >= 1 then 'Silver' else 'Bronze' end as next_tier,
               case when purchases_90d >= 3 then 10 - purchases_90d
                    when purchases_90d >= 1 then 3 - purchases_90d else 1 end as orders_to_next_tier
        from marts.fct_user_features""")
    # The catalog the generic fallback's popular products come from (staging, as dbt builds it).
    con.execute("create schema if not exists staging")
    con.execute("""
        create table staging.stg_catalog__products as
        select 'p' || i as product_id, 'Product p' || i as product_name, 'books' as category,
               round(5 + i % 95, 2) as price, 'EUR' as currency,
               'https://shop.example.com/i/p' || i || '.jpg' as image_url,
               'https://shop.example.com/p/p' || i as product_url, true as in_stock
        from range(2000) t(i)""")
    # Four recommended products for every browse abandoner.
    con.execute(f"""
        create table marts.fct_user_recommendations as
        select md5(customer_id || '|rec|' || k) as recommendation_id, customer_id, {d} as as_of_date,
               {product} as product_id, k as recommendation_rank, 1.0 / k as score,
               'co_occurrence' as source, {catalog}
        from (select customer_id, cast(substr(customer_id, 2) as bigint) as i from marts.fct_user_features
              where browse_abandoned) f,
             range(1, 5) r(k)""")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def engine(path: Path) -> dict[str, object]:
    """Run the engine once (called in a fresh process); stage timings and peak RSS."""
    from reengage import settings
    from reengage.defs.interventions import policy
    from reengage.defs.interventions.campaigns import load_campaigns

    stages: dict[str, list[float]] = {}

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            start, cpu = time.perf_counter(), _cpu_seconds()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[name] = [time.perf_counter() - start, _cpu_seconds() - cpu]

        return wrapper

    # run_policy calls each stage through the package's own names, so wrapping those times it.
    policy.decide = timed("decide (set-based SQL)", policy.decide)
    policy.materialise_chosen = timed("send ids + schedule", policy.materialise_chosen)
    policy.render_chosen = timed("render messages", policy.render_chosen)
    policy.write_run = timed("write decisions + list", policy.write_run)

    start, cpu = time.perf_counter(), _cpu_seconds()
    campaigns = load_campaigns(settings.campaigns_dir())
    con = duckdb.connect(str(path))
    result = policy.run_policy(
        con, RUN_DATE, campaigns, policy.PolicyConfig(), now=datetime(2025, 3, 29, 23, 0, tzinfo=UTC)
    )
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    con.close()
    counts = result.counts.assign(reason=result.counts["reason"].str.split(":").str[0])
    by_reason = counts.groupby("reason")["n"].sum().sort_values(ascending=False)
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "stages": stages,
        "campaigns": len(result.campaigns),
        "candidates": result.candidates,
        "list_rows": result.list_rows,
        "treatment": result.treatment,
        "holdout": result.holdout,
        "by_reason": {str(k): int(v) for k, v in by_reason.items()},
        "by_campaign_chosen": {
            str(k): int(v)
            for k, v in result.counts[result.counts["reason"] == "chosen"]
            .set_index("campaign_id")["n"]
            .items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the warehouse here and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: reuse that warehouse if it exists")
    parser.add_argument("--engine-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.engine_only:
        print(json.dumps(engine(args.engine_only)))
        return 0

    folder = None if args.keep else Path(tempfile.mkdtemp(prefix="reengage-bench-"))
    path = args.keep or folder / "warehouse.duckdb"
    try:
        return _run(args, path)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _run(args: argparse.Namespace, path: Path) -> int:
    if args.reuse and args.keep and path.exists():
        print(f"reusing {path}", flush=True)
    else:
        path.unlink(missing_ok=True)
        print(f"synthesizing {args.users:,} users into {path} ...", flush=True)
        start = time.perf_counter()
        rows = synthesize(path, args.users)
        tables = ", ".join(f"{t} {n:,}" for t, n in rows.items())
        print(f"  done in {time.perf_counter() - start:.1f} s: {tables}")

    print(
        f"running the engine for {RUN_DATE} with the shipped campaigns (fresh process, load {_load()}) ...",
        flush=True,
    )
    done = subprocess.run(
        [sys.executable, __file__, "--engine-only", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    report = json.loads(done.stdout.strip().splitlines()[-1])
    wall, peak = report["wall_seconds"], report["peak_rss_gib"]
    print(
        f"  campaigns {report['campaigns']}, candidates {report['candidates']:,},"
        f" list rows {report['list_rows']:,}"
        f" (treatment {report['treatment']:,}, holdout {report['holdout']:,})"
    )
    for title, key in (("decisions by reason", "by_reason"), ("chosen by campaign", "by_campaign_chosen")):
        print(f"  {title}: " + ", ".join(f"{k} {v:,}" for k, v in report[key].items()))
    for stage, (seconds, cpu) in report["stages"].items():
        print(f"  {stage:<24} {seconds:6.2f} s wall {cpu:6.2f} s CPU")
    time_ok = "ok" if wall < TARGET_SECONDS else "MISSED"
    memory_ok = "ok" if peak < TARGET_GIB else "MISSED"
    print(f"wall time   {wall:6.2f} s   (target < {TARGET_SECONDS:.0f} s: {time_ok})")
    print(f"peak memory {peak:6.2f} GiB (target < {TARGET_GIB:.0f} GiB: {memory_ok})")
    print(f"CPU time    {report['cpu_seconds']:6.2f} s   (user + system, all DuckDB threads)")
    print(f"machine: {os.cpu_count()} CPUs, load average {_load()}, duckdb {duckdb.__version__}")
    return 0 if wall < TARGET_SECONDS and peak < TARGET_GIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
