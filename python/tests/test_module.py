"""diffuser.torch.DiffuserAttention against the same module written in plain PyTorch (dense
masked attention + diffusion), with batches, padding and a short training run."""

import math

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import diffuser  # noqa: E402
from diffuser.torch import DiffuserAttention  # noqa: E402
from reference import adjacency, ppr_theta  # noqa: E402


class PlainDiffuserAttention(nn.Module):
    """The same module in plain PyTorch: dense (N, N) scores per head, masked to the graph."""

    def __init__(self, d_model, num_heads, graph, hops=5, alpha=0.1):
        super().__init__()
        self.h, self.d = num_heads, d_model // num_heads
        self.qkv_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.register_buffer("adj", adjacency(graph))
        self.theta = ppr_theta(hops, alpha)

    def forward(self, x, mask=None):
        b, n, dm = x.shape
        qkv = self.qkv_proj(x).reshape(b, n, 3, self.h, self.d)
        q, k, v = (t.permute(0, 2, 1, 3) for t in qkv.unbind(2))  # (B, H, N, D)
        allowed = self.adj.expand(b, n, n)
        if mask is not None:
            m = mask != 0
            allowed = allowed & m[:, :, None] & m[:, None, :]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.d)
        s = s.masked_fill(~allowed[:, None], float("-inf"))
        has = allowed.any(-1)[:, None, :, None]
        a = torch.softmax(torch.where(has, s, torch.zeros_like(s)), -1) * allowed[:, None]
        z = self.theta[0] * v
        xk = v
        for t in self.theta[1:]:
            xk = a @ xk
            z = z + t * xk
        return self.out_proj(z.permute(0, 2, 1, 3).reshape(b, n, dm))


def pair(graph, d_model=32, heads=4, **kw):
    torch.manual_seed(0)
    ours = DiffuserAttention(d_model, heads, graph, **kw)
    plain = PlainDiffuserAttention(d_model, heads, graph, **kw)
    plain.load_state_dict(ours.state_dict(), strict=False)
    return ours, plain


@pytest.mark.parametrize("masked", [False, True])
def test_matches_plain_pytorch_forward_and_backward(masked):
    graph = diffuser.Graph.from_pattern("window:2+random:2+global:1", 24, seed=3)
    ours, plain = pair(graph, hops=4, alpha=0.2)
    x = torch.randn(3, 24, 32)
    mask = None
    if masked:
        mask = torch.ones(3, 24, dtype=torch.long)
        mask[0, 20:] = 0
        mask[2, 5:] = 0
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa, mask), plain(xb, mask)
    torch.testing.assert_close(ya, yb, rtol=1e-4, atol=1e-5)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(ours.named_parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_batch_is_block_diagonal():
    graph = diffuser.Graph.from_pattern("random:3+window:1", 16, seed=1)
    m = DiffuserAttention(16, 2, graph)
    x = torch.randn(3, 16, 16)
    with torch.no_grad():
        whole = m(x)
        for b in range(3):
            torch.testing.assert_close(whole[b:b + 1], m(x[b:b + 1]), rtol=1e-5, atol=1e-6)
    assert m.batch_graph(3, 16).n == 48


def test_modules_on_one_graph_share_its_batch_graphs():
    """The block-diagonal graph of a batch size is built once per Graph (kept with it for the last
    four sizes), not once per module."""
    graph = diffuser.Graph.from_pattern("window:1", 8)
    a, b = DiffuserAttention(16, 2, graph), DiffuserAttention(16, 4, graph)
    x = torch.randn(2, 8, 16)
    with torch.no_grad():
        a(x)
        b(x)
    two = a.batch_graph(2, 8)
    assert two is b.batch_graph(2, 8) and two.n == 16 and two.num_edges == 2 * graph.num_edges
    assert a.batch_graph(1, 8) is graph and a.sequence_graph(8) is graph
    for size in (3, 4, 5, 6):  # four newer sizes push 2 out
        a.batch_graph(size, 8)
    assert a.batch_graph(2, 8) is not two and a.batch_graph(2, 8) == two
    with pytest.raises(diffuser.Error, match="batch"):
        a.batch_graph(0, 8)


def test_pattern_module_copies_and_pickles():
    """A module on a pattern expression survives copy.deepcopy and pickle (its graphs are rebuilt
    under keys of their own) and gives the same output."""
    import copy
    import pickle

    m = DiffuserAttention(16, 2, "window:1+random:2", hops=2, seed=5).eval()
    x = torch.randn(2, 12, 16)
    with torch.no_grad():
        want = m(x)
        for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
            assert other._patterns._key != m._patterns._key
            torch.testing.assert_close(other(x), want, rtol=0, atol=0)
    assert m.sequence_graph(12) == diffuser.Graph.from_pattern("window:1+random:2", 12, seed=5)


def test_pattern_graph_any_length_and_errors():
    m = DiffuserAttention(16, 4, "window:2", hops=2)
    for n in (5, 9):
        assert m(torch.randn(2, n, 16)).shape == (2, n, 16)
    fixed = DiffuserAttention(16, 4, diffuser.Graph.from_pattern("window:2", 8))
    with pytest.raises(diffuser.Error, match="N = 5 tokens but the graph has 8"):
        fixed(torch.randn(1, 5, 16))
    with pytest.raises(diffuser.Error, match="multiple of num_heads"):
        DiffuserAttention(10, 4, "window:1")
    with pytest.raises(diffuser.Error, match=r"mask must have shape \(1, 8\)"):
        fixed(torch.randn(1, 8, 16), torch.ones(8))
    with pytest.raises(diffuser.Error, match="x must be a tensor of shape"):
        fixed(torch.randn(8, 16))
    assert "num_heads=4" in repr(fixed)


def test_dropout_only_in_training():
    graph = diffuser.Graph.from_pattern("window:2", 12)
    m = DiffuserAttention(16, 2, graph, dropout=0.5)
    x = torch.randn(2, 12, 16)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m(x), m(x), rtol=0, atol=0)
    m.train()
    torch.manual_seed(1)
    a = m(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, m(x))
    a.sum().backward()
    assert m.qkv_proj.weight.grad is not None


def test_training_loss_goes_down():
    torch.manual_seed(0)
    graph = diffuser.Graph.from_pattern("window:1+random:2", 32, seed=0)
    model = nn.Sequential(DiffuserAttention(16, 2, graph, hops=3), nn.Linear(16, 1))
    x = torch.randn(8, 32, 16)
    target = x[:, :, :1].roll(3, dims=1)  # needs information from 3 tokens away
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_recompute_false_module_same_bits():
    """DiffuserAttention(recompute=False) trains with the same bits as the default, with dropout."""
    graph = diffuser.Graph.from_pattern("window:2+random:2+global:1", 24, seed=3)
    x = torch.randn(2, 24, 32)
    mask = torch.ones(2, 24, dtype=torch.long)
    mask[1, 18:] = 0
    grads = []
    for recompute in (True, False):
        torch.manual_seed(0)
        m = DiffuserAttention(32, 4, graph, hops=3, dropout=0.2, recompute=recompute)
        assert f"recompute={recompute}" in repr(m)
        xa = x.clone().requires_grad_()
        torch.manual_seed(1)
        m(xa, mask).square().sum().backward()
        grads.append([xa.grad] + [p.grad for p in m.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
