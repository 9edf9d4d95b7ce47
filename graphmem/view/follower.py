"""The viewer's way in while an MCP server holds the store: the holder's share socket.

``graphmem mcp PATH`` holds its store read-write and serves other processes
over ``PATH/mcp.sock`` (:mod:`graphmem.mcp.share`). While it does, the
viewer cannot open the store at all, so :class:`ThroughHolder` forwards each
request, its parameters as given, to the holder (the socket's ``explore``
request), which answers it with the same functions as the viewer's own
handle (:mod:`graphmem.explore`) on its own warm memory in the viewer's
namespace (whatever namespace it serves itself). So the answer is the one
the viewer would give, ``as_of`` included, and no statement of the viewer's
own runs in the holder: at 1M entities the viewer's earlier scans and joins
sent through ``cypher_query`` took 89-532 ms and filled the holder's buffer
pool, failing its agent's next statements (benchmarks/RESULTS.md). Reads
the holder makes for the viewer count as accesses there
(:meth:`graphmem.Memory.get_entity`, ``search``), as any reader's do.
The viewer never holds the store itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import StoreLocked

__all__ = ["ThroughHolder"]


class ThroughHolder:
    """The viewer's endpoints answered by the process holding the store at ``path``.

    Parameters
    ----------
    path
        The store's directory.
    namespace
        The namespace the viewer shows (the holder answers in it).
    patience
        Seconds a call keeps trying to reach the holder.
    """

    def __init__(self, path: str | Path, *, namespace: str = "default", patience: float = 5.0) -> None:
        from ..mcp.share import SOCKET_NAME, Shared  # the MCP extra is optional: imported on use

        self.path = Path(path)
        self.socket_path = self.path / SOCKET_NAME
        self._shared = Shared(self.path, self._never, patience=patience, namespace=namespace)

    @staticmethod
    def _never() -> Any:
        raise StoreLocked("the viewer never holds the store: it asks the process that does")

    @property
    def available(self) -> bool:
        """Whether a holder's socket is there to ask."""
        return self.socket_path.exists()

    def close(self) -> None:
        self._shared.close()

    def answer(self, endpoint: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """The holder's answer to one request (its typed refusal raised here: :class:`NotFound`, ...).

        Marked ``through: "mcp"``: the server caches its own overview by the
        store's files, which a holder's answer does not come from.
        """
        found = self._shared.explore(endpoint, query)
        found["through"] = "mcp"
        return found
