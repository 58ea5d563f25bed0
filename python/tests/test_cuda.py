"""CUDA tensors: diffuser.torch on the GPU against float64 references and against the CPU engine,
on PyTorch's streams and allocator; torch.compile through the custom ops. Skipped without a CUDA
device or without the CUDA backend in this build.

Runs under pytest, or directly (`python3 test_cuda.py`: every test once, exit 1 on a failure,
77 when skipped) on machines without pytest."""

import os
import sys
import threading

try:
    import pytest
except ImportError:  # the GPU machine may lack pytest: __main__ below runs the tests
    pytest = None

if pytest is not None:
    torch = pytest.importorskip("torch")
else:
    import torch

import diffuser
import diffuser.torch as dt
from reference import check_against_float64, heat_theta, ppr_theta

SKIP_WHY = None
if not torch.cuda.is_available():
    SKIP_WHY = "no CUDA device"
elif not diffuser._core.build_info()["cuda_available"]:
    SKIP_WHY = f"this build cannot use CUDA ({diffuser._core.build_info()['cuda']})"
if pytest is not None and SKIP_WHY:
    pytestmark = pytest.mark.skip(reason=SKIP_WHY)

DEV = "cuda:0"

CASES = [
    # (pattern, n, kwargs, theta)
    ("window:2", 23, {}, ppr_theta(5, 0.1)),
    ("random:3+global:1", 31, {"hops": 3, "alpha": 0.25}, ppr_theta(3, 0.25)),
    ("diffuser:8:4:2", 40, {"hops": 0}, ppr_theta(0, 0.1)),
    ("window:1+random:2", 30, {"theta": [0.4, 0.3, 0.2, 0.1]}, [0.4, 0.3, 0.2, 0.1]),
    ("dilated:2:3", 27, {"heat": 1.5, "hops": 6}, heat_theta(6, 1.5)),
    ("diffuser:64:32:8", 700, {}, ppr_theta(5, 0.1)),  # hub rows (global tokens), panels
]


def inputs(n, h=2, d=8, seed=0, device=DEV):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, h, d, generator=g).to(device) for _ in range(3)]


def rel(a, b):
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def test_forward_and_gradients_against_float64():
    for case, (spec, n, kw, theta) in enumerate(CASES):
        for masked in (False, True):
            graph = diffuser.Graph.from_pattern(spec, n, seed=case)
            q, k, v = inputs(n, seed=case)
            mask = (torch.rand(n, generator=torch.Generator().manual_seed(9)) > 0.25).to(torch.uint8) if masked else None
            check_against_float64(dt.attend, graph, q, k, v, theta, mask, kw)


def test_cuda_matches_the_cpu_engine():
    graph = diffuser.Graph.from_pattern("diffuser:64:32:8", 1000, seed=2)
    q, k, v = inputs(1000, h=4, d=64, seed=3)
    z, w = dt.attend(q, k, v, graph, return_weights=True)
    zc, wc = dt.attend(q.cpu(), k.cpu(), v.cpu(), graph, return_weights=True)
    assert rel(z, zc) <= 1e-5 and rel(w, wc) <= 1e-5
    assert w.shape == (graph.num_edges, 4) and w.device == q.device


def test_packed_qkv_views_and_strided_inputs():
    graph = diffuser.Graph.from_pattern("window:3+random:2", 64, seed=1)
    qkv = torch.randn(64, 3, 2, 16, device=DEV, requires_grad=True)
    z = dt.attend_qkv(qkv, graph)
    dz = torch.randn_like(z)
    z.backward(dz)
    q, k, v = (x.detach().clone().requires_grad_() for x in qkv.detach().unbind(1))
    z2 = dt.attend(q, k, v, graph)
    z2.backward(dz)
    assert torch.equal(z, z2)
    assert torch.equal(qkv.grad, torch.stack([q.grad, k.grad, v.grad], 1))
    # D not contiguous: made contiguous on the device, same result
    qt = q.detach().transpose(1, 2).contiguous().transpose(1, 2)
    assert torch.equal(dt.attend(qt, k.detach(), v.detach(), graph), z2.detach())


def test_inputs_are_read_in_place():
    x = torch.randn(10, 3, 2, 8, device=DEV)
    for i in range(3):
        ptr, copied = diffuser._core.engine_view(x[:, i])
        assert ptr == x[:, i].data_ptr() and not copied


def test_current_stream_and_threads():
    """Calls on other streams and from other threads give bitwise the default stream's result."""
    graph = diffuser.Graph.from_pattern("diffuser:64:32:8", 2048, seed=5)
    q, k, v = inputs(2048, h=4, d=32, seed=4)
    want = dt.attend(q, k, v, graph)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        got = dt.attend(q, k, v, graph)
    torch.cuda.current_stream().wait_stream(s)
    assert torch.equal(got, want)
    results, errors = [None] * 4, []

    def work(i):
        try:
            st = torch.cuda.Stream()
            st.wait_stream(torch.cuda.default_stream())
            with torch.cuda.stream(st):
                r = dt.attend(q, k, v, graph)
            st.synchronize()
            results[i] = r
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for r in results:
        assert torch.equal(r, want)


def test_scratch_comes_from_torchs_allocator():
    graph = diffuser.Graph.from_pattern("diffuser:64:32:8", 4096, seed=1)
    q, k, v = inputs(4096, h=4, d=64)
    dt.attend(q, k, v, graph)  # the graph's copy and plans: made once
    torch.cuda.synchronize()

    def allocations():
        return torch.cuda.memory_stats()["allocation.all.allocated"]

    before = allocations()
    dt.attend(q, k, v, graph)
    with_torch = allocations() - before
    old = os.environ.get("DIFFUSER_TORCH_ALLOCATOR")
    os.environ["DIFFUSER_TORCH_ALLOCATOR"] = "0"
    try:
        before = allocations()
        z = dt.attend(q, k, v, graph)
        own_pool = allocations() - before
    finally:
        if old is None:
            del os.environ["DIFFUSER_TORCH_ALLOCATOR"]
        else:
            os.environ["DIFFUSER_TORCH_ALLOCATOR"] = old
    assert own_pool == 1, own_pool  # the output only
    assert with_torch >= 3, with_torch  # the output, the weights, a hop buffer
    assert torch.equal(z, dt.attend(q, k, v, graph))


def test_module_on_cuda_matches_cpu():
    torch.manual_seed(0)
    graph = diffuser.Graph.from_pattern("window:2+random:2+global:1", 48, seed=3)
    cpu = dt.DiffuserAttention(32, 4, graph, hops=4, alpha=0.2)
    gpu = dt.DiffuserAttention(32, 4, graph, hops=4, alpha=0.2).to(DEV)
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(3, 48, 32)
    mask = torch.ones(3, 48, dtype=torch.long)
    mask[1, 30:] = 0
    xa, xb = x.clone().requires_grad_(), x.to(DEV).requires_grad_()
    ya, yb = cpu(xa, mask), gpu(xb, mask.to(DEV))
    torch.testing.assert_close(yb.cpu(), ya, rtol=1e-4, atol=1e-5)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g.to(DEV))
    torch.testing.assert_close(xb.grad.cpu(), xa.grad, rtol=1e-4, atol=1e-5)
    for (name, p), r in zip(gpu.named_parameters(), cpu.parameters()):
        torch.testing.assert_close(p.grad.cpu(), r.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_training_loop_on_cuda():
    torch.manual_seed(1)
    n, dm = 64, 32
    graph = diffuser.Graph.from_pattern("window:2+random:2+global:1", n, seed=0)
    attn = dt.DiffuserAttention(dm, 4, graph).to(DEV)
    head = torch.nn.Linear(dm, 1).to(DEV)
    opt = torch.optim.Adam(list(attn.parameters()) + list(head.parameters()), lr=3e-3)
    x = torch.randn(8, n, dm, device=DEV)
    y = x[:, :, :4].sum(-1, keepdim=True)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.mse_loss(head(attn(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])


def test_recompute_false_on_cuda():
    """recompute=False on the GPU: the forward's kept weights and hop states serve the backward.
    Within 1e-6 of recomputing (not bit for bit: the GPU's weights for a head group may differ in
    the last bit from the all-heads forward's, as the grouped backward does)."""
    graph = diffuser.Graph.from_pattern("diffuser:64:32:8", 700, seed=4)
    q, k, v = inputs(700, h=4, d=32, seed=5)
    mask = (torch.rand(700, generator=torch.Generator().manual_seed(1)) > 0.1).to(torch.uint8)
    dz = torch.randn(700, 4, 32, generator=torch.Generator().manual_seed(2)).to(DEV)
    for dropout in (0.0, 0.2):
        results = []
        for recompute in (True, False):
            torch.manual_seed(3)
            leaves = [x.clone().requires_grad_() for x in (q, k, v)]
            z = dt.attend(*leaves, graph, mask=mask, dropout=dropout, recompute=recompute)
            z.backward(dz)
            torch.manual_seed(3)
            packed = torch.stack((q, k, v), 1).requires_grad_()
            dt.attend_qkv(packed, graph, mask=mask, dropout=dropout, recompute=recompute).backward(dz)
            results.append([z.detach()] + [x.grad for x in leaves] + [packed.grad])
        for a, b in zip(*results):
            assert rel(b, a) <= 1e-6, (dropout, rel(b, a))


def test_cuda_graph_capture_without_the_finite_check():
    """check_finite=False leaves no synchronisation in a call: a forward + backward step (recompute
    or not) is captured into a CUDA graph and replayed on new inputs, equal to eager calls."""
    graph = diffuser.Graph.from_pattern("diffuser:64:32:8", 600, seed=3)
    for recompute in (True, False):
        static = [x.requires_grad_() for x in inputs(600, h=4, d=32, seed=1)]
        dz = torch.randn(600, 4, 32, device=DEV)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: the graph's plans and the reverse graph on the device
            for _ in range(3):
                dt.attend(*static, graph, check_finite=False, recompute=recompute).backward(dz)
        torch.cuda.current_stream().wait_stream(side)
        for x in static:
            x.grad = None
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(cuda_graph):
            z = dt.attend(*static, graph, check_finite=False, recompute=recompute)
            z.backward(dz)
        fresh = inputs(600, h=4, d=32, seed=2)
        with torch.no_grad():
            for x, f in zip(static, fresh):
                x.copy_(f)
        cuda_graph.replay()
        torch.cuda.synchronize()
        eager = [f.clone().requires_grad_() for f in fresh]
        z_eager = dt.attend(*eager, graph, recompute=recompute)
        z_eager.backward(dz)
        assert rel(z, z_eager) <= 1e-6, recompute
        for x, e in zip(static, eager):
            assert rel(x.grad, e.grad) <= 1e-6, recompute


def test_errors_on_cuda():
    graph = diffuser.Graph.from_pattern("window:2", 6)
    q = torch.zeros(6, 2, 4, device=DEV)

    def expect(fn, text):
        try:
            fn()
        except diffuser.Error as e:
            assert text in str(e), (text, str(e))
            return
        raise AssertionError(f"no diffuser.Error ({text})")

    expect(lambda: dt.attend(q, q.cpu(), q, graph), "k is on cpu but q is on cuda:0")
    bad = q.clone()
    bad[3, 1, 2] = float("nan")
    expect(lambda: dt.attend(bad, q, q, graph), "q holds a non-finite value at [3, 1, 2]")
    expect(lambda: dt.attend(q.double(), q, q, graph), "q must be float32")
    expect(lambda: diffuser.mass(graph, q=q, k=q), "q must be in host memory, got a tensor on cuda:0")


def test_custom_ops_and_torch_compile():
    if dt.OP_PATH != "custom_op":
        print(f"  (torch {torch.__version__}: no custom ops, OP_PATH = {dt.OP_PATH}; compile not tested)")
        return
    graph = diffuser.Graph.from_pattern("diffuser:64:32:8", 512, seed=1)
    q, k, v = (x.requires_grad_() for x in inputs(512, h=4, d=32, seed=7))
    if hasattr(torch.library, "opcheck"):
        args = (q, k, v, None, graph._key, 5, 0.1, None, None, None, False, 0.0, None, True, True)
        torch.library.opcheck(torch.ops.diffuser.attend.default, args)

    def f(q, k, v):
        z = dt.attend(q * 1.5, k, v, graph)
        return (z.relu() * 2).sum(-1)

    eager = f(q, k, v)
    eager.sum().backward()
    grads = [x.grad.clone() for x in (q, k, v)]
    for x in (q, k, v):
        x.grad = None
    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True)  # fullgraph: a graph break is an error
    try:
        out = compiled(q, k, v)
    except Exception:
        _explain(f, q, k, v)
        raise
    out.sum().backward()
    torch.testing.assert_close(out, eager, rtol=1e-5, atol=1e-6)
    for a, b in zip((q, k, v), grads):
        torch.testing.assert_close(a.grad, b, rtol=1e-5, atol=1e-6)
    # the module under torch.compile (a batch size first met in the trace: no graph break)
    torch.manual_seed(0)
    m = dt.DiffuserAttention(64, 4, graph).to(DEV)
    x = torch.randn(2, 512, 64, device=DEV)
    cm = torch.compile(m, fullgraph=True)
    try:
        got = cm(x)
    except Exception:
        _explain(m, x)
        raise
    want = m(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def _explain(fn, *args):
    """Why torch.compile broke the graph (printed: the test fails anyway)."""
    try:
        torch._dynamo.reset()
        e = torch._dynamo.explain(fn)(*args)
        print(f"  graph breaks: {e.graph_break_count}")
        for b in e.break_reasons:
            print(f"    {b.reason}")
            for frame in b.user_stack[-3:]:
                print(f"      {frame.filename}:{frame.lineno} {frame.name}")
    except Exception as ex:  # noqa: BLE001 - diagnostics only
        print(f"  (explain failed: {type(ex).__name__}: {ex})")


def _main(only):
    """Runs the tests (those whose names contain one of `only`, when given)."""
    if SKIP_WHY:
        print(f"skipped: {SKIP_WHY}")
        return 77
    failed = 0
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn) and (not only or any(o in name for o in only)):
            try:
                fn()
                print(f"PASSED {name}")
            except Exception as e:  # noqa: BLE001 - reported and counted
                import traceback

                traceback.print_exc()
                print(f"FAILED {name}: {type(e).__name__}: {e}")
                failed += 1
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(_main(sys.argv[1:]))
