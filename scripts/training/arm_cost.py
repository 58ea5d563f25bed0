#!/usr/bin/python3
"""The cost of one training step of each arm of scripts/training/experiment.py, measured in one
sitting (same machine state for all arms): median step time, tokens/s and CPU seconds (log.csv's
cpu_s) per step over --steps steps after a warm-up step, with --threads threads, on the experiment's data and configs.

  /usr/bin/python3 scripts/training/arm_cost.py --diffuser build/tools/diffuser --exp experiment
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile

ARMS = ["window-k0", "window-ppr", "window-heat", "recipe-k0", "recipe-ppr", "full"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--diffuser", default="build/tools/diffuser")
    ap.add_argument("--exp", default="experiment", help="the experiment folder (data/, configs/)")
    ap.add_argument("--tasks", default="retrieval,listops")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    diffuser = os.path.abspath(args.diffuser)
    print("| task | arm | step (s), median | tokens/s | CPU s per step, median | load |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks.split(","):
        for arm in ARMS:
            cfg = os.path.join(args.exp, "configs", "%s-%s.json" % (task, arm))
            with tempfile.TemporaryDirectory() as tmp:
                r = subprocess.run([diffuser, "train", "--config", cfg, "--data", os.path.join(args.exp, "data", task),
                                    "--steps", str(args.steps + 1), "--batch", str(args.batch), "--eval-every", "0",
                                    "--threads", str(args.threads), "--out", os.path.join(tmp, "run"),
                                    "--no-shuffle"], capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit(r.stderr)
                rows = list(csv.DictReader(open(os.path.join(tmp, "run", "log.csv"))))[1:]
            step = statistics.median(float(x["step_s"]) for x in rows)
            tps = statistics.median(float(x["tokens_per_s"]) for x in rows)
            cpu = statistics.median(float(x["cpu_s"]) for x in rows)
            print("| %s | %s | %.3f | %.0f | %.3f | %.2f |" % (task, arm, step, tps, cpu, os.getloadavg()[0]),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
