"""diffuser.torch.attend: torch in, torch out; gradients against a pure-PyTorch float64
implementation of the same math; zero-copy of tensors; dropout."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import diffuser  # noqa: E402
import diffuser.torch as dt  # noqa: E402
from reference import check_against_float64, heat_theta, ppr_theta  # noqa: E402

CASES = [
    # (pattern, n, kwargs, theta)
    ("window:2", 23, {}, ppr_theta(5, 0.1)),
    ("random:3+global:1", 31, {"hops": 3, "alpha": 0.25}, ppr_theta(3, 0.25)),
    ("diffuser:8:4:2", 40, {"hops": 0}, ppr_theta(0, 0.1)),
    ("bigbird:4:1:1", 24, {"hops": 1}, ppr_theta(1, 0.1)),
    ("window:1+random:2", 30, {"theta": [0.4, 0.3, 0.2, 0.1]}, [0.4, 0.3, 0.2, 0.1]),
    ("window:1+random:2", 30, {"theta": [0.7]}, [0.7]),
    ("dilated:2:3", 27, {"heat": 1.5, "hops": 6}, heat_theta(6, 1.5)),
]


def inputs(n, h=2, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, h, d, generator=g) for _ in range(3)]


def rel(a, b):
    return float((a.double() - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("masked", [False, True])
def test_gradients_against_pytorch_float64(case, masked):
    spec, n, kw, theta = CASES[case]
    graph = diffuser.Graph.from_pattern(spec, n, seed=case)
    q, k, v = inputs(n, seed=case)
    mask = (torch.rand(n, generator=torch.Generator().manual_seed(9)) > 0.25).to(torch.uint8) if masked else None
    check_against_float64(dt.attend, graph, q, k, v, theta, mask, kw)


def test_torch_in_torch_out_and_dispatch():
    g = diffuser.Graph.from_pattern("window:2", 20)
    q, k, v = inputs(20)
    z = diffuser.attend(q, k, v, g)
    assert isinstance(z, torch.Tensor) and z.shape == (20, 2, 8) and not z.requires_grad
    np.testing.assert_array_equal(z.numpy(), diffuser.attend(q.numpy(), k.numpy(), v.numpy(), g))
    z, w = diffuser.attend(q, k, v, g, return_weights=True)
    assert isinstance(w, torch.Tensor) and w.shape == (g.num_edges, 2)
    # a tensor that requires grad makes diffuser.attend the differentiable one
    qg = q.clone().requires_grad_()
    z = diffuser.attend(qg, k, v, g)
    assert z.requires_grad
    z.sum().backward()
    assert qg.grad is not None and qg.grad.shape == q.shape
    with torch.no_grad():
        assert not diffuser.attend(qg, k, v, g).requires_grad


def test_weights_carry_no_gradient():
    g = diffuser.Graph.from_pattern("window:1", 10)
    q, k, v = (x.requires_grad_() for x in inputs(10))
    z, w = dt.attend(q, k, v, g, return_weights=True)
    assert z.requires_grad and not w.requires_grad
    z.sum().backward()
    assert v.grad is not None


def test_only_requested_gradients():
    g = diffuser.Graph.from_pattern("window:1", 10)
    q, k, v = inputs(10)
    v.requires_grad_()
    dt.attend(q, k, v, g).sum().backward()
    assert v.grad is not None and q.grad is None and k.grad is None


def test_tensors_are_read_in_place():
    g = diffuser.Graph.from_pattern("window:2", 16)
    packed = torch.randn(16, 3, 2, 8)
    for x in packed.unbind(1):
        addr, copied = diffuser._core.engine_view(x)
        assert addr == x.data_ptr() and not copied
    q, k, v = packed.unbind(1)
    torch.testing.assert_close(dt.attend(q, k, v, g), dt.attend(q.contiguous(), k.contiguous(), v.contiguous(), g),
                               rtol=0, atol=0)
    t = torch.randn(2, 16, 8).transpose(0, 1)  # (N, H, D) with heads outermost: copied
    assert diffuser._core.engine_view(t)[1]


def test_packed_qkv_gradient():
    g = diffuser.Graph.from_pattern("random:3+window:1", 25, seed=2)
    qkv = torch.randn(25, 3, 2, 8)
    a = qkv.clone().requires_grad_()
    dt.attend_qkv(a, g, hops=3).square().sum().backward()
    b = qkv.clone().requires_grad_()
    q, k, v = b.unbind(1)
    dt.attend(q, k, v, g, hops=3).square().sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)


def test_dropout_reproducible_and_linear_in_v():
    """With dropout the masks come from torch's generator; the backward regenerates the same
    masks: for fixed masks Z is linear in V, so <dZ, J u> = <dV, u>."""
    g = diffuser.Graph.from_pattern("window:2+random:2", 30, seed=1)
    q, k, v = inputs(30, seed=3)
    torch.manual_seed(5)
    z1 = dt.attend(q, k, v, g, dropout=0.3)
    torch.manual_seed(5)
    z2 = dt.attend(q, k, v, g, dropout=0.3)
    torch.testing.assert_close(z1, z2, rtol=0, atol=0)
    assert not torch.allclose(z1, dt.attend(q, k, v, g))

    u = torch.randn_like(v)
    dz = torch.randn_like(v)
    vv = v.clone().requires_grad_()
    torch.manual_seed(7)
    dt.attend(q, k, vv, g, dropout=0.3).backward(dz)
    torch.manual_seed(7)
    ju = dt.attend(q, k, u, g, dropout=0.3)  # J u (Z is linear in V)
    assert float((dz * ju).sum()) == pytest.approx(float((vv.grad * u).sum()), rel=1e-4)


def grads_of(fn, tensors, dz_seed=11):
    """fn's output and the gradients of <dz, fn(...)> in each of `tensors` (fresh leaves)."""
    leaves = [x.clone().requires_grad_() for x in tensors]
    out = fn(*leaves)
    z = out[0] if isinstance(out, tuple) else out
    z.backward(torch.randn(z.shape, generator=torch.Generator().manual_seed(dz_seed)))
    return [z.detach()] + [x.grad for x in leaves]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_recompute_false_gives_the_same_bits(case, dropout):
    """recompute=False keeps the forward's weights and hop states for the backward: same output and
    gradients bit for bit (attend and attend_qkv, with a mask, with dropout's regenerated masks)."""
    spec, n, kw, _ = CASES[case]
    graph = diffuser.Graph.from_pattern(spec, n, seed=case)
    q, k, v = inputs(n, h=3, seed=case)
    mask = (torch.rand(n, generator=torch.Generator().manual_seed(2)) > 0.2).to(torch.uint8)
    results = []
    for recompute in (True, False):
        torch.manual_seed(4)
        got = grads_of(lambda a, b, c: dt.attend(a, b, c, graph, mask=mask, dropout=dropout, recompute=recompute,
                                                 **kw), (q, k, v))
        torch.manual_seed(4)
        got += grads_of(lambda x: dt.attend_qkv(x, graph, mask=mask, dropout=dropout, recompute=recompute, **kw),
                        (torch.stack((q, k, v), 1),))
        results.append(got)
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_recompute_false_returned_weights_are_the_kept_ones():
    g = diffuser.Graph.from_pattern("window:2+random:2", 30, seed=3)
    q, k, v = (x.requires_grad_() for x in inputs(30))
    z, w = dt.attend(q, k, v, g, return_weights=True, recompute=False)
    z_ref, w_ref = dt.attend(q.detach(), k.detach(), v.detach(), g, return_weights=True)
    torch.testing.assert_close(w, w_ref, rtol=0, atol=0)
    torch.testing.assert_close(z.detach(), z_ref, rtol=0, atol=0)
    assert not w.requires_grad
    # The backward reads them: changing them in place is caught, as for any saved tensor.
    with torch.no_grad():
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    with pytest.raises(diffuser.Error, match="recompute must be True or False"):
        dt.attend(q, k, v, g, recompute="no")


def test_check_finite_false():
    g = diffuser.Graph.from_pattern("window:2", 12)
    q, k, v = inputs(12)
    v[3, 1, 2] = float("inf")
    with pytest.raises(diffuser.Error, match=r"v holds a non-finite value at \[3, 1, 2\]"):
        dt.attend(q, k, v, g)
    vv = v.clone().requires_grad_()
    z = dt.attend(q, k, vv, g, check_finite=False)
    assert not torch.isfinite(z).all()
    z.sum().backward()
    assert vv.grad is not None
    m, ref = dt.DiffuserAttention(16, 2, g, check_finite=False), dt.DiffuserAttention(16, 2, g)
    ref.load_state_dict(m.state_dict())
    x = torch.randn(1, 12, 16)
    torch.testing.assert_close(m(x), ref(x), rtol=0, atol=0)


def test_op_path():
    assert dt.OP_PATH in ("custom_op", "autograd.Function")
    if not hasattr(torch.library, "custom_op"):
        assert dt.OP_PATH == "autograd.Function"
    elif os.environ.get("DIFFUSER_TORCH_CUSTOM_OP", "1") != "0":
        assert dt.OP_PATH == "custom_op", dt._OPS_ERROR


@pytest.mark.skipif(dt.OP_PATH != "custom_op", reason="torch.library custom ops need torch >= 2.4")
def test_torch_compile_traces_the_ops_without_graph_breaks():
    g = diffuser.Graph.from_pattern("window:2+random:2", 40, seed=1)
    mask = torch.ones(40, dtype=torch.uint8)
    mask[35:] = 0

    def f(q, k, v):
        z, w = dt.attend(q, k, v, g, hops=3, alpha=0.2, mask=mask, return_weights=True)
        return z.square().sum() + w.sum()

    def f_qkv(qkv):
        return dt.attend_qkv(qkv, g, theta=[0.2, 0.3, 0.5], mask=mask).square().sum()

    torch.library.opcheck(torch.ops.diffuser.attend.default,
                          (*inputs(40), mask, g._key, 3, 0.2, None, None, None, True, 0.0, None, True, True))
    compiled, compiled_qkv = torch.compile(f, fullgraph=True), torch.compile(f_qkv, fullgraph=True)
    for fn, cfn, args in ((f, compiled, inputs(40)), (f_qkv, compiled_qkv, [torch.randn(40, 3, 2, 8)])):
        eager = [x.clone().requires_grad_() for x in args]
        traced = [x.clone().requires_grad_() for x in args]
        fn(*eager).backward()
        cfn(*traced).backward()
        for a, b in zip(eager, traced):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-6)

    m = dt.DiffuserAttention(16, 2, g)
    x = torch.randn(2, 40, 16)
    torch.testing.assert_close(torch.compile(m)(x), m(x), rtol=1e-5, atol=1e-6)

    # recompute=False: the kept weights and hop states are op outputs that the backward op reads.
    torch.library.opcheck(torch.ops.diffuser.attend.default,
                          (*inputs(40), mask, g._key, 3, 0.2, None, None, None, False, 0.0, None, False, True))
    torch.library.opcheck(torch.ops.diffuser.attend_qkv.default,
                          (torch.randn(40, 3, 2, 8), mask, g._key, 1, 3, 0.2, None, None, None, 0.0, None, False, False))

    def f_keep(q, k, v):
        return dt.attend(q, k, v, g, hops=3, alpha=0.2, mask=mask, recompute=False).square().sum()

    def f_qkv_keep(qkv):
        return dt.attend_qkv(qkv, g, hops=3, alpha=0.2, mask=mask, recompute=False).square().sum()

    compiled_keep, compiled_qkv_keep = torch.compile(f_keep, fullgraph=True), torch.compile(f_qkv_keep,
                                                                                          fullgraph=True)
    qkv = torch.randn(40, 3, 2, 8)
    for fn, args in ((compiled_keep, list(qkv.unbind(1))), (compiled_qkv_keep, [qkv])):
        traced = [x.clone().requires_grad_() for x in args]
        fn(*traced).backward()
        eager = qkv.clone().requires_grad_()
        dt.attend_qkv(eager, g, hops=3, alpha=0.2, mask=mask).square().sum().backward()
        got = traced[0].grad if len(traced) == 1 else torch.stack([t.grad for t in traced], 1)
        torch.testing.assert_close(got, eager.grad, rtol=0, atol=0)


@pytest.mark.skipif(dt.OP_PATH != "custom_op", reason="torch.library custom ops need torch >= 2.4")
def test_module_compiles_in_one_graph_for_any_batch_and_with_dropout():
    """DiffuserAttention under torch.compile(fullgraph=True) with a fixed Graph: a batch size never
    seen eagerly (its block-diagonal graph is built inside the op) and dropout (its seed a tensor
    read inside the op) break no graph; the batched op and its backward pass opcheck."""
    g = diffuser.Graph.from_pattern("window:2+random:2", 24, seed=3)
    mask = torch.ones(3 * 24, dtype=torch.uint8)
    mask[70:] = 0
    torch.library.opcheck(torch.ops.diffuser.attend_qkv.default,
                          (torch.randn(72, 3, 2, 8), mask, g._key, 3, 2, 0.2, None, None, None, 0.3,
                           torch.tensor(12345), False, True))
    torch.manual_seed(0)
    m = dt.DiffuserAttention(16, 2, g, hops=2)
    x = torch.randn(3, 24, 16)
    torch._dynamo.reset()
    cm = torch.compile(m, fullgraph=True)  # a graph break would be an error
    torch.testing.assert_close(cm(x), m(x), rtol=1e-5, atol=1e-6)
    assert m.batch_graph(3, 24).num_edges == 3 * g.num_edges

    xs = [x.clone().requires_grad_() for _ in range(2)]
    cm(xs[0]).square().sum().backward()
    m(xs[1]).square().sum().backward()
    torch.testing.assert_close(xs[0].grad, xs[1].grad, rtol=1e-5, atol=1e-6)

    dropped = dt.DiffuserAttention(16, 2, g, hops=2, dropout=0.3).train()
    cd = torch.compile(dropped, fullgraph=True)
    xd = x.clone().requires_grad_()
    out = cd(xd)
    out.square().sum().backward()
    assert torch.isfinite(xd.grad).all() and xd.grad.abs().sum() > 0
    dropped.eval()
    torch.testing.assert_close(cd(x), dropped(x), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(dt.OP_PATH != "custom_op", reason="torch.library custom ops need torch >= 2.4")
def test_pattern_module_compiles_in_one_graph_at_new_lengths():
    """A module on a pattern expression under torch.compile(fullgraph=True): a length and a batch
    size never run eagerly build their graphs inside the op (default and recompute=False, whose
    fake kernel needs the edge count), equal to eager."""
    for recompute in (True, False):
        torch.manual_seed(1)
        m = dt.DiffuserAttention(16, 2, "window:2+random:2", hops=2, seed=3, recompute=recompute)
        torch._dynamo.reset()
        cm = torch.compile(m, fullgraph=True)
        for b, n in ((2, 20), (3, 28)):
            x = torch.randn(b, n, 16)
            xs = [x.clone().requires_grad_() for _ in range(2)]
            got = cm(xs[0])
            got.square().sum().backward()
            want = m(xs[1])
            want.square().sum().backward()
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(xs[0].grad, xs[1].grad, rtol=1e-5, atol=1e-6)
            assert m.batch_graph(b, n).num_edges == b * diffuser.Graph.from_pattern("window:2+random:2", n,
                                                                                     seed=3).num_edges
