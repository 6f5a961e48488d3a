"""Whether a process on this machine still runs: for leftovers a crashed process may have left."""

from __future__ import annotations

import os


def process_exists(pid: int) -> bool:
    """True while process `pid` exists (another user's included); False once it is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
