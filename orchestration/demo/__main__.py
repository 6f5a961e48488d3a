"""``python -m orchestration.demo``: see ``orchestration.demo.cli``."""

from orchestration.demo.cli import main

raise SystemExit(main())
