"""Streamed frames: the same batches as the in-memory sampler, a bounded cache, prefetching, fallbacks."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
from data_synthetic import isolated_data_root, random_episodes, synthetic_meta  # noqa: F401

from baselines.efficientzero.offline import DatasetReplay
from xtra_bench.data import Compression, Dataset, DatasetError, Sampler, SamplerConfig, read_targets, write_dataset, write_targets
from xtra_bench.data.streaming import CACHE_ENV, FRAMES_ENV, ChunkCache, StreamingFrames, StreamingSampler, frames_mode, open_sampler

ROW_BYTES = 3 * 3 * 2  # data_synthetic's frames


def write(tmp_path, name="d.hdf5", *, filter="gzip", chunk_rows=5, episodes=40, seed=0):
    compression = Compression(filter=filter, chunk_bytes=chunk_rows * ROW_BYTES)
    return Dataset(write_dataset(tmp_path / name, synthetic_meta(), random_episodes(seed, episodes), compression=compression))


def assert_same_batch(a, b):
    for name, x, y in zip(a._fields, a, b):
        if x is None:
            assert y is None, name
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("filter", ["gzip", "none", "lzf"])
@pytest.mark.parametrize("cache_bytes", [0, 40 * ROW_BYTES, 1 << 20])
def test_streamed_frames_equal_loaded_frames(tmp_path, filter, cache_bytes):
    dataset = write(tmp_path, filter=filter)
    loaded = dataset.read_columns(["frame"])["frame"]
    frames = StreamingFrames(dataset.path, cache=ChunkCache(cache_bytes, workers=2))
    rng = np.random.default_rng(0)
    for shape in [(7,), (30, 9), (0,)]:
        index = rng.integers(-len(loaded), len(loaded), size=shape)
        np.testing.assert_array_equal(frames[index], loaded[index])
    np.testing.assert_array_equal(frames[3], loaded[3])
    np.testing.assert_array_equal(frames[4:30:3], loaded[4:30:3])
    assert frames.shape == loaded.shape and frames.nbytes == loaded.nbytes
    assert frames.cache.nbytes <= cache_bytes
    with pytest.raises(IndexError):
        frames[np.array([len(loaded)])]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(frames))[np.arange(9)], loaded[:9])


@pytest.mark.parametrize(
    "cfg",
    [
        SamplerConfig(batch_size=64, unroll_steps=5, n_step=5, seed=3),
        SamplerConfig(batch_size=50, frame_stack=2, unroll_steps=0, n_step=1, clip_rewards=False, life_loss_terminal=False, seed=1),
    ],
    ids=["xtra-layout", "no-unroll"],
)
@pytest.mark.parametrize("prefetch", [True, False])
def test_the_streaming_sampler_gives_the_in_memory_batches(tmp_path, cfg, prefetch):
    """Same seed, same calls (priorities changed between some of them): identical arrays."""
    dataset = write(tmp_path).select(np.arange(3, 37))  # a view: sampler rows are not file rows
    policy = np.random.default_rng(1).dirichlet(np.ones(3), size=dataset.header.num_rows).astype(np.float32)
    value = np.random.default_rng(2).normal(size=dataset.header.num_rows).astype(np.float32)
    path = write_targets(tmp_path / "t.hdf5", dataset, teacher_id="t", policy=policy, root_value=value, checkpoint_sha256="0" * 64, search={})
    targets = read_targets(path, dataset)
    memory = Sampler(dataset, cfg, targets)
    streaming = StreamingSampler(dataset, cfg, targets, cache=ChunkCache(30 * ROW_BYTES, workers=2), prefetch=prefetch)
    rng = np.random.default_rng(7)
    for step in range(12):
        size = None if step % 4 else 17
        a, b = memory.sample(size), streaming.sample(size)
        assert_same_batch(a, b)
        if step in (5, 6):  # priorities change after a batch was prefetched: the prefetched frames are dropped
            priorities = rng.random(len(a.rows)) + 0.1 * step
            memory.update_priorities(a.rows, priorities), streaming.update_priorities(a.rows, priorities)
        if step == 9:
            priorities = np.linspace(0, 1, len(dataset))
            memory.set_episode_priorities(priorities), streaming.set_episode_priorities(priorities)
    rows = np.arange(memory.num_rows)
    np.testing.assert_array_equal(streaming.stacked_frames(rows), memory.stacked_frames(rows))
    assert streaming.frames.cache.nbytes <= 30 * ROW_BYTES
    streaming.close()


def test_a_prefetched_batch_is_the_one_sampled_next(tmp_path):
    dataset = write(tmp_path, episodes=60)
    cache = ChunkCache(1 << 20, workers=1)
    sampler = StreamingSampler(dataset, SamplerConfig(batch_size=32), cache=cache)
    sampler.sample()
    speculation = sampler.frames._speculation
    assert speculation is not None
    speculation.done.wait(10)
    misses = cache.misses
    expected = Sampler(dataset, SamplerConfig(batch_size=32))
    expected.sample()
    sampler.prefetch = False  # no new prefetch, which would read the chunks of the batch after
    assert_same_batch(sampler.sample(), expected.sample())
    assert cache.misses == misses  # taken from the prefetch: nothing was read again


def test_the_teacher_replay_streams_the_same_windows(tmp_path):
    dataset = write(tmp_path, episodes=50)
    layout = dict(frame_stack=4, num_unroll=5, td_steps=5, td_age_interval=10_000, min_td_steps=1, alpha=0.6, seed=4)
    replays = [
        DatasetReplay(dataset, np.arange(3), 3, clip_rewards=True, life_loss_terminal=True, frames=mode, cache=ChunkCache(50 * ROW_BYTES), **layout)
        for mode in ("memory", "stream")
    ]
    assert isinstance(replays[0].frames, np.ndarray) and isinstance(replays[1].frames, StreamingFrames)
    rng = np.random.default_rng(0)
    for _ in range(6):
        a, b = (r.sample(48, 0.4, 0) for r in replays)
        assert_same_batch(a, b)
        priorities = rng.random(48) + 0.01
        for r in replays:
            r.update_priorities(a.rows, priorities)


def test_frames_mode_follows_size_and_override(tmp_path, monkeypatch):
    dataset = write(tmp_path)
    size = dataset.total_steps + len(dataset)
    assert frames_mode([dataset], memory_budget=size * ROW_BYTES) == "memory"
    assert frames_mode([dataset, dataset], memory_budget=size * ROW_BYTES) == "stream"
    monkeypatch.setenv(FRAMES_ENV, "stream")
    assert isinstance(open_sampler(dataset), StreamingSampler)
    assert frames_mode([dataset], "memory") == "memory"
    monkeypatch.setenv(FRAMES_ENV, "disk")
    with pytest.raises(DatasetError, match="frames mode"):
        frames_mode([dataset])
    monkeypatch.setenv(FRAMES_ENV, "auto")
    assert type(open_sampler(dataset)) is Sampler  # a tiny dataset fits


def test_the_cache_keeps_the_most_recent_chunks_within_its_bound():
    cache = ChunkCache(max_bytes=300, workers=1)
    for key in range(5):
        cache.get(key, lambda: np.zeros(100, np.uint8))
    assert len(cache) == 3 and cache.nbytes == 300
    cache.get(2, lambda: pytest.fail("chunk 2 is cached"))
    cache.get(5, lambda: np.zeros(100, np.uint8))  # evicts 3, the least recently used
    assert cache.get(3, lambda: np.ones(100, np.uint8))[0] == 1
    assert cache.get(2, lambda: pytest.fail("chunk 2 was used recently")) is not None
    cache.get("big", lambda: np.zeros(301, np.uint8))  # larger than the cache: returned, not kept
    assert cache.nbytes <= 300 and "big" not in cache._entries


def test_the_default_cache_keeps_nothing_unless_the_environment_sizes_it(monkeypatch):
    loads = []

    def load():
        loads.append(1)
        return np.zeros(100, np.uint8)

    monkeypatch.delenv(CACHE_ENV, raising=False)
    cache = ChunkCache(workers=1)
    for _ in range(3):
        assert cache.get("chunk", load).shape == (100,)
    assert len(loads) == 3 and cache.nbytes == 0 and cache.stats()["misses"] == 3
    monkeypatch.setenv(CACHE_ENV, "1000")
    cache = ChunkCache(workers=1)
    cache.get("chunk", lambda: np.zeros(100, np.uint8))
    cache.get("chunk", lambda: pytest.fail("the chunk is kept"))
    assert cache.nbytes == 100 and cache.stats()["hits"] == 1


def test_a_corrupted_chunk_is_an_error_not_garbage(tmp_path):
    dataset = write(tmp_path)
    copy = tmp_path / "bad.hdf5"
    shutil.copyfile(dataset.path, copy)
    frames = StreamingFrames(copy, cache=ChunkCache(0))
    offset, size, _ = frames._table[2]
    with open(copy, "r+b") as f:
        f.seek(offset)
        f.write(b"\x00" * size)
    with pytest.raises(DatasetError, match="chunk 2"):
        StreamingFrames(copy, cache=ChunkCache(0))[np.array([10, 11])]


def test_plain_zlib_inflates_the_same_frames(tmp_path, monkeypatch):
    import zlib

    from xtra_bench.data import streaming

    dataset = write(tmp_path)
    loaded = dataset.read_columns(["frame"])["frame"]
    monkeypatch.setattr(streaming, "_inflate_lib", zlib)  # where zlib-ng is not installed
    index = np.random.default_rng(0).integers(0, len(loaded), size=50)
    np.testing.assert_array_equal(StreamingFrames(dataset.path, cache=ChunkCache(0))[index], loaded[index])


def test_a_chunk_is_inflated_only_as_far_as_needed_then_whole(tmp_path):
    dataset = write(tmp_path)  # 5 rows per chunk
    loaded = dataset.read_columns(["frame"])["frame"]
    frames = StreamingFrames(dataset.path, cache=ChunkCache(1 << 20, workers=1))
    np.testing.assert_array_equal(frames[np.array([10, 11])], loaded[[10, 11]])
    assert frames.cache.nbytes == 2 * ROW_BYTES  # rows 0-1 of chunk 2
    np.testing.assert_array_equal(frames[np.array([11, 14, 10])], loaded[[11, 14, 10]])
    assert frames.cache.nbytes == 5 * ROW_BYTES and len(frames.cache) == 1  # now the whole chunk


def test_the_default_chunking_gives_the_batches_of_the_old_one(tmp_path):
    """Files of the writer's default chunks and of the earlier ~1 MB ones: the same batches, streamed or not."""
    import dataclasses

    atari = (96, 96, 3)
    episodes = [dataclasses.replace(e, frames=np.repeat(np.repeat(e.frames, 32, 1), 32, 2)[..., [0, 1, 0]]) for e in random_episodes(5, 30)]
    meta = dataclasses.replace(synthetic_meta(), frame_shape=atari)
    settings = {"default": Compression(), "old": Compression(chunk_bytes=1 << 20)}
    datasets = {name: Dataset(write_dataset(tmp_path / f"{name}.hdf5", meta, episodes, compression=c)) for name, c in settings.items()}
    frames = {name: StreamingFrames(d.path, cache=ChunkCache(0)) for name, d in datasets.items()}
    assert frames["default"]._chunk_rows == 16 and frames["old"]._chunk_rows == 37
    cfg = SamplerConfig(batch_size=40, unroll_steps=5, n_step=5, seed=2)
    memory = Sampler(datasets["old"], cfg)
    samplers = [StreamingSampler(d, cfg, cache=ChunkCache(0, workers=2)) for d in datasets.values()]
    for _ in range(4):
        expected = memory.sample()
        for sampler in samplers:
            assert_same_batch(sampler.sample(), expected)
    for sampler in samplers:
        sampler.close()
