"""Frames read from a dataset file on demand, for datasets larger than memory.

A paper-size Atari dataset holds ~1.2M frames (33 GB raw) per game, so the frames of a
pretraining split cannot be loaded. ``StreamingFrames`` stands in for the in-memory frame array:
``frames[index]`` (an int array of any shape) returns the same uint8 array the loaded one would,
decompressing the HDF5 chunks it needs, optionally kept in a ``ChunkCache``, an LRU cache bounded
in bytes that several datasets may share. Compressed chunks are read with ``os.pread`` at the
offsets of the file's chunk index and inflated on worker threads (both release the GIL, so a
gather uses every worker) by zlib-ng, 3-8x faster than zlib on Atari frames (plain ``zlib`` where
the ``zlib-ng`` package is missing: the same bytes, slower); files with another filter pipeline
fall back to h5py reads.

``StreamingSampler`` is the ``Sampler`` on streamed frames. It draws exactly as the in-memory
sampler (same generator, same priorities, so the same batches for the same seed) and, after each
batch, draws the next one ahead with a copy of its generator and gathers its frames in a
background thread while the trainer works. The real draw at the next call decides: when it cut
the same windows (draws are uniform, or no priority changed in between) the prefetched frames are
returned, otherwise they are dropped and the frames gathered again (from the chunks loaded ahead
where the cache keeps chunks). Prefetching never changes a batch, only when its frames are read.

``frames_mode`` picks the in-memory path when the frames fit (``$XTRA_BENCH_FRAMES`` overrides:
``memory``, ``stream`` or ``auto``); ``$XTRA_BENCH_CACHE_BYTES`` sizes the default cache, which
keeps nothing. Streaming is chosen for frames that do not fit in memory, where a cache holds a
small share of them and uniform draws hit it about that often, while keeping chunks costs more
than such hits save: a kept chunk's memory cannot take the next one, which is inflated into
memory not recently touched instead (``benchmarks/streaming.py`` at paper size: 20-30% more
batches/s without a 2 GB cache that hit 4% of chunks, and 2 GB less resident). A cache pays for
datasets it mostly holds, or for draws concentrated on few rows.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.format import FRAME, SMALL_COLUMNS
from xtra_bench.data.sampler import Batch, Sampler, SamplerConfig
from xtra_bench.data.targets import Targets

FRAMES_ENV = "XTRA_BENCH_FRAMES"
CACHE_ENV = "XTRA_BENCH_CACHE_BYTES"
FRAMES_MODES = ("auto", "memory", "stream")
DEFAULT_CACHE_BYTES = 0
MEMORY_SHARE = 0.4
"""``auto`` loads the frames when they take at most this share of the machine's physical memory."""

_DEFLATE = 1  # HDF5's filter id of gzip (zlib streams)

try:  # the same zlib streams, inflated 3-8x faster, where the optional zlib-ng package is installed
    from zlib_ng import zlib_ng as _inflate_lib
except ImportError:  # plain zlib gives the same bytes
    import zlib as _inflate_lib


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(float(text))
    except ValueError:
        raise DatasetError(f"${name} must be a number of bytes, got {text!r}") from None
    if value < 0:
        raise DatasetError(f"${name} must be >= 0, got {text!r}")
    return value


def default_cache_bytes() -> int:
    """``$XTRA_BENCH_CACHE_BYTES`` or 0 (keep no chunk, see the module's notes)."""
    return _int_env(CACHE_ENV, DEFAULT_CACHE_BYTES)


def physical_memory() -> int:
    """Bytes of physical memory (0 where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def frame_bytes(dataset: Dataset) -> int:
    """Bytes of the view's frames once loaded."""
    rows = dataset.total_steps + len(dataset)
    return rows * int(np.prod(dataset.frame_shape, dtype=np.int64))


def frames_mode(datasets: Sequence[Dataset], mode: str | None = None, *, memory_budget: int | None = None) -> str:
    """Chooses "memory" or "stream" for datasets sampled together.

    Args:
        datasets: every dataset whose frames would be loaded side by side.
        mode: "memory", "stream" or "auto"; None reads ``$XTRA_BENCH_FRAMES`` (default "auto").
        memory_budget: bytes of frames "auto" loads (default: 40% of physical memory).

    Raises:
        DatasetError: an unknown mode.
    """
    mode = (mode or os.environ.get(FRAMES_ENV, "") or "auto").strip().lower()
    if mode not in FRAMES_MODES:
        raise DatasetError(f"frames mode {mode!r} (from ${FRAMES_ENV} or an argument) is not one of {', '.join(FRAMES_MODES)}")
    if mode != "auto":
        return mode
    budget = int(MEMORY_SHARE * physical_memory()) if memory_budget is None else memory_budget
    needed = sum(frame_bytes(d) for d in datasets)
    return "memory" if budget <= 0 or needed <= budget else "stream"


class ChunkCache:
    """An LRU cache of decompressed chunks, bounded in bytes, with the worker threads that fill it.

    Thread-safe; several ``StreamingFrames`` (e.g. every task of a split) may share one, so the
    bound holds for all of them together. A chunk requested by two threads at once is loaded once,
    unless the cache keeps nothing.

    Args:
        max_bytes: most bytes of decompressed chunks kept (default: ``default_cache_bytes()``, 0
            unless ``$XTRA_BENCH_CACHE_BYTES`` says); 0 keeps none (every gather decompresses what
            it needs).
        workers: threads that read and inflate chunks (default: the CPU count, at most 8).
    """

    def __init__(self, max_bytes: int | None = None, workers: int | None = None):
        self.max_bytes = default_cache_bytes() if max_bytes is None else int(max_bytes)
        if self.max_bytes < 0:
            raise DatasetError("the chunk cache size must be >= 0 bytes")
        self.workers = max(1, min(8, os.cpu_count() or 1) if workers is None else int(workers))
        self.hits = self.misses = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[Any, np.ndarray] = collections.OrderedDict()
        self._loading: dict[Any, threading.Event] = {}
        self._bytes = 0
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def _check_process(self) -> None:
        # A forked child has the parent's locks and cache but none of its threads: start afresh.
        if os.getpid() != self._pid:
            self._reset()

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def pool(self) -> concurrent.futures.ThreadPoolExecutor:
        self._check_process()
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="xtra-chunks")
            return self._pool

    def get(self, key: Any, load: Callable[[], np.ndarray]) -> np.ndarray:
        """The chunk of ``key``, from the cache or from ``load()`` (then kept, evicting the oldest)."""
        self._check_process()
        if self.max_bytes == 0:  # nothing is kept, so nothing is shared: skip the bookkeeping
            with self._lock:
                self.misses += 1
            return load()
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return self._entries[key]
                event = self._loading.get(key)
                if event is None:
                    event = self._loading[key] = threading.Event()
                    break
            event.wait()  # another thread loads it; take it from the cache (or load it if it did not fit)
        try:
            array = load()
        except BaseException:
            with self._lock:
                del self._loading[key]
                event.set()
            raise
        with self._lock:
            self.misses += 1
            if array.nbytes <= self.max_bytes:
                self._entries[key] = array
                self._bytes += array.nbytes
                while self._bytes > self.max_bytes:
                    _, old = self._entries.popitem(last=False)
                    self._bytes -= old.nbytes
            del self._loading[key]
            event.set()
        return array

    def put(self, key: Any, array: np.ndarray) -> np.ndarray:
        """Keeps ``array`` as the chunk of ``key`` (replacing a shorter prefix of it), evicting the oldest."""
        self._check_process()
        with self._lock:
            self.misses += 1
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if array.nbytes <= self.max_bytes:
                self._entries[key] = array
                self._bytes += array.nbytes
                while self._bytes > self.max_bytes:
                    _, evicted = self._entries.popitem(last=False)
                    self._bytes -= evicted.nbytes
        return array

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "chunks": len(self._entries), "bytes": self._bytes, "max_bytes": self.max_bytes}

    def close(self) -> None:
        if self._pool is not None and os.getpid() == self._pid:
            self._pool.shutdown(wait=True)
        self._pool = None


class _Speculation:
    def __init__(self, index: np.ndarray | None):
        self.index = index
        self.cancel = threading.Event()
        self.indexed = threading.Event()  # ``index`` is known
        self.done = threading.Event()
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None


class StreamingFrames:
    """The frames of some rows of a dataset file, gathered on demand through a ``ChunkCache``.

    Indexing with an int array (any shape, negative values count from the end) returns uint8
    ``[*index.shape, *frame_shape]``, equal to indexing the loaded frames; ints and slices work too.

    Args:
        path: a format-v1 dataset file.
        rows: the file rows this array holds, in order (default: every row); position i is file
            row ``rows[i]``.
        cache: where decompressed chunks are kept (default: a new one of ``default_cache_bytes()``).

    Raises:
        DatasetError: an unreadable file or a chunk that does not inflate to its size.
    """

    def __init__(self, path: Path, rows: np.ndarray | None = None, *, cache: ChunkCache | None = None):
        import h5py

        from xtra_bench.data.integrity import open_h5

        self.path = Path(path)
        self.cache = cache if cache is not None else ChunkCache()
        with open_h5(self.path) as h5:
            dset = h5[FRAME]
            num_rows, self.frame_shape = dset.shape[0], tuple(dset.shape[1:])
            self.dtype = dset.dtype
            chunks = dset.chunks
            plist = dset.id.get_create_plist()
            filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
            direct = (
                chunks is not None
                and tuple(chunks[1:]) == self.frame_shape
                and plist.get_layout() == h5py.h5d.CHUNKED
                and plist.get_external_count() == 0
                and not dset.is_virtual
                and filters in ([], [_DEFLATE])
            )
            self._chunk_rows = int(chunks[0]) if chunks is not None else 64
            self._deflate = filters == [_DEFLATE]
            self._table: dict[int, tuple[int, int, int]] | None = None
            if direct:
                table: dict[int, tuple[int, int, int]] = {}

                def record(info):
                    table[info.chunk_offset[0] // self._chunk_rows] = (info.byte_offset, info.size, info.filter_mask)

                dset.id.chunk_iter(record)
                self._table = table
        self._row_bytes = int(np.prod(self.frame_shape, dtype=np.int64)) * self.dtype.itemsize
        self._num_file_rows = num_rows
        self._rows = None
        if rows is not None:
            rows = np.asarray(rows, np.int64)
            if rows.size and (rows.min() < 0 or rows.max() >= num_rows):
                raise DatasetError(f"{self.path}: rows outside [0, {num_rows})")
            if not (len(rows) == num_rows and np.array_equal(rows, np.arange(num_rows))):
                self._rows = rows
        self._length = num_rows if self._rows is None else len(self._rows)
        self._key = (str(self.path.resolve()), os.stat(self.path).st_ino)
        self._fd_value: int | None = None  # one descriptor for every thread: pread has no shared offset
        self._spec_lock = threading.Lock()
        self._speculation: _Speculation | None = None
        self._prefetcher: concurrent.futures.ThreadPoolExecutor | None = None
        self._pid = os.getpid()

    # ---- array protocol ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return (self._length, *self.frame_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.frame_shape)

    @property
    def nbytes(self) -> int:
        """Bytes of these frames if they were loaded."""
        return self._length * self._row_bytes

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return f"StreamingFrames({str(self.path)!r}, shape={list(self.shape)}, chunk_rows={self._chunk_rows})"

    def __reduce__(self):
        # Threads, file handles and the cache do not travel: the copy opens the file again.
        rows = self._rows if self._rows is not None else None
        return (_reopen, (self.path, rows, self.cache.max_bytes, self.cache.workers))

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self[np.asarray([index])][0]
        if isinstance(index, slice):
            index = np.arange(*index.indices(self._length))
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (self._length,):
                raise IndexError(f"a boolean index must have shape ({self._length},)")
            index = np.flatnonzero(index)
        if not np.issubdtype(index.dtype, np.integer):
            raise IndexError("StreamingFrames takes integer or boolean indices")
        ready = self._take_speculation(index)
        if ready is not None:
            return ready
        return self._gather(index).reshape(*index.shape, *self.frame_shape)

    # ---- prefetching ------------------------------------------------------------------------
    def prefetch(self, index: np.ndarray | Callable[[], np.ndarray]) -> None:
        """Starts gathering ``self[index]`` in a background thread; a later ``self[index]`` with the same index takes it.

        ``index`` may be a function computing it (run in that thread). A newer prefetch replaces
        one not yet taken; an index asked for that differs drops the prefetched one.
        """
        self._check_process()
        spec = _Speculation(None if callable(index) else np.array(index, copy=True))
        with self._spec_lock:
            if self._speculation is not None:
                self._speculation.cancel.set()
            self._speculation = spec
            if self._prefetcher is None:
                self._prefetcher = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xtra-prefetch")
            prefetcher = self._prefetcher
        prefetcher.submit(self._run_speculation, spec, index)

    def _run_speculation(self, spec: _Speculation, index: Any) -> None:
        try:
            if callable(index):
                spec.index = np.asarray(index())
            spec.indexed.set()
            if not spec.cancel.is_set():
                spec.result = self._gather(spec.index, spec.cancel).reshape(*spec.index.shape, *self.frame_shape)
        except BaseException as exc:  # handed to the caller that takes it
            spec.error = exc
        finally:
            spec.indexed.set()
            spec.done.set()

    def _take_speculation(self, index: np.ndarray) -> np.ndarray | None:
        with self._spec_lock:
            spec, self._speculation = self._speculation, None
        if spec is None:
            return None
        spec.indexed.wait()  # a prefetch given a function may still be computing its index
        if spec.index is None or spec.index.shape != index.shape or not np.array_equal(spec.index, index):
            spec.cancel.set()
            return None
        spec.done.wait()
        if spec.error is not None:
            raise spec.error
        return spec.result

    def close(self, wait: bool = True) -> None:
        """Stops the prefetch thread and closes the file (the cache stays with its owner)."""
        with self._spec_lock:
            if self._speculation is not None:
                self._speculation.cancel.set()
            self._speculation = None
            prefetcher, self._prefetcher = self._prefetcher, None
            fd, self._fd_value = self._fd_value, None
        if prefetcher is not None and os.getpid() == self._pid:
            prefetcher.shutdown(wait=wait)
        if fd is not None and os.getpid() == self._pid:
            os.close(fd)

    def __del__(self):
        try:
            self.close(wait=False)
        except Exception:
            pass

    # ---- reading ----------------------------------------------------------------------------
    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            # A forked child keeps the descriptor (pread has no offset to share) but not the threads or locks.
            self._pid = os.getpid()
            self._spec_lock = threading.Lock()
            self._speculation, self._prefetcher = None, None

    def _gather(self, index: np.ndarray, cancel: threading.Event | None = None) -> np.ndarray:
        self._check_process()
        flat = index.reshape(-1).astype(np.int64, copy=False)
        if flat.size and (flat.min() < -self._length or flat.max() >= self._length):
            raise IndexError(f"index out of range for {self._length} rows")
        flat = np.where(flat < 0, flat + self._length, flat)
        rows = flat if self._rows is None else self._rows[flat]
        out = np.empty((len(rows), *self.frame_shape), self.dtype)
        if not len(rows):
            return out
        chunk = rows // self._chunk_rows
        # Runs: positions i..j-1 that read consecutive rows of one chunk (a window's frames), each
        # copied as one slice; runs are grouped by chunk so a chunk is fetched once per gather.
        breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(chunk) != 0)) + 1
        run_start = np.concatenate([[0], breaks])
        run_stop = np.append(breaks, len(rows))
        run_chunk = chunk[run_start]
        order = np.argsort(run_chunk, kind="stable")
        ordered = run_chunk[order]
        starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        ends = np.append(starts[1:], len(order))
        local_start = rows[run_start] - run_chunk * self._chunk_rows
        # Rows of each chunk this gather needs: a chunk is inflated only that far (zlib streams
        # cannot be entered in the middle, but they can stop early); a later gather that needs
        # more of it inflates it whole.
        need = np.maximum.reduceat((local_start + run_stop - run_start)[order], starts).tolist()
        group_chunk = ordered[starts].tolist()
        local = local_start.tolist()
        run_start, run_stop, order = run_start.tolist(), run_stop.tolist(), order.tolist()
        starts, ends = starts.tolist(), ends.tolist()

        def fill(groups: range) -> None:
            for g in groups:
                if cancel is not None and cancel.is_set():
                    return
                c, rows_needed = group_chunk[g], need[g]
                key = (self._key, c)
                block = self.cache.get(key, lambda: self._load(c, rows_needed))
                if len(block) < rows_needed:
                    block = self.cache.put(key, self._load(c))
                for r in order[starts[g] : ends[g]]:
                    i, j, k = run_start[r], run_stop[r], local[r]
                    out[i:j] = block[k : k + j - i]

        workers = min(self.cache.workers, len(starts))
        if workers <= 1:
            fill(range(len(starts)))
        else:
            # Interleaved groups balance cached and uncached chunks across the workers.
            for future in [self.cache.pool().submit(fill, range(w, len(starts), workers)) for w in range(workers)]:
                future.result()
        return out

    def _fd(self) -> int:
        fd = self._fd_value
        if fd is None:
            with self._spec_lock:
                if self._fd_value is None:
                    self._fd_value = os.open(self.path, os.O_RDONLY)
                fd = self._fd_value
        return fd

    def _load(self, c: int, rows: int | None = None) -> np.ndarray:
        """Chunk c (rows [c * chunk_rows, ...)) of the file, decompressed, read-only: all of it, or its first ``rows`` rows."""
        start = c * self._chunk_rows
        valid = min(self._chunk_rows, self._num_file_rows - start)
        prefix = rows is not None and rows < valid
        if self._table is None:
            from xtra_bench.data.integrity import open_h5

            with open_h5(self.path) as h5:
                return h5[FRAME][start : start + valid]
        expected = (rows if prefix else self._chunk_rows) * self._row_bytes
        where = self._table.get(c)
        if where is None:  # never written: HDF5 returns the fill value (0)
            return np.zeros((valid, *self.frame_shape), self.dtype)
        offset, size, mask = where
        raw = os.pread(self._fd(), size, offset)
        if len(raw) != size:
            raise DatasetError(f"{self.path} is truncated: chunk {c} of the frames ends past the end of the file")
        if self._deflate and not mask & 1:
            inflater = _inflate_lib.decompressobj()
            try:
                data = inflater.decompress(raw, expected)
            except _inflate_lib.error as exc:
                raise DatasetError(f"{self.path}: chunk {c} of the frames does not decompress ({exc}); corrupted?") from None
            too_long = bool(inflater.unconsumed_tail) and not prefix
        else:
            data, too_long = raw[:expected] if prefix else raw, len(raw) > self._chunk_rows * self._row_bytes
        if len(data) != expected or too_long:
            whole = self._chunk_rows * self._row_bytes
            raise DatasetError(f"{self.path}: chunk {c} of the frames is not {whole} bytes; corrupted?")
        block = np.frombuffer(data, self.dtype).reshape(-1, *self.frame_shape)
        return block if prefix else block[:valid]


def _reopen(path: Path, rows: np.ndarray | None, max_bytes: int, workers: int) -> StreamingFrames:
    return StreamingFrames(path, rows, cache=ChunkCache(max_bytes, workers))


class StreamingSampler(Sampler):
    """A ``Sampler`` whose frames stay in the file: the same batches, with bounded memory.

    Args:
        dataset: the view to sample (its small columns are loaded, its frames are not).
        config: batch layout and learning conventions.
        targets: teacher targets of the dataset's file.
        cache: the chunk cache (share one between the tasks of a split to bound them together).
        prefetch: draw the next batch ahead and gather its frames in the background.
    """

    def __init__(
        self,
        dataset: Dataset,
        config: SamplerConfig = SamplerConfig(),
        targets: Targets | None = None,
        *,
        cache: ChunkCache | None = None,
        prefetch: bool = True,
    ):
        rows = np.concatenate([np.arange(a, b) for a, b in dataset.row_ranges()]) if len(dataset) else np.zeros(0, np.int64)
        frames = StreamingFrames(dataset.path, rows, cache=cache)
        super().__init__(dataset, config, targets, frames=frames)
        self.prefetch = prefetch

    def sample(self, batch_size: int | None = None) -> Batch:
        batch = super().sample(batch_size)
        if self.prefetch:
            # The next call's draw, made now on a copy of the generator: its frames are gathered
            # in the background and used only if the real draw cuts the same windows.
            rows, _ = self._draw(batch_size or self.config.batch_size, copy.deepcopy(self._rng))
            self.frames.prefetch(self._windows(rows).frames)
        return batch

    def close(self) -> None:
        self.frames.close()


def open_sampler(
    dataset: Dataset,
    config: SamplerConfig = SamplerConfig(),
    targets: Targets | None = None,
    *,
    mode: str | None = None,
    cache: ChunkCache | None = None,
    prefetch: bool = True,
) -> Sampler:
    """A ``Sampler`` in memory or a ``StreamingSampler``, as ``frames_mode([dataset], mode)`` decides."""
    if frames_mode([dataset], mode) == "memory":
        return Sampler(dataset, config, targets)
    return StreamingSampler(dataset, config, targets, cache=cache, prefetch=prefetch)


def open_frames(dataset: Dataset, mode: str, *, cache: ChunkCache | None = None) -> tuple[np.ndarray | StreamingFrames, dict[str, np.ndarray]]:
    """The view's frames (loaded, or streamed when ``mode`` is "stream") and its other columns, loaded.

    Returns:
        (frames [R, *frame], name -> [R] array of every small column).
    """
    if mode == "memory":
        columns = dataset.read_columns()
        return columns.pop(FRAME), columns
    columns = dataset.read_columns(SMALL_COLUMNS)
    rows = np.concatenate([np.arange(a, b) for a, b in dataset.row_ranges()]) if len(dataset) else np.zeros(0, np.int64)
    return StreamingFrames(dataset.path, rows, cache=cache), columns
