#!/usr/bin/python3
"""diffuser train against the same model and optimizer in plain PyTorch (Debian's python3-torch).

1. The loss of each of the first 20 AdamW steps (warm-up, cosine decay, weight decay, clipping,
   2 micro-batches a step) of a small model (2 layers, d_model 64, 4 heads, K = 5 PPR hops on a
   window + random + global graph) from the same initial weights (the safetensors file) and the same
   data order, dropout 0: within 1e-4 relative at every step.
2. The whole model's gradients of one step (diffuser train --grads-out) against torch autograd in
   float64: every tensor within 1e-4 relative.

Exit 0 pass, 1 fail, 77 when torch or numpy is missing (ctest reports "skipped").
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:
    print("SKIP: %s (install Debian's python3-torch and python3-numpy)" % e)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "training"))
import torch_model as tm  # noqa: E402

CONFIG = {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 128,
          "vocab_size": 17, "max_position_embeddings": 70, "num_labels": 10, "hidden_dropout_prob": 0.0,
          "attention_probs_dropout_prob": 0.0, "initializer_range": 0.05,
          "pattern": "window:4+random:2+global-at:0", "graph_seed": 3, "hops": 5, "alpha": 0.1}
STEPS, BATCH, ACCUMULATE = 20, 4, 2
LR, WARMUP, WD, CLIP = 2e-3, 5, 0.01, 1.0


def run(diffuser, args, cwd):
    r = subprocess.run([diffuser] + args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("FAIL: diffuser %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--diffuser", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny tensors: more threads only add synchronisation
    with tempfile.TemporaryDirectory(prefix="diffuser_torch_") as tmp:
        cfg_path = os.path.join(tmp, "c.json")
        with open(cfg_path, "w") as f:
            import json
            json.dump(CONFIG, f)
        cfg = dict(CONFIG, diffusion_hops=CONFIG["hops"], diffusion_alpha=CONFIG["alpha"])
        run(args.diffuser, ["data", "--task", "listops", "--n", "64", "--count", "40", "--min-length", "16",
                            "--seed", "5", "--out", "data"], tmp)
        run(args.diffuser, ["layer", "--config", "c.json", "--init-weights", "w0.safetensors", "--model", "--seed",
                            "9"], tmp)
        common = ["train", "--config", "c.json", "--data", "data", "--init", "w0.safetensors", "--no-shuffle",
                  "--batch", str(BATCH), "--accumulate", str(ACCUMULATE), "--lr", str(LR), "--warmup", str(WARMUP),
                  "--decay", "cosine", "--weight-decay", str(WD), "--clip", str(CLIP), "--eval-every", "0",
                  "--threads", "2"]
        run(args.diffuser, common + ["--steps", str(STEPS), "--out", "run"], tmp)
        run(args.diffuser, common + ["--steps", "1", "--out", "run1", "--grads-out", "g.safetensors"], tmp)

        tokens = np.load(os.path.join(tmp, "data", "train_tokens.npy"))
        labels = np.load(os.path.join(tmp, "data", "train_labels.npy"))
        lengths = np.load(os.path.join(tmp, "data", "train_lengths.npy"))
        masks = {}
        for n in sorted(set(lengths.tolist())):
            run(args.diffuser, ["graph", "--pattern", CONFIG["pattern"], "--n", str(n), "--seed",
                                str(CONFIG["graph_seed"]), "--out", "e%d.npy" % n], tmp)
            masks[n] = tm.dense_mask(np.load(os.path.join(tmp, "e%d.npy" % n)), n)
        w0, _ = tm.read_safetensors(os.path.join(tmp, "w0.safetensors"))
        count = len(labels)

        def batch_loss(model, first):
            """Mean cross-entropy of BATCH sequences from sample `first` on (file order, wrapping)."""
            total = 0.0
            for k in range(BATCH):
                i = (first + k) % count
                n = int(lengths[i])
                ids = torch.as_tensor(tokens[i, :n].astype(np.int64)).unsqueeze(0)
                logits = model.forward(ids, masks[n])
                total = total + torch.nn.functional.cross_entropy(logits, torch.tensor([int(labels[i])]))
            return total / BATCH

        # 1. Losses over 20 AdamW steps, float32.
        model = tm.DiffuserModel(cfg, w0, torch.float32)
        names = list(model.params)
        groups = [{"params": [model.params[k] for k in names if tm.decays(k)], "weight_decay": WD},
                  {"params": [model.params[k] for k in names if not tm.decays(k)], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
        ours = {}
        with open(os.path.join(tmp, "run", "log.csv")) as f:
            next(f)
            for line in f:
                cols = line.split(",")
                ours[int(cols[0])] = (float(cols[1]), float(cols[3]))
        worst = 0.0
        ok = True
        print("step  diffuser loss   torch loss      rel. diff   grad norm (diffuser / torch)")
        for step in range(1, STEPS + 1):
            opt.zero_grad()
            loss = 0.0
            for m in range(ACCUMULATE):
                l = batch_loss(model, ((step - 1) * ACCUMULATE + m) * BATCH) / ACCUMULATE
                l.backward()
                loss += l.item()
            norm = torch.nn.utils.clip_grad_norm_(list(model.params.values()), CLIP).item()
            for g in opt.param_groups:
                g["lr"] = tm.lr_at(step, LR, WARMUP, STEPS, "cosine")
            opt.step()
            rel = abs(ours[step][0] - loss) / abs(loss)
            worst = max(worst, rel)
            ok = ok and rel <= 1e-4
            print("%4d  %.9f  %.9f  %.2e    %.6f / %.6f" % (step, ours[step][0], loss, rel, ours[step][1], norm))
        print("losses: worst relative difference %.2e over %d steps (limit 1e-4): %s" %
              (worst, STEPS, "ok" if ok else "FAIL"))

        # 2. Whole-model gradients of step 1, float64 autograd.
        model = tm.DiffuserModel(cfg, w0, torch.float64)
        for m in range(ACCUMULATE):
            (batch_loss(model, m * BATCH) / ACCUMULATE).backward()
        grads, _ = tm.read_safetensors(os.path.join(tmp, "g.safetensors"))
        total = torch.sqrt(sum((p.grad ** 2).sum() for p in model.params.values())).item()
        gworst, gok = 0.0, True
        for name, p in model.params.items():
            ref = p.grad.numpy()
            got = grads[name].astype(np.float64)
            err = np.linalg.norm(got - ref)
            # Relative to the tensor's norm; tensors whose true gradient is (near) zero, such as the
            # key biases (a constant added to every key leaves each softmax unchanged), against a
            # floor of 1e-5 of the whole gradient's norm.
            scale = max(np.linalg.norm(ref), 1e-5 * total)
            rel = err / scale if scale > 0 else err
            gworst = max(gworst, rel)
            if rel > 1e-4:
                gok = False
                print("  %s: relative error %.2e (norm %.3e)" % (name, rel, np.linalg.norm(ref)))
        print("gradients: %d tensors, worst relative error %.2e (limit 1e-4; whole norm %.4f): %s" %
              (len(model.params), gworst, total, "ok" if gok else "FAIL"))
        return 0 if ok and gok else 1


if __name__ == "__main__":
    sys.exit(main())
