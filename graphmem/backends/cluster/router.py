"""Routing FalkorDB commands for one graph key to the node that owns its slot.

redis-py's ``RedisCluster`` keeps the slot map; this module sends each command
itself so that a write and its ``WAIT`` go down one connection (``WAIT``
counts the replicas that have the *connection's* last write), and so that
redirects and failover are handled the same way for every command:

- ``MOVED``: the slot has a new owner; update the map and resend at once.
- ``ASK``: the slot is being migrated and the key has moved; resend to the
  target with ``ASKING`` first (a one-command permission).
- connection errors, ``CLUSTERDOWN``, ``TRYAGAIN``, ``LOADING``, a write
  that no replica confirmed: back off (exponential with jitter), reload the
  slot map from any reachable node, and resend until the deadline.

Resending a write is safe only because every graphmem write carries a request
id applied at most once (see :mod:`graphmem.backends.cluster.cypher`).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ...errors import GraphMemError, InvalidInput, QueryError, ReadOnlyStore
from .errors import ClusterUnavailable, NotAcknowledged

__all__ = ["ClusterAddress", "Router", "parse_url", "redact_url"]

SCHEME = "redis+cluster"


@dataclass(frozen=True)
class ClusterAddress:
    """Where a cluster is: seed nodes and credentials."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None = field(repr=False)  # never in a repr, a log line or a traceback


def parse_url(url: str) -> ClusterAddress:
    """``redis+cluster://[user[:password]@]host:port[,host:port...]``.

    Examples
    --------
    >>> address = parse_url("redis+cluster://:secret@127.0.0.1:7000,127.0.0.1:7001")
    >>> address
    ClusterAddress(nodes=(('127.0.0.1', 7000), ('127.0.0.1', 7001)), username=None)
    >>> address.password
    'secret'
    """
    if not isinstance(url, str):
        raise InvalidInput(f"the cluster URL must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        raise InvalidInput(f"the cluster URL must start with {SCHEME}://, got {url.split('://')[0]!r}")
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    nodes = []
    for item in hosts.split(","):
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InvalidInput(f"each cluster node must be host:port, not {item!r}")
        nodes.append((host, int(port)))
    return ClusterAddress(tuple(nodes), unquote(username) or None, unquote(password) or None)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for output and logs).

    Examples
    --------
    >>> redact_url("redis+cluster://:s3cret@127.0.0.1:7000,127.0.0.1:7001")
    'redis+cluster://:***@127.0.0.1:7000,127.0.0.1:7001'
    >>> redact_url("redis+cluster://admin:s3cret@h:7000")
    'redis+cluster://admin:***@h:7000'
    >>> redact_url("redis+cluster://127.0.0.1:7000")
    'redis+cluster://127.0.0.1:7000'
    """
    parts = urlsplit(url)
    credentials, at, hosts = parts.netloc.rpartition("@")
    username, colon, _ = credentials.partition(":")
    if not at or not colon:
        return url
    return urlunsplit(parts._replace(netloc=f"{username}:***@{hosts}"))


_WRITE_ONLY_MESSAGE = "is to be executed only on read-only queries"


class Router:
    """Sends commands about one key to its slot's primary, with retries.

    Parameters
    ----------
    address
        Seed nodes and credentials.
    deadline
        Seconds a request keeps retrying through failover before
        :class:`ClusterUnavailable`.
    replicas
        How many replicas must confirm a write (``WAIT``); 0 turns confirmation off.
    ack_timeout_ms
        How long one ``WAIT`` blocks before the write is resent (a no-op
        thanks to its request id) and waited for again.
    """

    def __init__(self, address: ClusterAddress, *, deadline: float = 15.0, replicas: int = 1,
                 ack_timeout_ms: int = 1000, socket_timeout: float = 10.0) -> None:  # fmt: skip
        try:
            from redis.cluster import ClusterNode, RedisCluster
        except ImportError:
            raise GraphMemError("the cluster backend needs the 'cluster' extra: pip install 'graphmem[cluster]'") \
                from None  # fmt: skip
        import redis
        import redis.exceptions

        self._redis = redis
        self._errors = redis.exceptions
        self.deadline = deadline
        self.replicas = replicas
        self.ack_timeout_ms = ack_timeout_ms
        self.retries = 0  # resends so far (failover, redirects): for stats and tests
        started = time.monotonic()
        while True:
            try:
                self._rc = RedisCluster(
                    startup_nodes=[ClusterNode(h, p) for h, p in address.nodes],
                    username=address.username, password=address.password, decode_responses=True,
                    require_full_coverage=False, socket_timeout=socket_timeout,
                    socket_connect_timeout=min(socket_timeout, 2.0),
                )  # fmt: skip
                break
            except redis.AuthenticationError as exc:
                raise GraphMemError(f"the cluster refused the credentials: {exc}") from None
            except (redis.RedisError, redis.exceptions.RedisClusterException, OSError) as exc:
                if "authenticated" in str(exc) or "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
                    raise GraphMemError(f"the cluster refused the credentials: {exc}") from None
                if time.monotonic() - started > deadline:
                    raise ClusterUnavailable(f"cannot reach the cluster at {address.nodes}: {exc}") from None
                time.sleep(0.2)

    def close(self) -> None:
        self._rc.close()

    @property
    def cluster(self) -> Any:
        """The underlying ``redis.cluster.RedisCluster`` (slot map and admin commands)."""
        return self._rc

    def node_of(self, key: str) -> tuple[str, int]:
        """The (host, port) of the primary that the slot map says serves ``key``."""
        node = self._rc.get_node_from_key(key)
        return node.host, int(node.port)

    # -- sending -------------------------------------------------------------------

    def read(self, key: str, *args: Any) -> Any:
        """Send one command about ``key`` (``args[1]`` must be ``key``) to its primary."""
        return self._send(key, args, confirm=False)

    def write(self, key: str, *args: Any) -> Any:
        """Send one write about ``key``; return its reply once ``replicas`` replicas have it."""
        return self._send(key, args, confirm=self.replicas > 0)

    def _send(self, key: str, args: tuple[Any, ...], *, confirm: bool) -> Any:
        r = self._errors
        started = time.monotonic()
        attempt = 0
        ask: tuple[str, int] | None = None
        while True:
            try:
                if ask is not None:
                    node = self._rc.get_node(host=ask[0], port=ask[1]) or self._add_node(*ask)
                else:
                    node = self._rc.get_node_from_key(key)
                client = self._rc.get_redis_connection(node)
                reply = self._once(client, args, asking=ask is not None, confirm=confirm)
                return reply
            except r.MovedError as exc:
                ask = None
                self._rc.nodes_manager.move_slot(exc)
                problem: Exception = exc
            except r.AskError as exc:
                ask = (exc.host, exc.port)
                problem = exc
            except (r.ConnectionError, r.TimeoutError, r.ClusterDownError, r.TryAgainError, r.ReadOnlyError,
                    r.SlotNotCoveredError, r.ClusterError, NotAcknowledged,
                    ConnectionError, OSError) as exc:  # fmt: skip
                ask = None
                problem = exc
                self._refresh()
            except r.ResponseError as exc:
                raise _translate(exc) from None
            attempt += 1
            self.retries += 1
            elapsed = time.monotonic() - started
            if elapsed > self.deadline:
                if isinstance(problem, NotAcknowledged):
                    raise problem
                raise ClusterUnavailable(
                    f"the cluster did not serve {key!r} within {self.deadline:.0f} s "
                    f"({attempt} attempts; last error: {problem})"
                ) from None
            if not isinstance(problem, r.AskError):  # MOVED and ASK are routine: resend at once
                # Exponential backoff with full jitter, capped so a failover (~2-5 s)
                # is noticed within a few hundred ms of completing.
                time.sleep(random.uniform(0, min(0.5, 0.02 * 2**attempt)))

    def _once(self, client: Any, args: tuple[Any, ...], *, asking: bool, confirm: bool) -> Any:
        if not asking and not confirm:
            return client.execute_command(*args)
        with client.pipeline(transaction=False) as pipe:
            if asking:
                pipe.execute_command("ASKING")
            pipe.execute_command(*args)
            if confirm:
                pipe.execute_command("WAIT", self.replicas, self.ack_timeout_ms)
            replies = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        if confirm:
            acked = int(replies[-1])
            if acked < self.replicas:
                # Applied on the primary, not yet on a replica: resend (a no-op
                # by request id) and wait again, until the deadline.
                raise NotAcknowledged(
                    f"a write was applied by its primary but {acked} of {self.replicas} replicas confirmed it "
                    f"within the deadline; retrying the same call is safe"
                )
            return replies[-2]
        return replies[-1]

    def _add_node(self, host: str, port: int) -> Any:
        from redis.cluster import ClusterNode

        node = ClusterNode(host, port)
        self._rc.nodes_manager.nodes_cache[node.name] = node
        return node

    def _refresh(self) -> None:
        """Reload the slot map from any reachable node; a failure is retried by the caller."""
        try:
            self._rc.nodes_manager.initialize()
        except (self._redis.RedisError, OSError):
            return  # every known node unreachable right now: the next attempt tries again


def _translate(exc: Exception) -> GraphMemError:
    """One place where FalkorDB's error replies become graphmem errors."""
    message = str(exc)
    if _WRITE_ONLY_MESSAGE in message:
        return ReadOnlyStore(f"this statement writes; it was refused in read-only mode ({message})")
    if "NOAUTH" in message or "WRONGPASS" in message:
        return GraphMemError(f"the cluster refused the credentials: {message}")
    return QueryError(message)
