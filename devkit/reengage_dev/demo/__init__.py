"""The demo world: realistic, deterministic landing exports that answer the pipeline's mail, and their truth.

``World`` writes a world day by day and answers what the mail provider accepted
(``respond``); ``generate_world(home, customers=..., days=..., end_date=..., seed=...)``
writes a history nobody mails, ``home/landing/{customers,events,email_events}/...`` and
``home/truth/user_truth.parquet``, and ``python -m reengage_dev.demo.generate`` does the
same from the command line. ``load_spec`` reads a world specification (docs/world_spec.md).
The demo command is ``python -m reengage_dev.demo`` (``command``), its loop ``loop``. See
``world`` for the overview.
"""

from reengage_dev.demo.spec import WorldSpec, load_spec
from reengage_dev.demo.world import World, WorldSummary, generate_world

# The demo's forget-list pepper (REENGAGE_PRIVACY_PEPPER): published, so never a secret. Production
# code has no default pepper; the demo command sets this one when none is configured.
DEMO_PEPPER = "reengage-demo-pepper-not-a-secret"

__all__ = ["DEMO_PEPPER", "World", "WorldSpec", "WorldSummary", "generate_world", "load_spec"]
