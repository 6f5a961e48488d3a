"""Development doubles for reengage, never imported by the product.

- ``reengage_dev.demo``: the responding demo world (a day-by-day simulator) and the `demo` command,
  ``python -m reengage_dev.demo``.
- ``reengage_dev.sink``: a local SendGrid-compatible sink; delivery uses it only when
  ``REENGAGE_LOCAL_SINK_URL`` names it.
"""
