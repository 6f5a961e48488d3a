-- The whole daily decision as one set-based query: one row per (customer, enabled campaign)
-- candidate, with the first check that failed as its reason, in the order the package's
-- docstring gives (orchestration/defs/interventions/policy/__init__.py, which also says why the
-- campaign holdout is drawn last, among the day's winners). decisions.py runs it into a temp table.
--
-- Placeholders, each a dollar sign and the name in braces, filled by `decisions_sql` in
-- decisions.py (every one must be filled, and nothing else may be given):
--   run_date               D, a date literal
--   base_table             the temp table of features as of D: one row per customer, with
--                          churn_probability, send_timezone and email_key (`base_sql`)
--   suppressions           email_key, reason: each suppressed address's first reason (inputs.py)
--   sends                  send_id, customer_id, campaign_id, run_date, reached_at: messages of
--                          earlier runs in the look-back, held-out winners included (inputs.py)
--   paused                 customer_id: who responded to one of the campaigns lately (inputs.py)
--   guardrails             campaign_id: campaigns a measurement guardrail paused on D (inputs.py)
--   candidates             customer_id, campaign_id, priority, holdout_share, cooldown_days: one
--                          select over `base` per enabled campaign, its trigger and audience
--   consent_withdrawn      the consent_status that reads as a refusal, quoted
--   consent_granted        the only consent_status that may be mailed, quoted
--   email_pattern          what counts as an email address (orchestration/emails.py), quoted
--   global_holdout_draw    a stable number in [0, 1) per customer (hash of salt and customer)
--   global_holdout_share   the share of all users who never receive anything
--   max_per_day            messages a user may receive on one local day
--   max_per_week           messages a user may receive in the rolling 7 local days ending D
--   campaign_holdout_draw  a stable number in [0, 1) per (customer, campaign)
--   variant                a case expression: the variant of a (customer_id, campaign_id) row

with
base as (select * from ${base_table}),
suppressions as (${suppressions}),
sends as (${sends}),
history as (
    select h.customer_id, h.campaign_id, h.run_date,
           coalesce(cast(timezone(b.send_timezone, h.reached_at) as date), h.run_date) as local_day
    from sends h
    left join base b on b.customer_id = h.customer_id
    qualify row_number() over (partition by h.send_id order by h.reached_at nulls last) = 1
),
caps as (
    select customer_id,
           count(*) filter (where local_day = ${run_date}) as sent_today,
           count(*) filter (where local_day between ${run_date} - 6 and ${run_date}) as sent_week
    from history
    group by 1
),
last_sent as (
    select customer_id, campaign_id, max(run_date) as last_run_date from history group by 1, 2
),
paused as (${paused}),
guardrails as (${guardrails}),
candidates as (${candidates}),
checked as (
    select c.*,
           b.churn_probability,
           case
               when b.consent_status = ${consent_withdrawn} then 'suppressed:no_consent'
               when b.consent_status is distinct from ${consent_granted} then 'suppressed:unverified_profile'
               when s.reason is not null then 'suppressed:' || s.reason
               when b.email_key is null then 'suppressed:missing_email'
               when not regexp_full_match(b.email_key, ${email_pattern}) then 'suppressed:invalid_email'
               when ${global_holdout_draw} < ${global_holdout_share} then 'global_holdout'
               when g.campaign_id is not null then 'campaign_paused'
               when coalesce(k.sent_today, 0) >= ${max_per_day}
                 or coalesce(k.sent_week, 0) >= ${max_per_week} then 'frequency_cap'
               when l.last_run_date > ${run_date} - c.cooldown_days then 'cooldown'
               when p.customer_id is not null then 'paused_after_response'
           end as blocked_reason
    from candidates c
    join base b on b.customer_id = c.customer_id
    left join suppressions s on s.email_key = b.email_key
    left join caps k on k.customer_id = c.customer_id
    left join last_sent l on l.customer_id = c.customer_id and l.campaign_id = c.campaign_id
    left join paused p on p.customer_id = c.customer_id
    left join guardrails g on g.campaign_id = c.campaign_id
),
ranked as (
    select *,
           row_number() over (
               partition by customer_id, blocked_reason is null
               order by priority, churn_probability desc nulls last, campaign_id
           ) as rank_in_user
    from checked
),
final as (
    select ${run_date} as run_date,
           customer_id,
           campaign_id,
           coalesce(
               blocked_reason,
               case when rank_in_user > 1 then 'lower_priority'
                    -- Hashed only for the day's winners: the holdout is drawn among them.
                    when ${campaign_holdout_draw} < holdout_share then 'campaign_holdout'
                    else 'chosen' end
           ) as reason,
           priority,
           churn_probability
    from ranked
),
with_variant as (
    select *,
           case when reason in ('chosen', 'campaign_holdout') then ${variant} end as variant
    from final
)
select run_date,
       customer_id,
       campaign_id,
       case when reason = 'campaign_holdout' then 'holdout' else split_part(reason, ':', 1) end as outcome,
       reason,
       priority,
       churn_probability,
       variant,
       case when reason = 'chosen' then 'treatment' when reason = 'campaign_holdout' then 'holdout' end as arm
from with_variant
