-- A failure means the event catalog contradicts itself: a name whose kind
-- says it is an action (active, purchase) not flagged is_active_action, or
-- the reverse, or a reversal (refund, cancellation) or an identity event
-- (identify) placed in the purchase funnel. Dormancy, the churn label and revenue would then disagree on
-- what the event means.
select
    event_name,
    kind,
    is_active_action,
    funnel_step
from {{ ref('event_catalog') }}
where
    is_active_action != (kind in ('active', 'purchase'))
    or (kind in ('reversal', 'identity') and funnel_step is not null)
