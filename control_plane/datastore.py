"""Where the control plane keeps its own columnar data: cost partitions, allocation results, their summaries.

A local directory (the embedded default, `COSTORY_DATA_DIR`) or S3-compatible object storage
(`COSTORY_DATA_URL=s3://bucket/prefix`), both through pyarrow's filesystem layer, so writers, pyarrow datasets
and DuckDB scans over them do not care which. Objects are written once under fresh names and never modified in
place; which object is current is decided by a pointer in the database, switched in the transaction that
records the import or the computation (`billing.store`, `dimensions.results`). Object storage has no rename, and
needs none: several `serve` replicas on one database and one bucket see the same data, and a replica killed
mid-write leaves only an object nothing points at, collected later.
"""

from __future__ import annotations

import functools
import logging
import posixpath
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from control_plane.settings import Settings

log = logging.getLogger(__name__)

PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1}


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified: datetime
    size: int


class DataStore:
    """Keys are relative, `/`-separated (`costs/<tenant>/<datasource>/<month>.<partition>.parquet`); the store
    maps them under its root on its filesystem."""

    def __init__(self, filesystem: pafs.FileSystem, root: str, url: str):
        self.filesystem = filesystem
        self.root = root.rstrip("/")
        self.url = url
        """Where the data lives, for messages and logs (never carries credentials)."""

    @classmethod
    def local(cls, directory: Path) -> DataStore:
        root = str(Path(directory).resolve())
        return cls(pafs.LocalFileSystem(), root, root)

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, key: str) -> str:
        """The filesystem path of ``key`` (for pyarrow calls on ``self.filesystem``)."""
        return posixpath.join(self.root, key) if self.root else key

    def key(self, path: str) -> str:
        return path[len(self.root) + 1 :] if self.root else path

    # -- writing -----------------------------------------------------------------------------------------

    @contextmanager
    def parquet_writer(self, key: str, schema: pa.Schema, **options) -> Iterator[pq.ParquetWriter]:
        """A Parquet writer for a new object at ``key``. The object is complete when the block ends; on
        object storage it does not exist at all before that (one multipart upload, completed on close)."""
        self._make_parent(key)
        with pq.ParquetWriter(
            self.path(key), schema, filesystem=self.filesystem, **{**PARQUET_OPTIONS, **options}
        ) as writer:
            yield writer

    def write_table(self, key: str, table: pa.Table, **options) -> None:
        self._make_parent(key)
        pq.write_table(table, self.path(key), filesystem=self.filesystem, **{**PARQUET_OPTIONS, **options})

    def _make_parent(self, key: str) -> None:
        if self.is_local:
            self.filesystem.create_dir(posixpath.dirname(self.path(key)), recursive=True)

    # -- reading -----------------------------------------------------------------------------------------

    def dataset(
        self, keys: Iterable[str], schema: pa.Schema | None = None, *, dictionary_columns: Iterable[str] = ()
    ) -> ds.Dataset:
        """The objects as one dataset (scans push down column selection and row-group filters); the
        ``dictionary_columns`` are read dictionary-encoded, as Parquet stores them."""
        wanted = set(dictionary_columns)
        parquet = ds.ParquetFileFormat(read_options={"dictionary_columns": sorted(wanted)})
        if schema is not None and wanted:
            schema = pa.schema(
                [f.with_type(pa.dictionary(pa.int32(), f.type)) if f.name in wanted else f for f in schema]
            )
        return ds.dataset([self.path(key) for key in keys], schema=schema, format=parquet, filesystem=self.filesystem)

    def read_table(self, key: str, columns: list[str] | None = None) -> pa.Table | None:
        """The object's rows, or None when it is gone (replaced and collected since its pointer was read)."""
        try:
            return pq.read_table(self.path(key), columns=columns, filesystem=self.filesystem)
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self.filesystem.get_file_info(self.path(key)).type == pafs.FileType.File

    def list(self, prefix: str) -> list[StoredObject]:
        """Every object under ``prefix`` (a folder key), with when it was written."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        found = []
        for info in self.filesystem.get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            modified = info.mtime or datetime.fromtimestamp(0, UTC)
            found.append(StoredObject(self.key(info.path), modified.astimezone(UTC), info.size or 0))
        return found

    # -- removing ----------------------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        with suppress(FileNotFoundError):
            self.filesystem.delete_file(self.path(key))

    def remove(self, key: str) -> None:
        """Delete the object, or every object of the folder, that ``key`` names (nothing there: nothing to do)."""
        info = self.filesystem.get_file_info(self.path(key))
        if info.type == pafs.FileType.File:
            self.delete(key)
        elif info.type == pafs.FileType.Directory:
            self.delete_folder(key)

    def delete_folder(self, prefix: str) -> None:
        with suppress(FileNotFoundError):
            self.filesystem.delete_dir(self.path(prefix))


@dataclass
class Cleanup:
    """Objects or folders to remove once a database transaction has ended, one way or the other: what it
    replaced after it commits (nothing points at it any more), what it wrote after it rolls back (nothing ever
    will). A removal that fails is logged and left to the sweeps; the transaction's outcome stands."""

    store: DataStore
    on_commit: list[str] = field(default_factory=list)
    on_rollback: list[str] = field(default_factory=list)

    def committed(self, _session: Session) -> None:
        self._remove(self.on_commit)

    def rolled_back(self, _session: Session) -> None:
        self._remove(self.on_rollback)

    def _remove(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.store.remove(key)
            except OSError as error:
                log.warning("could not remove %s from %s: %s", key, self.store.url, error)
        self.on_commit.clear()
        self.on_rollback.clear()


def cleanup(session: Session, store: DataStore) -> Cleanup:
    """The session's `Cleanup` for ``store`` (made, and hooked to the session's transaction, on first use)."""
    slot = ("costory.cleanup", store.url)
    pending = session.info.get(slot)
    if pending is None:
        pending = session.info[slot] = Cleanup(store)
        sa.event.listen(session, "after_commit", pending.committed)
        sa.event.listen(session, "after_rollback", pending.rolled_back)
    return pending


def open_store(settings: Settings) -> DataStore:
    """The store the settings name: `data_url` (s3://bucket/prefix) when set, else the `data_dir` directory."""
    return _open(settings.data_url, str(settings.data_dir), settings.data_endpoint_url, settings.aws_region)


@functools.lru_cache(maxsize=16)
def _open(url: str | None, directory: str, endpoint_url: str | None, region: str) -> DataStore:
    if not url:
        return DataStore.local(Path(directory))
    parsed = urlparse(url)  # checked by the settings: s3://bucket/prefix
    options: dict[str, object] = {"region": region}
    if endpoint_url:
        endpoint = urlparse(endpoint_url)
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
    filesystem = pafs.S3FileSystem(**options)  # credentials: the default AWS chain (env, profile, instance role)
    root = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
    return DataStore(filesystem, root, f"s3://{root}")
