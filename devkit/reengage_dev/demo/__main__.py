"""``python -m reengage_dev.demo``: the demo command, see ``reengage_dev.demo.command``."""

from reengage_dev.demo.command import main

raise SystemExit(main())
