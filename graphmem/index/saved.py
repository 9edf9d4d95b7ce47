"""The derived graph state saved beside the store, so a reopen maps it instead of rebuilding it.

Rebuilding :class:`~graphmem.index.derived.DerivedState` from the store at
1M entities / 5M relations takes seconds (id-range scans, Arrow conversion,
the CSR sort). Saved as plain ``.npy`` arrays, it opens with
``np.load(mmap_mode="c")`` and nothing per row: the key/id map starts on the
saved keys and their hash index (:class:`~graphmem.index.ids.SavedKeys`),
the bitmaps are deserialised whole; only the expired keys (history, usually
few) become a dictionary.

Layout (in ``<store>/derived/``, folder ``0700``, files ``0600`` like the rest
of the store):

- ``<save id>/``: one folder per save holding the ``.npy`` arrays;
- ``manifest.json``: format version, engine, schema version, the database
  file's device and inode (a database restored over it is another store), the save id,
  ``store_seq`` (the write time the saved state reflects, µs since the
  epoch: every later write is stamped after it, see ``Memory``), counts,
  type names and bitmap labels, each array's dtype, shape and CRC-32, and a
  CRC-32 of the manifest itself;
- ``clean``: holds the save id while no write has happened since that save;
- ``relations``: present once a statement naming the relation table ran
  after the save (so a catch-up must read the relations; without it the
  catch-up skips that scan, 2.4 s at 5M relations).

The text index (:mod:`.text`, what ``find_text`` and the MCP server's
``search_nodes`` answer from) is saved in the same folder as ``text_*.npy``
when it was built, under the manifest's ``text`` section: its own write time
``seq``, its namespaces and each array's dtype, shape and CRC-32. It is read
(in one read per array, checked) only when first asked for
(:meth:`SavedGraph.load_text`), and caught up from its ``seq`` like the graph.
A save while it is at most :data:`TEXT_CARRIED_AT_MOST` rows away from
the files it was read from (or was never asked for) links those files into
the new folder, keeping their ``seq``, rather than writing them again.

A save writes a new folder, syncs it, then replaces the manifest (temp,
fsync, rename, fsync of the folder) and only then writes ``clean``; the old
folder is removed last. A crash at any point leaves the previous manifest
naming its complete folder, or the new one naming its complete folder.

Saves happen at ``flush()`` and ``close()`` only, never on a timer: a save
writes the whole state (~150 MB at 1M entities / 5M relations, plus hashing
the keys when entities changed), while what a crash between saves costs is a
catch-up by write time (1-2 s at that size, measured in
benchmarks/RESULTS.md), and a deletion or user Cypher since the save is rare.

The first write after a save removes ``clean`` before the statement runs
(:meth:`SavedGraph.mark_written`, called by the store for every write
transaction): so "``clean`` names the manifest's save" means the saved state
is exactly the store. Without it, the state is loaded and caught up by write
time (``Derived``); a write through user Cypher or a delete for good (no
write times) removes the manifest itself, so an open before the next save
rebuilds.

Over 500 lines: one format's save, load and checks (:class:`SavedGraph`, ~400 lines),
which must agree field by field.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyroaring import BitMap

from ..algorithms.csr import Adjacency
from ..errors import StorageFull
from ..store import files, space
from ..store.store import Store
from .adjacency import EdgeIndex, EdgeView
from .bitmaps import LabelBitmaps
from .columns import arrow_strings
from .ids import IdMap, SavedKeys, strings_of
from .text import TextIndex

__all__ = ["SavedGraph", "Loaded", "FORMAT_VERSION"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FOLDER = "derived"
MANIFEST_FILE = "manifest.json"
CLEAN_FILE = "clean"
RELATIONS_FILE = "relations"

TEXT_PREFIX = "text_"
TEXT_CARRIED_AT_MOST = 1000
"""Rows an index read from the files may have taken since (writes, its
catch-up) and still be saved by linking those files, keeping their write
time: the next load catches them up (milliseconds), where writing the index
again costs ~0.3 s of CPU at 100k entities."""
_INTERVAL_FIELDS = ("keys", "codes", "start", "end")
_SAVE_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class Loaded:
    """What :meth:`SavedGraph.load` found: the parts of a state, the write
    time they reflect, and whether no write happened since (``clean``)."""

    parts: dict[str, Any]
    seq: int
    clean: bool
    counts: dict[str, int]
    relations_written: bool
    """A statement naming the relation table ran after the save."""


@dataclass(frozen=True, slots=True)
class _SavedText:
    """The text index of a save: its folder and the manifest's ``text`` section."""

    folder: Path
    meta: dict[str, Any]


def _crc(arr: np.ndarray) -> int:
    """CRC-32 of an array's bytes (C order)."""
    if arr.size == 0:
        return 0
    return zlib.crc32(np.ascontiguousarray(arr).data.cast("B"))


def _manifest_crc(manifest: dict[str, Any]) -> int:
    return zlib.crc32(json.dumps(manifest, sort_keys=True).encode("utf-8"))


def _strings(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A list of str as (int64 offsets, uint8 UTF-8 bytes)."""
    arr = arrow_strings(values, large=True)
    _, offsets, data = arr.buffers()
    off = np.frombuffer(offsets, np.int64)[: len(values) + 1].copy() if len(values) else np.zeros(1, np.int64)
    blob = np.frombuffer(data, np.uint8)[: int(off[-1])].copy() if data is not None else np.empty(0, np.uint8)
    return off, blob


def _bitmaps(maps: LabelBitmaps) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels, and their bitmaps in the portable roaring format, concatenated (offsets, bytes)."""
    labels = maps.labels()
    blobs = [maps.members(label).serialize() for label in labels]
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    return labels, offsets, np.frombuffer(b"".join(blobs), np.uint8).copy()


def _unbitmaps(labels: list[str], offsets: np.ndarray, blob: np.ndarray) -> LabelBitmaps:
    new = LabelBitmaps()
    raw = blob.tobytes()
    for i, label in enumerate(labels):
        new._maps[label] = BitMap.deserialize(raw[int(offsets[i]) : int(offsets[i + 1])])
    return new


class SavedGraph:
    """The saved derived state of one store: save, load, invalidate.

    ``loads`` counts the states taken from the files (what the tests check
    to tell a load from a rebuild).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.folder: Path | None = None if store.path is None else store.path / FOLDER
        self.loads = 0
        # Whether ``clean`` is on disk: the first write after that must remove
        # it before it runs.
        self._claims_clean = self.folder is not None and (self.folder / CLEAN_FILE).exists()
        self._relations_marked = self.folder is not None and (self.folder / RELATIONS_FILE).exists()
        self.current = False
        """The saved files are the store and the state in memory (loaded clean or
        just saved, no write since): a save has nothing to write."""
        self.current_seq: int | None = None
        """The ``store_seq`` of the files :attr:`current` speaks of (last loaded or saved)."""
        self._text: _SavedText | None = None
        """The saved text index the loaded manifest names (read on first use)."""
        self._text_given: tuple[TextIndex, int, _SavedText] | None = None
        """The index :meth:`load_text` returned, its version then, and its files."""
        self._text_version_read = 0
        """The carried index's version when read (see :meth:`_text_part`)."""
        self.text_loads = 0
        """Text indexes taken from the files (what the tests check to tell a load from a rebuild)."""

    @property
    def claims_clean(self) -> bool:
        """Whether ``clean`` is on disk: a load would map the files and catch
        up nothing (tens of milliseconds at 1M entities, not seconds)."""
        return self._claims_clean

    # -- invalidation -----------------------------------------------------------------

    def mark_written(self) -> None:
        """Before a write runs: the saved state no longer is the store, so drop
        ``clean`` (durably: the write may commit right after). Costs one
        unlink and one folder fsync on the first write after a save, nothing after."""
        self.current = False
        if not self._claims_clean or self.folder is None:
            return
        (self.folder / CLEAN_FILE).unlink(missing_ok=True)
        files.fsync_dir(self.folder)
        self._claims_clean = False

    def mark_relations(self) -> None:
        """Before a statement that may write relations runs: record (durably)
        that a catch-up must read them. One file and one folder fsync on the
        first such statement after a save, nothing after."""
        if self._relations_marked or self.folder is None or not self.folder.is_dir():
            return
        mode = self._store.file_mode
        fd = os.open(self.folder / RELATIONS_FILE, os.O_WRONLY | os.O_CREAT, mode)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        files.fsync_dir(self.folder)
        self._relations_marked = True

    def forget(self) -> None:
        """Before a write through user Cypher or a delete for good: neither
        leaves a write time, so no catch-up could find it; drop the manifest
        (durably: the change may commit right after; a load then rebuilds, a
        save writes a new one)."""
        if self.folder is None or self._store.read_only:
            return
        self.mark_written()
        self.drop_text()
        manifest = self.folder / MANIFEST_FILE
        if manifest.exists():
            manifest.unlink()
            files.fsync_dir(self.folder)

    # -- loading ------------------------------------------------------------------------

    def saved_seq(self) -> int | None:
        """The ``store_seq`` of the saved state, if its manifest is intact."""
        manifest, _ = self._manifest()
        return None if manifest is None else int(manifest["store_seq"])

    def _manifest(self) -> tuple[dict[str, Any] | None, str]:
        if self.folder is None:
            return None, "in-memory store"
        path = self.folder / MANIFEST_FILE
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, "no saved state"
        except (OSError, ValueError) as exc:
            return None, f"unreadable manifest: {exc}"
        if not isinstance(manifest, dict):
            return None, "manifest is not a JSON object"
        if manifest.pop("manifest_crc", None) != _manifest_crc(manifest):
            return None, "manifest checksum mismatch"
        expected = {"format": FORMAT_VERSION, "engine": self._store.engine_name,
                    "schema_version": self._store.schema_version, "database": self._database_identity()}  # fmt: skip
        for key, value in expected.items():
            if manifest.get(key) != value:
                return None, f"manifest {key} is {manifest.get(key)!r}, expected {value!r}"
        seq = manifest.get("store_seq")
        # A check of the file read, not of an argument: a bad value means
        # "rebuild" (a reason returned), never an InvalidInput to a caller.
        if isinstance(seq, bool) or not isinstance(seq, int):
            return None, "manifest has no store_seq"
        save_id = manifest.get("save_id")
        if not isinstance(save_id, str) or not _SAVE_ID.fullmatch(save_id):
            return None, "manifest has no valid save_id"  # it names a folder: nothing but hex
        return manifest, ""

    def _database_identity(self) -> list[int] | None:
        """The database file's device and inode: a store whose database was
        replaced (a backup restored over it) is not the one the state was saved from."""
        if self._store.path is None:
            return None
        try:
            info = os.stat(self._store.path / files.DATABASE_FILE)
        except OSError:
            return None
        return [info.st_dev, info.st_ino]

    def load(self) -> tuple[Loaded | None, str]:
        """The saved parts if the manifest and every array check out, else ``None`` and why."""
        manifest, why = self._manifest()
        if manifest is None or self.folder is None:
            return None, why
        sub = self.folder / manifest["save_id"]
        arrays: dict[str, np.ndarray] = {}
        try:
            for name, meta in manifest["arrays"].items():
                arr = np.load(sub / f"{name}.npy", mmap_mode="c", allow_pickle=False)
                # mmap_mode "c" (a private mapping) rather than "r": numba compiles a
                # separate specialisation for read-only arrays (seconds, at the first
                # path query). The arrays are never written (snapshots are immutable),
                # so no page is ever copied.
                arr = np.asarray(arr)
                if arr.dtype.str != meta["dtype"] or list(arr.shape) != meta["shape"]:
                    return None, f"array {name} has the wrong dtype or shape"
                if _crc(arr) != meta["crc"]:
                    return None, f"array {name} checksum mismatch"
                arrays[name] = arr
            parts = self._assemble(manifest, arrays)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            return None, f"unreadable saved state: {exc}"
        clean = False
        try:
            clean = (self.folder / CLEAN_FILE).read_text(encoding="utf-8") == manifest["save_id"]
        except (OSError, ValueError):
            clean = False
        self.current = clean
        self.current_seq = int(manifest["store_seq"])
        self.loads += 1
        text = manifest.get("text")
        self._text = _SavedText(sub, text) if isinstance(text, dict) else None
        self._text_given = None
        related = (self.folder / RELATIONS_FILE).exists()
        return Loaded(parts, int(manifest["store_seq"]), clean, dict(manifest["counts"]), related), ""

    def load_text(self) -> tuple[TextIndex | None, int, str]:
        """The saved text index and the write time it reflects, if the loaded
        manifest names one and its arrays check out; else ``None`` and why."""
        saved = self._text
        if saved is None:
            return None, 0, "no saved text index"
        try:
            seq = saved.meta["seq"]
            if isinstance(seq, bool) or not isinstance(seq, int):  # the file's data, as above: rebuild
                raise ValueError("no seq")
            arrays: dict[str, np.ndarray] = {}
            for name, meta in saved.meta["arrays"].items():
                # One read per array (not a mapping): its text is decoded whole anyway.
                arr = np.load(saved.folder / f"{TEXT_PREFIX}{name}.npy", allow_pickle=False)
                if arr.dtype.str != meta["dtype"] or list(arr.shape) != meta["shape"]:
                    raise ValueError(f"array {name} has the wrong dtype or shape")
                if _crc(arr) != meta["crc"]:
                    raise ValueError(f"array {name} checksum mismatch")
                arrays[name] = arr
            index = TextIndex.from_arrays([str(n) for n in saved.meta["namespaces"]], arrays)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            self.drop_text()
            return None, 0, f"unreadable saved text index: {exc}"
        self._text_given = (index, index.version, saved)
        self.text_loads += 1
        return index, seq, ""

    def drop_text(self) -> None:
        """Forget the saved text index (rebuilt, or no longer the store's): the
        next save writes the one in memory, if any."""
        self._text = None
        self._text_given = None

    def text_unsaved(self, text: TextIndex | None) -> bool:
        """Whether a save must write ``text`` (the index in memory): none is
        saved, or it was not read from the saved one, or it is more than
        :data:`TEXT_CARRIED_AT_MOST` rows away from it."""
        if text is None:
            return False
        return self._text is None or self._carried_from(text) is None

    def _carried_from(self, text: TextIndex) -> tuple[int, _SavedText] | None:
        """For an index read from the saved files and few rows away from them
        (:data:`TEXT_CARRIED_AT_MOST`): its version when read, and those files."""
        given = self._text_given
        if given is None or given[0] is not text or text.version - given[1] > TEXT_CARRIED_AT_MOST:
            return None
        return given[1], given[2]

    @staticmethod
    def _assemble(manifest: dict[str, Any], a: dict[str, np.ndarray]) -> dict[str, Any]:
        ids = a["ids"]
        n = ids.shape[0]
        if not (a["key_offsets"].shape[0] == n + 1 and a["key_hashes"].shape[0] == a["key_rows"].shape[0] == n):
            raise ValueError("the saved keys, ids and hashes differ in length")
        if n and (int(a["key_offsets"][-1]) != a["key_bytes"].shape[0] or np.any(np.diff(ids) <= 0)):
            raise ValueError("the saved keys or ids are out of order")
        keys = SavedKeys(ids, a["key_offsets"], a["key_bytes"], a["key_hashes"], a["key_rows"])
        id_map = IdMap.from_saved(keys, floor=int(manifest["next_id"]))
        expired_keys = strings_of(a["expired_offsets"], a["expired_bytes"])
        expired = dict(zip(expired_keys, a["expired_ids"].tolist()))
        edges = EdgeIndex()
        edges.type_names = list(manifest["type_names"])
        edges._codes = {n: i for i, n in enumerate(edges.type_names)}
        adj = Adjacency(*(a[f"adj_{f}"] for f in Adjacency._fields))
        view = manifest["edges"]
        edges._view = EdgeView(adj, int(view["nodes"]), 0, int(view["relations"]))
        from .derived import Bounds, Intervals  # derived imports this module

        bounds = Bounds(Intervals(*(a[f"bounds_e_{f}"] for f in _INTERVAL_FIELDS)),
                        Intervals(*(a[f"bounds_r_{f}"] for f in _INTERVAL_FIELDS)))  # fmt: skip
        labels = manifest["labels"]
        return {
            "ids": id_map,
            "expired": expired,
            "edges": edges,
            "bounds": bounds,
            "entity_types": _unbitmaps(labels["entity_types"], a["etype_offsets"], a["etype_bytes"]),
            "namespaces": _unbitmaps(labels["namespaces"], a["ns_offsets"], a["ns_bytes"]),
            "relation_types": _unbitmaps(labels["relation_types"], a["rtype_offsets"], a["rtype_bytes"]),
        }

    # -- saving -------------------------------------------------------------------------

    def save(self, state: Any, seq: int) -> bool:
        """Write ``state`` (a ``DerivedState`` reflecting every write up to
        ``seq``) and make it the saved one. The caller holds the store's writer
        lock, so no write lands meanwhile. Returns whether it wrote."""
        if self.folder is None or self._store.read_only:
            return False
        arrays, manifest = self._arrays(state, seq)
        manifest["engine"] = self._store.engine_name
        manifest["schema_version"] = self._store.schema_version
        manifest["database"] = self._database_identity()
        text_arrays, linked = self._text_part(state.text, seq, manifest)
        need = sum(a.nbytes for a in arrays.values()) + sum(a.nbytes for a in text_arrays.values())
        if not self.folder.is_dir():
            files.make_dir(self.folder, self._store.dir_mode)
        free = space.free_bytes(self.folder)
        if free < need + space.COMMIT_MARGIN:
            raise StorageFull(
                f"the disk is full: the saved graph state needs {need} bytes and {free} are free; it was not "
                "saved (it is derived data: the store has everything). Free space and flush again"
            )
        save_id = manifest["save_id"]
        sub = self.folder / save_id
        try:
            self._write(sub, arrays, manifest, text_arrays, linked)
        except OSError as exc:
            shutil.rmtree(sub, ignore_errors=True)
            (self.folder / (MANIFEST_FILE + ".tmp")).unlink(missing_ok=True)
            if isinstance(exc, StorageFull):
                raise
            if space.full_disk(exc):
                raise space.storage_full(exc, f"the saved graph state {sub}") from None
            raise
        self._claims_clean = self.current = True
        self.current_seq = int(manifest["store_seq"])
        self._relations_marked = False
        text = manifest.get("text")
        self._text = _SavedText(sub, text) if text is not None else None
        self._text_given = None
        if state.text is not None and self._text is not None:
            # Linked files keep their write time: the rows since count from when they were read.
            since = state.text.version if text_arrays else self._text_version_read
            self._text_given = (state.text, since, self._text)
        self.clean_leftovers(keep=save_id)
        return True

    def _text_part(self, text: TextIndex | None, seq: int,
                   manifest: dict[str, Any]) -> tuple[dict[str, np.ndarray], Path | None]:  # fmt: skip
        """The text index's arrays to write (and ``manifest["text"]`` set), or
        the folder whose text files to link (an index read from them and at most
        :data:`TEXT_CARRIED_AT_MOST` rows away, or never asked for)."""
        near = None if text is None else self._carried_from(text)
        self._text_version_read = 0 if near is None else near[0]
        carried = near[1] if near is not None else (self._text if text is None else None)
        if carried is not None:
            manifest["text"] = carried.meta
            return {}, carried.folder
        if text is None:
            return {}, None
        names, arrays = text.to_arrays()
        manifest["text"] = {"seq": int(seq), "namespaces": names,
                            "arrays": {name: {"dtype": a.dtype.str, "shape": list(a.shape), "crc": _crc(a)}
                                       for name, a in arrays.items()}}  # fmt: skip
        return arrays, None

    def _write(self, sub: Path, arrays: dict[str, np.ndarray], manifest: dict[str, Any],
               text_arrays: dict[str, np.ndarray], linked: Path | None) -> None:  # fmt: skip
        folder = sub.parent
        mode = self._store.file_mode
        files.make_dir(sub, self._store.dir_mode)
        named = {**arrays, **{TEXT_PREFIX + name: arr for name, arr in text_arrays.items()}}
        for name, arr in named.items():
            with open(sub / f"{name}.npy", "wb", opener=files.private_opener(mode)) as fh:
                # The .npy header, then the bytes through Python's file write:
                # numpy's own writer reports a full disk as an OSError without errno.
                np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(arr))
                if arr.size:
                    fh.write(np.ascontiguousarray(arr).data.cast("B"))
                fh.flush()
                os.fsync(fh.fileno())
        if linked is not None:
            try:
                for name in manifest["text"]["arrays"]:
                    # Durable already (synced when first written); the folder sync below records the link.
                    os.link(linked / f"{TEXT_PREFIX}{name}.npy", sub / f"{TEXT_PREFIX}{name}.npy")
            except OSError as exc:
                if space.full_disk(exc):
                    raise
                # Gone or damaged meanwhile: saved without it (the next use rebuilds it).
                log.info("the saved text index was not carried over: %s", exc)
                del manifest["text"]
        files.fsync_dir(sub)
        manifest["manifest_crc"] = _manifest_crc(manifest)
        text = json.dumps(manifest)
        tmp = folder / (MANIFEST_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8", opener=files.private_opener(mode)) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # The claim goes first: until the new manifest is in place and the new
        # claim written, no ``clean`` may name a save that is not the store.
        (folder / CLEAN_FILE).unlink(missing_ok=True)
        os.replace(tmp, folder / MANIFEST_FILE)
        # Only now that the new manifest reflects every relation: before, a
        # crash would leave the old one without its mark.
        (folder / RELATIONS_FILE).unlink(missing_ok=True)
        files.fsync_dir(folder)
        ctmp = folder / (CLEAN_FILE + ".tmp")
        with open(ctmp, "w", encoding="utf-8", opener=files.private_opener(mode)) as fh:
            fh.write(manifest["save_id"])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(ctmp, folder / CLEAN_FILE)
        files.fsync_dir(folder)

    def clean_leftovers(self, *, keep: str | None = None) -> None:
        """Remove save folders and temporary files the manifest does not name
        (left by an older save or a crash mid-save)."""
        if self.folder is None or self._store.read_only or not self.folder.is_dir():
            return
        if keep is None:
            manifest, _ = self._manifest()
            keep = None if manifest is None else str(manifest.get("save_id"))
        for entry in self.folder.iterdir():
            if entry.is_dir() and entry.name != keep:
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)

    @staticmethod
    def _arrays(state: Any, seq: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        id_map: IdMap = state.ids
        # Relation-only writes leave the keys as opened: no rebuild of their hash index.
        saved_keys = id_map.unchanged_saved() or SavedKeys.build(*id_map.to_arrays())
        arrays["key_offsets"], arrays["key_bytes"], arrays["ids"] = saved_keys.offsets, saved_keys.blob, saved_keys.ids
        arrays["key_hashes"], arrays["key_rows"] = saved_keys.hashes, saved_keys.rows
        expired = state.expired
        arrays["expired_offsets"], arrays["expired_bytes"] = _strings(list(expired))
        arrays["expired_ids"] = np.fromiter(expired.values(), np.int64, len(expired))
        labels = {}
        for field, short in (("entity_types", "etype"), ("namespaces", "ns"), ("relation_types", "rtype")):
            labels[field], arrays[f"{short}_offsets"], arrays[f"{short}_bytes"] = _bitmaps(getattr(state, field))
        edges: EdgeIndex = state.edges
        view = edges.view  # one consistent state (the caller holds the writer lock)
        for field, arr in view.adj._asdict().items():
            arrays[f"adj_{field}"] = np.ascontiguousarray(arr)
        bounds = state.bounds
        for side, iv in (("e", bounds.entities), ("r", bounds.relations)):
            for field, arr in zip(_INTERVAL_FIELDS, iv):
                arrays[f"bounds_{side}_{field}"] = np.ascontiguousarray(arr)
        manifest = {
            "format": FORMAT_VERSION,
            "save_id": secrets.token_hex(8),
            "store_seq": int(seq),
            "next_id": id_map.next_id,
            "counts": {"entities": len(id_map), "expired": len(expired), "relations": view.relations},
            "type_names": list(edges.type_names),
            "edges": {"nodes": view.nodes, "relations": view.relations},
            "labels": labels,
            "arrays": {name: {"dtype": arr.dtype.str, "shape": list(arr.shape), "crc": _crc(arr)}
                       for name, arr in arrays.items()},
        }  # fmt: skip
        return arrays, manifest
