"""A short PyTorch training loop with DiffuserAttention: a small model learns, for every token, the
mean of the values within 4 tokens of it. Each token's graph neighbours are only the tokens next
to it (window 1) and two random ones: the diffusion's hops bring the rest. The loss goes down.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/train.py
"""

import torch
from torch import nn

import diffuser
from diffuser.torch import DiffuserAttention

torch.manual_seed(0)
n, d_model, heads, batch = 64, 32, 4, 16
graph = diffuser.Graph.from_pattern("window:1+random:2", n, seed=0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = DiffuserAttention(d_model, heads, graph, hops=4, alpha=0.1, dropout=0.0)
        self.norm = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))

    def forward(self, x, mask=None):
        x = self.norm(x + self.attn(x, mask))
        return x + self.ff(x)


embed = nn.Linear(1, d_model)
pos = nn.Parameter(torch.randn(n, d_model) * 0.1)
blocks = nn.ModuleList([Block()])
head = nn.Linear(d_model, 1)
params = list(embed.parameters()) + [pos] + list(blocks.parameters()) + list(head.parameters())
opt = torch.optim.AdamW(params, lr=3e-3)

for step in range(101):
    values = torch.randn(batch, n, 1)
    # token i: the mean of the values of tokens i-4 .. i+4 (zero padded at the ends)
    target = nn.functional.avg_pool1d(values.transpose(1, 2), 9, stride=1, padding=4).transpose(1, 2)
    mask = torch.ones(batch, n, dtype=torch.long)
    mask[: batch // 4, n - 8:] = 0  # some sequences are padded: 1 = real token
    x = embed(values) + pos
    for b in blocks:
        x = b(x, mask)
    loss = ((head(x) - target).square() * mask[..., None]).sum() / mask.sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}")
