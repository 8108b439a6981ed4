"""CUDA graphs of the recurrent inference that every search simulation runs.

A search calls the dynamics and prediction networks once per simulation on a small batch (its
roots); on a GPU such a call is about a hundred kernel launches that cost more than their
arithmetic. With ``cuda_graphs`` a network's recurrent inference is captured once per batch
bucket and replayed: the batch is copied into the graph's static inputs, padded up to the
bucket (rows do not interact in eval mode, where batch norm uses its running statistics), and
the real rows of the outputs are copied out. Buckets are powers of two and 1.5x powers of two,
so padding wastes at most a third of a replay and a handful of graphs covers every batch size
that reanalysis produces.

Off CUDA, or once a capture has failed (the reason is logged), the eager ``recurrent_inference``
runs instead. Graphs read the network's weights in place: ``load_state_dict`` and optimiser
steps are seen by the next replay, while moving or converting the network (``.to``) replaces
its tensors and makes the next call capture afresh.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import NamedTuple

import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.speed import flag_active
from xtra_bench.search import InferenceOutput
from xtra_bench.search.driver import RecurrentFn

logger = logging.getLogger(__name__)

WARMUP_CALLS = 2
"""Eager calls on a side stream before a capture: cuDNN and cuBLAS pick their kernels and workspaces outside the graph."""

_CAPTURE_LOCK = threading.Lock()
"""One capture at a time in the process: acting and reanalysis may each capture from their own thread."""


def bucket_size(rows: int) -> int:
    """The smallest power of two, or 1.5 x a power of two, that holds ``rows`` rows."""
    if rows < 1:
        raise ValueError(f"a batch needs at least one row, got {rows}")
    power = 1 << (rows - 1).bit_length()
    three_quarters = 3 * power // 4
    return three_quarters if power >= 4 and three_quarters >= rows else power


class _Capture(NamedTuple):
    graph: torch.cuda.CUDAGraph
    latent: torch.Tensor
    reward_state: tuple[torch.Tensor, ...]
    actions: torch.Tensor
    output: InferenceOutput


class GraphedRecurrent:
    """``net.recurrent_inference`` replayed from CUDA graphs, one per batch bucket, captured on first use.

    Calls are serialised (the graphs' inputs and outputs are shared buffers), also on the GPU when
    they come from different streams (acting's, or reanalysis' worker stream), and every output is
    a fresh tensor: the next replay does not overwrite what a caller holds.

    Attributes:
        failure: why capturing failed (then every call runs eagerly), or None.
    """

    def __init__(self, net: EfficientZeroNet):
        self._net = weakref.ref(net)  # the cache below is keyed weakly by the network: no strong reference back
        self._captures: dict[int, _Capture] = {}
        self._lock = threading.Lock()
        self._tensors = _fingerprint(net)
        self._last_stream: torch.cuda.Stream | None = None
        self.failure: str | None = None

    def __call__(self, latent: torch.Tensor, reward_state: tuple[torch.Tensor, ...], actions: torch.Tensor) -> InferenceOutput:
        net = self._net()
        if net is None:
            raise RuntimeError("the network of these CUDA graphs no longer exists")
        if self.failure is not None:
            return net.recurrent_inference(latent, reward_state, actions)
        rows = latent.shape[0]
        with self._lock:
            if _fingerprint(net) != self._tensors:
                self._captures.clear()
                self._tensors = _fingerprint(net)
            size = bucket_size(rows)
            capture = self._captures.get(size)
            if capture is None:
                try:
                    capture = self._captures[size] = _capture(net, size, latent, reward_state, actions)
                except RuntimeError as error:
                    self.failure = f"{type(error).__name__}: {error}".splitlines()[0]
                    self._captures.clear()
                    logger.warning("CUDA graph capture of the recurrent inference failed, running it eagerly: %s", self.failure)
                    return net.recurrent_inference(latent, reward_state, actions)
            stream = torch.cuda.current_stream(latent.device)
            if self._last_stream is not None and self._last_stream != stream:
                stream.wait_stream(self._last_stream)  # the previous call's copies out are done before the buffers are refilled
            self._last_stream = stream
            capture.latent[:rows].copy_(latent)
            for static, state in zip(capture.reward_state, reward_state):
                static[:, :rows].copy_(state)
            capture.actions[:rows].copy_(actions)
            capture.graph.replay()
            out = capture.output
            return InferenceOutput(
                latent=out.latent[:rows].clone(),
                reward_state=tuple(state[:, :rows].clone() for state in out.reward_state),
                value=out.value[:rows].clone(),
                value_prefix=out.value_prefix[:rows].clone(),
                policy_logits=out.policy_logits[:rows].clone(),
            )


def _fingerprint(net: torch.nn.Module) -> tuple[int, ...]:
    """Addresses of the network's first and last parameter and buffer: ``.to`` moves them all, in-place updates none.

    Only four tensors, because this runs before every replay (once per simulation).
    """
    params, buffers = list(net.parameters()), list(net.buffers())
    ends = [params[0], params[-1]] + ([buffers[0], buffers[-1]] if buffers else [])
    return tuple(t.data_ptr() for t in ends)


def _capture(net: EfficientZeroNet, size: int, latent: torch.Tensor, reward_state: tuple[torch.Tensor, ...], actions: torch.Tensor) -> _Capture:
    """Captures ``net.recurrent_inference`` on static zero inputs of ``size`` rows shaped like the given batch."""
    device = latent.device
    static_latent = latent.new_zeros((size, *latent.shape[1:]))
    static_state = tuple(state.new_zeros((state.shape[0], size, *state.shape[2:])) for state in reward_state)
    static_actions = actions.new_zeros(size)
    with _CAPTURE_LOCK:
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(WARMUP_CALLS):
                net.recurrent_inference(static_latent, static_state, static_actions)
        torch.cuda.current_stream(device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the other thread (training, or acting) may keep launching work meanwhile.
        with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
            output = net.recurrent_inference(static_latent, static_state, static_actions)
    return _Capture(graph, static_latent, static_state, static_actions, output)


_GRAPHED: weakref.WeakKeyDictionary[EfficientZeroNet, GraphedRecurrent] = weakref.WeakKeyDictionary()
_GRAPHED_LOCK = threading.Lock()


def recurrent_function(net: EfficientZeroNet, cfg: EfficientZeroConfig) -> RecurrentFn:
    """The recurrent inference a search of ``net`` should call: graphed where ``cuda_graphs`` acts, else the eager method.

    The graphed one is kept per network, so that its graphs are captured once and reused by every later search.
    """
    if not flag_active(cfg, "cuda_graphs", next(net.parameters()).device):
        return net.recurrent_inference
    with _GRAPHED_LOCK:
        graphed = _GRAPHED.get(net)
        if graphed is None:
            graphed = _GRAPHED[net] = GraphedRecurrent(net)
    return graphed
