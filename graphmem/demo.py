"""The guided tour behind ``graphmem demo``.

It builds a store from the bundled example dataset (what an assistant working
for a small software company remembered: people, companies, projects,
repositories, technologies, meetings, documents, places) and walks through the
public API on it, timing every call.

The tour is a list of small step functions, each registered with
:func:`step`; a new capability gets into the demo by writing one more.

Over 500 lines: the tour is some thirty short functions, one per step or table,
each printing what the public API answers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.columns import Columns
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

from . import is_store
from .embed import DefaultEmbedder
from .errors import CorruptStore, GraphMemError, IncompatibleStore, InvalidInput
from .memory import Memory, open_memory
from .types import Entity, Hit
from .types import Path as GraphPath

__all__ = ["run_demo", "find_dataset", "read_dataset", "Dataset", "Tour", "TourStep", "Timings", "STEPS", "step"]

DATASET_NAME = "agent_memory.jsonl"

CENTRAL = "Zoë Müller"
"""The person the tour looks up, explores and updates (the company's CTO)."""
LEAVER = "Hugo Lefèvre"
"""The freelancer whose contract ends: the tour deletes him."""
COMPANY = "Kestrel Software"
PROJECT = "Tidewater Route Planner"
OUTSIDER = "Daniel Reyes"
"""A maintainer at another company: the tour asks how he is connected to the CTO."""
SEARCH_TEXT = "data pipelines that run every night"
SEARCH_PEOPLE = "who knows about payments and invoices?"
NEAR_TEXT = "who could help when the event stream falls behind?"
RECALL_TEXT = "What do we know about the Copperleaf forecasting work?"
SHOWN_HITS = 5
RECALL_CHARS = 2000

# Entities go in small batches so the progress bar moves while the model embeds them; relations go
# in one batch, the fastest way to write them (measured on this dataset: 734 relations in one batch
# ~90 ms, in batches of 250 ~420 ms, in batches of 100 ~860 ms).
ENTITY_BATCH = 50
RELATION_BATCH = 1000
SHOWN_PER_GROUP = 5

# The Cypher the tour runs. Values always travel as $parameters.
Q_WHERE_PEOPLE_WORK = """\
MATCH (p:Entity {type: 'Person'})-[:Relation {type: 'WORKS_AT'}]->(:Entity {name: $company}),
      (p)-[:Relation {type: 'LOCATED_IN'}]->(city:Entity)
RETURN city.name AS city, count(p) AS people, list_sort(collect(p.name)) AS who
ORDER BY people DESC, city"""

Q_TOP_TECHNOLOGIES = """\
MATCH (p:Entity {type: 'Project'})-[:Relation {type: 'USES'}]->(t:Entity {type: 'Technology'})
RETURN t.name AS technology, count(p) AS projects
ORDER BY projects DESC, technology
LIMIT 8"""

Q_WHO_MET_ABOUT = """\
MATCH (m:Entity {type: 'Meeting'})-[:Relation {type: 'DISCUSSED'}]->(:Entity {name: $project}),
      (p:Entity)-[:Relation {type: 'ATTENDED'}]->(m),
      (p)-[:Relation {type: 'WORKS_AT'}]->(c:Entity)
RETURN p.name AS person, c.name AS company, count(m) AS meetings
ORDER BY meetings DESC, person"""

Q_TRY = "MATCH (a:Entity)-[:Relation {type: 'KNOWS'}]->(b:Entity) RETURN a.name, b.name LIMIT 5"


# -- the dataset ---------------------------------------------------------------------


def find_dataset() -> Path:
    """The bundled dataset: inside the package if a wheel carries it, else in the source checkout.

    Raises
    ------
    GraphMemError
        If neither place has it.
    """
    here = Path(__file__).resolve().parent
    candidates = [here / "_data" / DATASET_NAME, here.parent / "examples" / "data" / DATASET_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise GraphMemError(
        f"the demo dataset {DATASET_NAME} is missing (looked in {looked}); run the demo from a source checkout, "
        "or regenerate it with `python examples/make_dataset.py`"
    )


@dataclass(frozen=True)
class Dataset:
    """The records of a graphmem JSONL file, ready for ``add_entities`` / ``add_relations``."""

    path: Path
    entities: list[dict[str, Any]]
    relations: list[dict[str, Any]]


def read_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a graphmem JSONL file (one ``entity`` or ``relation`` object per line).

    Raises
    ------
    GraphMemError
        If the file cannot be read.
    InvalidInput
        If a line is not a valid record; the message gives the line number.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GraphMemError(f"cannot read the demo dataset {path}: {exc.strerror or exc}") from None
    entities: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind = record["type"]
            if kind == "entity":
                entities.append({
                    "name": record["name"],
                    "type": record["entityType"],
                    "text": record.get("text"),
                    "observations": record.get("observations") or [],
                    "properties": record.get("properties") or {},
                })  # fmt: skip
                continue
            if kind == "relation":
                relations.append({
                    "source": record["source"],
                    "type": record["relationType"],
                    "target": record["target"],
                    "properties": record.get("properties") or {},
                })  # fmt: skip
                continue
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{number}: not a graphmem JSONL record ({type(exc).__name__}: {exc})") from None
        raise InvalidInput(f"{path}:{number}: unknown record type {kind!r} (expected 'entity' or 'relation')")
    return Dataset(path, entities, relations)


# -- the tour ------------------------------------------------------------------------


@dataclass
class Timer:
    label: str
    seconds: float = 0.0


@dataclass
class Timings:
    """Every timed call of the demo, under the step it belongs to."""

    entries: list[tuple[str, Timer]] = field(default_factory=list)
    step: str = "set up"

    @contextmanager
    def timed(self, label: str) -> Iterator[Timer]:
        """Time the block; the result appears in the final timings table under the current step."""
        timer = Timer(label)
        start = time.perf_counter()
        try:
            yield timer
        finally:
            timer.seconds = time.perf_counter() - start
            self.entries.append((self.step, timer))


@dataclass
class Tour:
    """What every step sees: the open memory, the console, the dataset and the timings so far."""

    mem: Memory
    console: Console
    dataset: Dataset
    embedder_label: str
    timings: Timings

    def timed(self, label: str) -> AbstractContextManager[Timer]:
        return self.timings.timed(label)

    def note(self, *timers: Timer) -> None:
        """Print the timings of the calls just shown, dimmed, under them."""
        self.console.print("  ".join(f"[dim]{escape(t.label)}: {fmt_seconds(t.seconds)}[/]" for t in timers))


Step = Callable[[Tour], None]


@dataclass(frozen=True)
class TourStep:
    title: str
    """Heading of the step."""
    short: str
    """Its name in the timings table."""
    run: Step


STEPS: list[TourStep] = []


def step(title: str, short: str) -> Callable[[Step], Step]:
    """Register a tour step; steps run in the order they are defined."""

    def register(fn: Step) -> Step:
        STEPS.append(TourStep(title, short, fn))
        return fn

    return register


def fmt_seconds(seconds: float) -> str:
    """A duration for people.

    Examples
    --------
    >>> fmt_seconds(0.00042), fmt_seconds(0.0123), fmt_seconds(2.5)
    ('0.42 ms', '12.3 ms', '2.50 s')
    """
    if seconds >= 1:
        return f"{seconds:.2f} s"
    ms = seconds * 1000
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms"


def _count_table(title: str, counts: dict[str, int], pairs: int = 1) -> Table:
    """Counts by type, most common first, laid out in ``pairs`` side-by-side (type, count) columns."""
    table = Table(title=f"{title} ({sum(counts.values())})", box=box.SIMPLE_HEAD, title_style="bold",
                  header_style="bold cyan")
    for _ in range(pairs):
        table.add_column("type")
        table.add_column("count", justify="right")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    height = -(-len(ranked) // pairs)
    for row in range(height):
        cells: list[str] = []
        for column in range(pairs):
            index = column * height + row
            cells += [escape(ranked[index][0]), str(ranked[index][1])] if index < len(ranked) else ["", ""]
        table.add_row(*cells)
    return table


def _rows_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold cyan")
    for column in rows[0] if rows else ["(no rows)"]:
        numeric = bool(rows) and all(isinstance(r[column], (int, float)) for r in rows)
        table.add_column(column, overflow="fold", justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(escape(", ".join(map(str, v)) if isinstance(v, list) else str(v)) for v in row.values()))
    return table


def _batches(n: int) -> str:
    return "one batch" if n == 1 else f"{n} batches"


def _value(value: Any) -> str:
    return "[dim]-[/]" if value is None else escape(json.dumps(value, ensure_ascii=False))


def _require(tour: Tour, name: str) -> Entity:
    entity = tour.mem.get_entity(name)
    if entity is None:
        raise GraphMemError(f"the demo expects an entity {name!r} in {tour.dataset.path}; regenerate the dataset")
    return entity


def _path_text(mem: Memory, path: GraphPath) -> str:
    """``path`` with each relation's arrow pointing the way it is stored
    (``path.directions``: a path found with ``direction="both"`` may follow
    relations backwards)."""
    out = [escape(path.nodes[0])]
    for relation, way, b in zip(path.relations, path.directions, path.nodes[1:]):
        arrow = f"-[cyan]{relation}[/]->" if way == "out" else f"<-[cyan]{relation}[/]-"
        out.append(f"{arrow} {escape(b)}")
    return " ".join(out)


def _hops(n: int) -> str:
    return f"{n} hop" if n == 1 else f"{n} hops"


def _needs_vectors(tour: Tour) -> bool:
    """Whether the semantic steps can run; says why not when they cannot."""
    if tour.mem.embedder is not None:
        return True
    tour.console.print(
        "[dim]This run has no embedder (embedder=None), so entities have no vectors and this step is skipped. "
        "`make demo` and `graphmem demo` run it with all-MiniLM-L6-v2.[/]"
    )
    return False


def _hits_table(tour: Tour, hits: Sequence[Hit], *, explain: bool = False) -> Table:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold cyan")
    table.add_column("#", justify="right")
    table.add_column("entity")
    table.add_column("type")
    table.add_column("score", justify="right")
    if explain:
        table.add_column("hops", justify="right")
        table.add_column("why: the path from the anchor")
    else:
        table.add_column("text", overflow="fold")
    for rank, hit in enumerate(hits, start=1):
        entity = tour.mem.get_entity(hit.name)
        kind = escape(entity.type) if entity is not None else "?"
        cells = [str(rank), escape(hit.name), kind, f"{hit.score:.3f}"]
        if explain:
            cells += [str(hit.hops), _path_text(tour.mem, hit.path) if hit.path is not None else ""]
        else:
            cells.append(escape((entity.text or "") if entity is not None else ""))
        table.add_row(*cells)
    return table


@step("Load the dataset: add_entities(), add_relations()", "load")
def load(tour: Tour) -> None:
    mem, ds, console = tour.mem, tour.dataset, tour.console
    entity_batches = -(-len(ds.entities) // ENTITY_BATCH)
    relation_batches = -(-len(ds.relations) // RELATION_BATCH)
    console.print(
        f"Writing [bold]{len(ds.entities)}[/] entities with [bold]add_entities[/] in {_batches(entity_batches)} "
        f"(embedder: {escape(tour.embedder_label)}), then [bold]{len(ds.relations)}[/] relations with "
        f"[bold]add_relations[/] in {_batches(relation_batches)}. Each batch is one transaction: all or nothing."
    )
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description:<10}"), BarColumn(bar_width=40), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True,
    )  # fmt: skip
    with progress:
        entity_task = progress.add_task("entities", total=len(ds.entities))
        relation_task = progress.add_task("relations", total=len(ds.relations))
        with tour.timed(f"add_entities × {entity_batches}") as t_entities:
            for i in range(0, len(ds.entities), ENTITY_BATCH):
                written = mem.add_entities(ds.entities[i : i + ENTITY_BATCH])
                progress.advance(entity_task, written)
        with tour.timed(f"add_relations × {relation_batches}") as t_relations:
            for i in range(0, len(ds.relations), RELATION_BATCH):
                written = mem.add_relations(ds.relations[i : i + RELATION_BATCH])
                progress.advance(relation_task, written)
    total = t_entities.seconds + t_relations.seconds
    console.print(
        f"Loaded [bold green]{len(ds.entities)} entities[/] and [bold green]{len(ds.relations)} relations[/] "
        f"in [bold]{fmt_seconds(total)}[/] "
        f"({len(ds.entities) / t_entities.seconds:,.0f} entities/s, {len(ds.relations) / t_relations.seconds:,.0f} "
        "relations/s)."
    )
    tour.note(t_entities, t_relations)


@step("What is in memory: stats()", "stats")
def overview(tour: Tour) -> None:
    with tour.timed("stats") as t:
        stats = tour.mem.stats()
    where = escape(stats["path"]) if stats["path"] else "in memory"
    vectors = f"{stats['vector_dim']}-d vectors" if stats["vector_dim"] else "no vectors"
    tour.console.print(
        f"[bold]{stats['entities']} entities[/], [bold]{stats['relations']} relations[/], {vectors}, "
        f"{stats['disk_bytes'] / 1e6:.1f} MB on disk · engine [bold]{stats['engine']}[/] · {where}"
    )
    tour.console.print(
        Columns([_count_table("entity types", stats["entity_types"]),
                 _count_table("relation types", stats["relation_types"], pairs=2)], padding=(0, 4))
    )  # fmt: skip
    tour.note(t)


@step("Look up an entity: get_entity()", "look up")
def lookup(tour: Tour) -> None:
    with tour.timed("get_entity") as t:
        entity = _require(tour, CENTRAL)
    body = Table.grid(padding=(0, 2))
    body.add_column(style="bold cyan", no_wrap=True)
    body.add_column()
    body.add_row("type", escape(entity.type))
    body.add_row("text", escape(entity.text or ""))
    body.add_row("observations", "\n".join(f"• {escape(o)}" for o in entity.observations) or "[dim]none[/]")
    for key, value in entity.properties.items():
        body.add_row(f"properties.{escape(key)}", _value(value))
    body.add_row("id · updated", f"{entity.id} · {entity.updated_at:%Y-%m-%d %H:%M:%S} UTC")
    if entity.embedding is not None:
        body.add_row("embedding", f"{entity.embedding.shape[0]}-d (int8 in the store)")
    tour.console.print(Panel(body, title=f"mem.get_entity({entity.name!r})", title_align="left", expand=False))
    tour.note(t)


@step("Who is around her: neighbors()", "neighbours")
def neighbours(tour: Tour) -> None:
    mem, console = tour.mem, tour.console
    with tour.timed("neighbors") as t_all:
        around = mem.neighbors(CENTRAL)
    groups: dict[str, dict[str, list[str]]] = {"out": {}, "in": {}}
    for n in around:
        groups[n.direction].setdefault(n.type, []).append(n.name)
    tree = Tree(f"[bold]{escape(CENTRAL)}[/]  [dim]{len(around)} neighbours[/]")
    labels = {"out": f"out: {CENTRAL} -[TYPE]-> x", "in": f"in:  x -[TYPE]-> {CENTRAL}"}
    for direction in ("out", "in"):
        branch = tree.add(f"[bold]{escape(labels[direction])}[/]")
        for relation_type, names in sorted(groups[direction].items(), key=lambda kv: (-len(kv[1]), kv[0])):
            # Names may contain commas ("All-hands, May 2024"), so another separator.
            shown = " · ".join(escape(n) for n in names[:SHOWN_PER_GROUP])
            more = f" [dim]… and {len(names) - SHOWN_PER_GROUP} more[/]" if len(names) > SHOWN_PER_GROUP else ""
            branch.add(f"[cyan]{relation_type}[/] ({len(names)}): {shown}{more}")
    console.print(tree)
    with tour.timed("neighbors(direction='in', types=['REPORTS_TO'])") as t_filtered:
        reports = mem.neighbors(CENTRAL, direction="in", types=["REPORTS_TO"])
    console.print(
        f"Filtered by direction and type, [bold]neighbors({CENTRAL!r}, direction='in', types=['REPORTS_TO'])[/] "
        f"gives her direct reports: {escape(', '.join(n.name for n in reports))}."
    )
    tour.note(t_all, t_filtered)


@step("How are they connected: shortest_path(), paths_between()", "paths")
def paths(tour: Tour) -> None:
    mem, console = tour.mem, tour.console
    _require(tour, OUTSIDER)
    with tour.timed("shortest_path") as t_path:
        path = mem.shortest_path(OUTSIDER, CENTRAL)
    if path is None:
        console.print(escape(f"shortest_path({OUTSIDER!r}, {CENTRAL!r}) → None: they are not connected."))
        tour.note(t_path)
        return
    console.print(escape(f"mem.shortest_path({OUTSIDER!r}, {CENTRAL!r})") + f" → {_hops(len(path))}:")
    console.print("  " + _path_text(mem, path), soft_wrap=True)
    with tour.timed("shortest_path (again: cached)") as t_cached:
        mem.shortest_path(OUTSIDER, CENTRAL)
    with tour.timed("paths_between") as t_between:
        explanations = mem.paths_between(OUTSIDER, CENTRAL)
    console.print(
        f"\n[bold]paths_between[/] lists every shortest path ({len(explanations)} here) with the entities along "
        "it: how the memory knows that they are connected."
    )
    tree = Tree(f"[bold]{escape(OUTSIDER)}[/] → [bold]{escape(CENTRAL)}[/]")
    for number, explanation in enumerate(explanations, start=1):
        branch = tree.add(f"path {number}: {_path_text(mem, explanation.path)}")
        for entity in explanation.entities:
            branch.add(f"[bold]{escape(entity.name)}[/] [dim]\\[{escape(entity.type)}][/] {escape(entity.text or '')}")
    console.print(tree)
    with tour.timed("shortest_path(types='KNOWS')") as t_knows:
        knows = mem.shortest_path(OUTSIDER, CENTRAL, types="KNOWS")
    console.print(
        "Paths follow relations both ways unless direction='out' or 'in' is given, and types=[...] keeps only "
        "some relation types: through people who know each other, "
        + (_path_text(mem, knows) if knows is not None else "there is no path (None)") + ".",
        soft_wrap=True,
    )  # fmt: skip
    tour.note(t_path, t_cached, t_between, t_knows)


def _show_query(tour: Tour, title: str, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    tour.console.print(f"[bold]{escape(title)}[/]")
    tour.console.print(Syntax(query, "cypher", theme="ansi_dark", background_color="default", word_wrap=True))
    if params:
        tour.console.print(f"[dim]params = {escape(json.dumps(params, ensure_ascii=False))}[/]")
    with tour.timed(f"cypher: {title}") as t:
        rows = tour.mem.cypher(query, params)
    tour.console.print(_rows_table(rows))
    tour.console.print(f"[dim]{len(rows)} rows in {fmt_seconds(t.seconds)}[/]\n")
    return rows


@step("Ask the graph: cypher()", "cypher")
def cypher(tour: Tour) -> None:
    tour.console.print(
        "Every entity is a node of the table [bold]Entity[/] and every relation an edge of the table "
        "[bold]Relation[/]; their types are properties. Values go in as [bold]$parameters[/].\n"
    )
    _show_query(tour, "Where Kestrel's people work from", Q_WHERE_PEOPLE_WORK, {"company": COMPANY})
    _show_query(tour, "Technologies used by the most projects", Q_TOP_TECHNOLOGIES)
    _show_query(tour, "Who met about a project", Q_WHO_MET_ABOUT, {"project": PROJECT})


@step("Search by meaning: search()", "search")
def search(tour: Tour) -> None:
    if not _needs_vectors(tour):
        return
    mem, console = tour.mem, tour.console
    with tour.timed("search") as t_all:
        hits = mem.search(SEARCH_TEXT, k=SHOWN_HITS)
    console.print(escape(f"mem.search({SEARCH_TEXT!r}, k={SHOWN_HITS})") + ": the text is embedded, then the "
                  "nearest entity vectors are found, whatever their type.")  # fmt: skip
    console.print(_hits_table(tour, hits))
    with tour.timed("search(types='Person')") as t_people:
        people = mem.search(SEARCH_PEOPLE, k=SHOWN_HITS, types="Person")
    console.print(escape(f"mem.search({SEARCH_PEOPLE!r}, k={SHOWN_HITS}, types='Person')") + ": only people.")
    console.print(_hits_table(tour, people))
    tour.note(t_all, t_people)


@step("Like this, and connected to that: search(near=..., max_hops=...)", "near")
def near(tour: Tour) -> None:
    if not _needs_vectors(tour):
        return
    mem, console = tour.mem, tour.console
    _require(tour, PROJECT)
    with tour.timed("search(near=..., max_hops=2)") as t_near:
        hits = mem.search(NEAR_TEXT, k=SHOWN_HITS, near=PROJECT, max_hops=2, types="Person")
    console.print(
        escape(f"mem.search({NEAR_TEXT!r}, k={SHOWN_HITS}, near={PROJECT!r}, max_hops=2, types='Person')") + ": "
        "the people within 2 relations of the project, ranked by meaning. Each hit carries its distance and "
        "the path that connects it: the explanation an agent can show."
    )  # fmt: skip
    console.print(_hits_table(tour, hits, explain=True))
    with tour.timed("search(near=..., rank='hybrid')") as t_hybrid:
        hybrid = mem.search(NEAR_TEXT, k=SHOWN_HITS, near=PROJECT, max_hops=2, types="Person", rank="hybrid")
    console.print(
        "With [bold]rank='hybrid'[/] the score is similarity × 0.5^hops, so nearer people move up: "
        + escape(", ".join(f"{h.name} ({h.score:.3f}, {_hops(h.hops or 0)})" for h in hybrid)) + ".",
        soft_wrap=True,
    )  # fmt: skip
    tour.note(t_near, t_hybrid)


@step("What do I know about…: recall()", "recall")
def recall(tour: Tour) -> None:
    if not _needs_vectors(tour):
        return
    mem, console = tour.mem, tour.console
    with tour.timed("recall") as t_recall:
        found = mem.recall(RECALL_TEXT, k=5, hops=1, max_entities=8, max_relations=12)
    with tour.timed("to_text") as t_text:
        text = found.to_text(max_chars=RECALL_CHARS)
    console.print(
        escape(f"mem.recall({RECALL_TEXT!r}, k=5, hops=1, max_entities=8, max_relations=12)") + ": the 5 entities "
        "closest in meaning, their neighbours, each scored similarity × 0.5^hops, capped; "
        f"{len(found.entities)} entities and {len(found.relations)} relations"
        + (" (budgets cut some)" if found.truncated else "") + ". "
        f"[bold]to_text(max_chars={RECALL_CHARS})[/] is what goes into the prompt:"
    )  # fmt: skip
    console.print(Panel(escape(text), title=f"{len(text)} characters", title_align="left", expand=False))
    tour.note(t_recall, t_text)


@step("Remember more: add_entity() on an existing name", "upsert")
def upsert(tour: Tour) -> None:
    before = _require(tour, CENTRAL)
    repeated = before.observations[0] if before.observations else "prefers async updates over meetings"
    new = "covers for the Data team lead until September"
    changes = {"role": "CTO and interim Head of Data", "on_call": True}
    call = (
        f"mem.add_entity(\n    {CENTRAL!r},\n"
        f"    observations=[{new!r},\n                  {repeated!r}],\n"
        f"    properties={changes!r},\n)"
    )
    tour.console.print(Syntax(call, "python", theme="ansi_dark", background_color="default"))
    with tour.timed("add_entity (upsert)") as t:
        after = tour.mem.add_entity(CENTRAL, observations=[new, repeated], properties=changes)
    observations = Table(box=box.SIMPLE_HEAD, header_style="bold cyan", title="observations: appended, in order",
                         title_style="bold", title_justify="left")
    observations.add_column("")
    observations.add_column("observation")
    for o in after.observations:
        observations.add_row("[green]+[/]" if o not in before.observations else "", escape(o))
    properties = Table(box=box.SIMPLE_HEAD, header_style="bold cyan", title="properties: merged key by key",
                       title_style="bold", title_justify="left")
    for column in ("key", "before", "after", ""):
        properties.add_column(column)
    for key in dict.fromkeys([*before.properties, *after.properties]):
        old, now = before.properties.get(key), after.properties.get(key)
        change = "[green]added[/]" if key not in before.properties else "[yellow]changed[/]" if old != now else "kept"
        properties.add_row(escape(key), _value(old), _value(now), change)
    tour.console.print(observations, properties)
    kept = (after.text, after.type) == (before.text, before.type)
    tour.console.print(escape(
        f"{repeated!r} was already known, so it is not repeated. Text and type were not given: "
        f"{'both kept' if kept else 'changed, which add_entity should not do'}."
    ))  # fmt: skip
    if after.embedding is not None:
        tour.console.print("The observations are part of the embedded text, so the entity was re-embedded.")
    tour.note(t)


@step("Forget: delete_entity() cascades", "delete")
def delete(tour: Tour) -> None:
    mem, console = tour.mem, tour.console
    leaver = _require(tour, LEAVER)
    console.print(f"{escape(LEAVER)}: {escape(leaver.text or '')} [dim]({escape('; '.join(leaver.observations))})[/]")
    incident = mem.neighbors(LEAVER)
    before = mem.stats()
    with tour.timed("delete_entity") as t_delete:
        deleted = mem.delete_entity(LEAVER)
    after = mem.stats()
    with tour.timed("delete_entity again") as t_again:
        again = mem.delete_entity(LEAVER)
    table = Table(box=box.SIMPLE_HEAD, header_style="bold cyan")
    for column in ("", "before", "after"):
        table.add_column(column, justify="right")
    table.add_row("entities", str(before["entities"]), str(after["entities"]))
    table.add_row("relations", str(before["relations"]), str(after["relations"]))
    console.print(table)
    kinds: dict[str, int] = {}
    for n in incident:
        kinds[n.type] = kinds.get(n.type, 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
    team = [n.name for n in mem.neighbors("Payments team", direction="in", types="MEMBER_OF")]
    console.print(
        escape(f"delete_entity({LEAVER!r}) → {deleted}: his {len(incident)} relations went with him ({summary}).\n"
               f"get_entity → {mem.get_entity(LEAVER)}; a second delete → {again}; the Payments team now has "
               f"{len(team)} members, {'still' if LEAVER in team else 'not'} including him.")
    )
    tour.note(t_delete, t_again)


# -- running it ----------------------------------------------------------------------


def _fresh_store_path(path: Path, engine: str) -> Path:
    """Make ``path`` ready for a new store: replace an old graphmem store, refuse anything else."""
    path = path.expanduser().resolve()
    if not path.exists():
        return path
    if not path.is_dir():
        raise GraphMemError(f"{path} is a file; the demo needs a new or empty directory, or an old demo store")
    if not is_store(path):
        if any(path.iterdir()):
            raise GraphMemError(
                f"{path} is a non-empty directory that is not a graphmem store (no graphmem manifest); the demo only "
                "replaces graphmem stores: choose a new or empty directory"
            )
        return path
    # Opening it first turns "another process uses this store" into StoreLocked instead of deleting
    # files under a live database. A store of the other engine cannot be opened here, nor can a damaged
    # one; both are still graphmem stores, which the demo may replace.
    try:
        open_memory(path, engine=engine, embedder=None).close()
    except (IncompatibleStore, CorruptStore):
        pass
    shutil.rmtree(path)
    return path


def _resolve_embedder(embedder: Any, console: Console, timings: Timings) -> tuple[Any, str]:
    """Load the default model up front (it takes seconds), so loading it is not counted as writing."""
    if embedder is None:
        return None, "none, so no vectors"
    if isinstance(embedder, str) and embedder == "default":
        model = DefaultEmbedder()
        status = console.status("Loading the embedding model all-MiniLM-L6-v2 (once per process)…")
        with status, timings.timed("load all-MiniLM-L6-v2"):
            model.encode(["warm up"])
        return model, f"all-MiniLM-L6-v2, {model.dim}-d"
    return embedder, f"{type(embedder).__name__}, {getattr(embedder, 'dim', '?')}-d"


def _timings_table(timings: Timings) -> Table:
    table = Table(title="Timings", box=box.SIMPLE_HEAD, header_style="bold cyan", title_style="bold")
    table.add_column("step")
    table.add_column("call")
    table.add_column("time", justify="right")
    previous = None
    for step_title, timer in timings.entries:
        table.add_row(escape(step_title) if step_title != previous else "", escape(timer.label),
                      fmt_seconds(timer.seconds))
        previous = step_title
    return table


def run_demo(
    path: str | os.PathLike[str] | None,
    console: Console | None = None,
    *,
    engine: str = "kuzu",
    embedder: Any = "default",
    dataset: str | os.PathLike[str] | None = None,
) -> None:
    """Build a store from the bundled dataset and print a tour of graphmem.

    Parameters
    ----------
    path
        Where to build the store. ``None``: a temporary directory, removed at
        the end. An existing graphmem store there is rebuilt from scratch; any
        other non-empty directory is refused.
    console
        Where to print (a new :class:`rich.console.Console` by default).
    engine
        ``"kuzu"`` or ``"ladybug"``.
    embedder
        ``"default"`` (the packaged MiniLM model embeds every entity's text),
        ``None`` (no vectors; fast) or an :class:`graphmem.Embedder`.
    dataset
        A graphmem JSONL file to load instead of the bundled one.

    Raises
    ------
    GraphMemError
        If the dataset is missing or malformed, or ``path`` cannot be used.
    """
    console = console or Console()
    source = Path(dataset) if dataset is not None else find_dataset()
    timings = Timings()
    with timings.timed("read JSONL"):
        data = read_dataset(source)

    with ExitStack() as stack:
        if path is None:
            store_path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="graphmem-demo-"))) / "store"
            where = "a temporary directory (removed at the end)"
        else:
            store_path = _fresh_store_path(Path(path), engine)
            where = str(store_path)
        model, embedder_label = _resolve_embedder(embedder, console, timings)
        with timings.timed(f"graphmem.open (engine={engine})"):
            mem = stack.enter_context(open_memory(store_path, engine=engine, embedder=model))

        console.print(Panel(
            f"An AI assistant's memory of [bold]{COMPANY}[/], a small software company: people, companies, "
            "projects, repositories, technologies, meetings, documents and places.\n"
            f"[dim]dataset[/] {escape(str(source))}\n[dim]store[/]   {escape(where)} · engine {engine}",
            title="[bold]graphmem demo[/]", title_align="left",
        ))  # fmt: skip
        tour = Tour(mem, console, data, embedder_label, timings)
        for number, tour_step in enumerate(STEPS, start=1):
            console.print()
            console.rule(f"[bold]{number}. {escape(tour_step.title)}", align="left")
            timings.step = tour_step.short
            tour_step.run(tour)
        console.print()
        console.rule()
        console.print(_timings_table(timings))
        if path is not None:
            console.print(f"The store stays at [bold]{escape(str(store_path))}[/]. Try:")
            console.print(
                escape(f"  graphmem stats {store_path}\n  graphmem query {store_path} \"{Q_TRY}\""),
                soft_wrap=True, highlight=False,
            )
