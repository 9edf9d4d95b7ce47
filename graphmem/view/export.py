"""``graphmem view PATH --html out.html``: the page, self-contained, for one neighbourhood.

The page's script, style and cytoscape.js are inlined and the data of the
chosen neighbourhood (the entities within ``hops`` of the centre, at most
``max_entities``, the relations among them and their details) is embedded as
JSON, so the file opens from disk, offline, with no server. The page answers
its search, expand and path requests from that data.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, LimitExceeded, NotFound
from ..memory import Memory
from ..store.files import fsync_dir
from ..interchange.transfer import check_output_path
from ..validate import check_name, check_positive_int
from ..explore import LIMITS, entity_json
from .server import STATIC

__all__ = ["MAX_EXPORT_ENTITIES", "page_data", "write_html"]

MAX_EXPORT_ENTITIES = 2000


def page_data(mem: Memory, centre: str, *, hops: int = 2, max_entities: int = 200) -> dict[str, Any]:
    """The data a ``--html`` page embeds: the neighbourhood of ``centre`` with every detail the page shows.

    Examples
    --------
    >>> import graphmem
    >>> with graphmem.open(embedder=None) as mem:
    ...     _ = mem.add_entities([{"name": n} for n in "abc"])
    ...     _ = mem.add_relations([("a", "R", "b"), ("b", "R", "c")])
    ...     data = page_data(mem, "a", hops=1)
    ...     sorted(data["nodes"]), [(e["source"], e["target"]) for e in data["edges"]]
    (['a', 'b'], [('a', 'b')])
    """
    centre = check_name(centre, "centre")
    hops = check_positive_int(hops, "hops")
    max_entities = check_positive_int(max_entities, "max_entities")
    if max_entities > MAX_EXPORT_ENTITIES:
        raise LimitExceeded(f"max_entities is {max_entities}: a page embeds at most {MAX_EXPORT_ENTITIES}")
    if mem.get_entity(centre) is None:
        raise NotFound(f"no entity named {centre!r}")
    sub = mem.subgraph(centre, hops, max_entities=max_entities, max_relations=4 * max_entities)
    nodes: dict[str, Any] = {}
    for name in sub.entities:
        found = mem.get_entity(name)
        if found is not None:
            nodes[name] = entity_json(found)
    edges: list[dict[str, Any]] = []
    for source, type_, target in sub.relations:
        relation = mem.get_relation(source, type_, target)
        edges.append({"source": source, "type": type_, "target": target,
                      "properties": {} if relation is None else relation.properties})  # fmt: skip
    entity_types: dict[str, int] = {}
    relation_types: dict[str, int] = {}
    for node in nodes.values():
        entity_types[node["type"]] = entity_types.get(node["type"], 0) + 1
    for edge in edges:
        relation_types[edge["type"]] = relation_types.get(edge["type"], 0) + 1
    overview = {
        "namespace": mem.namespace_name, "entities": len(nodes), "relations": len(edges),
        "entity_types": entity_types, "relation_types": relation_types, "type_links": [],
        "type_links_truncated": False, "can_search_meaning": False,
        "time": {"has_history": False, "bounded_facts": 0, "start": None, "end": None},
        "limits": {"search_k": LIMITS.search_k_max, "expand": LIMITS.expand_max, "paths": LIMITS.paths_max},
    }  # fmt: skip
    return {"centre": centre, "hops": hops, "truncated": sub.truncated, "overview": overview, "nodes": nodes,
            "edges": edges}  # fmt: skip


def _inline_script(text: str) -> str:
    # "</" would end the <script> element early (a name or text in the data may hold "</script>").
    return text.replace("</", "<\\/")


def render_html(data: dict[str, Any]) -> str:
    """The self-contained page for ``data`` (from :func:`page_data`)."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    cytoscape = (STATIC / "vendor" / "cytoscape.min.js").read_text(encoding="utf-8")
    app = (STATIC / "app.js").read_text(encoding="utf-8")
    # "<" only occurs inside JSON strings: as \u003c no name or text can end the script
    # element or open an HTML comment ("</script>", "<!--") inside it.
    blob = json.dumps(data, ensure_ascii=False, default=str).replace("<", "\\u003c")
    replacements = {
        '<link rel="stylesheet" href="/static/app.css">': f"<style>\n{_inline_script(css)}</style>",
        '<script src="/static/vendor/cytoscape.min.js"></script>': f"<script>\n{_inline_script(cytoscape)}\n</script>",
        '<script src="/static/app.js"></script>': (f"<script>\nwindow.GRAPHMEM_DATA = {blob};\n</script>\n"
                                                    f"<script>\n{_inline_script(app)}\n</script>"),
    }  # fmt: skip
    for old, new in replacements.items():
        if old not in page:
            raise InvalidInput(f"the page template lacks {old!r}")  # the shipped files disagree: a packaging bug
        page = page.replace(old, new)
    return page


def write_html(mem: Memory, out: str | os.PathLike[str], centre: str, *, hops: int = 2, max_entities: int = 200,
               force: bool = False) -> Path:  # fmt: skip
    """Write the self-contained page of ``centre``'s neighbourhood to ``out``; return its path.

    The file is private to the user (``0600``: it holds the memory's data) and
    written atomically (a temporary file beside it, fsynced, renamed). ``out``
    must not exist unless ``force``, and may not lie inside a store.
    """
    path = check_output_path(out, force=force)
    text = render_html(page_data(mem, centre, hops=hops, max_entities=max_entities))
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    fsync_dir(path.parent)
    return path
