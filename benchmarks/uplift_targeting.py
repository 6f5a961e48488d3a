"""Uplift targeting against churn-risk, random and oracle targeting, on the responding world.

    .venv/bin/python benchmarks/uplift_targeting.py                     # 10 seeds, 10,000 customers, 34 days
    .venv/bin/python benchmarks/uplift_targeting.py --seeds 3 --out uplift.csv

Per seed, one world (devkit's worlds/uplift_benchmark.yaml: a "nudge" that works on the
customers who were going to stay and does nothing for, or puts off, those drifting away, and a
"placebo" that changes nobody) runs four times through the real daily job, each run with the
same two campaign files but one targeting of the nudge:

- uplift: the product's uplift targeting (its own models, exploration 10%);
- churn risk: the highest churn probabilities;
- random;
- oracle: ranked by each contender's true uplift, written from the world before each day's job
  (whose uplift stage is then left out), with a token exploration share.

Every run targets 30% of the day's contenders. The measurement guardrails measure but do not
pause the nudge: paused, a run would stop sending and the runs would no longer compare targetings
at the same sends; the days a run's nudge was over a limit are printed instead. For the first
--warmup-days (24 of 34) every run sends to a random 30%, so uplift targeting starts with
randomized decisions to learn from, as a campaign switching to it would. The runs are identical
up to then (same seed, same draws), so a seed's history and warm-up run once and each policy's
run goes on from a copy of what they left; --workers runs go at once (2: one per core).
Its model is fitted on the first targeted day and promoted only if it ranks better than random
(99% interval) on the latest days of users it did not learn from; until one is, the campaign
draws its budget at random among the users its rules select (the same sends, the same draws as
the random run). After 24 days of warm-up (21 matured) the first fit was promoted in seeds
2, 6 and 9 (their uplift runs part from the random run on the first targeted day); in seeds 1, 3,
5, 7 and 8 it was not (seed 1: Qini interval -0.011 to 0.027) and the second fit, a week later,
was: their uplift runs are the random run for seven of their ten days (seed 3: 1.81x churn risk
and 1.16x random); in seeds 4 and 10 neither fit was, and their uplift run is their random run
(seed 4: 1.43x churn risk, seed 10: 1.51x).
The comparison arm is the holdouts only (a row the day's draw left out may be sent tomorrow), a
few hundred rows a week, which is what a 99% gate waits for. After seventeen days of warm-up the
first fit was promoted in neither seed under the older, looser gate. A run in which a guardrail
paused any campaign on any day fails: until the warm-up measured without pausing too, seed 6's
nudge was paused for 22 of its 24 warm-up days, its model had almost nothing randomized to learn
from, and its rows were run again; seeds 5, 7 and 8 had no paused day. Seeds 1 to 4 ran before
the check: their warm-ups were run again with it and their guardrails read. In seeds 1 and 3 no
guardrail was ever over its limit, so the old warm-up never paused and their rows stand; in seed
2 (the placebo over a limit on 22 warm-up days) and seed 4 (the nudge on 16) it would have, and
both were run again. The results of finished runs are kept in benchmarks/results/. The placebo
targets by uplift in every run; no model may ever be promoted for it (none was in seeds 1 to
10: the oracle run leaves the uplift stage out).

Printed per policy, over the days after the warm-up: sends, realised incremental conversions
(the world's true uplift of every message sent: P(convert | sent) - P(convert | not) in its
attribution window), unsubscribes per incremental conversion, and the doubly robust estimate of
the run's own incremental conversions on its matured randomized decisions beside the truth on
the same decisions, and the same estimate on the world's expected outcomes (each sent row's
conversion replaced by its true chance had it been sent, each held one's by its chance had
nothing been sent: what is left of its error is the estimator's own, not its outcomes' noise);
then the targets: uplift >= 1.5x churn risk and >= 75% of the oracle, its unsubscribes per
incremental conversion no higher than churn risk's, the estimate's interval holding the truth in
>= 90% of seeds, and no promoted placebo model. Each seed's rows are appended to --out as it
finishes; a rerun with the same --out skips the seeds there.

The interval's misses (seeds 8 and 10, every one below the truth) were looked into on seed 10's
random run, run again with --work (the same figures to the last digit). Its 362 held-out rows
converted 14 times where the world's truth expects 7.7 (over the whole run, warm-up included: 52
against 36.6), while its 1,912 sent rows converted 250 times against 262.3: the estimate is low
because the few held-out users converted more than their chances said. Those users and what they
did are the same in every run of a seed (the holdout is a hash of user and campaign, and the
world's draws are keyed by user and day), which is why one seed's runs miss together. Judged on the
world's expected outcomes the estimate is a few percent below the truth in every run looked at
(seed 10: churn risk -5.4%, random -3.0%, oracle -4.5%; seed 8: churn risk -9.3%, random -2.2%,
oracle -5.0%), small beside its interval's half-width (about 23% of the truth) but always below;
and redrawing seed 10's sent and held conversions from the truth 200 times gave a mean 2% below it,
intervals holding it in 193 of 200. Where those few percent come from is not settled: held rows are
7% to 11% more frequent than their recorded chances (a held user is never paused after a response
nor suppressed after an unsubscribe, bounce or spam report of the campaign's mail), but taking out
the rows a mirrored pause after a purchase would remove left the error as it was; the sent arm's
outcome model underpredicts the rows that were not sent (seed 10: 0.1395 against a true 0.1419),
which is where the error sits.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reengage.privacy.keys import PEPPER_ENV  # noqa: E402
from reengage_dev.demo import DEMO_PEPPER  # noqa: E402

WORLD = Path(__file__).resolve().parent.parent / "devkit/reengage_dev/demo/worlds/uplift_benchmark.yaml"
POLICIES = ("uplift", "churn risk", "random", "oracle")
# One row per run; the estimate's columns stay empty when too few decisions matured to judge.
COLUMNS = (
    "seed",
    "policy",
    "contenders",
    "sends",
    "incremental",
    "unsubscribes",
    "placebo_model",
    "nudge_model",
    "seconds",
    "judged_decisions",
    "dr_incremental",
    "dr_low",
    "dr_high",
    "truth_on_decisions",
    "guardrail_days",
    "dr_expected_outcomes",
)
BUDGET = 0.3
WINDOW_DAYS = 3
# Guardrails measure but never pause (the module's docstring says why); see `guardrail_days`.
MEASURE_WITHOUT_PAUSING = {"ops": {"campaign_measurement": {"config": {"pause_on_breach": False}}}}
# Half the customers (by the last digit of their id) are the nudge's, half the placebo's.
PLACEBO_SQL = "right(customer_id, 1) in ('0', '1', '2', '3', '4')"
TARGETING = {
    "warm-up": "mode: random\n  budget: {share: 0.3}",
    "uplift": "mode: uplift\n  budget: {share: 0.3}\n  exploration_share: 0.1",
    "churn risk": "mode: risk\n  budget: {share: 0.3}",
    "random": "mode: random\n  budget: {share: 0.3}",
    "oracle": "mode: uplift\n  budget: {share: 0.3}\n  exploration_share: 0.001",
}
CAMPAIGN = """\
id: {id}
description: Benchmark campaign {id}.
trigger:
  sql: "{sql}"
channel: email
template:
  subject: "Hello"
  body: "<p>Hello {{{{ first_name or 'there' }}}}</p>"
holdout_share: 0.1
priority: {priority}
cooldown_days: 7
attribution_window_days: {window}
target_event: purchase
targeting:
  {targeting}
"""


def write_campaigns(folder: Path, nudge_targeting: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nudge = CAMPAIGN.format(
        id="nudge", sql=f"not ({PLACEBO_SQL})", priority=10, window=WINDOW_DAYS, targeting=nudge_targeting
    )
    placebo = CAMPAIGN.format(
        id="placebo", sql=PLACEBO_SQL, priority=20, window=WINDOW_DAYS, targeting=TARGETING["uplift"]
    )
    (folder / "nudge.yaml").write_text(nudge)
    (folder / "placebo.yaml").write_text(placebo)


def _ms(values: pd.Series) -> np.ndarray:
    return (
        pd.to_datetime(values, utc=True)
        .dt.tz_localize(None)
        .to_numpy(dtype="datetime64[ms]")
        .astype(np.int64)
    )


def write_oracle_scores(day: date, world) -> None:  # noqa: ANN001
    """Every customer's true uplift from a nudge sent at noon UTC on `day`, as the day's predictions."""
    from reengage.schema.declared import UPLIFT_SCORES
    from reengage.tables import replace_run_date, transaction
    from reengage.warehouse import connect

    ids = [str(c) for c in world.pop.customer_id.to_pylist()]
    noon = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000) + 12 * 3_600_000
    truth = world.uplift_truth(
        ids, "nudge", "control", [day] * len(ids), np.full(len(ids), noon), WINDOW_DAYS
    )
    rows = pd.DataFrame(
        {"customer_id": ids, "campaign_id": "nudge", "predicted_uplift": truth, "model_version": "oracle"}
    ).assign(run_date=day)
    with connect() as con, transaction(con):
        replace_run_date(con, UPLIFT_SCORES.name, day, rows)


def job_without_uplift_stage(day: date, instance):  # noqa: ANN001, ANN201
    """The daily job as `reengage.runs.run_day` starts it, less the uplift stage (the oracle's)."""
    import dagster as dg

    from reengage import settings
    from reengage.definitions import build_definitions
    from reengage.defs.operations.landed_exports import scan_day
    from reengage.defs.operations.run_tags import file_tags
    from reengage.runs import DAILY_JOB

    defs = build_definitions()
    job = defs.resolve_job_def(DAILY_JOB)
    keys = [
        key for key in defs.resolve_asset_graph().get_all_asset_keys() if key != dg.AssetKey("uplift_scores")
    ]
    exports = scan_day(settings.landing_dir(), day)
    return job.execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        raise_on_error=False,
        run_config=MEASURE_WITHOUT_PAUSING,
        tags=file_tags(exports.fingerprint, "run_day"),
        asset_selection=[k for k in keys if k in job.asset_layer.executable_asset_keys],
    )


def job_measuring_without_pausing(day: date, instance):  # noqa: ANN001, ANN201
    """The daily job as `reengage.runs.run_day` starts it, its guardrails measuring without pausing."""
    # Imported here, once the run's home is set: the partitions are read from its landing folder
    # when reengage.runs is first imported.
    from reengage.runs import run_day

    return run_day(day, instance, run_config=MEASURE_WITHOUT_PAUSING)


def refuse_paused_days(con, what: str) -> None:  # noqa: ANN001
    """Fail when a guardrail paused a campaign on any day of the run, warm-up included: the runs
    would no longer compare targetings at the same sends, and a model would miss the paused days."""
    paused = con.execute(
        "select campaign_id, count(distinct run_date), min(run_date) from interventions.decisions "
        "where reason = 'campaign_paused' group by all order by 1"
    ).fetchall()
    if paused:
        days = ", ".join(f"{campaign} on {n} day(s) from {first}" for campaign, n, first in paused)
        raise RuntimeError(f"{what}: a guardrail paused {days}, which the benchmark never allows")


def warm_up(seed: int, args: argparse.Namespace, folder: Path) -> Path:
    """The seed's history and warm-up days, run once: the home they leave and the stopped run, in `folder`.

    Every policy's run starts from a copy of them (identical up to there: same seed, same draws).
    """
    from reengage_dev.demo.loop import simulate

    snapshot = folder / f"warm_up_{seed}"
    if (snapshot / "run.pickle").exists():
        return snapshot
    home = snapshot / "home"
    shutil.rmtree(snapshot, ignore_errors=True)
    _use_home(home)
    write_campaigns(home / "campaigns", TARGETING["warm-up"])
    run = simulate(
        _config(seed, args),
        say=lambda line: None,
        stop_after=args.warmup_days,
        run_job=job_measuring_without_pausing,
    )
    if run.failed:
        raise RuntimeError(f"seed {seed} warm-up: {run.failed[0]} (log {run.log_path})")
    from reengage.warehouse import connect

    with connect(read_only=True) as con:
        refuse_paused_days(con, f"seed {seed} warm-up")
    (snapshot / "run.pickle").write_bytes(pickle.dumps(run))
    return snapshot


def _use_home(home: Path) -> None:
    os.environ["REENGAGE_HOME"] = str(home)
    os.environ["REENGAGE_CAMPAIGNS"] = str(home / "campaigns")


def _config(seed: int, args: argparse.Namespace):  # noqa: ANN202
    from reengage_dev.demo.loop import DemoConfig

    return DemoConfig(
        customers=args.customers,
        history_days=args.history_days,
        sending_days=args.sending_days,
        seed=seed,
        world=WORLD,
        last_day=args.last_day,
        history_checks=False,
    )


def run_policy(
    seed: int, policy: str, args: argparse.Namespace, snapshot: Path, home: Path
) -> dict[str, object]:
    """The days after the seed's warm-up in a copy of its home; the nudge targeted by `policy`."""
    from reengage import settings
    from reengage.learning.uplift import registry as uplift_registry
    from reengage.learning.uplift.examples import ExampleSpec, decision_examples
    from reengage.warehouse import connect
    from reengage_dev.demo.loop import resume

    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(snapshot / "home", home)
    _use_home(home)
    run = pickle.loads((snapshot / "run.pickle").read_bytes())
    campaigns = home / "campaigns"
    first_targeted = args.last_day - timedelta(days=args.sending_days - args.warmup_days - 1)

    def before_day(day: date, world) -> None:  # noqa: ANN001
        if day == first_targeted:
            write_campaigns(campaigns, TARGETING[policy])
        if policy == "oracle" and day >= first_targeted:
            write_oracle_scores(day, world)

    def run_job(day, instance):  # noqa: ANN001, ANN202
        if policy == "oracle":
            return job_without_uplift_stage(day, instance)
        return job_measuring_without_pausing(day, instance)

    started = time.perf_counter()
    run = resume(_config(seed, args), run, say=lambda line: None, before_day=before_day, run_job=run_job)
    if run.failed:
        raise RuntimeError(f"seed {seed} {policy}: {run.failed[0]} (log {run.log_path})")
    world = run.world
    with connect(read_only=True) as con:
        refuse_paused_days(con, f"seed {seed} {policy}")
        sent = (
            con.execute(
                "select customer_id, run_date, scheduled_send_at_utc from interventions.intervention_list"
                " where campaign_id = 'nudge' and arm = 'treatment' and run_date >= ?",
                [first_targeted],
            )
            .to_arrow_table()
            .to_pandas()
        )
        contenders = con.execute(
            "select count(*) from interventions.decisions where campaign_id = 'nudge' and run_date >= ?"
            " and selection_probability > 0",
            [first_targeted],
        ).fetchone()[0]
        examples = decision_examples(con, [ExampleSpec("nudge", "purchase", WINDOW_DAYS)], args.last_day)[
            "nudge"
        ]
        guardrail_days = con.execute(
            "select count(*) from measurement.campaign_guardrails where campaign_id = 'nudge'"
            " and reason is not null and run_date >= ?",
            [first_targeted],
        ).fetchone()[0]
    if not contenders:
        # Every day after the warm-up decided nobody for the nudge: the job ran but a stage before
        # the policy did not (a row of zeros would pass for a result).
        raise RuntimeError(
            f"seed {seed} {policy}: no decision for the nudge after the warm-up (log {run.log_path})"
        )
    examples = examples[pd.to_datetime(examples["run_date"]).dt.date >= first_targeted].reset_index(drop=True)
    without, with_message = _outcome_truth(world, sent, "scheduled_send_at_utc")
    realised = with_message - without
    unsubscribes = sum(
        a.unsubscribed for a, day in zip(run.answers, _days(run), strict=True) if day >= first_targeted
    )
    figures: dict[str, object] = {
        "seed": seed,
        "policy": policy,
        "contenders": int(contenders),
        "sends": len(sent),
        "incremental": float(realised.sum()),
        "unsubscribes": int(unsubscribes),
        "placebo_model": uplift_registry.current_version(settings.model_dir() / "uplift", "placebo") or "",
        "nudge_model": uplift_registry.current_version(settings.model_dir() / "uplift", "nudge") or "",
        "seconds": round(time.perf_counter() - started),
        "guardrail_days": int(guardrail_days),
    }
    if len(examples) >= 200:
        figures.update(judge_against_truth(examples, *_outcome_truth(world, examples, "opens_at")))
    return figures


def judge_against_truth(examples: pd.DataFrame, without: np.ndarray, with_message: np.ndarray) -> dict:
    """The doubly robust estimate of the run's own targeting on its matured randomized decisions,
    beside the truth of the same decisions (each row's chance of being sent times its true uplift)
    and the same estimate on the world's expected outcomes.

    The last one replaces each sent row's conversion by its true chance had it been sent, and each
    held one's by its chance had nothing been sent (the rows neither sent nor held feed no outcome
    model): no outcome noise is left, so its distance from the truth is the estimator's own error
    (the chances it was given, the rows it sees, its outcome models), and the rest of a run's error
    is what its conversions happened to be.
    """
    from reengage.learning.uplift.judging import judge_targetings

    def estimate(rows: pd.DataFrame) -> pd.Series:
        return judge_targetings(rows, {"as run": rows["propensity"].to_numpy()}).iloc[0]

    judged = estimate(examples)
    sent, held = examples["treated"].to_numpy() == 1, examples["control"].to_numpy() == 1
    expected = examples.assign(
        converted=np.where(sent, with_message, np.where(held, without, examples["converted"]))
    )
    per_row = judged["rows"] / 1000
    return {
        "judged_decisions": len(examples),
        "dr_incremental": judged["incremental_total"],
        "dr_low": judged["incremental_per_1000_low"] * per_row,
        "dr_high": judged["incremental_per_1000_high"] * per_row,
        "truth_on_decisions": float(np.sum(examples["propensity"].to_numpy() * (with_message - without))),
        "dr_expected_outcomes": estimate(expected)["incremental_total"],
    }


def _outcome_truth(world, rows: pd.DataFrame, sent_at: str) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Each row's true chance of converting had the nudge not been sent and had it been (customer,
    run date, send time in `sent_at`)."""
    days = list(pd.to_datetime(rows["run_date"]).dt.date)
    return world.outcome_truth(
        list(rows["customer_id"]), "nudge", "control", days, _ms(rows[sent_at]), WINDOW_DAYS
    )


def _days(run) -> list[date]:  # noqa: ANN001
    return [run.first_day + timedelta(days=i) for i in range(len(run.answers))]


def summarize(rows: pd.DataFrame) -> list[str]:
    """The table over seeds and the targets."""
    lines = [
        f"seeds: {rows['seed'].nunique()}",
        "",
        "policy       sends/seed  incremental conversions/seed: median [min, max]"
        "  per 100 sends  unsubscribes per incremental",
    ]
    per = {}
    for policy in POLICIES:
        mine = rows[rows["policy"] == policy]
        if not len(mine):
            continue
        inc = mine["incremental"]
        ratio = mine["unsubscribes"].sum() / inc.sum() if inc.sum() > 0 else float("inf")
        per[policy] = mine.set_index("seed")
        lines.append(
            f"{policy:<12} {mine['sends'].median():>10.0f}  {inc.median():>8.1f} "
            f"[{inc.min():.1f}, {inc.max():.1f}]{'':>16}{100 * inc.sum() / max(mine['sends'].sum(), 1):>8.2f}"
            f"{ratio:>14.3f}"
        )
    if {"uplift", "churn risk", "oracle"} <= set(per):
        seeds = per["uplift"].index.intersection(per["churn risk"].index).intersection(per["oracle"].index)
        up, risk, oracle = (per[p].loc[seeds, "incremental"] for p in ("uplift", "churn risk", "oracle"))
        vs_risk = up.sum() / risk.sum() if risk.sum() > 0 else float("inf")
        lines += [
            "",
            f"uplift / churn risk, incremental conversions over {len(seeds)} seeds: {vs_risk:.2f}x "
            f"(target >= 1.5x); seeds where uplift beats 1.5x churn risk: "
            f"{int((up >= 1.5 * risk).sum())} of {len(seeds)}",
            f"uplift / oracle: {up.sum() / oracle.sum():.1%} (target >= 75%)",
        ]
        unsub = {
            p: per[p].loc[seeds, "unsubscribes"].sum() / per[p].loc[seeds, "incremental"].sum() for p in per
        }
        lines.append(
            f"unsubscribes per incremental conversion: uplift {unsub['uplift']:.3f}, churn risk "
            f"{unsub['churn risk']:.3f} (target: uplift no higher)"
        )
    judged = rows.dropna(subset=["dr_low", "dr_high", "truth_on_decisions"])
    if len(judged):
        covered = (judged["dr_low"] <= judged["truth_on_decisions"]) & (
            judged["truth_on_decisions"] <= judged["dr_high"]
        )
        lines += [
            "",
            "doubly robust estimate of each run's own incremental conversions, truth on the same decisions:",
        ]
        for policy, hit in covered.groupby(judged["policy"]):
            lines.append(f"  {policy}: interval holds the truth in {int(hit.sum())} of {len(hit)} seeds")
        lines.append(f"  all: {covered.mean():.0%} (target >= 90%)")
        # A seed's runs share its held-out users and what they did, so their misses come together.
        whole = covered.groupby(judged["seed"]).all()
        lines.append(f"  seeds whose every run's interval holds it: {int(whole.sum())} of {whole.size}")
        error = (judged["dr_incremental"] - judged["truth_on_decisions"]) / judged["truth_on_decisions"]
        lines.append(f"  estimate - truth: mean {error.mean():+.1%} of the truth over {len(error)} runs")
        if "dr_expected_outcomes" in judged and judged["dr_expected_outcomes"].notna().any():
            known = judged.dropna(subset=["dr_expected_outcomes"])
            bias = (known["dr_expected_outcomes"] - known["truth_on_decisions"]) / known["truth_on_decisions"]
            lines.append(
                f"  the same estimate on the world's expected outcomes (no outcome noise) - truth: mean "
                f"{bias.mean():+.1%} [{bias.min():+.1%}, {bias.max():+.1%}] over {len(bias)} runs"
            )
    if "guardrail_days" in rows and rows["guardrail_days"].notna().any():
        over = rows.dropna(subset=["guardrail_days"]).groupby("policy")["guardrail_days"]
        lines += ["", "days the nudge was over a guardrail's limit (not paused in the benchmark):"]
        lines += [f"  {policy}: {int(days.sum())} over {len(days)} runs" for policy, days in over]
    promoted = rows[rows["placebo_model"].notna() & (rows["placebo_model"].astype(str) != "")]
    nudge_models = int((rows["nudge_model"].notna() & (rows["nudge_model"].astype(str) != "")).sum())
    lines += [
        "",
        f"placebo (no effect): a promoted uplift model in {len(promoted)} of {len(rows)} runs (target 0)",
        f"nudge: a promoted uplift model in {nudge_models} of {len(rows)} runs",
    ]
    return lines


def append_row(out: Path, figures: dict[str, object]) -> None:
    """One run's figures appended to `out`; a file written before a column was added is rewritten
    with it first (empty for its rows)."""
    row = pd.DataFrame([figures]).reindex(columns=list(COLUMNS))
    if out.exists() and list(pd.read_csv(out, nrows=0).columns) != list(COLUMNS):
        pd.read_csv(out).reindex(columns=list(COLUMNS)).to_csv(out, index=False)
    row.to_csv(out, mode="a", header=not out.exists(), index=False)


def _policy_task(
    seed: int, policy: str, args: argparse.Namespace, snapshot: Path, home: Path
) -> dict[str, object]:
    """One policy's run in a worker process of its own; its home is deleted after unless kept."""
    try:
        return run_policy(seed, policy, args, snapshot, home)
    finally:
        if args.work is None:
            shutil.rmtree(home, ignore_errors=True)


def run_all(args: argparse.Namespace, done: pd.DataFrame, work: Path) -> None:
    """Every (seed, policy) not in `done`, `args.workers` runs at a time, each seed's warm-up first.

    A worker takes a policy run whose warm-up is ready before it starts another seed's warm-up.
    Each task runs in a new process: Dagster's definitions and the settings read the home once.
    """
    todo = {
        seed: [p for p in args.policies if not ((done["seed"] == seed) & (done["policy"] == p)).any()]
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    }
    to_warm = [seed for seed, policies in todo.items() if policies]
    ready: list[tuple[int, str, Path]] = []
    left = {seed: len(policies) for seed, policies in todo.items()}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context, max_tasks_per_child=1) as pool:
        running: dict[object, tuple[str, int, str]] = {}

        def fill() -> None:
            while len(running) < args.workers and (ready or to_warm):
                if ready:
                    seed, policy, snapshot = ready.pop(0)
                    home = work / f"run_{seed}_{policy.replace(' ', '_')}"
                    future = pool.submit(_policy_task, seed, policy, args, snapshot, home)
                    running[future] = ("run", seed, policy)
                else:
                    seed = to_warm.pop(0)
                    running[pool.submit(warm_up, seed, args, work)] = ("warm-up", seed, "")

        fill()
        while running:
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                kind, seed, policy = running.pop(future)
                if future.exception() is not None:
                    # One failed run costs its own row (a rerun with the same --out tries it again),
                    # not the hours of the others.
                    print(f"seed {seed} {kind} {policy}: FAILED: {future.exception()}", flush=True)
                    continue
                if kind == "warm-up":
                    snapshot = future.result()
                    ready.extend((seed, p, snapshot) for p in todo[seed])
                    print(f"seed {seed}: warm-up done", flush=True)
                    continue
                figures = future.result()
                append_row(args.out, figures)
                print(
                    f"seed {seed} {policy}: {figures['sends']} sends, {figures['incremental']:.1f} "
                    f"incremental conversions, {figures['unsubscribes']} unsubscribes "
                    f"({figures['seconds']} s)",
                    flush=True,
                )
                left[seed] -= 1
                if left[seed] == 0 and args.work is None:
                    shutil.rmtree(work / f"warm_up_{seed}", ignore_errors=True)
            fill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--history-days", type=int, default=60)
    parser.add_argument("--sending-days", type=int, default=34)
    parser.add_argument("--warmup-days", type=int, default=24)
    parser.add_argument("--last-day", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "uplift_targeting.csv",
        help="rows per run (appended; the default is the committed results, so a run resumes them)",
    )
    parser.add_argument("--summarize-only", action="store_true", help="print the figures of --out and stop")
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument("--workers", type=int, default=2, help="runs at once, each in a process of its own")
    parser.add_argument(
        "--work", type=Path, help="keep the warm-ups and each run's home (warehouse, logs) in this folder"
    )
    args = parser.parse_args()

    os.environ.setdefault(PEPPER_ENV, DEMO_PEPPER)  # generated people only
    if args.workers > 1:
        # Runs side by side share the cores: OpenMP threads of each run's gradient boosting would spin
        # against the other's (a judging step of seconds took over ten minutes), so one thread each.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    done = pd.read_csv(args.out) if args.out.exists() else pd.DataFrame(columns=list(COLUMNS))
    if not args.summarize_only:
        work = args.work or Path(tempfile.mkdtemp(prefix="uplift_"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            run_all(args, done, work)
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        done = pd.read_csv(args.out)
    print(
        f"World {WORLD.name}: {args.customers:,} customers, {args.history_days} days of history, "
        f"{args.sending_days} sending days to {args.last_day} ({args.warmup_days} warm-up); "
        f"rows in {args.out}"
    )
    print("\n".join(summarize(done)))


if __name__ == "__main__":
    main()
