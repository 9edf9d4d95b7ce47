"""Moving namespaces between primaries: slot migration and rebalancing.

A namespace is one key in one slot, so moving a namespace is moving its slot,
with Redis Cluster's own protocol (what ``redis-cli --cluster reshard`` does):
mark the slot IMPORTING on the target and MIGRATING on the source, ``MIGRATE``
its keys (a FalkorDB graph moves whole, atomically), then assign the slot to
the target on every primary. Clients see ``ASK`` while the slot migrates and
``MOVED`` after; :class:`graphmem.backends.cluster.router.Router` follows both.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ...errors import GraphMemError, InvalidInput

__all__ = ["Admin", "Move"]


@dataclass(frozen=True)
class Move:
    """One slot moved by :meth:`Admin.rebalance`."""

    slot: int
    source: int
    target: int
    keys: int


class Admin:
    """Cluster administration through any one node (``host``, ``port``) and the password."""

    def __init__(self, host: str, port: int, password: str | None) -> None:
        self.host = host
        self.password = password
        self._seed = port

    def _client(self, port: int, host: str | None = None) -> Any:
        import redis

        return redis.Redis(host=host or self.host, port=port, password=self.password, decode_responses=True,
                           socket_timeout=30)  # fmt: skip

    def nodes(self) -> list[dict[str, Any]]:
        """``CLUSTER NODES`` parsed: port, id, role, slot ranges, flags."""
        from .local import node_lines, parse_node_line

        return [parse_node_line(line) for line in node_lines(self._client(self._seed).execute_command("CLUSTER", "NODES"))]

    def primaries(self) -> list[dict[str, Any]]:
        return [n for n in self.nodes() if n["role"] == "primary" and "fail" not in n["flags"] and n["slots"]]

    def keyslot(self, key: str) -> int:
        return int(self._client(self._seed).execute_command("CLUSTER", "KEYSLOT", key))

    def owner(self, slot: int) -> dict[str, Any]:
        for node in self.primaries():
            if any(lo <= slot <= hi for lo, hi in node["slots"]):
                return node
        raise GraphMemError(f"no primary serves slot {slot}")

    def migrate_slot(self, slot: int, target_port: int, *, batch: int = 10, timeout_ms: int = 60_000) -> int:
        """Move ``slot`` (with its keys) to the primary on ``target_port``; return the keys moved."""
        if not 0 <= slot < 16384:
            raise InvalidInput(f"slot must be in 0..16383, not {slot}")
        source = self.owner(slot)
        targets = [n for n in self.primaries() if n["port"] == target_port]
        if not targets:
            targets = [n for n in self.nodes() if n["port"] == target_port and n["role"] == "primary"]
        if not targets:
            raise InvalidInput(f"port {target_port} is not a primary of this cluster")
        target = targets[0]
        if target["id"] == source["id"]:
            return 0
        src, dst = self._client(source["port"]), self._client(target["port"])
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source["id"])
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target["id"])
        moved = 0
        while True:
            keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                break
            auth = ["AUTH", self.password] if self.password else []
            src.execute_command("MIGRATE", self.host, target["port"], "", 0, timeout_ms, *auth, "KEYS", *keys)
            moved += len(keys)
        # The target first, so it owns the slot before the source starts redirecting there.
        dst.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target["id"])
        src.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target["id"])
        for node in self.primaries():
            if node["id"] not in (source["id"], target["id"]):
                self._client(node["port"]).execute_command("CLUSTER", "SETSLOT", slot, "NODE", target["id"])
        return moved

    def namespace_slots(self) -> dict[int, Counter[int]]:
        """For each primary's port: how many namespace graphs (``gm:{...}``) each of its slots holds."""
        out: dict[int, Counter[int]] = {}
        for node in self.primaries():
            client = self._client(node["port"])
            counts: Counter[int] = Counter()
            for key in client.scan_iter(match="gm:{*", count=1000):
                counts[int(client.execute_command("CLUSTER", "KEYSLOT", key))] += 1
            out[node["port"]] = counts
        return out

    def rebalance(self, *, dry_run: bool = False) -> list[Move]:
        """Even out the number of namespaces per primary by moving whole slots.

        Greedy: while moving a slot from the most to the least loaded primary
        narrows the gap, move the largest such slot. Only slots holding
        namespaces move, so empty slot ranges are left as they are.
        """
        load = self.namespace_slots()
        moves: list[Move] = []
        while True:
            totals = {port: sum(c.values()) for port, c in load.items()}
            high = max(totals, key=lambda p: (totals[p], p))
            low = min(totals, key=lambda p: (totals[p], p))
            gap = totals[high] - totals[low]
            fits = [(n, s) for s, n in load[high].items() if 0 < n < gap]  # strictly narrows the gap
            if not fits:
                return moves
            n, slot = max(fits)
            if not dry_run:
                self.migrate_slot(slot, low)
            moves.append(Move(slot, high, low, n))
            del load[high][slot]
            load[low][slot] = n
