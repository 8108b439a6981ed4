"""Offline datasets: format v1, a crash-safe writer, the ``Dataset`` view, fast samplers (in memory or streamed), the registry."""

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.episode import Episode
from xtra_bench.data.errors import ChecksumError, DatasetError, DatasetIdError
from xtra_bench.data.format import FORMAT_VERSION, READABLE_FORMAT_VERSIONS
from xtra_bench.data.registry import Registry, data_root, make_dataset_id, parse_dataset_id
from xtra_bench.data.sampler import Batch, Sampler, SamplerConfig
from xtra_bench.data.store import load_dataset, verify
from xtra_bench.data.streaming import ChunkCache, StreamingFrames, StreamingSampler, open_sampler
from xtra_bench.data.targets import Targets, read_targets, targets_path, write_targets
from xtra_bench.data.windows import Windows, learning_bounds, unroll_windows
from xtra_bench.data.writer import Compression, DatasetMeta, EpisodeWriter, write_dataset

__all__ = [
    "FORMAT_VERSION",
    "READABLE_FORMAT_VERSIONS",
    "Batch",
    "ChecksumError",
    "ChunkCache",
    "Compression",
    "Dataset",
    "DatasetError",
    "DatasetIdError",
    "DatasetMeta",
    "Episode",
    "EpisodeWriter",
    "Registry",
    "Sampler",
    "SamplerConfig",
    "StreamingFrames",
    "StreamingSampler",
    "Targets",
    "Windows",
    "data_root",
    "learning_bounds",
    "load_dataset",
    "make_dataset_id",
    "open_sampler",
    "parse_dataset_id",
    "read_targets",
    "targets_path",
    "unroll_windows",
    "verify",
    "write_dataset",
    "write_targets",
]
