"""Demo-world generator: realistic, deterministic landing exports and the ground truth behind them.

``generate_world(home, customers=..., days=..., end_date=..., seed=...)`` writes
``home/landing/{customers,events,email_events}/...`` and
``home/truth/user_truth.parquet``; ``python -m orchestration.demo`` does the same
from the command line. See ``world`` for the overview.
"""

from orchestration.demo.world import WorldSummary, generate_world

# The demo's forget-list pepper (REENGAGE_PRIVACY_PEPPER): published, so never a secret. Production
# code has no default pepper; the demo command sets this one when none is configured.
DEMO_PEPPER = "reengage-demo-pepper-not-a-secret"

__all__ = ["DEMO_PEPPER", "WorldSummary", "generate_world"]
