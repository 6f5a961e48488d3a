-- The whole daily decision as one set-based query: one row per (customer, enabled campaign)
-- candidate, with the first check that failed as its reason, in the order the package's
-- docstring gives (reengage/defs/interventions/policy/__init__.py, which also says why the
-- campaign holdout is drawn last, among the day's winners). decisions.py runs it into a temp table.
--
-- Placeholders, each a dollar sign and the name in braces, filled by `decisions_sql` in
-- decisions.py (every one must be filled, and nothing else may be given):
--   run_date               D, a date literal
--   base_table             the temp table of features as of D: one row per customer, with
--                          churn_probability and send_timezone (`base_sql`)
--   suppressions           channel, contact_key, reason: each channel's suppressed contacts with their
--                          first reason (inputs.py)
--   sends                  send_id, customer_id, campaign_id, channel, run_date, reached_at: messages of
--                          earlier runs in the look-back, held-out winners included (inputs.py)
--   paused                 customer_id: who responded to one of the campaigns lately (inputs.py)
--   guardrails             campaign_id: campaigns a measurement guardrail paused on D (inputs.py)
--   candidates             customer_id, campaign_id, channel, channel_rank, priority, holdout_share,
--                          cooldown_days: one select over `base` per enabled campaign, its trigger and
--                          audience, a row per channel it names (rank 1 its first preference)
--   contacts               customer_id, channel, contact, contact_key, consent_status, consent_granted,
--                          consent_withdrawn, contact_label: each customer's contact and consent on
--                          each channel the campaigns name (reengage/channels/)
--   contact_valid          SQL over k.channel and k.contact_key: whether the channel can use the key
--   channel_limits         channel, max_per_day, max_per_week, cooldown_days: each channel's own caps
--                          and cooldown (null: none; the policy config)
--   global_holdout_draw    a stable number in [0, 1) per customer (hash of salt and customer)
--   global_holdout_share   the share of all users who never receive anything
--   max_per_day            messages a user may receive on one local day, on all channels together
--   max_per_week           messages a user may receive in the rolling 7 local days ending D, all channels
--   campaign_holdout_draw  a stable number in [0, 1) per (customer, campaign)
--   variant                a case expression: the variant of a (customer_id, campaign_id) row
--   variant_share          a case expression: the share of its campaign's assignments a row's variant gets
--   uplift_scores          customer_id, campaign_id, predicted_uplift, model_version: the uplift
--                          models' predictions for D (inputs.py)
--   targeting              campaign_id, mode, budget_share, budget_sends, min_uplift,
--                          exploration_share: one row per enabled campaign; an uplift campaign
--                          without predictions for D comes as `random` (its cold start)
--   exploration_draw       a number in [0, 1) per (customer, campaign, D): a new draw every day
--   empty_blocks           customer_id, campaign_id, empty_block: candidates of a campaign whose
--                          template shows a block with `when_empty: skip` and who have nothing of their
--                          own for it (block_data.py; reads `candidates` and `base`)

with
base as (select * from ${base_table}),
suppressions as (${suppressions}),
sends as (${sends}),
history as (
    select h.customer_id, h.campaign_id, h.channel, h.run_date,
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
channel_caps as (
    select customer_id, channel,
           count(*) filter (where local_day = ${run_date}) as sent_today,
           count(*) filter (where local_day between ${run_date} - 6 and ${run_date}) as sent_week,
           max(run_date) as last_run_date
    from history
    group by 1, 2
),
last_sent as (
    -- A campaign's cooldown counts its messages on every channel.
    select customer_id, campaign_id, max(run_date) as last_run_date from history group by 1, 2
),
paused as (${paused}),
guardrails as (${guardrails}),
candidates as (${candidates}),
empty_blocks as (${empty_blocks}),
contacts as (${contacts}),
channel_limits as (${channel_limits}),
channel_checked as (
    -- Each of a campaign's channels for the user: may they be reached on it, and is it capped.
    select c.*,
           k.contact,
           case
               when k.consent_status = k.consent_withdrawn then 'suppressed:no_consent'
               when k.consent_status is distinct from k.consent_granted then 'suppressed:unverified_profile'
               when s.reason is not null then 'suppressed:' || s.reason
               when k.contact_key is null then 'suppressed:missing_' || k.contact_label
               when not ${contact_valid} then 'suppressed:invalid_' || k.contact_label
           end as suppressed_reason,
           case
               when coalesce(h.sent_today, 0) >= m.max_per_day
                 or coalesce(h.sent_week, 0) >= m.max_per_week then 'frequency_cap'
               when h.last_run_date > ${run_date} - m.cooldown_days then 'cooldown'
           end as channel_reason
    from candidates c
    join contacts k on k.customer_id = c.customer_id and k.channel = c.channel
    left join suppressions s on s.channel = c.channel and s.contact_key = k.contact_key
    left join channel_caps h on h.customer_id = c.customer_id and h.channel = c.channel
    left join channel_limits m on m.channel = c.channel
),
channel_picked as (
    -- The campaign's channel for the user: the first in its order of preference on which they may be
    -- reached and are not capped, else its first one, whose reason then stands for the campaign.
    select *
    from channel_checked
    qualify row_number() over (
        partition by customer_id, campaign_id
        order by suppressed_reason is not null, channel_reason is not null, channel_rank
    ) = 1
),
checked as (
    -- Each check apart, so every row also knows whether chance decided it: the global holdout is a
    -- draw, the other checks are not (the probabilities below need both). The global holdout is
    -- only read for the assigned winner (in `final`): every check before it runs for a held user
    -- exactly as for anyone else.
    select c.*,
           b.churn_probability,
           ${global_holdout_draw} < ${global_holdout_share} as global_held,
           case
               when g.campaign_id is not null then 'campaign_paused'
               when coalesce(k.sent_today, 0) >= ${max_per_day}
                 or coalesce(k.sent_week, 0) >= ${max_per_week}
                 or c.channel_reason = 'frequency_cap' then 'frequency_cap'
               when l.last_run_date > ${run_date} - c.cooldown_days or c.channel_reason = 'cooldown'
                   then 'cooldown'
               when p.customer_id is not null then 'paused_after_response'
               -- Before the winner and the holdout draw: a message that would show an empty block is
               -- not sent to anyone, so held-out and treated users are drawn from the same people,
               -- and the user's day stays free for the next campaign.
               when e.empty_block is not null then 'empty_block:' || e.empty_block
           end as later_reason
    from channel_picked c
    join base b on b.customer_id = c.customer_id
    left join caps k on k.customer_id = c.customer_id
    left join last_sent l on l.customer_id = c.customer_id and l.campaign_id = c.campaign_id
    left join paused p on p.customer_id = c.customer_id
    left join guardrails g on g.campaign_id = c.campaign_id
    left join empty_blocks e on e.customer_id = c.customer_id and e.campaign_id = c.campaign_id
),
ranked as (
    -- The winner among the rows no check without chance stopped. The global holdout is not among
    -- those checks, so for a user it holds this is the campaign that would have won: the global
    -- holdout's counterfactual.
    select *,
           suppressed_reason is null and later_reason is null as eligible,
           row_number() over (
               partition by customer_id, suppressed_reason is null and later_reason is null
               order by priority, churn_probability desc nulls last, campaign_id
           ) as rank_in_user
    from checked
),
scores as (${uplift_scores}),
targeting as (${targeting}),
contenders as (
    -- Each user's would-be winner, where the campaign's targeting picks among the day's contenders.
    select r.customer_id, r.campaign_id, t.mode, t.budget_share, t.budget_sends, t.min_uplift,
           t.exploration_share, u.predicted_uplift, u.model_version as uplift_model_version,
           case t.mode when 'uplift' then u.predicted_uplift when 'risk' then r.churn_probability end as score,
           t.mode = 'uplift' and coalesce(u.predicted_uplift < 0, false) as predicted_harm,
           ${exploration_draw} as exploration_draw
    from ranked r
    join targeting t on t.campaign_id = r.campaign_id
    left join scores u on u.customer_id = r.customer_id and u.campaign_id = r.campaign_id
    where r.eligible and r.rank_in_user = 1
),
budgeted as (
    -- The day's budget in assignments, and the exploration share: random targeting explores
    -- exactly its budget; uplift and risk targeting rank for what exploration leaves of it.
    select *,
           coalesce(budget_sends::double, budget_share * count(*) over (partition by campaign_id))
               as budget,
           count(*) filter (where not predicted_harm) over (partition by campaign_id) as sendable,
           score is not null and not predicted_harm
               and (mode <> 'uplift' or predicted_uplift >= min_uplift) as rankable
    from contenders
),
shares as (
    select *,
           case mode
               when 'rules' then 1.0
               when 'random' then least(budget / greatest(sendable, 1), 1.0)
               else exploration_share
           end as explore_share
    from budgeted
),
picks as (
    select *,
           case when mode in ('uplift', 'risk')
                -- Expected assignments = explored + ranked picks outside exploration = budget.
                then greatest(round((budget - explore_share * sendable) / (1 - explore_share)), 0)
                else 0 end as ranked_picks,
           row_number() over (
               partition by campaign_id, rankable order by score desc, customer_id
           ) as score_rank
    from shares
),
selected as (
    select customer_id, campaign_id, mode, predicted_uplift, uplift_model_version, predicted_harm,
           mode <> 'rules' and not predicted_harm and exploration_draw < explore_share as explored,
           rankable and score_rank <= ranked_picks as ranked_pick,
           -- The probability the row is assigned (either arm), over the exploration draw alone:
           -- whether the ranking picks it is not chance (it never reads the draw).
           case when mode = 'rules' then 1.0
                when predicted_harm then 0.0
                when rankable and score_rank <= ranked_picks then 1.0
                else explore_share end as selection_probability,
           case when predicted_harm then 'targeting:predicted_harm'
                when mode = 'random' then 'targeting:not_drawn'
                when mode = 'uplift' and predicted_uplift is null then 'targeting:not_scored'
                when mode = 'uplift' and predicted_uplift < min_uplift then 'targeting:low_predicted_uplift'
                else 'targeting:over_budget' end as not_selected_reason
    from picks
),
final as (
    select ${run_date} as run_date,
           r.customer_id,
           r.campaign_id,
           r.channel,
           r.contact,
           coalesce(
               r.suppressed_reason,
               r.later_reason,
               case when r.rank_in_user > 1 then 'lower_priority'
                    when not (x.mode = 'rules' or x.explored or x.ranked_pick) then x.not_selected_reason
                    -- Both holdouts are read only for the assigned winners, where the campaign
                    -- holdout is drawn too: a held user's other rows keep the reason they would have
                    -- had, and their winner stands for the message they would have been sent.
                    when r.global_held then 'global_holdout'
                    -- Hashed only for the assigned winners: the holdout is drawn among them.
                    when ${campaign_holdout_draw} < r.holdout_share then 'campaign_holdout'
                    else 'chosen' end
           ) as reason,
           r.priority,
           r.churn_probability,
           r.holdout_share,
           coalesce(x.selection_probability, 0.0) as selection_probability,
           coalesce(x.explored, false) as exploration,
           coalesce(x.mode, 'rules') as targeting,
           x.predicted_uplift,
           x.uplift_model_version
    from ranked r
    left join selected x on x.customer_id = r.customer_id and x.campaign_id = r.campaign_id
),
with_variant as (
    select *,
           case when reason in ('chosen', 'campaign_holdout') then ${variant} end as variant
    from final
)
select run_date,
       customer_id,
       campaign_id,
       channel,
       case when reason = 'campaign_holdout' then 'holdout' else split_part(reason, ':', 1) end as outcome,
       reason,
       priority,
       churn_probability,
       variant,
       case when reason = 'chosen' then 'treatment' when reason = 'campaign_holdout' then 'holdout' end as arm,
       -- Each factor is one draw's chance of the way it fell, in the order they are drawn:
       -- targeting, global holdout, campaign holdout, variant. A row no draw could change
       -- (suppressed, capped, outranked) has 1 or 0.
       selection_probability * (1 - ${global_holdout_share}) * (1 - holdout_share) as treatment_probability,
       selection_probability,
       -- The comparison arm: an assigned winner held back for good by the global holdout or the
       -- campaign holdout (both hashes are stable, so the campaign never sends it later in its
       -- window). A row the targeting merely did not draw today is not in it: it may be sent
       -- tomorrow, inside today's window.
       selection_probability * (${global_holdout_share} + (1 - ${global_holdout_share}) * holdout_share)
           as control_probability,
       case
           when reason like 'targeting:%' then 1 - selection_probability
           when reason = 'global_holdout' then selection_probability * ${global_holdout_share}
           when reason = 'campaign_holdout'
               then selection_probability * (1 - ${global_holdout_share}) * holdout_share * ${variant_share}
           when reason = 'chosen'
               then selection_probability * (1 - ${global_holdout_share}) * (1 - holdout_share) * ${variant_share}
           else 1.0
       end as assignment_probability,
       exploration,
       targeting,
       predicted_uplift,
       uplift_model_version,
       contact  -- for the list only: decisions never store a contact
from with_variant
