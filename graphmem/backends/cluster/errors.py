"""Errors of the cluster backend: subclasses of the graphmem tree (graphmem/errors.py)."""

from __future__ import annotations

from ...errors import GraphMemError

__all__ = ["ClusterUnavailable", "NotAcknowledged", "NotSupported"]


class ClusterUnavailable(GraphMemError):
    """The cluster did not serve a request before the retry deadline (no primary for
    the namespace's slot, nodes unreachable, cluster down)."""


class NotAcknowledged(ClusterUnavailable):
    """A write reached its primary but no replica confirmed it before the deadline.

    It may or may not survive a failover. Retrying the same call is safe: the
    request id it carried makes a second application a no-op.
    """


class NotSupported(GraphMemError, NotImplementedError):
    """A :class:`graphmem.Memory` method the cluster backend does not provide
    (README.md, "Cluster backend", lists them and why)."""
