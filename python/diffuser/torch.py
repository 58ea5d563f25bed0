"""diffuser.torch: differentiable Diffuser attention for PyTorch.

attend(q, k, v, graph, ...) is diffuser.attend with gradients: the forward and the backward (dq, dk,
dv: diffusion::diffuse_backward) run in the engine. By default the backward recomputes the weights
and hop states, so nothing graph-sized lives between forward and backward; recompute=False keeps
them from the forward instead (faster, E*H + (K-1)*N*H*D more floats held; the same gradients, bit
for bit). DiffuserAttention is an nn.Module: Q/K/V and output projections in
torch, the graph passes in the engine, batches as one block-diagonal graph (the C++ GraphBatch).

Two implementations of the same operator, picked at import:
  * torch >= 2.4 (torch.library.custom_op): the ops diffuser::attend, diffuser::attend_qkv and their
    backward ops, with fake (meta) kernels and registered autograd, so torch.compile traces them
    without graph breaks. DIFFUSER_TORCH_CUSTOM_OP=0 turns this off.
  * otherwise (Debian's torch 1.13): torch.autograd.Function.
OP_PATH says which one is in use.

CUDA tensors (a build with the CUDA backend) run on the GPU: on the tensors' device, on PyTorch's
current stream (nothing synchronises it but the engine's check of its inputs for NaN and Inf), with
the engine's scratch memory from PyTorch's caching allocator (DIFFUSER_TORCH_ALLOCATOR=0: the
engine's own stream-ordered pool); the outputs are allocated here with torch.empty. A graph is
carried to a device at its first use there and kept (docs/PYTHON.md).
"""

import os
from typing import List, Optional, Tuple

import torch
from torch import nn

from . import _core
from ._arrays import Error, coefficients, flag, integer, real, threads_arg
from ._graph import Graph, PatternGraphs, batch_graph_by_key, core_of, sequence_graph_by_key

__all__ = ["attend", "DiffuserAttention", "OP_PATH"]


# ---- arguments -----------------------------------------------------------------------------------


def _tensor(name, x):
    if isinstance(x, torch.Tensor):
        return x
    try:
        return torch.as_tensor(x)  # NumPy arrays: shares their memory
    except Exception as e:  # noqa: BLE001 - any conversion failure is a bad argument
        raise Error(f"{name} must be a torch tensor or a NumPy array, got {type(x).__name__} ({e})") from None


def _placed(name, x):
    """CPU and CUDA tensors; a CUDA tensor in a layout the engine cannot read in place (D strided,
    rows or heads overlapping) is made contiguous here (on the CPU the extension copies it)."""
    if x.device.type not in ("cpu", "cuda"):
        raise Error(f"{name} is on {x.device}; the Python package takes CPU and CUDA tensors: "
                    f"move it with {name}.cpu()")
    if x.device.type == "cuda" and x.dim() == 3 and not _engine_layout(x):
        x = x.contiguous()
    return x


def _engine_layout(x):
    n, h, d = x.shape
    sn, sh, sd = x.stride()
    sd = 1 if d == 1 else sd
    sh = d * sd if h == 1 else sh
    sn = h * sh if n == 1 else sn
    return sd == 1 and sh >= d and sn >= sh * h


def _torch_alloc(size, device, stream):
    return torch.cuda.caching_allocator_alloc(size, device, stream)


def _cuda_args(x):
    """The engine's CUDA placement for a call on x: PyTorch's current stream of x's device and, unless
    DIFFUSER_TORCH_ALLOCATOR=0, PyTorch's caching allocator for the engine's scratch."""
    if x.device.type != "cuda":
        return {}
    args = {"stream": torch.cuda.current_stream(x.device).cuda_stream}
    if os.environ.get("DIFFUSER_TORCH_ALLOCATOR", "1") != "0":
        args.update(alloc=_torch_alloc, free=torch.cuda.caching_allocator_delete)
    return args


def _mask_tensor(mask):
    if mask is None:
        return None
    return _tensor("mask", mask).detach().cpu()  # N bytes: masks on any device come to the CPU


def _empty_like_features(x):
    return torch.empty(tuple(x.shape), dtype=torch.float32, device=x.device)


def _seed_tensor(dropout):
    # From torch's generator, so torch.manual_seed makes the masks reproducible. The custom ops take
    # it as a tensor and read it inside: no .item() in traced code, so dropout is no graph break
    # under torch.compile. On the CPU whatever the default device, so reading it never waits for a GPU.
    return torch.randint(0, 2**62, (), device="cpu") if dropout > 0 else None


def _dropout_seed(dropout):
    seed = _seed_tensor(dropout)
    return 0 if seed is None else int(seed)


class _Args:
    """The non-tensor arguments of one call, checked once."""

    __slots__ = ("graph", "hops", "alpha", "theta", "heat", "threads", "dropout", "seed", "check_finite")

    def __init__(self, graph, hops, alpha, theta, heat, threads, dropout, seed, check_finite=True):
        self.graph = graph
        self.hops, self.alpha, self.theta, self.heat = coefficients(hops, alpha, theta, heat)
        self.threads = threads_arg(threads)
        self.dropout = real("dropout", dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise Error(f"dropout must be in [0, 1), got {self.dropout}")
        self.seed = seed
        self.check_finite = check_finite

    def engine(self):
        return (self.hops, self.alpha, self.theta, self.heat, self.threads)


# ---- the engine calls (no autograd) --------------------------------------------------------------


def _kept_shapes(q, a):
    """Shapes of what a forward with recompute=False keeps: the weights (E, H) and the K - 1 hop
    states (K - 1, N, H, D), or None where there is nothing (K = 0; K < 2 for the states)."""
    if q.dim() != 3:
        return None, None  # the engine names the bad shape
    n, h, d = q.shape
    hops = _core.plan_hops(a.hops, a.alpha, a.theta, a.heat)
    return ((a.graph.num_edges, h) if hops >= 1 else None), ((hops - 1, n, h, d) if hops >= 2 else None)


def _empty(shape, like):
    return torch.empty(shape, dtype=torch.float32, device=like.device)


def _forward(q, k, v, mask, a, return_weights, keep=False):
    """(z, weights or None, hop states or None) as new torch tensors on q's device; keep: the
    forward's weights and hop states for the backward (the weights double as the returned ones)."""
    g = a.graph
    z = _empty_like_features(q)
    w = states = None
    if keep:
        w_shape, s_shape = _kept_shapes(q, a)
        keep = w_shape is not None  # K = 0: no weights, nothing to keep
    if keep:
        w = _empty(w_shape, q)
        states = _empty(s_shape, q) if s_shape else None
    elif return_weights and q.dim() == 3:
        w = _empty((g.num_edges, q.shape[1]), q)
    out = _core.attend(g, q.detach(), k.detach(), v.detach(), mask, *a.engine(), return_weights and not keep,
                       a.dropout, a.seed, z, None if keep else w, keep_weights=w if keep else None,
                       keep_states=states, check_finite=a.check_finite, **_cuda_args(q))
    return out[0], (w if keep else out[1]), states


def _backward(grad, q, k, v, mask, a, dq, dk, dv, weights=None, states=None):
    def bare(x):  # saved op outputs come back as autograd tensors
        return None if x is None else x.detach()

    _core.attend_backward(a.graph, q.detach(), k.detach(), v.detach(), _placed("grad", grad.detach()), dq, dk,
                          dv, mask, *a.engine(), a.dropout, a.seed, weights=bare(weights), states=bare(states),
                          **_cuda_args(q))


def _forward_qkv(qkv, mask, a, keep=False):
    q, k, v = qkv.detach().unbind(1)
    z, w, states = _forward(q, k, v, mask, a, False, keep)
    return z, w, states


def _backward_qkv(grad, qkv, mask, a, weights=None, states=None):
    dqkv = torch.empty(tuple(qkv.shape), dtype=torch.float32, device=qkv.device)
    q, k, v = qkv.detach().unbind(1)
    dq, dk, dv = dqkv.unbind(1)
    _backward(grad, q, k, v, mask, a, dq, dk, dv, weights, states)
    return dqkv


def _rows(x):
    return x.shape[0] if x.dim() else 0


def _check_qkv(qkv):
    if qkv.dim() != 4 or qkv.shape[1] != 3:
        raise Error(f"qkv must have shape (N, 3, H, D), got {tuple(qkv.shape)}")


# ---- torch 1.x - 2.3: autograd.Function ----------------------------------------------------------


def _save_kept(ctx, w, states):
    # What the forward kept (recompute=False), None where it kept nothing.
    ctx.kept = (w is not None, states is not None)
    return tuple(x for x in (w, states) if x is not None)


def _saved_kept(ctx, saved):
    it = iter(saved)
    return tuple(next(it) if has else None for has in ctx.kept)


class _AttendFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, mask, a, return_weights, keep):
        z, w, states = _forward(q, k, v, mask, a, return_weights, keep)
        ctx.save_for_backward(q, k, v, *(_save_kept(ctx, w, states) if keep else ()))
        ctx.mask, ctx.a, ctx.keep = mask, a, keep
        if return_weights:
            ctx.mark_non_differentiable(w)
            return z, w
        return z

    @staticmethod
    def backward(ctx, grad, *unused):
        q, k, v, *kept = ctx.saved_tensors
        w, states = _saved_kept(ctx, kept) if ctx.keep else (None, None)
        dq, dk, dv = (_empty_like_features(q) for _ in range(3))
        with torch.no_grad():
            _backward(grad, q, k, v, ctx.mask, ctx.a, dq, dk, dv, w, states)
        need = ctx.needs_input_grad
        return (dq if need[0] else None, dk if need[1] else None, dv if need[2] else None, None, None, None, None)


class _AttendQkvFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, qkv, mask, a, keep):
        z, w, states = _forward_qkv(qkv, mask, a, keep)
        ctx.save_for_backward(qkv, *(_save_kept(ctx, w, states) if keep else ()))
        ctx.mask, ctx.a, ctx.keep = mask, a, keep
        return z

    @staticmethod
    def backward(ctx, grad):
        qkv, *kept = ctx.saved_tensors
        w, states = _saved_kept(ctx, kept) if ctx.keep else (None, None)
        with torch.no_grad():
            dqkv = _backward_qkv(grad, qkv, ctx.mask, ctx.a, w, states)
        return dqkv, None, None, None


def _attend_function(q, k, v, mask, a, return_weights, keep):
    out = _AttendFunction.apply(q, k, v, mask, a, return_weights, keep)
    return out if return_weights else (out, None)


def _attend_qkv_function(qkv, mask, a, keep):
    return _AttendQkvFunction.apply(qkv, mask, a, keep)


# ---- torch >= 2.4: custom ops that torch.compile traces ------------------------------------------

# Custom ops take no Python objects: a graph travels as its integer key into the package's registry
# of live graphs (diffuser._graph.graph_by_key).

def _register_custom_ops():
    """Defines the diffuser:: ops; returns their callables, or None when this torch lacks them."""
    if os.environ.get("DIFFUSER_TORCH_CUSTOM_OP", "1") == "0":
        return None
    lib = getattr(torch, "library", None)
    if lib is None or not hasattr(lib, "custom_op") or not hasattr(lib, "register_fake"):
        return None

    def args_of(rows, graph, batch, hops, alpha, theta, heat, threads, dropout, seed, check_finite=True):
        # graph: a Graph's key, or a PatternGraphs' (the graph for rows / batch tokens, built here);
        # batch > 1: the block-diagonal graph of that many copies (built once, kept with the graph).
        # seed: a scalar tensor, None without dropout.
        return _Args(core_of(batch_graph_by_key(graph, rows, batch)), hops, alpha, theta, heat, threads, dropout,
                     0 if seed is None else int(seed), check_finite)

    def kept_or_empty(q, w, states):
        # Ops return tensors: an empty one stands for "nothing kept" (recompute, K < 2, K = 0).
        return (w if w is not None else q.new_empty((0, 0), dtype=torch.float32),
                states if states is not None else q.new_empty((0,), dtype=torch.float32))

    def fake_kept(q, graph, batch, hops, alpha, theta, heat, return_weights, recompute):
        # The shapes _forward gives (with q of shape (N, H, D)).
        if q.dim() != 3:
            return q.new_empty((0, 0), dtype=torch.float32), q.new_empty((0,), dtype=torch.float32)
        n, h, d = q.shape
        k_hops = _core.plan_hops(hops, alpha, theta, heat)
        keep = not recompute and k_hops >= 1
        w = (0, 0)
        if keep or return_weights:  # (n and batch may be symbolic: the edge count specialises them)
            b = int(batch)
            w = (sequence_graph_by_key(graph, int(n), b).num_edges * b, h)
        states = (k_hops - 1, n, h, d) if keep and k_hops >= 2 else (0,)
        return q.new_empty(w, dtype=torch.float32), q.new_empty(states, dtype=torch.float32)

    def nonempty(x):
        return x if x.numel() > 0 else None

    @lib.custom_op("diffuser::attend", mutates_args=())
    def attend_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor], graph: int,
                  hops: int, alpha: float, theta: Optional[List[float]], heat: Optional[float],
                  threads: Optional[int], return_weights: bool, dropout: float, seed: Optional[torch.Tensor],
                  recompute: bool, check_finite: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = args_of(_rows(q), graph, 1, hops, alpha, theta, heat, threads, dropout, seed, check_finite)
        z, w, states = _forward(q, k, v, mask, a, return_weights, not recompute)
        return (z,) + kept_or_empty(q, w, states)

    @attend_op.register_fake
    def _(q, k, v, mask, graph, hops, alpha, theta, heat, threads, return_weights, dropout, seed, recompute,
          check_finite):
        return (q.new_empty(q.shape, dtype=torch.float32),) + fake_kept(q, graph, 1, hops, alpha, theta, heat,
                                                                        return_weights, recompute)

    @lib.custom_op("diffuser::attend_backward", mutates_args=())
    def attend_backward_op(grad: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           mask: Optional[torch.Tensor], graph: int, hops: int, alpha: float,
                           theta: Optional[List[float]], heat: Optional[float], threads: Optional[int],
                           dropout: float, seed: Optional[torch.Tensor], weights: Optional[torch.Tensor],
                           states: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = args_of(_rows(q), graph, 1, hops, alpha, theta, heat, threads, dropout, seed)
        dq, dk, dv = (_empty_like_features(q) for _ in range(3))
        _backward(grad, q, k, v, mask, a, dq, dk, dv, weights, states)
        return dq, dk, dv

    @attend_backward_op.register_fake
    def _(grad, q, k, v, mask, graph, hops, alpha, theta, heat, threads, dropout, seed, weights, states):
        return tuple(q.new_empty(q.shape, dtype=torch.float32) for _ in range(3))

    def attend_setup(ctx, inputs, output):
        q, k, v, mask = inputs[:4]
        seed, recompute = inputs[12], inputs[13]
        _, w, states = output
        ctx.mark_non_differentiable(w, states)
        ctx.save_for_backward(q, k, v, mask, seed, *((None, None) if recompute else (w, states)))
        ctx.rest = inputs[4:10] + inputs[11:12]  # graph .. threads, dropout (not return_weights)

    def attend_grad(ctx, grad, grad_weights, grad_states):
        q, k, v, mask, seed, w, states = ctx.saved_tensors
        kept = (nonempty(w), nonempty(states)) if w is not None else (None, None)
        dq, dk, dv = attend_backward_op(grad, q, k, v, mask, *ctx.rest, seed, *kept)
        return (dq, dk, dv) + (None,) * 12

    attend_op.register_autograd(attend_grad, setup_context=attend_setup)

    @lib.custom_op("diffuser::attend_qkv", mutates_args=())
    def attend_qkv_op(qkv: torch.Tensor, mask: Optional[torch.Tensor], graph: int, batch: int, hops: int,
                      alpha: float, theta: Optional[List[float]], heat: Optional[float], threads: Optional[int],
                      dropout: float, seed: Optional[torch.Tensor], recompute: bool,
                      check_finite: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = args_of(qkv.shape[0], graph, batch, hops, alpha, theta, heat, threads, dropout, seed, check_finite)
        z, w, states = _forward_qkv(qkv, mask, a, not recompute)
        return (z,) + kept_or_empty(qkv, w, states)

    @attend_qkv_op.register_fake
    def _(qkv, mask, graph, batch, hops, alpha, theta, heat, threads, dropout, seed, recompute, check_finite):
        n, _, h, d = qkv.shape
        q = qkv.new_empty((n, h, d), dtype=torch.float32)
        return (q,) + fake_kept(q, graph, batch, hops, alpha, theta, heat, False, recompute)

    @lib.custom_op("diffuser::attend_qkv_backward", mutates_args=())
    def attend_qkv_backward_op(grad: torch.Tensor, qkv: torch.Tensor, mask: Optional[torch.Tensor], graph: int,
                               batch: int, hops: int, alpha: float, theta: Optional[List[float]],
                               heat: Optional[float], threads: Optional[int], dropout: float,
                               seed: Optional[torch.Tensor], weights: Optional[torch.Tensor],
                               states: Optional[torch.Tensor]) -> torch.Tensor:
        a = args_of(qkv.shape[0], graph, batch, hops, alpha, theta, heat, threads, dropout, seed)
        return _backward_qkv(grad, qkv, mask, a, weights, states)

    @attend_qkv_backward_op.register_fake
    def _(grad, qkv, mask, graph, batch, hops, alpha, theta, heat, threads, dropout, seed, weights, states):
        return qkv.new_empty(qkv.shape, dtype=torch.float32)

    def qkv_setup(ctx, inputs, output):
        seed, recompute = inputs[10], inputs[11]
        _, w, states = output
        ctx.mark_non_differentiable(w, states)
        ctx.save_for_backward(inputs[0], inputs[1], seed, *((None, None) if recompute else (w, states)))
        ctx.rest = inputs[2:10]  # graph, batch .. dropout

    def qkv_grad(ctx, grad, grad_weights, grad_states):
        qkv, mask, seed, w, states = ctx.saved_tensors
        kept = (nonempty(w), nonempty(states)) if w is not None else (None, None)
        return (attend_qkv_backward_op(grad, qkv, mask, *ctx.rest, seed, *kept),) + (None,) * 12

    attend_qkv_op.register_autograd(qkv_grad, setup_context=qkv_setup)
    return attend_op, attend_qkv_op


_OPS_ERROR = None  # why the custom ops could not be registered, if they could not
try:
    _OPS = _register_custom_ops()
except Exception as _e:  # noqa: BLE001 - an older or unusual torch: the autograd.Function path
    _OPS = None
    _OPS_ERROR = _e
OP_PATH = "custom_op" if _OPS else "autograd.Function"


# ---- the public functions ------------------------------------------------------------------------


def attend(q, k, v, graph, *, hops=5, alpha=0.1, theta=None, heat=None, mask=None, threads=None,
           return_weights=False, dropout=0.0, recompute=True, check_finite=True):
    """diffuser.attend for torch tensors, differentiable in q, k and v (float32, (N, H, D), on the
    CPU or one CUDA device; NumPy arrays are taken as tensors). Returns z (N, H, D), or (z, weights) with
    return_weights (the weights carry no gradient).

    dropout (an extension of the contract, for training): the authors' attention dropout, on the
    weights after the softmax and on every hop's output; the masks come from torch's generator
    (torch.manual_seed reproduces them) and are regenerated, not stored, for the backward.

    recompute (for training): True (the default) keeps nothing graph-sized for the backward, which
    recomputes the weights and the K - 1 hop states; False keeps them from the forward (E x H + (K - 1)
    x N x H x D floats until the backward) and the backward skips those passes. Same gradients, bit
    for bit; only memory and time differ (docs/PYTHON.md, "Memory and speed in training").

    check_finite: as diffuser.attend (False: no NaN/Inf scan of q, k, v, so no synchronisation on a
    GPU: a training step without dropout then never waits for the device, and CUDA graphs can
    capture it).
    """
    g = core_of(graph)
    q, k, v = (_placed(name, _tensor(name, x)) for name, x in (("q", q), ("k", k), ("v", v)))
    return_weights = flag("return_weights", return_weights)
    dropout = real("dropout", dropout)
    if not 0.0 <= dropout < 1.0:
        raise Error(f"dropout must be in [0, 1), got {dropout}")
    if return_weights and dropout > 0:
        raise Error("return_weights is not available with dropout")
    mask = _mask_tensor(mask)
    hops, alpha, theta, heat = coefficients(hops, alpha, theta, heat)
    threads = threads_arg(threads)
    recompute = flag("recompute", recompute)
    check_finite = flag("check_finite", check_finite)
    training = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    if _OPS:  # plain values only on this path: torch.compile traces it
        z, w, _ = _OPS[0](q, k, v, mask, graph._key, hops, alpha, theta, heat, threads, return_weights, dropout,
                          _seed_tensor(dropout), recompute or not training, check_finite)
        return (z, w) if return_weights else z
    a = _Args(g, hops, alpha, theta, heat, threads, dropout, _dropout_seed(dropout), check_finite)
    if training:
        z, w = _attend_function(q, k, v, mask, a, return_weights, not recompute)
    else:
        z, w, _ = _forward(q, k, v, mask, a, return_weights)
    return (z, w) if return_weights else z


def attend_qkv(qkv, graph, *, hops=5, alpha=0.1, theta=None, heat=None, mask=None, threads=None, dropout=0.0,
               recompute=True, check_finite=True):
    """attend on one packed (N, 3, H, D) tensor (q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]), read in
    place; its gradient is one packed (N, 3, H, D) tensor, written by the engine directly (no
    per-view gradient buffers to add up). What DiffuserAttention uses. recompute, check_finite: as
    attend."""
    core_of(graph)
    dropout = real("dropout", dropout)
    if not 0.0 <= dropout < 1.0:
        raise Error(f"dropout must be in [0, 1), got {dropout}")
    return _attend_qkv(qkv, graph, 1, coefficients(hops, alpha, theta, heat), mask, threads_arg(threads), dropout,
                       flag("recompute", recompute), flag("check_finite", check_finite))


def _attend_qkv(qkv, graph, batch, coefs, mask, threads, dropout, recompute, check_finite):
    """attend_qkv over `batch` block-diagonal copies of graph, a Graph or a PatternGraphs (arguments
    checked by the caller). On the custom-op path the graphs are built inside the op, so neither a
    new batch size nor a new length is a graph break."""
    qkv = _placed("qkv", _tensor("qkv", qkv))
    _check_qkv(qkv)
    mask = _mask_tensor(mask)
    training = torch.is_grad_enabled() and qkv.requires_grad
    if _OPS:  # plain values only on this path: torch.compile traces it
        return _OPS[1](qkv, mask, graph._key, batch, *coefs, threads, dropout, _seed_tensor(dropout),
                       recompute or not training, check_finite)[0]
    a = _Args(core_of(batch_graph_by_key(graph._key, qkv.shape[0], batch)), *coefs, threads, dropout,
              _dropout_seed(dropout), check_finite)
    if training:
        return _attend_qkv_function(qkv, mask, a, not recompute)
    return _forward_qkv(qkv, mask, a)[0]


class DiffuserAttention(nn.Module):
    """Multi-head Diffuser self-attention: [Q K V] = x W_qkv^T + b_qkv (one packed projection, so
    q, k, v are views of one (B*N, 3, H, D) tensor), Z = diffusion over the graph, out = Z W_o^T +
    b_o. The graph passes (scores, softmax, hops and their backward) run in the engine.

    d_model, num_heads: d_model = num_heads * D. graph: a diffuser.Graph over the N tokens of one
    sequence, or a pattern expression (str), built for each sequence length met (with `seed`).
    hops, alpha (PPR), or theta / heat: the diffusion (as diffuser.attend). dropout: the authors'
    attention dropout (weights and hops), in training mode only. recompute: as diffuser.torch.attend
    (False: the forward keeps the weights and hop states for the backward; faster, more memory).
    check_finite: as diffuser.torch.attend (False: no NaN/Inf scan, no synchronisation on a GPU).

    forward(x, mask=None): x (B, N, d_model); mask (B, N), nonzero = real token (Hugging Face's
    attention_mask convention, not nn.MultiheadAttention's key_padding_mask). The B sequences run
    as one block-diagonal graph, as the C++ GraphBatch batches them; edges from or to padding get
    weight 0. Returns (B, N, d_model).
    """

    def __init__(self, d_model, num_heads, graph, hops=5, alpha=0.1, dropout=0.0, *, theta=None, heat=None,
                 bias=True, seed=0, threads=None, recompute=True, check_finite=True):
        super().__init__()
        d_model = integer("d_model", d_model, 1)
        num_heads = integer("num_heads", num_heads, 1)
        if d_model % num_heads:
            raise Error(f"d_model = {d_model} is not a multiple of num_heads = {num_heads}")
        if not isinstance(graph, (Graph, str)):
            raise Error(f"graph must be a diffuser.Graph or a pattern expression, got {type(graph).__name__}")
        self.d_model, self.num_heads, self.head_dim = d_model, num_heads, d_model // num_heads
        self.hops, self.alpha, self.theta, self.heat = coefficients(hops, alpha, theta, heat)
        self.dropout = real("dropout", dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise Error(f"dropout must be in [0, 1), got {self.dropout}")
        self.threads = threads_arg(threads)
        self.seed = integer("seed", seed, 0)
        self.recompute = flag("recompute", recompute)
        self.check_finite = flag("check_finite", check_finite)
        self.graph = graph
        # A pattern's graphs, built for each length met (inside the op under torch.compile).
        self._patterns = PatternGraphs(graph, self.seed) if isinstance(graph, str) else None
        self.qkv_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def extra_repr(self):
        g = self.graph if isinstance(self.graph, str) else f"Graph(n={self.graph.n})"
        return (f"d_model={self.d_model}, num_heads={self.num_heads}, graph={g!r}, hops={self.hops}, "
                f"alpha={self.alpha}, dropout={self.dropout}, recompute={self.recompute}")

    def _source(self, n):
        # What the op is handed for sequences of n tokens: the pattern's graphs, or the Graph.
        if self._patterns is not None:
            return self._patterns
        if self.graph.n != n:
            raise Error(f"x has N = {n} tokens but the graph has {self.graph.n}")
        return self.graph

    def sequence_graph(self, n):
        """The graph of one sequence of n tokens: the module's Graph, or its pattern built for n
        (kept for the last four lengths)."""
        n = integer("n", n, 1)
        return sequence_graph_by_key(self._source(n)._key, n, 1)

    def batch_graph(self, batch, n):
        """The block-diagonal graph of `batch` sequences of n tokens (kept with the sequence graph
        for the last four batch sizes)."""
        return self.sequence_graph(n)._batched(integer("batch", batch, 1))

    def forward(self, x, mask=None):
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[2] != self.d_model:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise Error(f"x must be a tensor of shape (B, N, {self.d_model}), got {shape}")
        b, n, _ = x.shape
        if mask is not None:
            mask = _tensor("mask", mask)
            if tuple(mask.shape) != (b, n):
                raise Error(f"mask must have shape ({b}, {n}) like x's (B, N), got {tuple(mask.shape)}")
            mask = mask.reshape(b * n)
        qkv = self.qkv_proj(x).reshape(b * n, 3, self.num_heads, self.head_dim)
        z = _attend_qkv(qkv, self._source(n), b, (self.hops, self.alpha, self.theta, self.heat), mask,
                        self.threads, self.dropout if self.training else 0.0, self.recompute, self.check_finite)
        return self.out_proj(z.reshape(b, n, self.d_model))
