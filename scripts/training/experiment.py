#!/usr/bin/python3
"""The experiment of docs/EXPERIMENTS.md: does K-hop diffusion let a sparse graph reach tokens it
cannot reach in one hop per layer?

Six arms with one architecture (so one parameter count) and one step budget per task, 3 seeds each,
on a long-range retrieval (the answer beyond the window graph's reach) and on ListOps, N = 1,024:

  window-k0     window:16, K = 0 (plain sparse attention)
  window-ppr    window:16, K = 5 PPR, alpha = 0.1
  window-heat   window:16, K = 5 heat kernel, t = 3
  recipe-k0     the authors' blocks:64 + random:64 + global-random:64, K = 0
  recipe-ppr    the same graph, K = 5 PPR, alpha = 0.1
  full          every pair, K = 0 (full attention)

Every run is `nice -n 19 diffuser train`; a run whose final.safetensors exists is skipped and an
interrupted one resumes from its newest checkpoint, so the script can be stopped and started again.
Then `diffuser predict` on the test split, a summary (mean and spread over seeds) as CSV and
Markdown, and the curves drawn by `diffuser curves`.

  /usr/bin/python3 scripts/training/experiment.py --diffuser build/tools/diffuser --out experiment
"""
import argparse
import csv
import glob
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

ARMS = {
    "window-k0": {"pattern": "window:16", "hops": 0},
    "window-ppr": {"pattern": "window:16", "hops": 5, "alpha": 0.1},
    "window-heat": {"pattern": "window:16", "hops": 5, "heat": 3.0},
    "recipe-k0": {"attention_window": 64, "num_rand": 64, "num_glob": 64, "hops": 0},
    "recipe-ppr": {"attention_window": 64, "num_rand": 64, "num_glob": 64, "hops": 5, "alpha": 0.1},
    "full": {"pattern": "full", "hops": 0},
}
LABELS = {"window-k0": "window K=0", "window-ppr": "window K=5 PPR", "window-heat": "window K=5 heat",
          "recipe-k0": "recipe K=0", "recipe-ppr": "recipe K=5 PPR", "full": "full attention"}


def model(n, vocab):
    return {"hidden_size": 64, "num_attention_heads": 1, "num_hidden_layers": 2, "intermediate_size": 128,
            "vocab_size": vocab, "max_position_embeddings": n + 2, "num_labels": 10, "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02}


def run(cmd, cwd, log=None):
    t0 = time.time()
    with open(log, "a") if log else open(os.devnull, "w") as out:
        r = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("FAIL (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr))
    return time.time() - t0


def read_log(path):
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            rows.append(r)
    return rows


def mean_sd(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diffuser", default="build/tools/diffuser")
    ap.add_argument("--out", default="experiment")
    ap.add_argument("--tasks", default="retrieval,listops")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--distance", type=int, default=40, help="retrieval: the answer's distance from token 0")
    ap.add_argument("--jitter", type=int, default=16)
    ap.add_argument("--count", type=int, default=4000)
    ap.add_argument("--valid", type=int, default=64)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--steps", default="retrieval=400,listops=150")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--parallel", type=int, default=2, help="training runs at a time")
    ap.add_argument("--nice", type=int, default=19)
    ap.add_argument("--report-only", action="store_true", help="only summarise the runs already there")
    ap.add_argument("--export", help="also copy the summary, the curves and compact logs (evaluation rows and "
                                     "every 25th step) into this folder (docs/experiments)")
    args = ap.parse_args()
    diffuser = os.path.abspath(args.diffuser)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    tasks = args.tasks.split(",")
    arms = args.arms.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = {k: int(v) for k, v in (kv.split("=") for kv in args.steps.split(","))}
    nice = ["nice", "-n", str(args.nice)] if args.nice else []
    log = os.path.join(out, "experiment.log")

    # Data.
    for task in tasks:
        if os.path.exists(os.path.join(out, "data", task, "meta.json")):
            continue
        os.makedirs(os.path.join(out, "data"), exist_ok=True)
        cmd = [diffuser, "data", "--task", task, "--n", str(args.n), "--count", str(args.count), "--valid-count",
               str(args.valid), "--test-count", str(args.test), "--seed", "1", "--out", os.path.join("data", task)]
        if task == "retrieval":
            cmd += ["--distance", str(args.distance), "--jitter", str(args.jitter)]
        run(cmd, out, log)

    # Training runs: seed by seed (a stopped experiment has whole seeds), --parallel at a time.
    jobs = []
    for seed in seeds:
        for task in tasks:
            meta = json.load(open(os.path.join(out, "data", task, "meta.json")))
            for arm in arms:
                cfg = dict(model(args.n, meta["vocab_size"]), **ARMS[arm])
                cfg_path = os.path.join(out, "configs", "%s-%s.json" % (task, arm))
                os.makedirs(os.path.dirname(cfg_path), exist_ok=True)
                with open(cfg_path, "w") as f:
                    json.dump(cfg, f, indent=1)
                rundir = os.path.join(out, "runs", task, arm, "seed-%d" % seed)
                if args.report_only or os.path.exists(os.path.join(rundir, "final.safetensors")):
                    continue
                cmd = nice + [diffuser, "train", "--config", cfg_path, "--data", os.path.join("data", task),
                              "--steps", str(steps[task]), "--out", rundir, "--batch", str(args.batch), "--lr",
                              str(args.lr), "--warmup", str(args.warmup), "--eval-every", str(args.eval_every),
                              "--checkpoint-every", "50", "--keep-checkpoints", "1", "--seed", str(seed),
                              "--threads", str(args.threads)]
                ckpts = sorted(glob.glob(os.path.join(rundir, "checkpoint-*.safetensors")),
                               key=lambda p: int(re.findall(r"(\d+)\.safetensors", p)[0]))
                if ckpts:
                    cmd += ["--resume", ckpts[-1]]
                elif os.path.exists(rundir):
                    cmd += ["--overwrite"]
                predict = [diffuser, "predict", "--weights", os.path.join(rundir, "final.safetensors"), "--config",
                           cfg_path, "--data", os.path.join("data", task), "--split", "test", "--threads",
                           str(args.threads)]
                jobs.append(("%s %s seed %d" % (task, arm, seed), cmd, predict, rundir))
    running = []
    while jobs or running:
        while jobs and len(running) < args.parallel:
            name, cmd, predict, rundir = jobs.pop(0)
            os.makedirs(rundir, exist_ok=True)
            with open(log, "a") as f:
                f.write("== %s (load %.2f): %s\n" % (name, os.getloadavg()[0], " ".join(cmd)))
            out_f = open(os.path.join(rundir, "train.txt"), "a")
            running.append((name, subprocess.Popen(cmd, cwd=out, stdout=out_f, stderr=subprocess.STDOUT), predict,
                            rundir, time.time(), out_f))
        time.sleep(2)
        for job in list(running):
            name, p, predict, rundir, t0, out_f = job
            if p.poll() is None:
                continue
            running.remove(job)
            out_f.close()
            if p.returncode != 0:
                sys.exit("FAIL (%d): %s (see %s/train.txt)" % (p.returncode, name, rundir))
            run(predict, out, os.path.join(rundir, "predict.txt"))
            print("%-32s %6.0f s wall (load %.2f)" % (name, time.time() - t0, os.getloadavg()[0]), flush=True)

    # Summary.
    rows = []
    for task in tasks:
        for arm in arms:
            per = []
            for seed in seeds:
                rundir = os.path.join(out, "runs", task, arm, "seed-%d" % seed)
                if not os.path.exists(os.path.join(rundir, "final.safetensors")):
                    continue
                lg = read_log(os.path.join(rundir, "log.csv"))
                evals = [r for r in lg if r["eval_accuracy"]]
                pred = open(os.path.join(rundir, "predict.txt")).read()
                test_acc = float(re.search(r"accuracy: ([0-9.]+)", pred).group(1))
                tokens = sum(int(r["tokens"]) for r in lg)
                train_s = sum(float(r["step_s"]) for r in lg)
                per.append({"valid": float(evals[-1]["eval_accuracy"]), "test": test_acc,
                            "best_valid": max(float(r["eval_accuracy"]) for r in evals),
                            "loss": statistics.mean(float(r["loss"]) for r in lg[-50:]),
                            "train_s": train_s, "tokens_per_s": tokens / train_s})
            if not per:
                continue
            row = {"task": task, "arm": arm, "label": LABELS[arm], "seeds": len(per), "steps": steps[task]}
            for k in ("test", "valid", "best_valid", "loss", "train_s", "tokens_per_s"):
                m, sd = mean_sd([p[k] for p in per])
                row[k], row[k + "_sd"] = m, sd
                row[k + "_all"] = " ".join("%.4g" % p[k] for p in per)
            rows.append(row)
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("| task | arm | test accuracy (mean ± sd; seeds) | last valid acc. | train loss, last 50 steps "
                "| training time per run | tokens/s |\n|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write("| %s | %s | **%.1f%%** ± %.1f (%s) | %.1f%% ± %.1f | %.3f ± %.3f | %.0f s ± %.0f | %.0f |\n" % (
                r["task"], r["label"], 100 * r["test"], 100 * r["test_sd"],
                ", ".join("%.1f" % (100 * float(x)) for x in r["test_all"].split()), 100 * r["valid"],
                100 * r["valid_sd"], r["loss"], r["loss_sd"], r["train_s"], r["train_s_sd"], r["tokens_per_s"]))
    print(open(os.path.join(out, "summary.md")).read())

    # Curves (diffuser curves: the project's viz).
    for task in tasks:
        series = []
        for arm in arms:
            dirs = [os.path.join("runs", task, arm, "seed-%d" % s) for s in seeds
                    if os.path.exists(os.path.join(out, "runs", task, arm, "seed-%d" % s, "final.safetensors"))]
            if dirs:
                series += ["--series", "%s=%s" % (LABELS[arm], ",".join(dirs))]
        if not series:
            continue
        chance = "0.1=chance (10 classes)"
        run([diffuser, "curves"] + series + ["--y", "eval_accuracy", "--hline", chance, "--title",
                                             "%s, N = %d: validation accuracy" % (task, args.n), "--subtitle",
                                             "mean of %d seeds per arm" % len(seeds), "--out",
                                             "%s-accuracy.svg" % task], out)
        run([diffuser, "curves"] + series + ["--y", "loss", "--smooth", "25", "--title",
                                             "%s, N = %d: training loss (moving average of 25 steps)" % (task, args.n),
                                             "--subtitle", "mean of %d seeds per arm" % len(seeds), "--out",
                                             "%s-loss.svg" % task], out)
        run([diffuser, "curves"] + series + ["--y", "eval_accuracy", "--x", "elapsed_s", "--hline", chance,
                                             "--title", "%s, N = %d: validation accuracy against training time"
                                             % (task, args.n), "--subtitle", "mean of %d seeds per arm" % len(seeds),
                                             "--out", "%s-accuracy-time.svg" % task], out)
    if args.export:
        export(out, os.path.abspath(args.export), tasks, arms, seeds)
    return 0


def export(out, dest, tasks, arms, seeds):
    """The small form of the experiment for the repository."""
    import shutil
    os.makedirs(os.path.join(dest, "logs"), exist_ok=True)
    for name in ["summary.md", "summary.csv"] + ["%s-%s.svg" % (t, k) for t in tasks
                                                 for k in ("accuracy", "loss", "accuracy-time")]:
        if os.path.exists(os.path.join(out, name)):
            shutil.copy(os.path.join(out, name), os.path.join(dest, name))
    for task in tasks:
        shutil.copy(os.path.join(out, "data", task, "meta.json"), os.path.join(dest, "%s-meta.json" % task))
        for arm in arms:
            shutil.copy(os.path.join(out, "configs", "%s-%s.json" % (task, arm)),
                        os.path.join(dest, "logs", "%s-%s.config.json" % (task, arm)))
            for seed in seeds:
                rundir = os.path.join(out, "runs", task, arm, "seed-%d" % seed)
                if not os.path.exists(os.path.join(rundir, "log.csv")):
                    continue
                rows = read_log(os.path.join(rundir, "log.csv"))
                keep = [r for r in rows if r["eval_accuracy"] or int(r["step"]) % 25 == 0 or r is rows[-1]]
                with open(os.path.join(dest, "logs", "%s-%s-seed%d.csv" % (task, arm, seed)), "w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=list(rows[0]))
                    w.writeheader()
                    w.writerows(keep)
                pred = os.path.join(rundir, "predict.txt")
                if os.path.exists(pred):
                    shutil.copy(pred, os.path.join(dest, "logs", "%s-%s-seed%d.predict.txt" % (task, arm, seed)))


if __name__ == "__main__":
    sys.exit(main())
