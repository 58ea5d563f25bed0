#!/usr/bin/python3
"""A training step of diffuser (C++, sparse graph) against the same model in PyTorch (dense masked
attention + diffusion), side by side on the CPU with the same threads; peak memory of both.

The model: 2 layers, d_model 128, 4 heads, FFN 512, the authors' recipe graph
(blocks:64+random:64+global-random:64) at N = 2,048, K = 5 PPR hops (alpha 0.1), dropout 0.1 as the
authors train (hidden, attention weights, every hop), batch 8, AdamW, clipping. One step = forward,
backward, clipping, AdamW update. Both sides start from the same weights and see the same batch;
each side runs in a process of its own so that its peak RSS is its own (os.wait4).

  /usr/bin/python3 scripts/training/compare_torch_cpu.py --diffuser build/tools/diffuser --threads 2

Prints a table and writes --json (default: compare_torch_cpu.json in the work folder).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def config(n, dropout):
    return {"hidden_size": 128, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 512,
            "attention_window": 64, "num_rand": 64, "num_glob": 64, "hidden_dropout_prob": dropout,
            "attention_probs_dropout_prob": dropout, "vocab_size": 60, "num_labels": 10,
            "max_position_embeddings": n + 2, "diffusion_hops": 5, "diffusion_alpha": 0.1}


def run_measured(cmd, cwd, env=None):
    """Runs cmd, returns (stdout, peak RSS bytes of that process)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        out.seek(0)
        err.seek(0)
        text, etext = out.read().decode(), err.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit("FAIL: %s\n%s\n%s" % (" ".join(cmd), text, etext))
        return text, usage.ru_maxrss * 1024


def torch_worker(args):
    """Runs inside its own process: `steps` training steps of the dense PyTorch model."""
    import numpy as np
    import torch
    sys.path.insert(0, HERE)
    import torch_model as tm
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.load(open(os.path.join(args.work, "c.json")))
    w0, _ = tm.read_safetensors(os.path.join(args.work, "w0.safetensors"))
    model = tm.DiffuserModel(cfg, w0, torch.float32)
    p = cfg["hidden_dropout_prob"]

    # Dropout where diffuser applies it (docs/LAYER.md): embeddings, attention weights, every hop,
    # the attention and FFN outputs, the head.
    def diffuse(a, v):
        z = v
        for _ in range(cfg["diffusion_hops"]):
            z = torch.nn.functional.dropout((1.0 - cfg["diffusion_alpha"]) * (a @ z) + cfg["diffusion_alpha"] * v, p)
        return z

    def layer(i, x, mask):
        import math
        import torch.nn.functional as F
        pre = "encoder.layer.%d." % i
        h, d = cfg["num_attention_heads"], cfg["hidden_size"]
        dh = d // h

        def lin(t, name):
            return F.linear(t, model.p(pre + name + ".weight"), model.p(pre + name + ".bias"))

        def heads(t):
            return t.view(t.shape[0], t.shape[1], h, dh).transpose(1, 2)

        q, k, v = heads(lin(x, "attention.self.query")), heads(lin(x, "attention.self.key")), heads(
            lin(x, "attention.self.value"))
        s = ((q @ k.transpose(-1, -2)) / math.sqrt(dh)).masked_fill(~mask, float("-inf"))
        a = F.dropout(torch.softmax(s, dim=-1), p)
        z = diffuse(a, v).transpose(1, 2).reshape(x.shape)
        hid = F.layer_norm(x + F.dropout(lin(z, "attention.output.dense"), p), (d,),
                           model.p(pre + "attention.output.LayerNorm.weight"),
                           model.p(pre + "attention.output.LayerNorm.bias"), 1e-5)
        f = F.dropout(lin(F.gelu(lin(hid, "intermediate.dense")), "output.dense"), p)
        return F.layer_norm(hid + f, (d,), model.p(pre + "output.LayerNorm.weight"),
                            model.p(pre + "output.LayerNorm.bias"), 1e-5)

    def forward(ids, mask):
        import torch.nn.functional as F
        pos = 2 + torch.arange(ids.shape[1]).unsqueeze(0).expand_as(ids)
        x = model.p("embeddings.word_embeddings.weight")[ids] + model.p("embeddings.position_embeddings.weight")[pos] \
            + model.p("embeddings.token_type_embeddings.weight")[0]
        x = F.dropout(F.layer_norm(x, (cfg["hidden_size"],), model.p("embeddings.LayerNorm.weight"),
                                   model.p("embeddings.LayerNorm.bias"), 1e-5), p)
        for i in range(cfg["num_hidden_layers"]):
            x = layer(i, x, mask)
        t = torch.tanh(F.linear(F.dropout(x[:, 0], p), model.p("classifier.dense.weight"),
                                model.p("classifier.dense.bias")))
        return F.linear(F.dropout(t, p), model.p("classifier.out_proj.weight"), model.p("classifier.out_proj.bias"))

    tokens = np.load(os.path.join(args.work, "data", "train_tokens.npy"))
    labels = np.load(os.path.join(args.work, "data", "train_labels.npy"))
    mask = tm.dense_mask(np.load(os.path.join(args.work, "edges.npy")), tokens.shape[1])
    ids = torch.as_tensor(tokens[:args.batch].astype(np.int64))
    y = torch.as_tensor(labels[:args.batch].astype(np.int64))
    names = list(model.params)
    opt = torch.optim.AdamW([{"params": [model.params[k] for k in names if tm.decays(k)], "weight_decay": 0.01},
                             {"params": [model.params[k] for k in names if not tm.decays(k)],
                              "weight_decay": 0.0}], lr=1e-3)
    times, cpu = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(ids, mask), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.params.values()), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(json.dumps({"step_s": times, "cpu_s": cpu, "loss": loss.item(), "torch": torch.__version__}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diffuser", default="build/tools/diffuser")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4, help="steps per side; the first is a warm-up")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--json", default="compare_torch_cpu.json")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        return torch_worker(args)
    diffuser = os.path.abspath(args.diffuser)
    with tempfile.TemporaryDirectory(prefix="diffuser_speed_") as work:
        with open(os.path.join(work, "c.json"), "w") as f:
            json.dump(config(args.n, args.dropout), f)
        subprocess.run([diffuser, "data", "--task", "retrieval", "--n", str(args.n), "--count", str(args.batch),
                        "--seed", "1", "--out", "data"], cwd=work, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([diffuser, "layer", "--config", "c.json", "--init-weights", "w0.safetensors", "--model"],
                       cwd=work, check=True, stdout=subprocess.DEVNULL)
        graph = subprocess.run([diffuser, "graph", "--pattern", "diffuser", "--n", str(args.n), "--out", "edges.npy",
                                "--json"], cwd=work, check=True, capture_output=True, text=True).stdout
        edges = json.loads(graph).get("edges")

        # diffuser: the whole training command; per-step times from log.csv.
        _, ours_peak = run_measured([diffuser, "train", "--config", "c.json", "--data", "data", "--init",
                                     "w0.safetensors", "--steps", str(args.steps), "--batch", str(args.batch),
                                     "--eval-every", "0", "--threads", str(args.threads), "--out", "run",
                                     "--lr", "1e-3", "--no-shuffle"], work)
        ours, ours_cpu = [], []
        with open(os.path.join(work, "run", "log.csv")) as f:
            next(f)
            for line in f:
                ours.append(float(line.split(",")[6]))
                ours_cpu.append(float(line.split(",")[7]))
        # PyTorch, in a process of its own.
        out, torch_peak = run_measured([sys.executable, os.path.abspath(__file__), "--torch-worker", "--work", work,
                                        "--threads", str(args.threads), "--batch", str(args.batch), "--steps",
                                        str(args.steps)], work)
        theirs = json.loads(out.strip().splitlines()[-1])
    o_med, t_med = statistics.median(ours[1:]), statistics.median(theirs["step_s"][1:])
    o_cpu, t_cpu = statistics.median(ours_cpu[1:]), statistics.median(theirs["cpu_s"][1:])
    result = {"n": args.n, "batch": args.batch, "threads": args.threads, "dropout": args.dropout, "edges": edges,
              "diffuser_step_s": ours, "torch_step_s": theirs["step_s"], "diffuser_median_s": o_med,
              "torch_median_s": t_med, "speedup": t_med / o_med, "diffuser_cpu_s": ours_cpu,
              "torch_cpu_s": theirs["cpu_s"], "diffuser_median_cpu_s": o_cpu, "torch_median_cpu_s": t_cpu,
              "cpu_ratio": t_cpu / o_cpu, "diffuser_peak_rss": ours_peak,
              "torch_peak_rss": torch_peak, "torch": theirs["torch"], "load": os.getloadavg()}
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    mib = 1024.0 * 1024.0
    print("training step, 2 layers, d_model 128, 4 heads, N = %d, batch %d, recipe (%s edges per sequence), "
          "K = 5, dropout %g, %d threads" % (args.n, args.batch, edges, args.dropout, args.threads))
    print("%-28s %10s %14s %12s" % ("", "step (s)", "CPU s / step", "peak RSS"))
    print("%-28s %10.3f %14.3f %9.0f MiB" % ("diffuser (sparse, C++)", o_med, o_cpu, ours_peak / mib))
    print("%-28s %10.3f %14.3f %9.0f MiB" % ("PyTorch %s (dense)" % theirs["torch"], t_med, t_cpu, torch_peak / mib))
    print("speed-up %.2fx (CPU time %.2fx), memory ratio %.1fx (medians of %d steps after a warm-up; load %.2f)" %
          (t_med / o_med, t_cpu / o_cpu, torch_peak / ours_peak, args.steps - 1, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
