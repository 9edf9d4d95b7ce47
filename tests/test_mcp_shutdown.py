"""``graphmem mcp`` stops when asked (issue 16.4): SIGTERM, SIGINT, stdin EOF
and the SDK client's session close each finish the requests already read,
answer them, remove the share socket, release the store and end the process;
a follower then takes the store over. Real signals, the real SDK client.

No assertion here is about time: each stop is given 30 s (the old server
never got past a blocked stdin read, or joined its accept thread for 30 s).
``benchmarks/bench_mcp_shutdown.py`` measures how long a stop really takes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import anyio
import pytest

import graphmem
from graphmem.errors import StoreLocked
from tests.mcp_client import ENGINE, call, mcp_session, server_command

pytestmark = pytest.mark.engine

PATIENCE = 30.0  # seconds a server gets to stop; a hang, not a slow stop, fails


def entity(name: str, *observations: str) -> dict:
    return {"name": name, "entityType": "thing", "observations": list(observations)}


async def exited(pid: int) -> None:
    """Return once process ``pid`` has ended (a zombie counts: it holds nothing)."""
    with anyio.fail_after(PATIENCE):
        while True:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                return
            except IndexError:
                state = ""  # read mid-update; look again
            if state in ("Z", "X"):
                return
            await anyio.sleep(0.02)


def reopen(store: Path) -> graphmem.Memory:
    """Open the store read-write: fails with StoreLocked while a server still holds it."""
    return graphmem.open(store, engine=ENGINE, embedder=graphmem.HashEmbedder())


def assert_released(store: Path, *names: str) -> None:
    """No server left its socket or its lock behind, and ``names`` were written."""
    assert not (store / "mcp.sock").exists(), "the share socket was left behind"
    try:
        mem = reopen(store)
    except StoreLocked as exc:
        raise AssertionError(f"the store is still locked after the server exited: {exc}") from None
    try:
        missing = [n for n in names if mem.get_entity(n) is None]
        assert not missing, f"acknowledged writes lost: {missing}"
    finally:
        mem.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_with_stdin_open_stops_the_holder_and_a_follower_takes_over(tmp_path: Path, signum: int):
    store = tmp_path / "store"
    pid_a, pid_b = tmp_path / "a.pid", tmp_path / "b.pid"

    async def main():
        async with mcp_session(store, embedder="hash", pidfile=pid_a) as a:
            await call(a, "create_entities", entities=[entity("from-a")])  # a holds the store
            async with mcp_session(store, embedder="hash", pidfile=pid_b) as b:
                await call(b, "create_entities", entities=[entity("from-b")])  # through a's socket
                os.kill(int(pid_a.read_text()), signum)  # a's client keeps its stdin open
                await exited(int(pid_a.read_text()))
                assert_released(store, "from-a", "from-b")
                # b takes the store over at its next call and serves on a new socket.
                graph = await call(b, "read_graph")
                assert {e["name"] for e in graph["entities"]} == {"from-a", "from-b"}
                assert (store / "mcp.sock").exists()
                with pytest.raises(StoreLocked):
                    reopen(store)
            await exited(int(pid_b.read_text()))
            assert_released(store, "from-a", "from-b")

    anyio.run(main)
    log = (tmp_path / "store-server.log").read_text()
    assert f"stopped by signal {int(signum)}" in log
    assert log.count("holding the store") == 2


def test_the_sdk_session_close_stops_the_server(tmp_path: Path):
    store = tmp_path / "store"
    pidfile = tmp_path / "server.pid"

    async def main():
        async with mcp_session(store, embedder="hash", pidfile=pidfile) as s:
            await call(s, "create_entities", entities=[entity("kept", "an observation")])
            await call(s, "semantic_search", query="observation")  # the vector index is loaded and dirty
            assert (store / "mcp.sock").exists()
        # The client closed stdin and waited for the exit (escalating to
        # SIGTERM after 2 s and SIGKILL after 4 s: a SIGKILL leaves the socket).
        await exited(int(pidfile.read_text()))

    anyio.run(main)
    assert_released(store, "kept")
    with reopen(store) as mem:  # the skipped index save is caught up at the next search
        assert [h.name for h in mem.search("observation", k=1)] == ["kept"]


def test_stdin_eof_answers_what_was_sent_and_stops(tmp_path: Path):
    """The client writes its requests and closes stdin at once: each is still
    answered (on stdout, which it keeps reading) and applied, then the server exits 0."""
    store = tmp_path / "store"
    command, args = server_command(store, embedder="hash")
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ] + [
        {"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call", "params": {
            "name": "create_entities", "arguments": {"entities": [entity(f"e{i}-{j}") for j in range(50)]}}}
        for i in range(4)
    ]  # fmt: skip
    with open(tmp_path / "server.log", "w") as errlog:
        proc = subprocess.Popen([command, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog)
        # Started (the patience is for the stop): the handshake's answer is back.
        proc.stdin.write((json.dumps(lines[0]) + "\n").encode())
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        out, _ = proc.communicate("".join(json.dumps(m) + "\n" for m in lines[1:]).encode(), timeout=PATIENCE)
    assert proc.returncode == 0, (tmp_path / "server.log").read_text()
    answers = {m["id"]: m for m in [first, *map(json.loads, out.decode().splitlines())]}
    assert sorted(answers) == [1, 10, 11, 12, 13]
    for i in range(4):
        assert not answers[10 + i]["result"].get("isError"), answers[10 + i]
    assert_released(store, *(f"e{i}-{j}" for i in range(4) for j in range(50)))


def test_calls_in_flight_at_sigterm_are_finished_answered_and_durable(tmp_path: Path):
    """Eight writes sent at once queue on the writer lock; SIGTERM after the
    first answer. Every request the server had read is completed, answered and
    in the store after the exit. A request still unread in the pipe when the
    signal came (eight requests of ~12 KB outgrow one 64 KiB read, and on a
    loaded machine the reader may not have come round again) is not read: its
    call ends with the connection, and none of it may be in the store."""
    from mcp.shared.exceptions import MCPError

    store = tmp_path / "store"
    pidfile = tmp_path / "server.pid"
    answered_after_signal: list[int] = []
    unanswered: list[int] = []
    signalled = anyio.Event()

    async def main():
        async with mcp_session(store, embedder="hash", pidfile=pidfile) as s:
            await call(s, "create_entities", entities=[entity("first")])

            async def write(i: int) -> None:
                try:
                    result = await call(s, "create_entities",
                                        entities=[entity(f"w{i}-{j}", "x y z") for j in range(200)])  # fmt: skip
                except MCPError as exc:
                    assert "Connection closed" in str(exc), exc
                    unanswered.append(i)
                    return
                assert len(result["entities"]) == 200
                if signalled.is_set():
                    answered_after_signal.append(i)
                else:
                    os.kill(int(pidfile.read_text()), signal.SIGTERM)
                    signalled.set()

            async with anyio.create_task_group() as tg:
                for i in range(8):
                    tg.start_soon(write, i)
            await exited(int(pidfile.read_text()))

    anyio.run(main)
    assert signalled.is_set() and answered_after_signal, "no call was in flight when the signal arrived"
    answered = [i for i in range(8) if i not in unanswered]
    assert_released(store, "first", *(f"w{i}-{j}" for i in answered for j in range(200)))
    mem = reopen(store)
    try:
        applied = [f"w{i}-{j}" for i in unanswered for j in range(200) if mem.get_entity(f"w{i}-{j}") is not None]
    finally:
        mem.close()
    assert not applied, f"writes applied but never answered: {applied[:5]}..."


def test_the_exit_status_names_the_signal(tmp_path: Path):
    """A host that sent SIGINT sees 128 + 2, as from a process the signal ended."""
    store = tmp_path / "store"
    command, args = server_command(store, embedder="hash")
    with subprocess.Popen([command, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:  # fmt: skip
        try:
            proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
                + "\n").encode())  # fmt: skip
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["id"] == 1  # serving, stdin still open
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=PATIENCE) == 128 + signal.SIGINT
        finally:
            proc.kill()
    assert_released(store)


def test_the_holder_hangs_up_on_a_silent_peer_and_does_not_wait_for_it(tmp_path: Path):
    """A peer connected to the share socket that never sends its request
    (a hung or hostile local process) must not hold the holder's close:
    it is hung up on (a real follower would retry at the next holder)."""
    import socket
    import threading

    from graphmem.mcp.share import Shared

    store = tmp_path / "store"
    shared = Shared(store, lambda: graphmem.open(store, engine=ENGINE, embedder=graphmem.HashEmbedder()))
    shared.start()
    assert shared.holds
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(str(store / "mcp.sock"))
    silent.sendall(b'{"op": "tool", "name": "read_gr')  # half a request, then nothing
    try:
        # The grace (120 s) is what close() would give a call in progress; the
        # silent peer has none, so it must not be waited for.
        closer = threading.Thread(target=lambda: shared._holder.close(grace=120.0, save_index=False))
        closer.start()
        closer.join(timeout=PATIENCE)
        assert not closer.is_alive(), "close() waited for a peer that never sent its request"
        silent.settimeout(PATIENCE)
        try:
            assert silent.recv(1) == b""  # hung up on, no answer
        except ConnectionResetError:
            pass  # closed while still in the listen backlog, before the acceptor took it: hung up on too
    finally:
        silent.close()
    assert_released(store)
