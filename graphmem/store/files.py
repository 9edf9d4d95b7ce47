"""How a store sits on disk: which names make a store directory, and the
permissions of everything graphmem creates in it.

A new store's directory is created ``0700`` and each file graphmem writes in
it ``0600``, whatever the process umask (:func:`make_dir`,
:func:`private_opener`). ``graphmem.open(..., mode=0o750)`` widens the
directory deliberately; files then get the directory's bits without execute
(``0640``). An existing store keeps the modes it has: files graphmem writes
into it later take its directory's bits the same way, so nothing new is ever
wider than the directory around it.

The engine (kuzu / LadybugDB) creates its own files (``graph.db``, its
write-ahead log) with the process umask. Changing the umask around the
engine's calls is not an option: the umask is process-wide, so another thread
creating a file or folder at that moment would get the wrong mode. The
directory is the guard instead: at ``0700`` no other user can reach a file in
it by any name, whatever its bits; graphmem also narrows the engine's files
to the file mode at each read-write open (:func:`narrow`), so their bits say
the same thing.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import InvalidInput, UnsafePath
from ..validate import check_int_range

__all__ = [
    "MANIFEST",
    "DATABASE_FILE",
    "LOCK_FILE",
    "MCP_TOKEN_FILE",
    "DEFAULT_DIR_MODE",
    "check_mode",
    "file_mode_of",
    "dir_mode_of",
    "make_dir",
    "private_opener",
    "create_private",
    "open_creating",
    "narrow",
    "store_root_of",
    "is_store",
    "fsync_dir",
    "read_secret",
    "write_secret",
    "fingerprint",
    "MEMORY_SCRATCH_PREFIX",
    "SCRATCH_SHM_MIN_FREE",
    "memory_scratch",
]

MANIFEST = "graphmem.json"
DATABASE_FILE = "graph.db"
LOCK_FILE = "graphmem.lock"
MCP_TOKEN_FILE = "graphmem.mcp-token"
"""The bearer token of ``graphmem mcp --http`` when none is given. It may be
written before the store is created (the server makes it, then opens the
store), so a new store may be created in a folder holding only it."""
DEFAULT_DIR_MODE = 0o700


def check_mode(mode: object) -> int:
    """``mode`` as a directory mode, or :class:`InvalidInput`.

    The owner needs ``rwx``. A group or other triad with execute but not read
    is refused: it would let that class open the store's files by their
    (fixed, well-known) names without listing the folder, and the engine's
    own files follow the umask, so they could be readable that way.
    """
    mode = check_int_range(mode, "mode", 0, 0o777, expected="a permission mode such as 0o700 or 0o750")
    if mode & 0o700 != 0o700:
        raise InvalidInput(f"mode {mode:#o} must give the owner rwx (0o700) on the store directory")
    for shift, who in ((3, "group"), (0, "other")):
        triad = (mode >> shift) & 0o7
        if triad & 0o1 and not triad & 0o4:
            raise InvalidInput(
                f"mode {mode:#o} lets {who} reach files by name without listing the folder; "
                f"give {who} r-x (e.g. 0o750) or nothing"
            )
    return mode


def file_mode_of(dir_mode: int) -> int:
    """The mode of files in a directory of mode ``dir_mode``: its bits without execute."""
    return dir_mode & 0o666


def dir_mode_of(path: Path) -> int:
    """The permission bits of an existing directory."""
    return stat.S_IMODE(os.stat(path).st_mode)


def make_dir(path: Path, mode: int, *, parents: bool = False) -> None:
    """Create ``path`` (or take it over if it exists and is empty) with exactly ``mode``.

    ``mkdir`` applies the umask, which can only narrow ``mode``; the chmod
    after it sets the exact bits. So the folder is never wider than ``mode``,
    not even for an instant. Parents (with ``parents``) get the usual mode:
    they are not part of the store.
    """
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not path.is_dir():
            raise
    os.chmod(path, mode)


def private_opener(mode: int) -> Callable[[str, int], int]:
    """An ``opener`` for :func:`open` that creates the file with ``mode``
    exactly, umask or not (a file that already exists is set to it too)."""

    def opener(name: str, flags: int) -> int:
        fd = os.open(name, flags, mode)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
                os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        return fd

    return opener


def create_private(path: Path, mode: int) -> None:
    """Create (or truncate) ``path`` with exactly ``mode``, for a library that
    writes the file itself by name (hnswlib's ``save_index`` keeps the mode of
    a file that exists)."""
    os.close(private_opener(mode)(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC))


def open_creating(path: Path, flags: int, mode: int) -> int:
    """``os.open(path, flags)``, creating the file with exactly ``mode`` if it
    is missing; an existing file keeps its mode."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return os.open(path, flags)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it
    except BaseException:
        os.close(fd)
        raise
    return fd


def narrow(folder: Path, prefix: str, mode: int, *, exact: bool = False) -> None:
    """Take away any bit beyond ``mode`` from the files in ``folder`` whose
    name starts with ``prefix`` (the engine's files, made with the umask);
    with ``exact`` (a store just created), set them to ``mode``."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            current = stat.S_IMODE(info.st_mode)
            wanted = mode if exact else current & mode
            if stat.S_ISREG(info.st_mode) and current != wanted:
                os.chmod(entry.path, wanted)
        except FileNotFoundError:
            continue  # the engine removed its log between listing and chmod


def store_root_of(path: str | os.PathLike[str]) -> Path | None:
    """The graphmem store directory that ``path`` is in (or is), else ``None``.

    ``path`` is resolved first (symlinks, ``..``), so a link or a relative
    path that leads into a store is caught. The path itself need not exist.

    A store directory holds graphmem's manifest, or (a store whose manifest
    was lost) the database file beside graphmem's lock file. A ``graph.db``
    alone does not make one: that name is common enough that a home folder
    holding one must not refuse every export below it.
    """
    resolved = Path(os.path.realpath(os.path.expanduser(os.fspath(path))))
    for folder in (resolved, *resolved.parents):
        try:
            if (folder / MANIFEST).exists() or ((folder / DATABASE_FILE).exists() and (folder / LOCK_FILE).exists()):
                return folder
        except OSError:
            continue  # a folder we may not look into is not one we can tell about
    return None


def is_store(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a graphmem store directory (it holds graphmem's manifest).

    Examples
    --------
    >>> import tempfile, graphmem
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     before = graphmem.is_store(folder + "/s")
    ...     graphmem.open(folder + "/s", embedder=None).close()
    ...     before, graphmem.is_store(folder + "/s")
    (False, True)
    """
    try:
        return (Path(os.path.expanduser(os.fspath(path))) / MANIFEST).is_file()
    except OSError:
        return False


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (fsync of the folder itself)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_secret(path: Path, what: str, *, secret: str = "secret") -> str:
    """The first line of ``path``, a file holding a secret (``what`` names
    the file and ``secret`` what it holds, in errors), refusing a file that
    group or others may read or write.

    Opened without following a symlink, and the mode checked on the file
    descriptor read, not on whatever the name points to later.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise InvalidInput(f"the {what} {path} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, encoding="utf-8") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"the {what} {path} is not a regular file")
        if info.st_mode & 0o077:
            raise UnsafePath(
                f"the {what} {path} is mode {stat.S_IMODE(info.st_mode):#o}: others may read the {secret} in it; "
                f"chmod 600 {path}"
            )
        text = fh.readline().strip()
    if not text:
        raise InvalidInput(f"the {what} {path} is empty")
    return text


def write_secret(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` as a new owner-only (0600) file, renamed
    into place durably (an existing file is replaced)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exactly, whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        from .space import full_disk, storage_full  # pyarrow: only on this path

        if full_disk(exc):  # typed as every other file graphmem writes; the old file stays
            raise storage_full(exc, str(path)) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def fingerprint(path: Path) -> tuple[tuple[str, int, int, int, int], ...]:
    """What the engine's files look like now: (name, inode, size, mtime, ctime in ns) of
    ``graph.db`` and its write-ahead log, sorted by name.

    Every commit appends to the log (it grows) and every checkpoint rewrites
    the database file (new times) and empties the log, so two equal
    fingerprints taken while a store was open read-only, with the store
    closed in between, mean no write landed in between. A read-only open
    changes neither file. Costs one directory listing and two ``stat`` calls.

    Examples
    --------
    >>> import tempfile, graphmem
    >>> folder = Path(tempfile.mkdtemp()) / "store"
    >>> with graphmem.open(folder, embedder=None) as mem:
    ...     _ = mem.add_entity("Ada")
    >>> before = fingerprint(folder)
    >>> with graphmem.open(folder, embedder=None, read_only=True) as mem:
    ...     mem.get_entity("Ada").name
    'Ada'
    >>> fingerprint(folder) == before
    True
    """
    out = []
    for entry in os.scandir(path):
        if entry.name.startswith(DATABASE_FILE):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # a writer's checkpoint removed its log after the listing: the fingerprint differs anyway
            out.append((entry.name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(sorted(out))


MEMORY_SCRATCH_PREFIX = "graphmem-memory-"
"""Name prefix of the private folders :func:`memory_scratch` makes (then the pid)."""


SCRATCH_SHM_MIN_FREE = 1 << 30
"""``/dev/shm`` holds an in-memory store's files only with this much free: a
container's is often 64 MiB, which a store would fill long before its buffer
pool (then the temporary directory, on disk, holds them)."""


def memory_scratch() -> Path:
    """A new private folder (0700) in memory where the OS has one with room
    (``/dev/shm``, :data:`SCRATCH_SHM_MIN_FREE`), else in the temporary
    directory, for an engine's files that are to live no longer than the
    handle. Folders that earlier processes of this user made and left behind
    (killed before they could remove them) are removed first."""
    parent = Path(tempfile.gettempdir())
    shm = Path("/dev/shm")
    try:
        if os.access(shm, os.W_OK | os.X_OK):
            stats = os.statvfs(shm)
            if stats.f_bavail * stats.f_frsize >= SCRATCH_SHM_MIN_FREE:
                parent = shm
    except OSError:  # no /dev/shm here
        pass
    _sweep_scratch(parent)
    return Path(tempfile.mkdtemp(prefix=f"{MEMORY_SCRATCH_PREFIX}{os.getpid()}-", dir=parent))


def _sweep_scratch(parent: Path) -> None:
    """Remove this user's scratch folders in ``parent`` whose process is gone."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(MEMORY_SCRATCH_PREFIX):
            continue
        pid = entry.name[len(MEMORY_SCRATCH_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:  # PermissionError: alive, another user's; or the entry went away
            continue
