"""``graphmem view``: the JSON API (answers, bounds, bad input), the server's
guards (loopback bind, single-use token, cookie flags, Host check, read-only)
and the store being free for an agent between requests (issue 22)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphmem
from graphmem.errors import InvalidInput, LimitExceeded, UnsafePath
from graphmem.view import make_server, write_html
from graphmem.explore import _parse
from graphmem.view.api import LIMITS
from tests.view_helpers import HUB_NEIGHBOURS, Client, build_store, running, scanned_overview, viewer

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def store(tmp_path_factory, request) -> Path:
    from tests.conftest import ENGINE

    path = tmp_path_factory.mktemp("view") / "store"
    build_store(path, ENGINE)
    return path


@pytest.fixture(scope="module")
def live(store):
    from tests.conftest import ENGINE

    with viewer(store, ENGINE) as (server, client):
        yield server, client


# -- the API's answers ---------------------------------------------------------------------


def test_overview_counts_types_and_how_they_connect(live):
    status, o = live[1].api("overview")
    assert status == 200
    assert o["entities"] == 4 + HUB_NEIGHBOURS
    assert o["entity_types"] == {"Company": 2, "Fan": HUB_NEIGHBOURS, "Person": 2}
    assert o["relation_types"] == {"FOLLOWS": HUB_NEIGHBOURS, "KNOWS": 1, "WORKED_AT": 1, "WORKS_AT": 1}
    links = {(l["source_type"], l["relation"], l["target_type"]): l["count"] for l in o["type_links"]}
    assert links == {("Fan", "FOLLOWS", "Person"): HUB_NEIGHBOURS, ("Person", "KNOWS", "Person"): 1,
                     ("Person", "WORKS_AT", "Company"): 1, ("Person", "WORKED_AT", "Company"): 1}  # fmt: skip
    assert o["time"]["has_history"] and o["time"]["start"].startswith("2010-01-01")
    assert o["can_search_meaning"] is True


def test_the_overview_from_memory_is_what_the_stores_own_scans_say(engine, tmp_path):
    """The page's overview comes from memory (Memory.type_summary): it must say what a scan and a
    join over the store say, here and after writes and a delete."""
    from datetime import datetime, timezone

    from graphmem.explore import overview

    path = tmp_path / "copy"
    build_store(path, engine)
    with graphmem.open(path, engine=engine, embedder=None) as mem:
        mem.add_entity("Nemo", type="Fish", valid_from=datetime(2001, 1, 1, tzinfo=timezone.utc))
        mem.add_relation("Nemo", "SWIMS_WITH", "Ada", valid_to=datetime(2030, 1, 1, tzinfo=timezone.utc))
        mem.delete_entity("Bob")
    with graphmem.open(path, engine=engine, embedder=None, read_only=True) as mem:
        ns = mem.namespace_name
        mine = overview(mem)
        scanned = scanned_overview(mem, ns)
    assert mine["entity_types"]["Fish"] == 1 and mine["time"]["bounded_facts"] >= 2
    for key in ("entities", "relations", "entity_types", "relation_types", "time"):
        assert mine[key] == scanned[key], key
    assert sorted(map(str, mine["type_links"])) == sorted(map(str, scanned["type_links"]))


def test_search_by_name_prefix_ignores_case_and_meaning_hits_carry_types(live):
    status, found = live[1].api("search", q="a", k=5)
    assert status == 200
    assert [h["name"] for h in found["prefix"]] == ["Acme", "Ada"]
    _, found = live[1].api("search", q="FAN0", k=3)
    assert [h["name"] for h in found["prefix"]] == ["fan00", "fan01", "fan02"]
    assert len(found["meaning"]) == 3 and all(h["type"] for h in found["meaning"])


def test_entity_detail_has_text_observations_properties_and_history(live):
    status, found = live[1].api("entity", name="Ada")
    assert status == 200
    e = found["entity"]
    assert (e["type"], e["text"], e["observations"], e["properties"]) == (
        "Person", "Mathematician and writer", ["wrote the first program"], {"born": 1815})
    versions = found["history"]["versions"]
    assert [v["text"] for v in versions] == ["Mathematician", "Mathematician and writer"]
    # Ada has 3 + 30 relations: the panel shows the newest page, newest first (the 30 fans' batch is
    # the newest write), and the rest a page at a time through the cursor.
    first = found["history"]["relations"]
    assert len(first) == LIMITS.relations and found["history"]["older"] and found["history"]["truncated"]
    assert [r["created_at"] for r in first] == sorted((r["created_at"] for r in first), reverse=True)
    status, rest = live[1].api("relations", name="Ada", before=found["history"]["older"])
    assert status == 200 and rest["older"] is None
    shown = [(r["source"], r["type"], r["target"]) for r in first + rest["relations"]]
    assert len(shown) == len(set(shown)) == HUB_NEIGHBOURS + 3
    assert set(shown) >= {("Ada", "KNOWS", "Bob"), ("Ada", "WORKS_AT", "Acme"), ("fan07", "FOLLOWS", "Ada")}


def test_neighbours_are_bounded_and_say_how_many_exist(live):
    status, found = live[1].api("neighbors", name="Ada", limit=5)
    assert status == 200
    assert (found["total"], found["truncated"], len(found["neighbors"])) == (HUB_NEIGHBOURS + 2, True, 5)
    assert found["type"] == "Person"
    _, everything = live[1].api("neighbors", name="Ada", limit=LIMITS.expand_max)
    assert {(n["name"], n["relation"], n["direction"], n["type"]) for n in everything["neighbors"]} >= {
        ("Bob", "KNOWS", "out", "Person"), ("Acme", "WORKS_AT", "out", "Company"), ("fan07", "FOLLOWS", "in", "Fan")}
    assert not everything["truncated"]
    # The few shown at a hub are part of the whole, sorted, and a larger expand keeps them.
    rows = [(n["name"], n["relation"], n["direction"]) for n in found["neighbors"]]
    all_rows = [(n["name"], n["relation"], n["direction"]) for n in everything["neighbors"]]
    assert rows == sorted(rows) and set(rows) <= set(all_rows) and len(all_rows) == found["total"]


def test_as_of_shows_the_graph_as_it_was(live):
    _, before = live[1].api("neighbors", name="Ada", limit=200, as_of="2019-06-01T00:00:00Z")
    _, after = live[1].api("neighbors", name="Ada", limit=200, as_of="2021-06-01T00:00:00+02:00")
    _, now = live[1].api("neighbors", name="Ada", limit=200)
    assert "Acme" not in {n["name"] for n in before["neighbors"]}
    assert "Acme" in {n["name"] for n in after["neighbors"]}
    assert "OldCo" not in {n["name"] for n in now["neighbors"]}
    _, then = live[1].api("neighbors", name="Ada", limit=200, as_of="2012-01-01T00:00:00Z")
    assert "OldCo" in {n["name"] for n in then["neighbors"]} and "Acme" not in {n["name"] for n in then["neighbors"]}
    assert {n["name"]: n["type"] for n in then["neighbors"]}["OldCo"] == "Company" and then["type"] == "Person"
    _, path = live[1].api("paths", source="Bob", target="Acme", as_of="2019-06-01T00:00:00Z")
    assert path["paths"] == []


def test_relation_hover_and_shortest_paths(live):
    status, found = live[1].api("relation", source="Ada", type="KNOWS", target="Bob")
    assert status == 200 and found["relation"]["properties"] == {"since": 1833}
    status, found = live[1].api("paths", source="Bob", target="fan03")
    assert status == 200
    assert found["paths"] == [{"nodes": ["Bob", "Ada", "fan03"], "relations": ["KNOWS", "FOLLOWS"]}]
    assert found["types"] == {"Ada": "Person", "Bob": "Person", "fan03": "Fan"}
    _, many = live[1].api("paths", source="fan01", target="fan02", limit=1)
    assert len(many["paths"]) == 1


def test_type_drill_down_is_bounded(live):
    status, found = live[1].api("type", type="Fan", limit=4)
    assert status == 200
    assert found == {"type": "Fan", "names": ["fan00", "fan01", "fan02", "fan03"], "truncated": True}


# -- bad input: typed JSON errors with their HTTP status ---------------------------------------


@pytest.mark.parametrize(("endpoint", "params", "status", "kind"), [
    ("entity", {"name": "Nobody"}, 404, "not_found"),
    ("neighbors", {"name": "Nobody"}, 404, "not_found"),
    ("paths", {"source": "Ada", "target": "Nobody"}, 404, "not_found"),
    ("relation", {"source": "Ada", "type": "HATES", "target": "Bob"}, 404, "not_found"),
    ("nope", {}, 404, "not_found"),
    ("neighbors", {"name": "Ada", "limit": 100_000}, 400, "limit_exceeded"),
    ("search", {"q": "a", "k": LIMITS.search_k_max + 1}, 400, "limit_exceeded"),
    ("paths", {"source": "Ada", "target": "Bob", "limit": 10_000}, 400, "limit_exceeded"),
    ("search", {"q": "x" * (LIMITS.text_max + 1)}, 400, "limit_exceeded"),
    ("neighbors", {"name": "Ada", "as_of": "yesterday"}, 400, "invalid_input"),
    ("neighbors", {"name": "Ada", "as_of": "2020-01-01T00:00:00"}, 400, "invalid_input"),  # no zone: refused
    ("neighbors", {"name": "Ada", "limit": "-3"}, 400, "invalid_input"),
    ("neighbors", {"name": "Ada", "limit": "0"}, 400, "invalid_input"),
    ("neighbors", {"name": "Ada", "cypher": "MATCH (n) DETACH DELETE n"}, 400, "invalid_input"),
    ("neighbors", {}, 400, "invalid_input"),
    ("search", {"q": "   "}, 400, "invalid_input"),
    ("entity", {"name": "a\x00b"}, 400, "invalid_input"),
    ("relations", {"name": "Nobody"}, 404, "not_found"),
    ("relations", {"name": "Ada", "before": "yesterday"}, 400, "invalid_input"),
    ("relations", {"name": "Ada", "before": "1:-2"}, 400, "invalid_input"),
    ("relations", {"name": "Ada", "limit": LIMITS.relations_max + 1}, 400, "limit_exceeded"),
])  # fmt: skip
def test_bad_requests_get_typed_json_errors(live, endpoint, params, status, kind):
    got, body = live[1].api(endpoint, **params)
    assert (got, body["error"]["type"], body["error"]["status"]) == (status, kind, status)
    assert body["error"]["message"]


def test_a_repeated_parameter_or_a_flood_of_them_is_refused(live):
    status, _, body = live[1].request("GET", "/api/neighbors?name=Ada&name=Bob")
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_input"
    status, _, body = live[1].request("GET", "/api/overview?" + "&".join(f"p{i}=1" for i in range(100)))
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_input"


@given(st.text(max_size=12))
def test_a_count_parameter_is_a_bounded_positive_integer_or_refused(value):
    spec = {"limit": ("count", 7, 50)}
    try:
        n = _parse({"limit": [value]}, spec)["limit"]
    except LimitExceeded:
        assert value.isdigit() and int(value) > 50
    except InvalidInput:
        assert not (value.isascii() and value.isdigit()) or int(value) < 1
    else:
        assert 1 <= n <= 50 and str(n) == value.lstrip("0")
    assert _parse({}, spec) == {"limit": 7}


# -- who may read it ------------------------------------------------------------------------------


def test_it_binds_loopback_only(store, engine):
    for host in ("0.0.0.0", "192.168.1.10", "::1", "localhost", "example.org"):
        with pytest.raises(InvalidInput, match="loopback"):
            make_server(store, engine=engine, host=host)
    server = make_server(store, engine=engine)
    try:
        assert server.server_address[0] == "127.0.0.1" and server.port > 0
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{40,}", server.url)
    finally:
        server.server_close()


def test_the_token_is_single_use_and_becomes_a_strict_httponly_cookie(store, engine):
    with running(make_server(store, engine=engine)) as server:
        client = Client(server.origin)
        assert client.request("GET", "/?token=wrong")[0] == 403
        headers = client.login(server.url)
        cookie = headers["Set-Cookie"]
        assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {part.strip() for part in cookie.split(";")}
        assert headers["Location"] == "/"
        assert server.token not in cookie  # the cookie is a different secret
        status, _, body = Client(server.origin).request("GET", "/?" + server.url.split("?", 1)[1])
        assert status == 403 and json.loads(body)["error"]["type"] == "token_spent"
        assert client.request("GET", "/?" + server.url.split("?", 1)[1])[0] == 303  # this browser has the session
        status, headers, page = client.request("GET", "/")
        assert status == 200 and b"cytoscape.min.js" in page
        assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_nothing_is_served_without_the_cookie(live):
    server, _ = live
    stranger = Client(server.origin)
    for path in ("/", "/api/overview", "/static/app.js", "/static/vendor/cytoscape.min.js"):
        status, _, body = stranger.request("GET", path)
        assert status == 403 and json.loads(body)["error"]["type"] == "unauthorised"
    status, _, _ = stranger.request("GET", "/api/overview", headers={"Cookie": "graphmem_view=guess"})
    assert status == 403


def test_a_foreign_host_header_is_refused(live):
    status, _, body = live[1].request("GET", "/api/overview", headers={"Host": "evil.example:80"})
    assert status == 403 and json.loads(body)["error"]["type"] == "bad_host"


def test_it_refuses_writes(live, store):
    _, client = live
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, body = client.request(method, "/api/entity?name=Ada", body=b'{"name": "Eve"}')
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        assert json.loads(body)["error"]["type"] == "read_only"
    assert client.api("entity", name="Eve")[0] == 404


def test_only_the_page_files_are_served(live):
    _, client = live
    assert client.request("GET", "/static/vendor/cytoscape.min.js")[0] == 200
    for path in ("/static/../api.py", "/static/api.py", "/static/vendor/cytoscape.LICENSE", "/etc/passwd"):
        assert client.request("GET", path)[0] == 404


def test_the_vendored_graph_library_is_pinned_with_its_licence():
    vendor = Path(graphmem.view.__file__).parent / "static" / "vendor"
    assert '"3.35.0"' in (vendor / "cytoscape.min.js").read_text(encoding="utf-8")
    assert "Permission is hereby granted" in (vendor / "cytoscape.LICENSE").read_text(encoding="utf-8")


# -- the store stays free for agents --------------------------------------------------------------


def test_an_agent_opens_the_store_read_write_while_the_viewer_runs(tmp_path, engine):
    path = tmp_path / "store"
    build_store(path, engine)
    with viewer(path, engine) as (server, client):
        assert client.api("overview")[0] == 200
        assert server.open_memory.is_open  # kept between requests, and yielded when asked:
        with graphmem.open(path, engine=engine, embedder=None) as agent:
            assert server.open_memory.releases == 1 and not server.open_memory.is_open
            agent.add_entity("Eve", type="Person")
            status, body = client.api("entity", name="Ada")  # the agent holds it: busy, not blocked
            assert (status, body["error"]["type"]) == (503, "store_busy")
        status, body = client.api("entity", name="Eve")
        assert status == 200 and body["entity"]["type"] == "Person" and server.open_memory.is_open
        # The overview is cached while the store's files are unchanged; the agent's write shows.
        assert client.api("overview")[1]["entity_types"]["Person"] == 3
        opens = server.open_memory.opens
        assert client.api("overview")[1]["entity_types"]["Person"] == 3 and server.open_memory.opens == opens
        with graphmem.open(path, engine=engine, embedder=None) as agent:
            agent.add_entity("Mallory", type="Person")
        assert client.api("overview")[1]["entity_types"]["Person"] == 4


def test_reads_from_memory_need_no_open_while_the_store_is_unchanged(tmp_path, engine):
    path = tmp_path / "store"
    build_store(path, engine)
    with viewer(path, engine, hold=0) as (server, client):  # per request: nothing held between requests
        source = server.open_memory
        assert client.api("overview")[0] == 200 and client.api("search", q="ad")[0] == 200  # load, once
        opens = source.opens
        as_of = "2012-01-01T00:00:00Z"  # a time view is built from memory too (types: current, see api._types)
        for endpoint, params in (("neighbors", {"name": "Ada"}), ("search", {"q": "bo"}), ("type", {"type": "Person"}),
                                 ("paths", {"source": "Ada", "target": "Bob"}),
                                 ("neighbors", {"name": "Ada", "as_of": as_of}),
                                 ("paths", {"source": "Ada", "target": "OldCo", "as_of": as_of})):  # fmt: skip
            assert client.api(endpoint, **params)[0] == 200, endpoint
        assert source.opens == opens and source.detached_answers >= 6 and not source.is_open
        assert client.api("entity", name="Ada")[0] == 200 and source.opens == opens + 1  # the store has the text
        with graphmem.open(path, engine=engine, embedder=None) as agent:
            assert client.api("neighbors", name="Ada")[0] == 200  # held by the agent, not yet written: still right
            agent.add_entity("Carol", type="Person")
            agent.add_relation("Ada", "KNOWS", "Carol")
            status, body = client.api("neighbors", name="Ada")  # written: the viewer must read the store, busy
            assert (status, body["error"]["type"]) == (503, "store_busy")
        # All of them: a hub's first 25 are its oldest neighbours, and Carol is the newest.
        names = [n["name"] for n in client.api("neighbors", name="Ada", limit=LIMITS.expand_max)[1]["neighbors"]]
        assert "Carol" in names and source.opens == opens + 2


def test_hold_keeps_one_handle_across_requests_until_it_runs_out(tmp_path, engine):
    path = tmp_path / "store"
    build_store(path, engine)
    with viewer(path, engine, hold=3600) as (server, client):
        assert client.api("overview")[0] == 200 and client.api("entity", name="Ada")[0] == 200
        assert server.open_memory.opens == 1 and server.open_memory.is_open
        with pytest.raises(graphmem.StoreLocked):
            graphmem.open(path, engine=engine, embedder=None)
    assert not server.open_memory.is_open  # stopping the server lets go
    with graphmem.open(path, engine=engine, embedder=None) as agent:
        agent.add_entity("Eve")
    with pytest.raises(InvalidInput, match="hold"):
        make_server(path, engine=engine, hold=-1)


def test_the_cli_serves_and_an_agent_in_another_process_writes_meanwhile(tmp_path, engine):
    path = tmp_path / "store"
    build_store(path, engine)
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphmem", "--engine", engine, "view", str(path), "--no-browser", "--embedder", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        assert url, (line, proc.stderr.read() if proc.poll() is not None else "")
        client = Client(url.group(0).split("/?", 1)[0])
        client.login(url.group(0))
        assert client.api("search", q="ad")[1]["prefix"] == [{"name": "Ada", "type": "Person"}]
        with graphmem.open(path, engine=engine, embedder=None) as agent:
            agent.add_entity("Adam", type="Person")
        assert [h["name"] for h in client.api("search", q="ad")[1]["prefix"]] == ["Ada", "Adam"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


_AGENT = """
import sys, graphmem
with graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None) as mem:
    mem.add_entity(sys.argv[3], type="Person")
    print("holding", flush=True)
    sys.stdin.readline()
print("done", flush=True)
"""


def _agent(path: Path, engine: str, name: str) -> subprocess.Popen[str]:
    """An agent in another process: it opens the store read-write, writes ``name``, says
    "holding" and keeps the store until told (a line on its stdin)."""
    return subprocess.Popen([sys.executable, "-c", _AGENT, str(path), engine, name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent.parent)  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate("\n", timeout=120)
    assert proc.returncode == 0, err
    return out


def test_an_agent_in_another_process_takes_the_store_from_the_viewer_and_the_viewer_reopens(tmp_path, engine):
    path = tmp_path / "store"
    build_store(path, engine)
    with viewer(path, engine) as (server, client):
        source = server.open_memory
        assert client.api("entity", name="Ada")[0] == 200 and source.is_open and source.opens == 1
        sockets = list(path.glob("yield-*.sock"))
        assert len(sockets) == 1 and stat.S_IMODE(sockets[0].stat().st_mode) == 0o600
        agent = _agent(path, engine, "Eve")
        try:
            assert agent.stdout.readline() == "holding\n", agent.stderr.read()  # its open succeeded
            assert source.releases == 1 and not source.is_open
            status, body = client.api("entity", name="Eve")  # the agent holds it: busy, not blocked
            assert (status, body["error"]["type"]) == (503, "store_busy")
        finally:
            assert _finish(agent).endswith("done\n")
        status, body = client.api("entity", name="Eve")  # the agent let go: opened again, and kept
        assert status == 200 and body["entity"]["type"] == "Person"
        assert source.is_open and source.opens == 2
    assert not list(path.glob("yield-*.sock"))  # the viewer removes its socket when it stops


def test_a_stuck_or_killed_viewer_neither_hangs_nor_fails_an_agent(tmp_path, engine):
    import signal

    path = tmp_path / "store"
    build_store(path, engine)
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphmem", "--engine", engine, "view", str(path), "--no-browser", "--embedder", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert "token=" in line, proc.stderr.read() if proc.poll() is not None else line
        sockets = list(path.glob("yield-*.sock"))
        assert len(sockets) == 1  # it holds the store (opened at start) and listens
        os.kill(proc.pid, signal.SIGSTOP)  # alive but answering nothing: the agent gives up, bounded
        try:
            with pytest.raises(graphmem.StoreLocked, match="another process has this store open"):
                graphmem.open(path, engine=engine, embedder=None)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert sockets[0].exists()  # killed: nobody removed it
        with graphmem.open(path, engine=engine, embedder=None) as agent:  # a dead socket is passed over
            agent.add_entity("Eve")
        # A reader that does not yield (a plain read-only open in another process) beside the dead socket:
        # refused at once, as before the viewer yielded.
        reader = subprocess.Popen(
            [sys.executable, "-c", "import sys, graphmem\n"
             "with graphmem.open(sys.argv[1], engine=sys.argv[2], embedder=None, read_only=True):\n"
             "    print('reading', flush=True); sys.stdin.readline()", str(path), engine],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=Path(__file__).parent.parent,
        )  # fmt: skip
        try:
            assert reader.stdout.readline() == "reading\n", reader.stderr.read()
            with pytest.raises(graphmem.StoreLocked):
                graphmem.open(path, engine=engine, embedder=None)
        finally:
            _finish(reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()


def _ask_release(path: str) -> str:
    """Ask the viewer listening on ``path`` to let go, as an agent's open does; what it answered."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        sock.connect(path)
        try:
            sock.sendall(b'{"op": "release"}\n')
            answer = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):  # hung up before or after reading our request
            return "hung up"
    return answer.decode() or "hung up"


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="needs root to ask as another user, uid 65534 (fork + setuid); CI runs as root")
@pytest.mark.parametrize("uid", [65534, 0])
def test_another_user_cannot_make_the_viewer_let_go(engine, uid):
    import shutil
    import tempfile

    from tests.test_permissions import as_user

    base = Path(tempfile.mkdtemp(prefix="graphmem-view-"))
    try:
        os.chmod(base, 0o755)
        path = base / "store"
        build_store(path, engine)
        with viewer(path, engine) as (server, client):
            assert client.api("entity", name="Ada")[0] == 200 and server.open_memory.is_open
            (sock,) = path.glob("yield-*.sock")
            # As reachable as can be: only the viewer's own check of the peer's uid may refuse it.
            os.chmod(path, 0o755)
            os.chmod(sock, 0o666)
            with as_user(_ask_release, str(sock), uid=uid, gid=uid) as answer:
                if uid == 0:  # the control: the same user is heard
                    assert json.loads(answer["ok"]) == {"ok": True, "released": True}
                    assert server.open_memory.releases == 1
                else:
                    assert answer == {"ok": "hung up"}
                    assert server.open_memory.releases == 0 and server.open_memory.is_open
    finally:
        shutil.rmtree(base)


def test_requests_while_agents_take_the_store_are_answered_right_or_busy(tmp_path, engine):
    """Clients keep asking while agents open the store read-write, write elsewhere and close, again
    and again: every answer is the whole right one, or "busy"; none is partial or wrong."""
    import threading

    path = tmp_path / "store"
    build_store(path, engine)
    asks = {
        "entity": {"name": "Ada"},
        "neighbors": {"name": "Ada", "limit": 5},
        "relation": {"source": "Ada", "type": "KNOWS", "target": "Bob"},
        "relations": {"name": "Ada", "limit": 3},
    }
    with viewer(path, engine) as (server, client):
        expected = {}
        for endpoint, params in asks.items():
            status, body = client.api(endpoint, **params)
            assert status == 200, body
            expected[endpoint] = body
        stop = threading.Event()
        seen: list[tuple[str, int, dict]] = []
        failures: list[BaseException] = []

        def ask_again() -> None:
            try:
                while not stop.is_set():
                    for endpoint, params in asks.items():
                        status, body = client.api(endpoint, **params)
                        seen.append((endpoint, status, body))
            except BaseException as exc:  # reported below: a thread's assertion would be lost
                failures.append(exc)

        threads = [threading.Thread(target=ask_again) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            for i in range(2):
                agent = _agent(path, engine, f"Other{i}")  # another process, writing entities the asks do not see
                assert agent.stdout.readline() == "holding\n", agent.stderr.read()
                _finish(agent)
                with graphmem.open(path, engine=engine, embedder=None) as mem:  # and one in this process
                    mem.add_entity(f"Local{i}")
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert not failures, failures
        assert server.open_memory.releases >= 4
        for endpoint, status, body in seen:
            if status == 200:
                assert body == expected[endpoint], endpoint
            else:
                assert (status, body["error"]["type"]) == (503, "store_busy"), (endpoint, body)
        for endpoint, params in asks.items():  # the agents are gone: every ask is answered again
            assert client.api(endpoint, **params) == (200, expected[endpoint])


# Every endpoint, as the page asks it: answered by an MCP holder, then by the viewer's own handle.
HOLDER_ASKS: list[tuple[str, dict[str, str]]] = [
    ("overview", {}),
    ("type", {"type": "Fan", "limit": "5"}),
    ("type", {"type": "Person"}),
    ("search", {"q": "ze"}),
    ("search", {"q": "FAN0", "k": "3"}),
    ("entity", {"name": "Ada"}),
    ("entity", {"name": "Ada", "as_of": "2012-01-01T00:00:00Z"}),
    ("relations", {"name": "Ada", "limit": "7"}),
    ("neighbors", {"name": "Ada", "limit": "3"}),
    ("neighbors", {"name": "Ada", "limit": "200"}),
    ("neighbors", {"name": "Ada", "as_of": "2012-01-01T00:00:00Z"}),
    ("relation", {"source": "Ada", "type": "KNOWS", "target": "Bob"}),
    ("paths", {"source": "Zed", "target": "fan03"}),
    ("paths", {"source": "Bob", "target": "OldCo", "as_of": "2012-01-01T00:00:00Z"}),
    # refusals: the same typed errors
    ("entity", {"name": "Nobody"}),
    ("relations", {"name": "Nobody"}),
    ("relation", {"source": "Ada", "type": "HATES", "target": "Bob"}),
    ("neighbors", {"name": "Ada", "as_of": "2012-01-01"}),
]


def test_while_an_mcp_server_holds_the_store_the_viewer_asks_it(tmp_path, engine, monkeypatch):
    """Through a real ``graphmem mcp`` holder, every endpoint answers what the viewer's own handle
    answers on the same store (the oracle, asked once the holder exited), ``as_of`` included, and
    the viewer sends the holder nothing but its endpoints (no Cypher of its own)."""
    pytest.importorskip("mcp", reason="the MCP server needs the 'mcp' extra")
    import anyio

    from graphmem.mcp import share
    from tests.mcp_client import call, mcp_session

    path = tmp_path / "store"
    build_store(path, engine)
    with graphmem.open(path, engine=engine, embedder=None, namespace="side") as mem:
        mem.add_entities([{"name": "S1", "type": "Thing"}, {"name": "S2", "type": "Thing"}])
        mem.add_relation("S1", "LINKS", "S2")

    sent: list[dict] = []  # what this process's viewers send to the holder's socket
    ask = share._ask

    def recording(socket_path, request):
        sent.append(request)
        return ask(socket_path, request)

    monkeypatch.setattr(share, "_ask", recording)
    held: dict[int, tuple[int, dict]] = {}

    async def scenario(client: Client, side: Client) -> None:
        async with mcp_session(path) as session:
            await call(session, "create_entities", entities=[{"name": "Zed", "entityType": "Person",
                                                               "observations": ["joined late"]}])
            await call(session, "create_relations", relations=[{"from": "Zed", "to": "Ada", "relationType": "KNOWS"}])

            def through_the_socket() -> None:
                for i, (endpoint, params) in enumerate(HOLDER_ASKS):
                    held[i] = client.api(endpoint, **params)
                # The history, a page at a time, through the holder too (Zed's KNOWS is the newest).
                found = client.api("entity", name="Ada")[1]
                first = found["history"]["relations"]
                assert len(first) == LIMITS.relations and (first[0]["source"], first[0]["type"]) == ("Zed", "KNOWS")
                status, rest = client.api("relations", name="Ada", before=found["history"]["older"])
                assert status == 200 and rest["older"] is None and rest["through"] == "mcp"
                shown = {(r["source"], r["type"], r["target"]) for r in first + rest["relations"]}
                assert len(shown) == len(first) + len(rest["relations"]) == HUB_NEIGHBOURS + 4
                # A viewer of another namespace than the MCP server's sees its own namespace.
                status, found = side.api("neighbors", name="S1")
                assert status == 200 and [(n["name"], n["type"]) for n in found["neighbors"]] == [("S2", "Thing")]
                assert side.api("overview")[1]["entity_types"] == {"Thing": 2}
                assert side.api("neighbors", name="Ada")[0] == 404

            await anyio.to_thread.run_sync(through_the_socket)

    with viewer(path, engine) as (server, client), viewer(path, engine, namespace="side") as (_, side):
        anyio.run(scenario, client, side)
        status, o = client.api("overview")  # the MCP server exited: the viewer opens the store again
        assert status == 200 and "through" not in o and o["entity_types"]["Person"] == 3
        own = {i: client.api(endpoint, **params) for i, (endpoint, params) in enumerate(HOLDER_ASKS)}
    assert held[0][1]["through"] == "mcp" and held[0][1]["entity_types"]["Person"] == 3
    assert held[0][1]["time"]["has_history"]  # the slider is shown through a holder too
    assert [status for status, _ in held.values()] == [200] * 14 + [404, 404, 404, 400]
    assert held[12][1]["paths"] == [{"nodes": ["Zed", "Ada", "fan03"], "relations": ["KNOWS", "FOLLOWS"]}]
    for i, (endpoint, params) in enumerate(HOLDER_ASKS):
        status, body = held[i]
        body.pop("through", None)
        assert (status, body) == own[i], (endpoint, params)
    assert sent and {r["op"] for r in sent} == {"explore"}, {r["op"] for r in sent}
    assert not any("cypher" in json.dumps(r).lower() for r in sent)


# -- --html ------------------------------------------------------------------------------------------


def test_html_export_is_self_contained_private_and_refuses_to_overwrite(engine, tmp_path):
    store = tmp_path / "store"
    build_store(store, engine)
    hostile = "</script><!--<script>alert(1)</script>"
    with graphmem.open(store, engine=engine, embedder=None) as mem:
        mem.add_entity(hostile, type="Person", text="<b>not markup</b>")
        mem.add_relation(hostile, "KNOWS", "Bob")
    out = tmp_path / "ada.html"
    with graphmem.open(store, engine=engine, embedder=None, read_only=True) as mem:
        written = write_html(mem, out, "Bob", hops=2, max_entities=10)
        with pytest.raises(UnsafePath):
            write_html(mem, out, "Bob")
        with pytest.raises(UnsafePath):
            write_html(mem, store / "page.html", "Bob")
        with pytest.raises(LimitExceeded):
            write_html(mem, tmp_path / "big.html", "Bob", max_entities=1_000_000)
    page = written.read_text(encoding="utf-8")
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing loads from elsewhere
    assert '<script src="/static' not in page and "window.GRAPHMEM_DATA = " in page
    data = json.loads(page.split("window.GRAPHMEM_DATA = ", 1)[1].split(";\n</script>", 1)[0])
    assert data["centre"] == "Bob" and len(data["nodes"]) == 10 and "Ada" in data["nodes"]
    assert data["nodes"][hostile]["text"] == "<b>not markup</b>"  # carried as data, never as markup
    assert "<!--" not in page and page.count("</script>") == 3  # only the three script elements end
    assert {"source": "Ada", "type": "KNOWS", "target": "Bob", "properties": {"since": 1833}} in data["edges"]


def test_cli_html_needs_a_centre(store, engine, tmp_path):
    from click.testing import CliRunner

    from graphmem.cli.main import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["--engine", engine, "view", str(store), "--html", str(tmp_path / "p.html")])
    assert result.exit_code == 2 and "--centre" in result.output
    result = runner.invoke(cli, ["--engine", engine, "view", str(store), "--html", str(tmp_path / "p.html"),
                                 "--centre", "Ada", "--hops", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fan29" in (tmp_path / "p.html").read_text(encoding="utf-8")


def test_a_path_that_is_no_store_is_refused(tmp_path, engine):
    with pytest.raises(InvalidInput, match="no store"):
        make_server(tmp_path / "missing", engine=engine)


# -- the viewer's handle as a state machine ----------------------------------------------------------


def _yield_machine(path: Path, engine: str) -> type:
    """Requests, agents (read-write opens in this process, which ask through the socket as one in
    another process does) and stops, in any order: an agent's open always succeeds, a request is
    answered or busy exactly when an agent holds the store, and the viewer holds the store exactly
    when it answered the last request with no agent since."""
    import time

    from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

    from graphmem.view.source import PerRequest

    class YieldMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.source = PerRequest(path, engine=engine)
            self.agent: graphmem.Memory | None = None
            self.held = False  # what the viewer should hold

        def settle(self) -> None:
            """Wait until the viewer has heard the last agent hang up (its listener's thread)."""
            deadline = time.monotonic() + 60  # a bound, not a timing assertion
            while self.source.yielding_to and time.monotonic() < deadline:
                time.sleep(0.001)
            assert self.source.yielding_to == 0

        @rule(store=st.booleans())
        def request(self, store: bool) -> None:
            from_memory = self.source.detached_answers
            try:
                with self.source(store=store) as mem:
                    assert mem.get_entity("Ada").type == "Person"
            except graphmem.StoreLocked:
                assert self.agent is not None  # busy only while an agent holds the store
                return
            except graphmem.errors.StoreDetached:
                assert not store and not self.held  # what the last handle loaded cannot answer: the caller opens
                return
            if self.source.detached_answers > from_memory:  # what the last handle loaded, the store unchanged
                assert not store and not self.held
                return
            assert self.agent is None  # an open: only when no agent holds the store
            self.held = True

        @precondition(lambda self: self.agent is None)
        @rule()
        def agent_opens(self) -> None:
            self.agent = graphmem.open(path, engine=engine, embedder=None)  # never refused for the viewer
            self.held = False

        @precondition(lambda self: self.agent is not None)
        @rule(write=st.booleans())
        def agent_closes(self, write: bool) -> None:
            if write:
                self.agent.add_entity("Ada", type="Person")  # the same entity again: a new version, same answer
            self.agent.close()
            self.agent = None
            self.settle()

        @invariant()
        def holds_what_it_should(self) -> None:
            assert self.source.is_open == self.held

        def teardown(self) -> None:
            if self.agent is not None:
                self.agent.close()
            self.source.close()
            assert not list(path.glob("yield-*.sock"))

    return YieldMachine


def test_the_viewers_handle_as_a_state_machine(tmp_path, engine):
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    path = tmp_path / "store"
    build_store(path, engine)
    run_state_machine_as_test(_yield_machine(path, engine), settings=settings(
        max_examples=8, stateful_step_count=8, deadline=None, suppress_health_check=list(HealthCheck)))


# -- the holder's side of the share socket's explore request ------------------------------------------


def test_the_explore_request_is_checked_by_the_holder_and_refused_with_the_typed_errors():
    """A peer's request is checked again by the holder (it trusts no peer's parsing), and its
    refusal comes back as the error class the viewer itself would raise."""
    from graphmem.errors import GraphMemError, NotFound
    from graphmem.explore import prepare
    from graphmem.mcp.share import _refusal

    with pytest.raises(NotFound, match="no API endpoint"):
        prepare("drop", {})
    with pytest.raises(NotFound, match="no API endpoint"):
        prepare(["overview"], {})
    for bad in ({"name": "Ada"}, {"name": [1]}, [["name", ["Ada"]]], {1: ["Ada"]}):
        with pytest.raises(InvalidInput, match="list of strings"):
            prepare("neighbors", bad)
    with pytest.raises(LimitExceeded):
        prepare("neighbors", {"name": ["Ada"], "limit": ["100000"]})
    for kind in (NotFound, InvalidInput, LimitExceeded):
        error = _refusal({"type": kind.__name__, "message": "m"})
        assert type(error) is kind and str(error).strip("'\"") == "m"
    # A name that is no graphmem error class (a peer's say-so picks no other class) is the base class.
    for name in ("SystemExit", "Path", "nothing", None):
        assert type(_refusal({"type": name, "message": "m"})) is GraphMemError


def test_the_holder_answers_an_explore_request_in_process_and_over_its_socket_alike(tmp_path, engine):
    """The holder's own call (Shared.explore in the process holding the store) and a peer's over the
    socket give the same answer, in the namespace the request names, and the same typed refusals."""
    pytest.importorskip("mcp", reason="the share socket lives with the MCP server")
    from graphmem.errors import NotFound, StoreLocked
    from graphmem.mcp.share import Shared

    def never():
        raise StoreLocked("a peer only asks")

    path = tmp_path / "store"
    build_store(path, engine)
    holder = Shared(path, lambda: graphmem.open(path, engine=engine, embedder=graphmem.HashEmbedder()),
                    patience=30.0, namespace="default")  # fmt: skip
    peer, side = Shared(path, never, namespace="default"), Shared(path, never, namespace="side")
    try:
        asks = [("neighbors", {"name": ["Ada"], "limit": ["3"]}), ("overview", {}),
                ("paths", {"source": ["Bob"], "target": ["fan01"], "as_of": ["2012-01-01T00:00:00Z"]}),
                ("entity", {"name": ["Ada"]})]  # fmt: skip
        mine = [holder.explore(endpoint, params) for endpoint, params in asks]  # holds the store on the first
        assert holder.holds
        assert [peer.explore(endpoint, params) for endpoint, params in asks] == json.loads(json.dumps(mine))
        assert mine[0]["total"] == HUB_NEIGHBOURS + 2 and mine[2]["paths"][0]["nodes"] == ["Bob", "Ada", "fan01"]
        assert side.explore("overview", {})["entities"] == 0  # the peer's namespace, not the holder's
        for asker in (holder, peer):
            with pytest.raises(NotFound, match="Nobody"):
                asker.explore("entity", {"name": ["Nobody"]})
            with pytest.raises(LimitExceeded):
                asker.explore("paths", {"source": ["Ada"], "target": ["Bob"], "limit": ["21"]})
    finally:
        for shared in (side, peer, holder):
            shared.close()
