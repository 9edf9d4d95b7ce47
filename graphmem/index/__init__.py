"""Derived data: rebuildable from the store at any time (DESIGN.md, layer L2)."""
