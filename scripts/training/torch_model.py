"""The Diffuser classification model in plain PyTorch, as diffuser's C++ model computes it.

Shared by tests/training/torch_check.py (loss over AdamW steps, whole-model gradients) and
scripts/training/compare_torch_cpu.py (the speed comparison): RoBERTa embeddings (word + position +
token type, LayerNorm), post-LN encoder layers whose attention is a softmax over the graph's edges
(dense, masked) followed by K hops of diffusion, RoBERTa's classification head on token 0.
Weights come from a diffuser safetensors file (RoBERTa names).
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    """{name: np.ndarray} and the metadata of a safetensors file (F32/F64/I32/I64 tensors)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[base + a:base + b], dtype=_DTYPES[t["dtype"]]).reshape(t["shape"]).copy()
    return out, meta


def coefficients(cfg):
    """theta_0..theta_K of the config's diffusion (PPR, heat or explicit theta)."""
    if cfg.get("diffusion_theta"):
        return list(cfg["diffusion_theta"])
    k = cfg.get("diffusion_hops", 5)
    if cfg.get("diffusion_heat_t", -1.0) >= 0.0:
        t = cfg["diffusion_heat_t"]
        theta = [math.exp(-t) * t ** i / math.factorial(i) for i in range(k)]
        return theta + [1.0 - sum(theta)]  # the remaining mass on A^K
    a = cfg.get("diffusion_alpha", 0.1)
    return None if k == 0 else ("ppr", k, a)


class DiffuserModel:
    """Parameters as leaf tensors named like the safetensors file; forward on one batch."""

    def __init__(self, cfg, weights, dtype=torch.float32):
        self.cfg = cfg
        self.params = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in weights.items()
                       if not k.startswith("optimizer.")}
        self.dtype = dtype

    def p(self, name):
        return self.params[name]

    def diffuse(self, a, v):
        """a (..., H, L, L) attention weights, v (..., H, L, D): the config's diffusion of v."""
        c = self.cfg
        k = c.get("diffusion_hops", 5)
        if c.get("diffusion_theta") or c.get("diffusion_heat_t", -1.0) >= 0.0:
            theta = coefficients(c)
            z = theta[-1] * v  # Horner: z = theta_K v; z = A z + theta_k v
            for t in reversed(theta[:-1]):
                z = a @ z + t * v
            return z
        if k == 0:
            return a @ v
        alpha = c.get("diffusion_alpha", 0.1)
        z = v
        for _ in range(k):
            z = (1.0 - alpha) * (a @ z) + alpha * v
        return z

    def layer(self, i, x, mask):
        """x (B, L, d); mask (L, L) bool, mask[i, j] = edge j -> i."""
        c = self.cfg
        pre = "encoder.layer.%d." % i
        h, d = c["num_attention_heads"], c["hidden_size"]
        dh = d // h
        eps = c.get("layer_norm_eps", 1e-5)

        def lin(t, name):
            return F.linear(t, self.p(pre + name + ".weight"), self.p(pre + name + ".bias"))

        def heads(t):
            return t.view(t.shape[0], t.shape[1], h, dh).transpose(1, 2)

        q, k, v = heads(lin(x, "attention.self.query")), heads(lin(x, "attention.self.key")), heads(
            lin(x, "attention.self.value"))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=-1)
        z = self.diffuse(a, v).transpose(1, 2).reshape(x.shape)
        hid = F.layer_norm(x + lin(z, "attention.output.dense"), (d,), self.p(pre + "attention.output.LayerNorm.weight"),
                           self.p(pre + "attention.output.LayerNorm.bias"), eps)
        f = lin(F.gelu(lin(hid, "intermediate.dense")), "output.dense")
        return F.layer_norm(hid + f, (d,), self.p(pre + "output.LayerNorm.weight"), self.p(pre + "output.LayerNorm.bias"),
                            eps)

    def forward(self, ids, mask):
        """ids (B, L) int64 (every token real), mask (L, L) bool: logits (B, num_labels)."""
        c = self.cfg
        pad = c.get("pad_token_id", 1)
        d = c["hidden_size"]
        pos = pad + 1 + torch.arange(ids.shape[1]).unsqueeze(0).expand_as(ids)
        x = self.p("embeddings.word_embeddings.weight")[ids] + self.p("embeddings.position_embeddings.weight")[pos] \
            + self.p("embeddings.token_type_embeddings.weight")[0]
        x = F.layer_norm(x, (d,), self.p("embeddings.LayerNorm.weight"), self.p("embeddings.LayerNorm.bias"),
                         c.get("layer_norm_eps", 1e-5))
        for i in range(c["num_hidden_layers"]):
            x = self.layer(i, x, mask)
        t = torch.tanh(F.linear(x[:, 0], self.p("classifier.dense.weight"), self.p("classifier.dense.bias")))
        return F.linear(t, self.p("classifier.out_proj.weight"), self.p("classifier.out_proj.bias"))


def dense_mask(edges, n):
    """(E, 2) (src, dst) rows -> (n, n) bool, [dst, src] = True."""
    m = torch.zeros((n, n), dtype=torch.bool)
    e = torch.as_tensor(np.asarray(edges, dtype=np.int64))
    m[e[:, 1], e[:, 0]] = True
    return m


def decays(name):
    """The C++ trainer's weight-decay rule: weights yes, biases and LayerNorm no."""
    return not name.endswith(".bias") and "LayerNorm" not in name


def lr_at(step, base, warmup, total, decay, min_ratio=0.0):
    """diffuser's schedule (training/include/diffuser/training/schedule.hpp)."""
    if warmup > 0 and step <= warmup:
        return base * step / warmup
    if decay == "constant":
        return base
    span = total - warmup
    p = 1.0 if span <= 0 else min(max((step - warmup) / span, 0.0), 1.0)
    if decay == "linear":
        return base * (1.0 - (1.0 - min_ratio) * p)
    return base * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * p)))
