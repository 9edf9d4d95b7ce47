"""Keeping the vector index in step with the store, in memory and on disk.

Files (in ``<store>/vectors/``): ``hnsw.bin``, the hnswlib graph; the int8
rows with their inverse norms and scales (dense by entity id) and the sorted
live labels (``rows.npy``, ``norms.npy``, ``scales.npy``, ``labels.npy``);
and ``manifest.json``: format version, dim, metric, M, ef_construction,
ef_search, element count, the graph file's size and CRC-32, each rows file's
size and CRC-32, the database file's device and inode, ``store_seq``, the
highest entity ``updated_at`` (µs since the epoch) the saved files reflect,
and a CRC-32 of the manifest itself. All are written atomically (temp file,
fsync, rename, fsync of the folder), the manifest last.

Loading (lazily, at the first search, under the store's writer lock so no
commit lands mid-load): when the manifest, the graph and the rows files check
out and the database file is the one they were saved beside, the rows are
mapped copy-on-write and the store is read only for the ids and write times
of current entities and for the vectors written after ``store_seq``
(:meth:`VectorStore._load_saved_rows`). Otherwise the int8 vectors are read
from the store, the source of truth, and the saved graph is used only if its
manifest and checksum match. Either way the entities written after
``store_seq``, and labels of entities that no longer exist, are queued for the
index's background worker: the first search does not wait for them (it scans
the queued ones exactly), and a missing or damaged file queues every vector
the same way, so neither a bulk load nor a lost file makes a search wait for
a full rebuild. The graph is loaded with the capacity it needs
(``elements``), not the one it had.

Saving (``flush``, ``close``) first drains the queue, so the saved graph holds
every committed vector and ``store_seq`` means what it says; a close with
``save_index=False`` or a crash leaves the queue to the next open's catch-up. ``updated_at`` is the store's
write sequence: the write clock is strictly increasing and starts above the
saved ``store_seq`` when the store is opened (:meth:`VectorStore.saved_seq`),
so "written after the save" is exactly ``updated_at > store_seq`` even when
the wall clock steps back. (A 5-second margin for such steps used to re-check
every vector of a bulk load through hnswlib's ``get_items``: 11.8 s at 100k.)
A missing, stale, truncated or corrupt file is rebuilt from the store; it never
crashes the process and never returns ghosts of deleted entities.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np
import pyarrow as pa

from pyroaring import BitMap

from ..errors import CorruptStore, StorageFull
from ..store import files, space
from ..store.store import Store
from .columns import float_numpy, int_numpy
from .vectors import HnswParams, VectorIndex

__all__ = ["VectorStore", "FORMAT_VERSION"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
INDEX_FILE = "hnsw.bin"
MANIFEST_FILE = "manifest.json"
ROW_FILES = ("rows.npy", "norms.npy", "scales.npy", "labels.npy")
"""The int8 rows, inverse norms, scales (dense by id) and the sorted live
labels, saved with the graph: a load maps them instead of reading every
embedding from the store (the engine's buffer pool kept ~800 B per vector of
those pages, and the rows were a second resident copy; see _load_saved_rows)."""


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_us(ts: Any) -> int:
    """A naive UTC datetime as µs since the epoch, exactly (through a float
    timestamp it could come out 1 µs low, below the row's own ``updated_at``)."""
    if ts is None:
        return 0
    us: int = (ts.replace(tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1)
    return us


def from_epoch_us(us: int) -> datetime | None:
    """The naive UTC datetime of ``us`` µs since the epoch; ``None`` beyond ``datetime``'s range."""
    try:
        return (_EPOCH + timedelta(microseconds=us)).replace(tzinfo=None)
    except OverflowError:
        return None


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    """A timestamp column as int64 microseconds, a null as 0."""
    return int_numpy(column.cast(pa.timestamp("us")).cast(pa.int64()), null=0)


def _blob_matrix(column: pa.Array, dim: int, ids: np.ndarray) -> np.ndarray:
    """The int8 rows of a binary column, read from its Arrow buffers in one go
    (converting 1M blobs to Python bytes first took ~9 s)."""
    n = len(column)
    if n == 0:
        return np.zeros((0, dim), np.int8)
    offsets_type: type[np.signedinteger[Any]]
    if pa.types.is_large_binary(column.type):
        offsets_type = np.int64
    elif pa.types.is_binary(column.type):
        offsets_type = np.int32
    else:
        raise CorruptStore(f"embeddings are stored as {column.type}, not as binary")
    _, offsets_buf, data_buf = column.buffers()
    offsets = np.frombuffer(offsets_buf, offsets_type)[column.offset : column.offset + n + 1]
    lengths = np.diff(offsets)
    bad = np.flatnonzero(lengths != dim)
    if bad.size:
        raise CorruptStore(
            f"entities {ids[bad[:5]].tolist()} have embeddings of the wrong length (expected {dim} bytes); "
            "re-add them with add_entity(..., embedding=...)"
        )
    data = np.frombuffer(data_buf, np.int8)
    # A read-only view of the Arrow buffer, not a copy: the index copies the
    # rows into its own matrix, and a third 384 B per vector at load time was
    # left behind in the allocators' free lists (resident for good).
    return data[offsets[0] : offsets[0] + n * dim].reshape(n, dim)


def _database_identity(store: Store) -> list[int] | None:
    """The database file's device and inode (as the saved graph state records
    them): rows saved beside one database are not taken for a restored one."""
    if store.path is None:
        return None
    try:
        info = os.stat(store.path / files.DATABASE_FILE)
    except OSError:
        return None
    return [info.st_dev, info.st_ino]


def _crc32(path: Path) -> int:
    """The CRC-32 of a file's bytes, read through a mapping in one call: no
    copy into Python buffers. Measured on a 168 MB ``hnsw.bin`` (100k 384-d
    vectors, page cache warm): 48 ms mapped against 130 ms in 4 MiB reads,
    at 1M a reopen's largest step after hnswlib's own load. A mapped file
    that shrank would fault (SIGBUS); these files never shrink in place: a
    save writes a temporary file and renames it over the old one, whose
    mapping keeps the old bytes."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return 0  # an empty file cannot be mapped
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return zlib.crc32(mapped)


def _manifest_crc(manifest: dict[str, Any]) -> int:
    return zlib.crc32(json.dumps(manifest, sort_keys=True).encode("utf-8"))


class VectorStore:
    """Owner of one store's :class:`VectorIndex`: load, catch up, save."""

    def __init__(self, store: Store, params: HnswParams | None = None) -> None:
        self._store = store
        self.params = params or HnswParams()
        self.folder: Path | None = None if store.path is None else store.path / "vectors"
        self._index: VectorIndex | None = None
        self.last_load: dict[str, Any] = {}

    @property
    def loaded(self) -> bool:
        return self._index is not None

    def get(self, dim: int | None) -> VectorIndex | None:
        """The index, loading it on first use; ``None`` while the store has no vectors."""
        index = self._index
        if index is not None or dim is None:
            return index
        with self._store.exclusive():
            if self._index is None:
                self._index = self._load(dim)
                # The load's Arrow tables (every vector of the store) are freed by
                # now; Arrow's allocator keeps freed pages for reuse unless told
                # (measured: ~450 B per vector resident after the first search).
                pa.default_memory_pool().release_unused()
            return self._index

    def peek(self) -> VectorIndex | None:
        """The index if it is loaded (writers update a loaded index only)."""
        return self._index

    # -- loading -------------------------------------------------------------------

    def _scan(self, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        table = self._store.execute_arrow_by_id("entity_vectors", next_id=self._store.entity_id_end())
        ids = int_numpy(table.column("id")).astype(np.int64, copy=False)
        q8 = _blob_matrix(table.column("embedding").combine_chunks(), dim, ids)
        scales = float_numpy(table.column("scale")).astype(np.float32, copy=False)
        return ids, q8, scales, _micros(table.column("updated_at"))

    def _load(self, dim: int) -> VectorIndex:  # noqa: C901 - one linear recovery story
        self._clean_temp_files()
        mapped = self._load_saved_rows(dim)
        if mapped is not None:
            return mapped
        ids, q8, scales, updated = self._scan(dim)
        hnsw, manifest, why = self._open_saved(dim, len(ids))
        if hnsw is not None and manifest is not None:
            index = VectorIndex(dim, self.params, hnsw=hnsw)
            index.set_rows(ids, q8, scales)
            changed = ids[updated > int(manifest["store_seq"])]
            queued = index.queue_reconcile(changed)
            self.last_load = {"source": "file", "caught_up": queued, "vectors": len(ids), "rows": "store"}
        else:
            index = VectorIndex(dim, self.params)
            if len(ids):
                index.reserve(len(ids), int(ids.max()))  # sized once: the worker adds them all
            index.upsert(ids, q8, scales)
            self.last_load = {"source": "rebuilt", "reason": why, "vectors": len(ids)}
            if why != "no saved index":
                log.warning("graphmem: vector index at %s rebuilt from the store (%s)", self.folder, why)
        index.seq = int(updated.max()) if len(updated) else 0
        # A saved graph without usable rows files (an older graphmem, another
        # database file) is saved again at the next flush or close, rows included.
        index.dirty = self.last_load["source"] == "rebuilt" or bool(self.last_load.get("caught_up")) or (
            self.last_load.get("rows") == "store" and not self._store.read_only)
        return index

    def _load_saved_rows(self, dim: int) -> VectorIndex | None:
        """The index from its saved graph and saved rows, caught up with the
        store, or ``None`` when the rows files are missing, damaged, from an
        older graphmem or from another database file (then :meth:`_load`
        reads every vector from the store, as before).

        The store is read for ids and write times only (``entity_vector_stamps``,
        ~20 B per entity of the engine's pages) and for the vectors written
        after the save; a label saved but no longer current is dropped, one
        written since is read again, and :meth:`VectorIndex.queue_reconcile`
        brings the graph in line as after a full read. The rows stay mapped
        copy-on-write: only rows a search scores (or a write changes) become
        resident.
        """
        folder = self.folder
        if folder is None or not (folder / MANIFEST_FILE).exists():
            return None
        try:
            manifest, _ = self._read_manifest(folder / MANIFEST_FILE)
        except (OSError, ValueError):
            return None
        if manifest is None or not self._rows_listed(manifest):
            return None
        # The files' checksums are taken in a thread while this one waits on
        # the engine: zlib and the engine both let go of the GIL, so the two
        # overlap (at 1M, ~2 GB to check and ~1M rows to read).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphmem-crc") as pool:
            sums = pool.submit(lambda: [_crc32(folder / name) for name in (INDEX_FILE, *ROW_FILES)])
            table = self._store.execute_arrow_by_id("entity_vector_stamps", next_id=self._store.entity_id_end())
            try:
                index_crc, *row_crcs = sums.result()
            except OSError:
                return None
        if [entry[1] for entry in (manifest["rows"][name] for name in ROW_FILES)] != row_crcs:
            return None
        ids = int_numpy(table.column("id")).astype(np.int64, copy=False)
        updated = _micros(table.column("updated_at"))
        checked = manifest
        hnsw, manifest, _ = self._open_saved(dim, len(ids), checksum=index_crc)
        # _open_saved reads the manifest again: the checksums above are of the
        # files it names unless it changed meanwhile (only a save could change
        # it, and the writer lock held here excludes one); if it did, the store
        # is read instead.
        if hnsw is None or manifest != checked:
            return None
        try:
            rows, norms, scales = (np.load(folder / name, mmap_mode="c", allow_pickle=False)
                                   for name in ROW_FILES[:3])  # fmt: skip
            labels = np.load(folder / ROW_FILES[3], allow_pickle=False)
        except (OSError, ValueError) as exc:
            log.warning("graphmem: saved vector rows at %s unreadable (%s); reading the store", self.folder, exc)
            return None
        if (rows.dtype != np.int8 or rows.ndim != 2 or rows.shape[1] != dim or norms.shape != rows.shape[:1]
                or scales.shape != rows.shape[:1] or labels.dtype != np.int64
                or (labels.size and (int(labels.min()) < 0 or int(labels.max()) >= rows.shape[0]))):
            return None
        seq = int(manifest["store_seq"])
        changed = ids[updated > seq]
        live = labels[np.isin(labels, ids) & ~np.isin(labels, changed)]
        index = VectorIndex(dim, self.params, hnsw=hnsw)
        index.install_rows(rows, norms, scales, BitMap(live))
        if changed.size:
            since = self._store.execute_arrow("entity_vectors_since", {"seq": from_epoch_us(seq)})
            new_ids = int_numpy(since.column("id")).astype(np.int64, copy=False)
            q8 = _blob_matrix(since.column("embedding").combine_chunks(), dim, new_ids)
            index.set_rows(new_ids, q8, float_numpy(since.column("scale")).astype(np.float32, copy=False))
        queued = index.queue_reconcile(changed)
        self.last_load = {"source": "file", "caught_up": queued, "vectors": len(index), "rows": "file"}
        index.seq = max(seq, int(updated.max()) if len(updated) else 0)
        index.dirty = bool(queued)
        return index

    def _rows_listed(self, manifest: dict[str, Any]) -> bool:
        """Whether the manifest lists the rows files of this database, and they
        have the sizes it records (their CRC-32 is the caller's to compare)."""
        saved = manifest.get("rows")
        if not isinstance(saved, dict) or manifest.get("database") != _database_identity(self._store):
            return False
        folder = self.folder
        if folder is None:
            return False
        for name in ROW_FILES:
            entry = saved.get(name)
            try:
                if not isinstance(entry, list) or len(entry) != 2 or (folder / name).stat().st_size != entry[0]:
                    return False
            except OSError:
                return False
        return True

    def saved_seq(self) -> int | None:
        """The ``store_seq`` of the saved index (µs), if its manifest is intact.

        The store's write clock starts above it (``Memory`` reads it on open),
        so every write after the save has a later ``updated_at`` whatever the
        wall clock does, and the catch-up finds it by comparison alone.
        """
        if self.folder is None:
            return None
        try:
            manifest, _ = self._read_manifest(self.folder / MANIFEST_FILE)
        except (OSError, ValueError):
            return None
        seq = None if manifest is None else manifest.get("store_seq")
        return seq if isinstance(seq, int) and not isinstance(seq, bool) else None

    @staticmethod
    def _read_manifest(manifest_path: Path) -> tuple[dict[str, Any] | None, str]:
        """The manifest without its own checksum, or ``None`` and why it is unusable."""
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            return None, "manifest is not a JSON object"
        # The manifest's own checksum: a flipped digit in store_seq would
        # otherwise shrink the catch-up and keep stale vectors.
        if manifest.pop("manifest_crc", None) != _manifest_crc(manifest):
            return None, "manifest checksum mismatch (corrupt or from an older graphmem)"
        return manifest, ""

    def _open_saved(self, dim: int, count: int, *,
                    checksum: int | None = None) -> tuple[hnswlib.Index | None, dict[str, Any] | None, str]:  # fmt: skip
        """The saved graph, loaded with room for ``count`` vectors, and its
        manifest; or ``None`` and why not. ``checksum``: the graph file's
        CRC-32 if the caller has taken it."""
        if self.folder is None:
            return None, None, "no saved index"
        manifest_path, index_path = self.folder / MANIFEST_FILE, self.folder / INDEX_FILE
        if not manifest_path.exists() or not index_path.exists():
            return None, None, "no saved index"
        try:
            manifest, why = self._read_manifest(manifest_path)
            if manifest is None:
                return None, None, why
            expected = {"format": FORMAT_VERSION, "dim": dim, "metric": "cosine", "M": self.params.M,
                        "ef_construction": self.params.ef_construction}  # fmt: skip
            for key, value in expected.items():
                if manifest.get(key) != value:
                    return None, None, f"manifest {key} is {manifest.get(key)!r}, expected {value!r}"
            if index_path.stat().st_size != manifest["size"]:
                return None, None, "index file size differs from the manifest (truncated?)"
            if (_crc32(index_path) if checksum is None else checksum) != manifest["checksum"]:
                return None, None, "index file checksum mismatch (corrupt)"
            hnsw = hnswlib.Index(space="cosine", dim=dim)
            # The capacity it needs, not the one it was saved with: an older
            # graphmem doubled capacity and saved it (376 MB for 105k vectors).
            # Below the file's element count hnswlib takes its header's instead,
            # so older manifests (no "elements") load as before.
            need = max(int(manifest.get("elements", 0)), count, 1024)
            hnsw.load_index(str(index_path), max_elements=need, allow_replace_deleted=True)
            return hnsw, manifest, ""
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            return None, None, f"unreadable saved index: {exc}"

    def _clean_temp_files(self) -> None:
        if self.folder is None or not self.folder.exists():
            return
        for leftover in self.folder.glob("*.tmp"):
            leftover.unlink(missing_ok=True)

    # -- writing -------------------------------------------------------------------

    def save(self, *, seq_below: int | None = None) -> bool:
        """Write the index and its manifest atomically if it changed; returns whether it wrote.

        ``seq_below`` (µs) caps the saved ``store_seq`` below it: entities written
        at or after it are read again by the next load's catch-up (those still
        waiting for their vector, :mod:`graphmem.memory.backlog`)."""
        index = self._index
        if index is None or self.folder is None or not index.dirty or self._store.read_only:
            return False
        if not self.folder.is_dir():
            files.make_dir(self.folder, self._store.dir_mode)  # as private as the store around it
        index_path, manifest_path = self.folder / INDEX_FILE, self.folder / MANIFEST_FILE
        tmp = index_path.with_name(INDEX_FILE + ".tmp")
        mtmp = manifest_path.with_name(MANIFEST_FILE + ".tmp")
        index.drain()  # the caller holds the store's writer lock: nothing is queued after this
        with index.exclusive():
            try:
                self._write_files(index, tmp, mtmp, index_path, manifest_path, seq_below)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                mtmp.unlink(missing_ok=True)
                self._clean_temp_files()
                if isinstance(exc, StorageFull):
                    raise
                if space.full_disk(exc):
                    raise space.storage_full(exc, f"the vector index {index_path}") from None
                raise
            index.dirty = False
        return True

    def _write_files(self, index: VectorIndex, tmp: Path, mtmp: Path, index_path: Path, manifest_path: Path,
                     seq_below: int | None = None) -> None:  # fmt: skip
        """Write the index and its manifest to temporary files, check them, then put both in place.

        Measured: hnswlib's ``save_index`` on a full disk writes a short file
        and reports nothing, so the file's length is checked against what
        hnswlib says it must be before its checksum is taken; a short file
        raises :class:`StorageFull` and the saved index in place is kept.
        """
        mode = self._store.file_mode
        folder = index_path.parent  # self.folder, known to be set by the caller
        arrays = index.saved_rows()
        expected = int(index.hnsw.index_file_size())
        free = space.free_bytes(folder)
        if free < expected + sum(a.nbytes for a in arrays) + space.COMMIT_MARGIN:
            raise StorageFull(
                f"the disk is full: the vector index needs {expected} bytes and {free} are free; "
                "it was not saved (it is derived data: the store has every vector). Free space and flush again"
            )
        files.create_private(tmp, mode)  # hnswlib writes it by name and keeps this mode
        index.hnsw.save_index(str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        size = tmp.stat().st_size
        if size != expected:
            raise StorageFull(
                f"the disk is full: the vector index file was written short ({size} of {expected} bytes); "
                "it was not saved (it is derived data: the store has every vector). Free space and flush again"
            )
        rows = self._write_rows(arrays, mode)
        manifest = {
            "format": FORMAT_VERSION,
            "dim": index.dim,
            "metric": "cosine",
            "M": self.params.M,
            "ef_construction": self.params.ef_construction,
            "ef_search": self.params.ef_search,
            "count": len(index),
            "max_elements": index.hnsw.get_max_elements(),
            "elements": index.hnsw.element_count,
            "size": size,
            "checksum": _crc32(tmp),
            "store_seq": index.seq if seq_below is None else min(index.seq, seq_below - 1),
            "saved_at": datetime.now(timezone.utc).isoformat(),
            "rows": rows,
            "database": _database_identity(self._store),
        }
        manifest["manifest_crc"] = _manifest_crc(manifest)
        text = json.dumps(manifest, indent=2)
        # The manifest is written (and synced) before anything is replaced, so
        # a full disk here leaves the previous index and manifest as they were.
        with open(mtmp, "w", encoding="utf-8", opener=files.private_opener(mode)) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mtmp.stat().st_size != len(text.encode("utf-8")):
            raise StorageFull("the disk is full: the vector index manifest was written short; it was not saved")
        # Manifest last: until it names the new file's checksum, a crash
        # leaves a mismatch that the next load repairs by rebuilding.
        manifest_path.unlink(missing_ok=True)
        os.replace(tmp, index_path)
        for name in ROW_FILES:
            os.replace(folder / (name + ".tmp"), folder / name)
        os.replace(mtmp, manifest_path)
        files.fsync_dir(folder)

    def _write_rows(self, arrays: tuple[np.ndarray, ...], mode: int) -> dict[str, list[int]]:
        """Write the rows arrays to ``<name>.tmp`` files (synced, checked for a
        short write); returns each one's [size, CRC-32] for the manifest."""
        folder = self.folder
        if folder is None:
            return {}
        out: dict[str, list[int]] = {}
        for name, array in zip(ROW_FILES, arrays):
            tmp = folder / (name + ".tmp")
            with open(tmp, "wb", opener=files.private_opener(mode)) as fh:
                np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
                size = fh.tell()
            if tmp.stat().st_size != size:
                raise StorageFull(f"the disk is full: {tmp.name} was written short; the vector index was not saved")
            out[name] = [size, _crc32(tmp)]
        return out

    def close(self) -> None:
        """Stop the index's worker without draining it or waiting for its batch under
        way (the queue is in the store: the next open catches it up, and a quick
        exit stays quick). Call :meth:`save` first to keep it."""
        index = self._index
        if index is not None:
            index.close(wait=False)

    def forget(self) -> None:
        """After a write through user Cypher: drop the index and distrust the saved
        file (Cypher may have changed embeddings without touching ``updated_at``)."""
        self.close()
        self._index = None
        if self.folder is not None:
            (self.folder / MANIFEST_FILE).unlink(missing_ok=True)
