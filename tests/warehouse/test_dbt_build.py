"""The dbt project builds cleanly and its models mean what their YAML and docs/meanings.md say.

Every assertion reads the output of one real `dbt build` (conftest.py) over the
rows in raw_world.py, whose comments explain why each expected value is right.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import duckdb

from reengage.learning.features import snapshot_features

from .conftest import BuiltWarehouse
from .raw_world import RUN_DATE


def test_dbt_build_passes_every_model_seed_data_test_and_unit_test(built_warehouse: BuiltWarehouse) -> None:
    build = built_warehouse.build
    assert build.returncode == 0, build.explain()
    statuses = build.statuses()
    assert statuses, "dbt ran nothing"
    assert build.not_passed() == {}
    kinds = {node.split(".")[0] for node in statuses}
    assert {"model", "seed", "test", "unit_test"} <= kinds


def test_dbt_build_emits_no_warnings_and_no_deprecations(built_warehouse: BuiltWarehouse) -> None:
    # Guards the dbt 1.11 syntax: generic tests without `arguments:` or configs
    # outside `config:` raise deprecation warnings, and a warn-severity data
    # test that fails on clean data would show up here too.
    build = built_warehouse.build
    warnings = [e["info"]["msg"] for e in build.events_at_level("warn")]
    deprecations = [e["info"]["msg"] for e in build.events if "Deprecat" in e.get("info", {}).get("name", "")]
    assert warnings == []
    assert deprecations == []


def test_models_land_in_the_documented_schemas(built_warehouse: BuiltWarehouse) -> None:
    relations = set(
        built_warehouse.query(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'marts')"
        )
    )
    assert {
        ("staging", "event_catalog"),
        ("staging", "stg_crm__customers"),
        ("staging", "stg_crm__consent_changes"),
        ("staging", "stg_product__events"),
        ("staging", "stg_sendgrid__email_events"),
        ("staging", "stg_crm__refused_customers"),
        ("staging", "stg_sendgrid__refused_email_events"),
        ("intermediate", "int_identity_map"),
        ("intermediate", "int_customer_consent"),
        ("intermediate", "int_events_stitched"),
        ("marts", "fct_sessions"),
        ("marts", "fct_user_daily_activity"),
        ("marts", "fct_user_dormancy"),
        ("marts", "fct_user_behaviour_flags"),
        ("marts", "fct_user_features"),
        ("marts", "fct_email_suppressions"),
        ("marts", "fct_user_responses"),
        ("staging", "stg_twilio__sms_events"),
        ("staging", "stg_twilio__refused_sms_events"),
        ("marts", "fct_sms_suppressions"),
        ("staging", "stg_catalog__products"),
        ("staging", "progress_tiers"),
        ("marts", "fct_user_cart_items"),
        ("marts", "fct_user_recent_views"),
        ("marts", "fct_product_social_proof"),
        ("marts", "fct_user_progress"),
        ("intermediate", "int_customer_product_interactions"),
        ("intermediate", "int_product_co_occurrence"),
        ("marts", "fct_user_recommendations"),
    } <= relations


def test_dormancy_stage_follows_days_since_last_active_action(built_warehouse: BuiltWarehouse) -> None:
    dormancy = built_warehouse.rows_by_key("marts.fct_user_dormancy")
    observed = {c: (r["days_since_last_active"], r["dormancy_stage"]) for c, r in dormancy.items()}
    assert observed == {
        "c_active": (0, "active"),
        "c_cooling": (7, "cooling"),  # a passive page view on D-1 does not count
        "c_dormant": (14, "dormant"),
        "c_lapsed": (101, "lapsed"),  # no action before the end of D: counted from signup
        "c_new": (1, "active"),
        "c_atrisk": (1, "active"),
        "c_sessions": (3, "active"),
        "c_fan": (1, "active"),
    }


def test_at_risk_compares_last_7_days_with_weekly_average_of_prior_28(
    built_warehouse: BuiltWarehouse,
) -> None:
    dormancy = built_warehouse.rows_by_key("marts.fct_user_dormancy")
    at_risk = dormancy["c_atrisk"]
    assert (at_risk["active_actions_7d"], at_risk["active_actions_prior_28d"]) == (1, 16)
    assert at_risk["baseline_weekly_active_actions"] == 4.0
    assert at_risk["is_at_risk"] is True
    # no habit in the prior 28 days, so nothing to fall away from
    assert dormancy["c_fan"]["is_at_risk"] is False
    assert dormancy["c_lapsed"]["is_at_risk"] is False


def test_sessions_split_on_gaps_over_30_minutes_and_continue_across_midnight(
    built_warehouse: BuiltWarehouse,
) -> None:
    sessions = built_warehouse.query(
        "select session_start_at, session_end_at, event_count, session_date "
        "from marts.fct_sessions where customer_id = 'c_sessions' order by session_start_at"
    )
    assert sessions == [
        (datetime(2026, 1, 5, 10, 0), datetime(2026, 1, 5, 10, 30), 2, datetime(2026, 1, 5).date()),
        (datetime(2026, 1, 5, 11, 0, 1), datetime(2026, 1, 5, 11, 0, 1), 1, datetime(2026, 1, 5).date()),
        (datetime(2026, 1, 6, 23, 50), datetime(2026, 1, 7, 0, 10), 2, datetime(2026, 1, 6).date()),
        (datetime(2026, 1, 8, 15, 0), datetime(2026, 1, 8, 15, 6), 3, datetime(2026, 1, 8).date()),
    ]


def test_session_id_is_md5_of_owner_and_start_so_reruns_keep_it(built_warehouse: BuiltWarehouse) -> None:
    [(session_id,)] = built_warehouse.query(
        "select session_id from marts.fct_sessions "
        "where customer_id = 'c_sessions' and session_start_at = timestamp '2026-01-05 10:00:00'"
    )
    assert session_id == hashlib.md5(b"customer:c_sessions|2026-01-05 10:00:00").hexdigest()


def test_late_login_stitches_earlier_anonymous_events_to_the_customer(
    built_warehouse: BuiltWarehouse,
) -> None:
    stitched = dict(
        built_warehouse.query(
            "select event_id, customer_id from intermediate.int_events_stitched "
            "where anonymous_id in ('anon_new', 'anon_ghost')"
        )
    )
    assert stitched == {
        "new_1": "c_new",  # anonymous, the day before the login
        "new_2": "c_new",
        "new_3": "c_new",  # the login itself
        "new_4": "c_new",  # anonymous again after the login
        "ghost_1": None,  # a device never seen logged in stays anonymous
        "ghost_2": None,
    }
    assert built_warehouse.query(
        "select customer_id, is_anonymous, event_count from marts.fct_sessions "
        "where session_owner = 'anonymous:anon_ghost'"
    ) == [(None, True, 2)]


def test_duplicate_event_ids_count_once(built_warehouse: BuiltWarehouse) -> None:
    assert built_warehouse.query(
        "select count(*) from staging.stg_product__events where event_id = 'dup_1'"
    ) == [(1,)]
    assert built_warehouse.query(
        "select event_count from marts.fct_user_daily_activity "
        "where customer_id = 'c_cooling' and activity_date = date '2026-01-04'"
    ) == [(1,)]


def test_unknown_event_names_are_kept_but_never_active(built_warehouse: BuiltWarehouse) -> None:
    assert built_warehouse.query(
        "select event_name, is_known_event, is_active_action from staging.stg_product__events "
        "where event_id = 'act_3'"
    ) == [("video_play", False, False)]


def test_a_refund_is_neither_a_purchase_nor_an_action_and_comes_off_revenue(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards refunds as first-class events: order_refunded was an unknown name, so c_active's refund
    # of 15.00 (of a 40.00 purchase) left every revenue figure at 40.00, and an analyst adding it to
    # the catalog as an ordinary known event would have made it a passive action.
    assert built_warehouse.query(
        "select event_name, event_kind, is_known_event, is_active_action from staging.stg_product__events "
        "where event_id = 'act_4'"
    ) == [("order_refunded", "reversal", True, False)]
    assert built_warehouse.query(
        "select event_count, active_action_count, passive_action_count, unknown_event_count, purchase_count, "
        "revenue from marts.fct_user_daily_activity where customer_id = 'c_active' "
        "and activity_date = date '2026-01-10'"
    ) == [(4, 1, 1, 1, 1, 25.0)]
    assert built_warehouse.query(
        "select active_action_count, purchase_count, revenue from marts.fct_sessions "
        "where customer_id = 'c_active' and session_date = date '2026-01-10'"
    ) == [(1, 1, 25.0)]
    # the churn model's features read the catalog too, and agree with the mart
    with duckdb.connect(str(built_warehouse.path), read_only=True) as con:
        churn = snapshot_features(con, date.fromisoformat(RUN_DATE)).set_index("customer_id").loc["c_active"]
    assert (churn["purchases_90d"], churn["revenue_90d"]) == (1, 25.0)


def test_nothing_after_the_end_of_the_run_date_is_counted(built_warehouse: BuiltWarehouse) -> None:
    # a purchase at midnight starting D+1, a CRM snapshot and a spam report after D
    assert built_warehouse.query(
        "select count(*) from staging.stg_product__events where event_id = 'laps_1'"
    ) == [(0,)]
    customers = built_warehouse.rows_by_key("staging.stg_crm__customers")
    assert customers["c_active"]["plan"] == "pro"
    assert built_warehouse.query(
        "select count(*) from marts.fct_email_suppressions where email = 'late@example.com'"
    ) == [(0,)]


def test_latest_crm_snapshot_wins_and_consent_history_is_kept(built_warehouse: BuiltWarehouse) -> None:
    alice = built_warehouse.rows_by_key("staging.stg_crm__customers")["c_active"]
    assert (alice["email"], alice["plan"], alice["marketing_consent"]) == ("alice@example.com", "pro", False)
    history = built_warehouse.query(
        "select consent, previous_consent, is_first_observation from staging.stg_crm__consent_changes "
        "where customer_id = 'c_active' and channel = 'email' order by observed_at"
    )
    assert history == [(True, None, True), (False, True, False)]


def test_behaviour_flags(built_warehouse: BuiltWarehouse) -> None:
    flags = built_warehouse.rows_by_key("marts.fct_user_behaviour_flags")
    raised = {
        flag: sorted(c for c, r in flags.items() if r[flag])
        for flag in ("cart_abandoned", "browse_abandoned", "category_enthusiast", "is_new_user")
    }
    assert raised == {
        "cart_abandoned": ["c_new"],  # c_fan bought within 24 h
        "browse_abandoned": ["c_sessions"],  # c_fan's 5 views ended in an add_to_cart
        "category_enthusiast": ["c_fan"],
        "is_new_user": ["c_new"],
    }
    assert flags["c_new"]["last_abandoned_product_id"] == "p1"
    assert flags["c_fan"]["enthusiast_category"] == "shoes"


def test_each_customer_gets_one_segment_by_precedence(built_warehouse: BuiltWarehouse) -> None:
    features = built_warehouse.rows_by_key("marts.fct_user_features")
    assert {c: r["segment"] for c, r in features.items()} == {
        "c_new": "new",
        "c_lapsed": "lapsed",
        "c_dormant": "dormant",
        "c_atrisk": "at_risk",
        "c_cooling": "at_risk",  # one action in D-34..D-7, none since
        "c_fan": "high_value",  # top 10% of 8 customers = 1 customer
        "c_active": "engaged",
        "c_sessions": "engaged",
    }
    assert [c for c, r in features.items() if r["is_high_value"]] == ["c_fan"]
    assert {r["as_of_date"].isoformat() for r in features.values()} == {RUN_DATE}


def test_features_are_computed_in_the_customers_own_time_zone_and_windows(
    built_warehouse: BuiltWarehouse,
) -> None:
    features = built_warehouse.rows_by_key("marts.fct_user_features")
    alice = features["c_active"]
    assert alice["timezone"] == "Europe/Paris"
    assert alice["preferred_local_hour"] == 10  # events at 08:55-09:05 UTC
    # 40.00 bought, 15.00 of it refunded
    assert (alice["purchases_90d"], alice["revenue_90d"], alice["favourite_category"]) == (1, 25.0, "books")
    assert features["c_lapsed"]["preferred_local_hour"] is None
    assert features["c_atrisk"]["activity_trend"] == -3.0  # 1 this week vs 4 a week before
    for row in features.values():
        assert 1 <= row["recency_score"] <= 5
        assert 1 <= row["frequency_score"] <= 5
        assert 1 <= row["monetary_score"] <= 5
    assert features["c_active"]["recency_score"] == 5
    assert features["c_lapsed"]["recency_score"] == 1


def test_suppressions_list_bounces_and_unsubscribes_once_per_address(built_warehouse: BuiltWarehouse) -> None:
    suppressions = built_warehouse.rows_by_key("marts.fct_email_suppressions", key="email")
    assert {e: r["suppression_reason"] for e, r in suppressions.items()} == {
        "bounce@example.com": "bounce",  # retried webhook: still one event
        "c_cooling@example.com": "group_unsubscribe",  # address normalised
        "refused.unsub@example.com": "unsubscribe",  # refused at ingest for its timestamp
    }
    assert suppressions["bounce@example.com"]["suppression_event_count"] == 1
    assert suppressions["bounce@example.com"]["first_suppressed_at"] == datetime(2026, 1, 3, 10, 0)


def test_an_unsubscribe_refused_at_ingest_for_its_timestamp_still_suppresses_from_its_files_day(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards suppressions failing safe: a suppression event quarantined for a secondary field was lost, and
    # the address was mailed. Its time cannot be read, so it counts from the start of its file's day.
    refused = built_warehouse.rows_by_key("marts.fct_email_suppressions", key="email")[
        "refused.unsub@example.com"
    ]
    assert (refused["first_suppressed_at"], refused["refused_event_count"]) == (datetime(2026, 1, 8), 1)


def test_sms_suppressions_list_stop_replies_and_permanent_failures_once_per_number(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards the SMS channel's fail-safe: without fct_sms_suppressions a number that replied STOP (or a
    # landline) would be texted again; a STOP refused at ingest for its formatted number, a retried
    # callback, a START after the STOP and a temporary failure each had to mean what raw_world.py says.
    suppressions = built_warehouse.rows_by_key("marts.fct_sms_suppressions", key="phone")
    assert {p: (r["suppression_reason"], r["error_code"]) for p, r in suppressions.items()} == {
        "+33612340001": ("stop_reply", None),
        "+33612340002": ("stop_reply", None),  # refused at ingest, read back
        "+33612340005": ("permanent_failure", "30006"),
    }
    stop = suppressions["+33612340001"]
    assert (stop["suppression_event_count"], stop["has_replied_start_since"]) == (1, True)
    assert stop["first_suppressed_at"] == datetime(2026, 1, 5, 11, 0)
    refused = suppressions["+33612340002"]
    assert (refused["first_suppressed_at"], refused["refused_event_count"]) == (
        datetime(2026, 1, 8, 9, 30),
        1,
    )


def test_responses_name_the_customer_holding_the_address_and_count_a_retried_click_once(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards the pause after a response: no model built marts.fct_user_responses, so the policy's pause after
    # a response never held anybody out. The rows and why each is expected: raw_world.py, EMAIL_EVENTS.
    responses = built_warehouse.query(
        "select customer_id, send_id, response_type, responded_at, reached_at "
        "from marts.fct_user_responses order by customer_id, responded_at, response_type"
    )
    assert responses == [
        # alice@example.com, mixed case in the CRM, is c_active's address as of D
        ("c_active", "s1", "open", datetime(2026, 1, 2, 11, 0), datetime(2026, 1, 2, 10, 0)),
        # the click exported twice is one click; fan_buy follows the delivery within 7 days
        ("c_fan", "s4", "click", datetime(2026, 1, 9, 14, 30), datetime(2026, 1, 8, 9, 0)),
        ("c_fan", "s4", "conversion", datetime(2026, 1, 9, 16, 9), datetime(2026, 1, 8, 9, 0)),
    ]


def test_a_customer_whose_newest_crm_row_was_refused_is_not_granted_consent(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards consent failing safe: a refused CRM row was dropped and the older consent=true snapshot won,
    # so a person who had just withdrawn consent was emailed the same day.
    consent = built_warehouse.rows_by_key("intermediate.int_customer_consent")
    features = built_warehouse.rows_by_key("marts.fct_user_features")
    assert {c: r["consent_status"] for c, r in features.items()} == {
        "c_active": "withdrawn",  # its snapshot says no
        "c_cooling": "withdrawn",  # a refused row reads " Opted_Out "
        "c_dormant": "unverified",  # its newest row was refused (time zone)
        "c_sessions": "granted",  # its refused row predates its snapshot
        "c_fan": "granted",  # a row superseded in its own file refused nothing
        "c_atrisk": "granted",  # its refused withdrawal lands after D
        "c_lapsed": "unverified",  # its newest row was refused (time zone; it withdrew SMS consent)
        "c_new": "granted",
    }
    assert consent["c_dormant"]["newest_refusal_reason"] == "not a known IANA timezone"
    assert consent["c_cooling"]["snapshot_marketing_consent"] is True


def test_sms_consent_is_decided_apart_from_email_and_a_refused_sms_withdrawal_counts(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards the second channel's consent: email consent must never read as consent to texts (nor the
    # reverse), a CRM that does not say is no consent, and a refused row withdrawing SMS consent is
    # honoured as email's is.
    features = built_warehouse.rows_by_key("marts.fct_user_features")
    assert {c: r["sms_consent_status"] for c, r in features.items()} == {
        "c_active": "withdrawn",  # email consent granted on its newest snapshot; SMS never said
        "c_cooling": "unverified",  # a newer refused row (its " Opted_Out " was email's)
        "c_dormant": "unverified",  # its newest row was refused (time zone)
        "c_sessions": "granted",  # its refused row predates its snapshot
        "c_fan": "granted",
        "c_atrisk": "withdrawn",  # said no to texts, yes to email
        "c_lapsed": "withdrawn",  # a refused row reads "Opted-Out" for SMS
        "c_new": "withdrawn",  # never said
    }
    assert features["c_atrisk"]["consent_status"] == "granted"
    assert (features["c_fan"]["phone"], features["c_new"]["phone"]) == ("+33612340006", None)
    assert features["c_atrisk"]["sms_consent"] is False and features["c_new"]["sms_consent"] is None


def test_a_crm_value_set_to_null_at_ingest_holds_nobody_back(built_warehouse: BuiltWarehouse) -> None:
    # Guards "refuse values, not people": c_new's snapshot was loaded with its absurd lifetime value
    # set to null, and the quarantine's note of it (row_kept) was read back as a refused CRM row
    # newer than the snapshot, holding the customer back as unverified.
    features = built_warehouse.rows_by_key("marts.fct_user_features")
    assert features["c_new"]["consent_status"] == "granted"
    assert features["c_new"]["lifetime_value"] is None
    refused = built_warehouse.rows_by_key("staging.stg_crm__refused_customers", key="customer_id")
    assert "c_new" not in refused


def test_cohort_retention_counts_active_weeks_since_the_signup_week(built_warehouse: BuiltWarehouse) -> None:
    # Cohorts of the last 26 weeks: c_lapsed (signed up 2025-10-01, never
    # active) and c_new (2026-01-08, an add_to_cart on 01-09).
    rows = built_warehouse.query(
        "select cohort_week, week_number, cohort_size, active_customers, retention_rate, is_complete_week "
        "from marts.fct_cohort_retention where week_number = 0 order by cohort_week"
    )
    assert rows == [
        (datetime(2025, 9, 29).date(), 0, 1, 0, 0.0, True),
        (datetime(2026, 1, 5).date(), 0, 1, 1, 1.0, False),  # the week holding D is not over
    ]
    weeks = built_warehouse.query(
        "select count(*), max(week_number) from marts.fct_cohort_retention "
        "where cohort_week = date '2025-09-29'"
    )
    assert weeks == [(15, 14)]  # 2025-09-29 .. the week of 2026-01-05, active or not


def test_funnel_counts_visitors_down_to_their_deepest_step(built_warehouse: BuiltWarehouse) -> None:
    funnel = built_warehouse.query(
        "select funnel_step, visitors from marts.fct_funnel_daily "
        "where funnel_date = date '2026-01-09' order by funnel_step_order"
    )
    # 01-09: c_cooling and anon_ghost view pages; c_fan views, carts and buys;
    # c_new (login + stitched add_to_cart) carts
    assert funnel == [("visit", 4), ("product_view", 2), ("add_to_cart", 2), ("checkout", 1), ("purchase", 1)]
