"""What the viewer tests share: a small store with history, and a client that keeps the session cookie."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import graphmem
from graphmem.view import ViewServer, make_server

HUB_NEIGHBOURS = 30
WORKS_FROM = datetime(2020, 1, 1, tzinfo=timezone.utc)
WORKED = (datetime(2010, 1, 1, tzinfo=timezone.utc), datetime(2015, 1, 1, tzinfo=timezone.utc))


def build_store(path: Path, engine: str) -> None:
    """Ada (a Person) knows Bob, worked at OldCo 2010-2015, works at Acme since 2020 and is followed by 30
    fans; Ada was edited once."""
    with graphmem.open(path, engine=engine, embedder=graphmem.HashEmbedder()) as mem:
        mem.add_entities([
            {"name": "Ada", "type": "Person", "text": "Mathematician", "observations": ["wrote the first program"],
             "properties": {"born": 1815}},
            {"name": "Bob", "type": "Person"},
            {"name": "Acme", "type": "Company", "text": "Makes engines"},
            {"name": "OldCo", "type": "Company"},
            *({"name": f"fan{i:02d}", "type": "Fan"} for i in range(HUB_NEIGHBOURS)),
        ])  # fmt: skip
        mem.add_relation("Ada", "KNOWS", "Bob", properties={"since": 1833})
        mem.add_relation("Ada", "WORKS_AT", "Acme", valid_from=WORKS_FROM)
        mem.add_relation("Ada", "WORKED_AT", "OldCo", valid_from=WORKED[0], valid_to=WORKED[1])
        mem.add_relations([(f"fan{i:02d}", "FOLLOWS", "Ada") for i in range(HUB_NEIGHBOURS)])
        mem.add_entity("Ada", type="Person", text="Mathematician and writer")  # a second version: history


class Client:
    """HTTP/1.1 requests to one viewer, with the session cookie once the token is exchanged."""

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        self.host, self.port = parts.hostname, parts.port
        self.cookie: str | None = None

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        # Generous: the first path query of a fresh checkout compiles its kernels (~16 s idle, more under load).
        conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        try:
            sent = dict(headers or {})
            if self.cookie is not None and "Cookie" not in sent:
                sent["Cookie"] = self.cookie
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def login(self, url: str) -> dict[str, str]:
        """Exchange the token of ``url`` for the cookie; returns the answer's headers."""
        parts = urlsplit(url)
        status, headers, _ = self.request("GET", f"{parts.path}?{parts.query}")
        if status != 303:
            raise AssertionError(f"token exchange answered {status}")
        self.cookie = headers["Set-Cookie"].split(";", 1)[0]
        return headers

    def api(self, endpoint: str, **params: Any) -> tuple[int, dict[str, Any]]:
        status, _, body = self.request("GET", f"/api/{endpoint}?{urlencode(params)}")
        return status, json.loads(body)


@contextmanager
def running(server: ViewServer) -> Iterator[ViewServer]:
    thread = threading.Thread(target=server.serve_forever, name="viewer-under-test", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def viewer(path: Path, engine: str, **kwargs: Any) -> Iterator[tuple[ViewServer, Client]]:
    """A running viewer of ``path`` and a logged-in client."""
    kwargs.setdefault("embedder", graphmem.HashEmbedder())
    with running(make_server(path, engine=engine, **kwargs)) as server:
        client = Client(server.origin)
        client.login(server.url)
        yield server, client


# The oracle of the overview (the page's comes from memory, Memory.type_summary): what a scan of the
# entities and a join over the relations of the store say, through the public Cypher entry point.
_ENTITY_SCAN = """
MATCH (e:Entity) WHERE e.namespace = $namespace AND e.expired_at IS NULL
RETURN e.type AS t, count(*) AS n, min(e.created_at) AS c, min(e.valid_from) AS f0, max(e.valid_from) AS f1,
       max(e.valid_to) AS t1, count(e.valid_from) + count(e.valid_to) AS bounded"""
_LINK_SCAN = """
MATCH (a:Entity)-[r:Relation]->(b:Entity) WHERE r.expired_at IS NULL AND a.namespace = $namespace
RETURN a.type AS a, r.type AS r, b.type AS b, count(*) AS n, min(r.valid_from) AS f0, max(r.valid_from) AS f1,
       min(r.valid_to) AS t0, max(r.valid_to) AS t1, count(r.valid_from) + count(r.valid_to) AS bounded"""


def scanned_overview(mem: graphmem.Memory, namespace: str) -> dict[str, Any]:
    """The overview's counts, links and time span, from the scans above."""
    entities = mem.cypher(_ENTITY_SCAN, {"namespace": namespace}, read_only=True)
    links = mem.cypher(_LINK_SCAN, {"namespace": namespace}, read_only=True)
    entity_types = {row["t"]: int(row["n"]) for row in entities}
    relation_types: dict[str, int] = {}
    for row in links:
        relation_types[row["r"]] = relation_types.get(row["r"], 0) + int(row["n"])
    marks = [row[k] for row in entities for k in ("c", "f0", "f1", "t1") if row[k] is not None]
    marks += [row[k] for row in links for k in ("f0", "f1", "t0", "t1") if row[k] is not None]
    marks = [m if m.tzinfo is not None else m.replace(tzinfo=timezone.utc) for m in marks]
    bounded = sum(int(row["bounded"]) for row in entities + links)
    return {
        "entities": sum(entity_types.values()),
        "relations": sum(relation_types.values()),
        "entity_types": entity_types,
        "relation_types": relation_types,
        "type_links": [{"source_type": row["a"], "relation": row["r"], "target_type": row["b"], "count": int(row["n"])}
                       for row in links],  # fmt: skip
        "time": {"has_history": bounded > 0, "bounded_facts": bounded,
                 "start": min(marks).isoformat() if marks else None,
                 "end": max(marks).isoformat() if marks else None},  # fmt: skip
    }
