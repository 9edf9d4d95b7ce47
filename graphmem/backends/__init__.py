"""Backends other than the embedded store: each implements
:class:`graphmem.api.MemoryAPI` in its own package (``cluster/``: FalkorDB on a
Redis Cluster). A new backend goes here, beside ``cluster/``, and runs against
the contract tests in ``../shared/contract`` with its URL."""
