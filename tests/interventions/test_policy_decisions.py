"""The policy engine on hand-built features: who is chosen, who is held out, and why not."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from reengage.defs.interventions.campaigns import Template, Trigger, Variant
from reengage.defs.interventions.hashing import bucket
from reengage.defs.interventions.policy import PolicyConfig, PolicyError, decide, run_policy
from reengage.defs.interventions.summary import preview
from reengage.send_ids import send_id

from .conftest import (
    make_campaign,
    record_sends,
    user,
    write_features,
    write_responses,
    write_scores,
    write_suppressions,
)

D = date(2025, 3, 10)
# Tests that decide several days read the same people on each of them.
EVERY_DAY = [D + timedelta(days=k) for k in range(-2, 31)]
NOW = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)  # before every send window of the day
NO_GLOBAL = PolicyConfig(global_holdout_share=0.0)


def reasons(con: duckdb.DuckDBPyConnection, run_date: date = D) -> dict[tuple[str, str], str]:
    rows = con.execute(
        "select customer_id, campaign_id, reason from interventions.decisions where run_date = ?", [run_date]
    ).fetchall()
    return {(c, k): r for c, k, r in rows}


def listed(con: duckdb.DuckDBPyConnection, run_date: date = D) -> dict[str, tuple[str, str, str]]:
    rows = con.execute(
        "select customer_id, campaign_id, variant, arm from interventions.intervention_list"
        " where run_date = ?",
        [run_date],
    ).fetchall()
    assert len(rows) == len({r[0] for r in rows}), "a user is listed twice on one day"
    return {c: (k, v, a) for c, k, v, a in rows}


def test_nobody_without_consent_or_with_a_suppressed_or_broken_address_is_chosen(con) -> None:
    write_features(
        con,
        [
            user("ok"),
            user("no_consent", marketing_consent=False),
            user("unknown_consent", marketing_consent=None),
            user("bounced", email="Bounced@Example.com "),  # suppressions match case- and space-insensitively
            user("complained"),
            user("missing", email=None),
            user("blank", email="  "),
            user("invalid", email="not-an-address"),
        ],
        as_of=EVERY_DAY,
    )
    write_suppressions(con, [("bounced@example.com", "bounce"), ("complained@example.com", "Spam Report")])
    run_policy(con, D, [make_campaign("c")], NO_GLOBAL, NOW)

    assert reasons(con) == {
        ("ok", "c"): "chosen",
        ("no_consent", "c"): "suppressed:no_consent",
        ("unknown_consent", "c"): "suppressed:no_consent",
        ("bounced", "c"): "suppressed:bounce",
        ("complained", "c"): "suppressed:spam_report",
        ("missing", "c"): "suppressed:missing_email",
        ("blank", "c"): "suppressed:missing_email",
        ("invalid", "c"): "suppressed:invalid_email",
    }
    assert set(listed(con)) == {"ok"}
    outcomes = dict(con.execute("select customer_id, outcome from interventions.decisions").fetchall())
    assert outcomes["bounced"] == "suppressed" and outcomes["ok"] == "chosen"


def test_a_customer_whose_newest_crm_row_was_refused_is_held_back_as_unverified_and_counted(con) -> None:
    # Guards consent failing safe: consent in doubt (the newest CRM row refused at ingest) must never mail,
    # must say why in its own words, and the run must say how many. consent_status alone decides (it is made
    # in int_customer_consent): a snapshot's marketing_consent = true lets no unverified or unknown status by.
    write_features(
        con,
        [
            user("ok"),
            user("unverified", consent_status="unverified"),
            user("unknown_status", consent_status=None),
            user("refused_withdrawal", consent_status="withdrawn"),  # a refused row read as "opted_out"
            user("unverified_and_bounced", consent_status="unverified"),
            user("not_triggered", consent_status="unverified"),
        ],
        as_of=EVERY_DAY,
    )
    write_suppressions(con, [("unverified_and_bounced@example.com", "bounce")])
    campaign = make_campaign("c", trigger=Trigger(sql="customer_id <> 'not_triggered'"))
    result = run_policy(con, D, [campaign], NO_GLOBAL, NOW)

    assert reasons(con) == {
        ("ok", "c"): "chosen",
        ("unverified", "c"): "suppressed:unverified_profile",
        ("unknown_status", "c"): "suppressed:unverified_profile",
        ("refused_withdrawal", "c"): "suppressed:no_consent",
        # consent is checked before the suppression list (the policy's reason order)
        ("unverified_and_bounced", "c"): "suppressed:unverified_profile",
    }
    assert set(listed(con)) == {"ok"}
    # every customer held back, triggered by a campaign or not
    assert result.unverified_profiles == 4
    assert any(note.startswith("4 customer(s) not mailed as unverified_profile") for note in result.notes)


def test_one_winner_per_user_per_day_by_priority_then_churn_score(con) -> None:
    write_features(con, [user("a"), user("b"), user("c", cart_abandoned=True)], as_of=EVERY_DAY)
    write_scores(con, D, {"a": 0.9, "b": 0.1, "c": 0.5})
    campaigns = [
        make_campaign("low_number_wins", 5, trigger=Trigger(flags=("cart_abandoned",))),
        make_campaign("tie_x", 20),
        make_campaign("tie_y", 20),
        make_campaign("last", 90),
    ]
    run_policy(con, D, campaigns, NO_GLOBAL, NOW)
    got = reasons(con)
    assert got[("c", "low_number_wins")] == "chosen"
    assert {got[("c", k)] for k in ("tie_x", "tie_y", "last")} == {"lower_priority"}
    # Equal priority: the campaign id breaks the tie deterministically for the same user.
    assert got[("a", "tie_x")] == "chosen" and got[("a", "tie_y")] == "lower_priority"
    assert listed(con) == {
        "a": ("tie_x", "control", "treatment"),
        "b": ("tie_x", "control", "treatment"),
        "c": ("low_number_wins", "control", "treatment"),
    }
    churn = dict(
        con.execute("select customer_id, churn_probability from interventions.intervention_list").fetchall()
    )
    assert churn == {"a": 0.9, "b": 0.1, "c": 0.5}


def test_priority_not_file_order_decides_the_winner() -> None:
    con = duckdb.connect()
    write_suppressions(con)
    write_responses(con)
    write_features(con, [user("u")], as_of=EVERY_DAY)
    campaigns = [make_campaign("z_first_in_file", 30), make_campaign("a_higher_priority", 10)]
    run_policy(con, D, campaigns, NO_GLOBAL, NOW)
    assert listed(con)["u"][0] == "a_higher_priority"


def test_caps_hold_over_consecutive_days_across_campaigns(con) -> None:
    users = [user(f"u{i}", timezone=tz) for i, tz in enumerate(["UTC", "America/New_York", "Asia/Tokyo"] * 4)]
    write_features(con, users, as_of=EVERY_DAY)
    campaigns = [make_campaign("a", 10), make_campaign("b", 20), make_campaign("c", 30)]
    config = PolicyConfig(global_holdout_share=0.0, max_per_day=1, max_per_week=3)
    for offset in range(10):
        day = D + timedelta(days=offset)
        run_policy(con, day, campaigns, config, datetime.combine(day, datetime.min.time(), UTC))
        record_sends(con, day)

    sends = con.execute("select customer_id, run_date from delivery.campaign_sends").fetchall()
    for customer in {u["customer_id"] for u in users}:
        days = sorted(d for c, d in sends if c == customer)
        assert len(days) == len(set(days)), "more than one message on a day"
        for start in range(10):
            window = D + timedelta(days=start)
            in_window = [d for d in days if window <= d < window + timedelta(days=7)]
            assert len(in_window) <= 3, (customer, days)
    # Three sends, then four capped days, then sending resumes: the cap is rolling, not a lifetime limit.
    day4 = reasons(con, D + timedelta(days=3))
    assert {r for (c, _), r in day4.items() if c == "u0"} == {"frequency_cap"}
    assert listed(con, D + timedelta(days=7))["u0"][2] == "treatment"


def test_a_message_of_yesterdays_run_that_arrived_today_counts_towards_todays_cap(con) -> None:
    write_features(con, [user("late", timezone="America/Los_Angeles"), user("on_time")], as_of=EVERY_DAY)
    con.execute("create schema delivery")
    con.execute(
        "create table delivery.campaign_sends as select * from (values"
        # 16:00 UTC on the 10th is 09:00 on the 10th in Los Angeles: yesterday's message, today's inbox.
        " ('s1', date '2025-03-09', 'late', 'old', 'control', 'accepted',"
        "  timestamptz '2025-03-10 16:00:00+00'),"
        " ('s2', date '2025-03-09', 'on_time', 'old', 'control', 'accepted',"
        "  timestamptz '2025-03-09 16:00:00+00'),"
        " ('s3', date '2025-03-08', 'on_time', 'old', 'control', 'failed', null)"
        ") t(send_id, run_date, customer_id, campaign_id, variant, state, accepted_at)"
    )
    run_policy(con, D, [make_campaign("c")], NO_GLOBAL, NOW)
    assert reasons(con) == {("late", "c"): "frequency_cap", ("on_time", "c"): "chosen"}


def test_cooldown_blocks_the_same_campaign_and_lets_the_next_one_win(con) -> None:
    write_features(con, [user("u")], as_of=EVERY_DAY)
    campaigns = [make_campaign("main", 10, cooldown_days=3), make_campaign("fallback", 20, cooldown_days=0)]
    config = PolicyConfig(global_holdout_share=0.0, max_per_week=10)
    winners = []
    for offset in range(5):
        day = D + timedelta(days=offset)
        run_policy(con, day, campaigns, config, NOW)
        record_sends(con, day)
        winners.append(listed(con, day)["u"][0])
        if winners[-1] == "fallback":
            assert reasons(con, day)[("u", "main")] == "cooldown"
    assert winners == ["main", "fallback", "fallback", "main", "fallback"]


def test_a_held_out_winner_is_recorded_as_if_sent_and_cools_down_like_a_treated_user(con) -> None:
    write_features(con, [user(f"u{i}") for i in range(300)], as_of=EVERY_DAY)
    campaigns = [make_campaign("main", 10, holdout_share=0.5, cooldown_days=7), make_campaign("other", 20)]
    run_policy(con, D, campaigns, NO_GLOBAL, NOW)
    record_sends(con, D)
    first = listed(con)
    held = {c for c, (_, _, arm) in first.items() if arm == "holdout"}
    assert 100 < len(held) < 200
    assert all(first[c][0] == "main" for c in held)  # held out of main, not handed to another campaign
    assert set(
        con.execute(
            "select count(*) from interventions.intervention_list where arm = 'holdout' and subject is null"
        ).fetchone()
    ) == {len(held)}  # never rendered, never sent

    next_day = D + timedelta(days=1)
    run_policy(con, next_day, campaigns, NO_GLOBAL, NOW)
    got = reasons(con, next_day)
    assert {got[(c, "main")] for c in first} == {"cooldown"}
    assert {listed(con, next_day)[c][0] for c in first} == {"other"}


def test_a_globally_held_user_is_held_once_per_cooldown_and_keeps_the_caps_a_treated_user_meets(con) -> None:
    # Guards the global holdout as a comparison arm: were its users never counted as sent, their
    # winner would be held again every day (a control row a day for a treated user's one in seven)
    # while the recorded chance of being held says once per cooldown, and every estimate of a
    # message's effect would weigh the held users several times over.
    people = [user(f"u{i:03d}") for i in range(400)]
    write_features(con, people, as_of=EVERY_DAY)
    campaigns = [make_campaign("main", 10, cooldown_days=3), make_campaign("other", 20, cooldown_days=0)]
    config = PolicyConfig(global_holdout_share=0.2, max_per_week=10)
    held = {p["customer_id"] for p in people if bucket(config.salt, "global", p["customer_id"]) < 0.2}
    assert 50 < len(held) < 110
    for offset in range(5):
        day = D + timedelta(days=offset)
        run_policy(con, day, campaigns, config, NOW)
        record_sends(con, day)
        got = reasons(con, day)
        sent_or_held = {c for (c, _), r in got.items() if r in ("chosen", "global_holdout")}
        assert sent_or_held == {p["customer_id"] for p in people}, day  # one winner a day each
        for customer in held:
            # main on days 0 and 3, other in between: the winner alone is the held row, and the
            # rows it outranked or cooled down keep their own reasons.
            winner = "main" if offset in (0, 3) else "other"
            loser = "other" if winner == "main" else "main"
            assert got[(customer, winner)] == "global_holdout", (day, customer)
            assert got[(customer, loser)] == ("lower_priority" if winner == "main" else "cooldown")
        assert not set(listed(con, day)) & held  # never listed, so never sent
    # The same days as for a treated user: held users follow the very rhythm the others do.
    treated = next(p["customer_id"] for p in people if p["customer_id"] not in held)
    rhythm = con.execute(
        "select customer_id, list(campaign_id order by run_date) from interventions.decisions"
        " where reason in ('chosen', 'global_holdout') group by 1"
    ).fetchall()
    assert {tuple(days) for c, days in rhythm} == {("main", "other", "other", "main", "other")}
    assert treated in {c for c, _ in rhythm}


def test_assignment_is_identical_across_reruns_days_and_row_order(tmp_path) -> None:
    rows = [user(f"cust-{i:04d}", cart_abandoned=i % 3 == 0) for i in range(600)]
    campaigns = [
        make_campaign(
            "ab",
            10,
            holdout_share=0.2,
            variants=(Variant("control", 1, control=True), Variant("b", 2), Variant("c", 1)),
        ),
        make_campaign("cart", 5, trigger=Trigger(flags=("cart_abandoned",)), holdout_share=0.1),
    ]
    config = PolicyConfig(global_holdout_share=0.1, salt="s1")

    def run(order: list[dict], day: date = D) -> tuple[list, list]:
        con = duckdb.connect(str(tmp_path / f"w{random.random()}.duckdb"))
        write_suppressions(con)
        write_responses(con)
        write_features(con, order, as_of=EVERY_DAY)
        run_policy(con, day, campaigns, config, NOW)
        run_policy(con, day, campaigns, config, NOW)  # a rerun replaces, never duplicates
        decisions = con.execute(
            "select customer_id, campaign_id, reason from interventions.decisions order by all"
        ).fetchall()
        messages = con.execute(
            "select send_id, customer_id, campaign_id, variant, arm from interventions.intervention_list"
            " order by all"
        ).fetchall()
        con.close()
        return decisions, messages

    decisions, messages = run(rows)
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    assert run(shuffled) == (decisions, messages)
    assert len(decisions) == 600 + 200

    # Another day: same arms and variants (send ids differ by date, as the ledger expects).
    later_decisions, later_messages = run(rows, D + timedelta(days=30))
    assert sorted(m[1:] for m in later_messages) == sorted(m[1:] for m in messages)

    # The SQL hashes are the documented Python ones, so anyone can reproduce an assignment.
    for sid, customer, campaign, variant, arm in messages:
        assert sid == send_id(customer, campaign, D)
        assert bucket("s1", "global", customer) >= 0.1
        share = 0.2 if campaign == "ab" else 0.1
        assert (arm == "holdout") == (bucket("s1", "holdout", customer, campaign) < share)
        if campaign == "ab":
            draw = bucket("s1", "variant", customer, campaign)
            assert variant == ("control" if draw < 0.25 else "b" if draw < 0.75 else "c")


def test_holdout_shares_and_variant_split_match_the_configuration_on_20000_users(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_suppressions(con)
    write_responses(con)
    write_features(con, [user(f"{i}") for i in range(20_000)], as_of=D)
    campaign = make_campaign(
        "big",
        holdout_share=0.1,
        variants=(Variant("control", 1, control=True), Variant("treatment", 1)),
        template=Template(
            sendgrid_template_id="d-0123456789abcdef0123456789abcdef", data={"name": "first_name"}
        ),
    )
    result = run_policy(con, D, [campaign], PolicyConfig(global_holdout_share=0.05), NOW)
    counts = dict(con.execute("select reason, count(*) from interventions.decisions group by 1").fetchall())
    # Tolerances are about four standard errors; the hash is deterministic, so this cannot flake.
    assert abs(counts["global_holdout"] / 20_000 - 0.05) < 0.006
    assert abs(counts["campaign_holdout"] / (20_000 - counts["global_holdout"]) - 0.10) < 0.009
    variants = dict(
        con.execute("select variant, count(*) from interventions.intervention_list group by 1").fetchall()
    )
    assert abs(variants["control"] / result.list_rows - 0.5) < 0.015
    assert result.list_rows == 20_000 - counts["global_holdout"]
    assert result.holdout == counts["campaign_holdout"]


def test_templates_are_rendered_per_variant_and_escaped(con) -> None:
    write_features(con, [user("u1", first_name="<b>Eve</b>"), user("u2", first_name=None)], as_of=EVERY_DAY)
    campaign = make_campaign(
        "t",
        template=Template(
            subject="Hi {{ first_name or 'there' }}, {{ discount }}% off",
            body="<p>{{ first_name }} {{ code }} {{ valid_days }}</p>",
            constants={"valid_days": 14, "code": "BASE"},
        ),
        variants=(Variant("control", 1, control=True, data={"discount": 10, "code": "TEN"}),),
    )
    run_policy(con, D, [campaign], NO_GLOBAL, NOW)
    rows = con.execute(
        "select customer_id, subject, body, template_data, template_id from interventions.intervention_list"
        " order by customer_id"
    ).fetchall()
    assert rows[0][1:3] == ("Hi <b>Eve</b>, 10% off", "<p>&lt;b&gt;Eve&lt;/b&gt; TEN 14</p>")
    assert rows[1][1:3] == ("Hi there, 10% off", "<p> TEN 14</p>")  # NULL renders as nothing, not "None"
    assert rows[0][3] == '{"code": "TEN", "discount": 10, "valid_days": 14}'
    assert rows[0][4] is None


def test_a_template_failing_for_one_user_does_not_stop_the_others(con) -> None:
    write_features(con, [user("fine"), user("broken", first_name=None)], as_of=EVERY_DAY)
    campaign = make_campaign("t", template=Template(subject="{{ first_name.upper() }}", body="x"))
    result = run_policy(con, D, [campaign], NO_GLOBAL, NOW)
    assert reasons(con) == {("fine", "t"): "chosen", ("broken", "t"): "render_error:UndefinedError"}
    assert set(listed(con)) == {"fine"}
    assert any("failed to render" in note for note in result.notes)


def test_a_rerun_replaces_only_its_own_run_date(con) -> None:
    write_features(con, [user("u1"), user("u2")], as_of=EVERY_DAY)
    run_policy(con, D, [make_campaign("a")], NO_GLOBAL, NOW)
    run_policy(con, D + timedelta(days=1), [make_campaign("a")], NO_GLOBAL, NOW)
    run_policy(con, D, [make_campaign("b")], NO_GLOBAL, NOW)
    rows = con.execute(
        "select run_date, campaign_id, count(*) from interventions.intervention_list"
        " group by all order by all"
    ).fetchall()
    assert rows == [(D, "b", 2), (D + timedelta(days=1), "a", 2)]
    assert preview(con, D).to_dict("records") == [
        {"campaign_id": "b", "outcome": "chosen", "reason": "chosen", "n": 2}
    ]


def test_a_failed_write_leaves_the_previous_run_in_place(con, monkeypatch: pytest.MonkeyPatch) -> None:
    from reengage.defs.interventions.policy import persistence

    write_features(con, [user("u1")], as_of=EVERY_DAY)
    run_policy(con, D, [make_campaign("a")], NO_GLOBAL, NOW)
    monkeypatch.setattr(persistence, "LIST_TABLE", "interventions.no_such_table")
    with pytest.raises(duckdb.Error):
        run_policy(con, D, [make_campaign("b")], NO_GLOBAL, NOW)
    monkeypatch.undo()
    assert con.execute("select distinct campaign_id from interventions.decisions").fetchall() == [("a",)]
    assert con.execute("select campaign_id from interventions.intervention_list").fetchall() == [("a",)]


def test_the_engine_refuses_to_run_without_suppressions_or_features_or_with_duplicates() -> None:
    con = duckdb.connect()
    with pytest.raises(PolicyError, match="fct_email_suppressions does not exist"):
        decide(con, D, [make_campaign("a")])
    write_suppressions(con)
    with pytest.raises(PolicyError, match="fct_user_features does not exist"):
        decide(con, D, [make_campaign("a")])
    write_features(con, [user("u1"), user("u1")], as_of=EVERY_DAY)
    with pytest.raises(PolicyError, match="1 duplicate customer_id"):
        decide(con, D, [make_campaign("a")])


def test_a_features_table_with_history_is_read_as_of_the_run_date(con) -> None:
    write_features(con, [user("u1"), user("u2", cart_abandoned=True)], as_of=[D - timedelta(days=1), D])
    run_policy(con, D, [make_campaign("a", trigger=Trigger(flags=("cart_abandoned",)))], NO_GLOBAL, NOW)
    assert set(listed(con)) == {"u2"}


def test_triggers_and_audience_filters_select_the_intended_users(con) -> None:
    from reengage.defs.interventions.campaigns import Audience

    write_features(
        con,
        [
            user("de_pro", country="de", plan="Pro", lifetime_value=500.0, segment="at_risk"),
            user("us_pro", country="US", plan="pro", lifetime_value=500.0, segment="at_risk"),
            user("de_free", country="DE", plan="free", lifetime_value=500.0, segment="at_risk"),
            user("de_cheap", country="DE", plan="pro", lifetime_value=5.0, segment="at_risk"),
            user("de_engaged", country="DE", plan="pro", lifetime_value=500.0, segment="engaged"),
        ],
        as_of=EVERY_DAY,
    )
    write_scores(con, D, {"de_pro": 0.8, "de_free": 0.8, "de_cheap": 0.8, "de_engaged": 0.8, "us_pro": 0.8})
    campaign = make_campaign(
        "x",
        trigger=Trigger(segments=("at_risk",), min_churn_score=0.5, sql="lifetime_value > 10"),
        audience=Audience(countries=("DE",), plans=("pro",)),
    )
    decide(con, D, [campaign], NO_GLOBAL)
    assert con.execute("select customer_id from _interventions_decisions").fetchall() == [("de_pro",)]


def test_scores_absent_or_stale_still_rank_deterministically(con) -> None:
    write_features(con, [user("u1")], as_of=EVERY_DAY)
    campaigns = [make_campaign("a", 10), make_campaign("b", 10)]
    run_policy(con, D, campaigns, NO_GLOBAL, NOW)  # no scoring schema at all
    assert listed(con)["u1"][0] == "a"
    write_scores(con, D - timedelta(days=2), {"u1": 0.4})  # the latest earlier score is used
    run_policy(con, D, campaigns, NO_GLOBAL, NOW)
    assert con.execute("select churn_probability from interventions.decisions limit 1").fetchone() == (0.4,)


def test_disabled_campaigns_decide_nothing(con) -> None:
    write_features(con, [user("u1")], as_of=EVERY_DAY)
    result = run_policy(con, D, [make_campaign("off", enabled=False)], NO_GLOBAL, NOW)
    assert result.candidates == 0 and result.list_rows == 0
    assert con.execute("select count(*) from interventions.decisions").fetchone() == (0,)


def test_a_response_to_a_campaign_message_in_the_last_pause_days_holds_the_user_out_of_every_campaign(
    con,
) -> None:
    # Guards the pause after a response: it read a mart no model built, so it was always skipped. The window
    # is the response_pause_days (7) UTC days ending D: D-6 is its last day, D-7 the day after it.
    write_features(
        con, [user(c) for c in ("today", "d6", "d7", "tomorrow", "newsletter", "silent")], as_of=EVERY_DAY
    )
    write_responses(
        con,
        [
            ("today", "a", "2025-03-10 23:59:59"),
            ("d6", "b", "2025-03-04 00:00:00"),
            ("d7", "a", "2025-03-03 23:59:59"),
            ("tomorrow", "a", "2025-03-11 00:00:00"),  # after the run date: not yet
            ("newsletter", "legacy_newsletter", "2025-03-09 12:00:00"),  # no campaign of ours
        ],
    )
    campaigns = [make_campaign("a", 10), make_campaign("b", 20)]
    result = run_policy(con, D, campaigns, PolicyConfig(global_holdout_share=0.0, response_pause_days=7), NOW)
    assert reasons(con) == {
        ("today", "a"): "paused_after_response",
        ("today", "b"): "paused_after_response",
        ("d6", "a"): "paused_after_response",
        ("d6", "b"): "paused_after_response",
        **{(c, "a"): "chosen" for c in ("d7", "tomorrow", "newsletter", "silent")},
        **{(c, "b"): "lower_priority" for c in ("d7", "tomorrow", "newsletter", "silent")},
    }
    assert not any("pause" in note for note in result.notes)


def test_without_the_responses_mart_the_policy_stops_unless_the_pause_is_off(con) -> None:
    # Guards the pause after a response: a missing mart used to skip the pause with a note, mailing people who
    # had just answered; now only a pause configured off runs without it, and says so.
    write_features(con, [user("u1")], as_of=EVERY_DAY)
    con.execute("drop table marts.fct_user_responses")
    with pytest.raises(PolicyError, match="fct_user_responses does not exist; build the dbt models"):
        run_policy(con, D, [make_campaign("c")], NO_GLOBAL, NOW)
    result = run_policy(
        con, D, [make_campaign("c")], PolicyConfig(global_holdout_share=0.0, response_pause_days=0), NOW
    )
    assert reasons(con) == {("u1", "c"): "chosen"}
    assert "pause after response off: response_pause_days is 0" in result.notes
    con.execute("create table marts.fct_user_responses as select 'u1' as customer_id, now() as responded_at")
    with pytest.raises(PolicyError, match="fct_user_responses lacks column"):
        run_policy(con, D, [make_campaign("c")], NO_GLOBAL, NOW)


def test_nonsense_configuration_is_rejected_before_deciding(con) -> None:
    write_features(con, [user("u")], as_of=EVERY_DAY)
    for bad in (
        PolicyConfig(global_holdout_share=1.0),
        PolicyConfig(send_window_start_hour=21),
        PolicyConfig(default_timezone="Mars/Olympus"),
        PolicyConfig(max_per_week=-1),
    ):
        with pytest.raises(PolicyError):
            decide(con, D, [make_campaign("c")], bad)


def test_a_campaign_paused_by_a_measurement_guardrail_decides_campaign_paused(con) -> None:
    write_features(con, [user("u1"), user("u2", cart_abandoned=True)], as_of=EVERY_DAY)
    campaigns = [make_campaign("a", 10), make_campaign("b", 20), make_campaign("c", 30)]
    result = run_policy(con, D, campaigns, NO_GLOBAL, NOW)
    assert not any("guardrail" in note for note in result.notes)  # optional table: absent is fine
    con.execute(
        "insert into measurement.campaign_guardrails by name select * from (values"
        # a: paused two days ago and still paused (the latest row on or before D decides)
        " ('a', date '2025-03-08', true, 'unsubscribe rate above guardrail'),"
        # b: paused, then resumed on D
        " ('b', date '2025-03-07', true, 'spam complaints'), ('b', date '2025-03-10', false, null),"
        # c: paused only from tomorrow
        " ('c', date '2025-03-11', true, 'future')"
        ") t(campaign_id, run_date, paused, reason)"
    )
    result = run_policy(con, D, campaigns, NO_GLOBAL, NOW)
    assert reasons(con) == {
        ("u1", "a"): "campaign_paused",
        ("u2", "a"): "campaign_paused",
        ("u1", "b"): "chosen",  # the paused campaign does not take the day: the next one wins
        ("u2", "b"): "chosen",
        ("u1", "c"): "lower_priority",
        ("u2", "c"): "lower_priority",
    }
    assert result.notes.count("campaign a paused by a guardrail: unsubscribe rate above guardrail") == 1
    outcomes = {o for (o,) in con.execute("select distinct outcome from interventions.decisions").fetchall()}
    assert "campaign_paused" in outcomes
    # Suppression is still the recorded reason for a suppressed user of a paused campaign.
    con.execute(
        "update marts.fct_user_features set marketing_consent = false, consent_status = 'withdrawn' "
        "where customer_id = 'u1'"
    )
    run_policy(con, D, campaigns, NO_GLOBAL, NOW)
    assert reasons(con)[("u1", "a")] == "suppressed:no_consent"


def test_held_out_users_are_comparable_to_treated_ones_because_they_pass_the_same_eligibility_filters(
    con,
) -> None:
    """The guarantee behind applying the campaign holdout last (see campaigns/README.md).

    A campaign's holdout is a hash-random subset of exactly the users the
    campaign would have sent to: every held-out user passed consent,
    suppression, the global holdout, caps, cooldown, the response pause and
    priority, like every treated user, and got nothing else that day. Had the
    holdout come before the caps (the obvious order), capped, cooled
    down or outranked users would sit in the holdout and held-out users would
    be handed to the next campaign, so the two arms would not be comparable.
    """
    rng = random.Random(11)
    rows, suppressions, history, responses = [], [], [], []
    for i in range(800):
        customer = f"u{i}"
        rows.append(user(customer, cart_abandoned=rng.random() < 0.3, marketing_consent=rng.random() < 0.85))
        if rng.random() < 0.1:
            suppressions.append((f"{customer}@example.com", "unsubscribe"))
        if rng.random() < 0.1:  # clicked a message two days ago: paused
            responses.append((customer, rng.choice(["main", "cart"]), "2025-03-08 12:00:00"))
        for _ in range(rng.choice([0, 0, 1, 2, 3])):  # some users capped, some in cooldown
            days_ago = rng.randint(1, 6)
            history.append(
                (f"s{len(history)}", D - timedelta(days=days_ago), customer, rng.choice(["main", "x"]))
            )
    write_suppressions(con, suppressions)
    write_responses(con, responses)
    write_features(con, rows, as_of=EVERY_DAY)
    con.execute("create schema delivery")
    con.execute(
        "create table delivery.campaign_sends (send_id varchar, run_date date, customer_id varchar,"
        " campaign_id varchar, variant varchar, state varchar, accepted_at timestamptz)"
    )
    con.executemany(
        "insert into delivery.campaign_sends values (?, ?, ?, ?, 'control', 'accepted', null)", history
    )
    config = PolicyConfig(global_holdout_share=0.1, max_per_week=2)

    def run(holdout_share: float) -> dict[str, tuple[str, str, str]]:
        campaigns = [
            make_campaign("cart", 10, trigger=Trigger(flags=("cart_abandoned",))),
            make_campaign("main", 20, holdout_share=holdout_share, cooldown_days=5),
        ]
        run_policy(con, D, campaigns, config, NOW)
        return listed(con)  # also asserts one row per user per day

    with_holdout, without = run(0.3), run(0.0)
    would_send = {c for c, (k, _, _) in without.items() if k == "main"}
    held = {c for c, (k, _, arm) in with_holdout.items() if k == "main" and arm == "holdout"}
    treated = {c for c, (k, _, arm) in with_holdout.items() if k == "main" and arm == "treatment"}
    assert held | treated == would_send and not held & treated  # same filters, split by the hash only
    assert {c: v for c, v in with_holdout.items() if v[0] == "cart"} == {
        c: v for c, v in without.items() if v[0] == "cart"
    }  # no held-out user was handed to another campaign, and nobody else moved
    assert 150 < len(would_send) and abs(len(held) / len(would_send) - 0.3) < 0.1
    responders = {c for c, _, _ in responses}
    assert not responders & set(with_holdout) and responders - set(without)  # paused in both arms
    assert all((bucket("reengage-v1", "holdout", c, "main") < 0.3) == (c in held) for c in would_send)
