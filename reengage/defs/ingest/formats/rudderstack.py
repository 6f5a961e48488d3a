"""RudderStack's warehouse tables (`tracks`, `pages`, `identifies`) exported as files.

RudderStack writes the same table shapes as Segment (and its e-commerce spec uses the same
event names), so the mapping is Segment's; only the name a landing folder declares differs.
"""

from __future__ import annotations

from dataclasses import replace

from reengage.defs.ingest.formats import segment

FORMAT = replace(segment.FORMAT, name="rudderstack", title="RudderStack warehouse tables")
