"""The cluster URL carries the password (issue 16, item 5): where commands take
it from, and that output shows it redacted. No server is needed: each CLI
case fails on the URL's scheme before connecting, and the message names the
scheme, which says which source was read. `graphmem cluster up` itself is
tested against a real cluster in tests/test_cluster.py."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from graphmem.cli.main import cli
from graphmem.backends.cluster.cli import cluster_url, read_url_file, write_url_file
from graphmem.backends.cluster.router import parse_url, redact_url
from graphmem.errors import InvalidInput, UnsafePath

# What a password in a URL may be made of (token_urlsafe, or percent-escaped text).
_PASSWORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%!$&'()*+;=",
                    min_size=1, max_size=40)  # fmt: skip
_USER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=10)
_PORTS = st.lists(st.integers(min_value=1, max_value=65535), min_size=1, max_size=4)


@given(user=_USER, password=_PASSWORD, ports=_PORTS)
def test_redacted_url_keeps_everything_but_the_password(user, password, ports):
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    url = f"redis+cluster://{user}:{password}@{hosts}"
    shown = redact_url(url)
    assert shown == f"redis+cluster://{user}:***@{hosts}"
    redacted, original = parse_url(shown), parse_url(url)
    assert (redacted.nodes, redacted.username) == (original.nodes, original.username)
    assert original.password == unquote(password) and "password" not in repr(original)  # nor its repr


def test_url_without_a_password_is_unchanged():
    assert redact_url("redis+cluster://127.0.0.1:7000") == "redis+cluster://127.0.0.1:7000"
    assert redact_url("redis+cluster://admin@127.0.0.1:7000") == "redis+cluster://admin@127.0.0.1:7000"


def _url_file(folder: Path, url: str, mode: int = 0o600) -> Path:
    path = folder / "url"
    path.write_text(url + "\n", encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_url_file_is_read_and_must_be_owner_only(tmp_path):
    url = "redis+cluster://:pw@127.0.0.1:7000"
    assert read_url_file(_url_file(tmp_path, url)) == url
    for mode in (0o644, 0o640, 0o604, 0o620, 0o602):
        with pytest.raises(UnsafePath, match="chmod 600"):
            read_url_file(_url_file(tmp_path, url, mode))
    with pytest.raises(InvalidInput, match="does not exist"):
        read_url_file(tmp_path / "missing")
    with pytest.raises(InvalidInput, match="is empty"):
        read_url_file(_url_file(tmp_path, ""))
    (tmp_path / "link").symlink_to(_url_file(tmp_path, url))
    with pytest.raises(InvalidInput):  # a symlink is not followed: its target's mode is not what was checked
        read_url_file(tmp_path / "link")


def test_written_url_file_is_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        write_url_file(tmp_path / "url", "redis+cluster://:pw@127.0.0.1:7000")
        write_url_file(tmp_path / "url", "redis+cluster://:pw2@127.0.0.1:7000")  # replaced: the same cluster's URL
    finally:
        os.umask(old)
    assert (tmp_path / "url").stat().st_mode & 0o777 == 0o600
    assert read_url_file(tmp_path / "url") == "redis+cluster://:pw2@127.0.0.1:7000"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["url"]


def test_which_source_wins(tmp_path):
    from_file = _url_file(tmp_path, "redis+cluster://:f@127.0.0.1:1")
    assert cluster_url(tmp_path, None, from_file) == "redis+cluster://:f@127.0.0.1:1"
    # The environment variable arrives as `url`: an explicit --url-file wins over it ...
    assert cluster_url(tmp_path, "redis+cluster://:e@127.0.0.1:2", from_file) == "redis+cluster://:f@127.0.0.1:1"
    # ... but --url and --url-file both on the command line is ambiguous.
    with pytest.raises(InvalidInput, match="not both"):
        cluster_url(tmp_path, "redis+cluster://:a@127.0.0.1:3", from_file, url_from_argv=True)
    assert cluster_url(tmp_path, "redis+cluster://:e@127.0.0.1:2", None) == "redis+cluster://:e@127.0.0.1:2"


def _export(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["cluster", "export", str(tmp_path / "out.jsonl"), "--dir",
                                    str(tmp_path / "no-cluster"), *args], env=env)  # fmt: skip


def test_cli_reads_the_url_from_the_environment(tmp_path):
    result = _export(tmp_path, env={"GRAPHMEM_CLUSTER_URL": "fromenv://x"})
    assert result.exit_code == 1 and "got 'fromenv'" in result.stderr


def test_cli_reads_the_url_from_a_file_before_the_environment(tmp_path):
    path = _url_file(tmp_path, "fromfile://x")
    result = _export(tmp_path, "--url-file", str(path), env={"GRAPHMEM_CLUSTER_URL": "fromenv://x"})
    assert result.exit_code == 1 and "got 'fromfile'" in result.stderr


def test_cli_refuses_a_url_file_others_may_read(tmp_path):
    path = _url_file(tmp_path, "redis+cluster://:hunter2@127.0.0.1:1", 0o644)
    result = _export(tmp_path, "--url-file", str(path))
    assert result.exit_code == 1 and "others may read the password" in result.stderr
    assert "hunter2" not in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_cli_refuses_url_and_url_file_together(tmp_path):
    path = _url_file(tmp_path, "redis+cluster://:a@127.0.0.1:1")
    result = _export(tmp_path, "--url-file", str(path), "--url", "redis+cluster://:b@127.0.0.1:1")
    assert result.exit_code == 1 and "not both" in result.stderr


def test_help_names_the_safe_sources():
    for command in (["cluster", "--help"], ["cluster", "export", "--help"], ["cluster", "import", "--help"]):
        text = " ".join(CliRunner().invoke(cli, command).output.split())
        assert "GRAPHMEM_CLUSTER_URL" in text and "--url-file" in text, command
    up = " ".join(CliRunner().invoke(cli, ["cluster", "up", "--help"]).output.split())
    assert "--show-password" in up and "--url-file" in up
