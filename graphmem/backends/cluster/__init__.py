"""The cluster backend: graphmem on FalkorDB graphs sharded by Redis Cluster.

Optional (``pip install 'graphmem[cluster]'``; FalkorDB is SSPLv1). One graph
per namespace, key ``gm:{<namespace>}``; writes confirmed by a replica; retries
through failover. Modules, one job each:

- :mod:`.router`: sends a key's commands to its slot's primary (redirects, retries, ``WAIT``);
- :mod:`.cypher`: the statements and the data model;
- :mod:`.memory`: :class:`ClusterMemory`, the public API;
- :mod:`.traverse`: BFS, one server round trip per level;
- :mod:`.local`: a local cluster for development and tests;
- :mod:`.admin`: slot migration and rebalancing.
"""

from __future__ import annotations

from .errors import ClusterUnavailable, NotAcknowledged, NotSupported
from .memory import ClusterMemory, connect, graph_key

__all__ = ["ClusterMemory", "ClusterUnavailable", "NotAcknowledged", "NotSupported", "connect", "graph_key"]
