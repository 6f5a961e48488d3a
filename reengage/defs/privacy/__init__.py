"""Privacy: erasure requests carried out before each daily run loads its exports (see docs/privacy.md)."""
