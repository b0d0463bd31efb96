#!/usr/bin/env python3
"""Turns the benchmark's result lines (scripts/guest/rslab-bench.sh output)
into a table on stdout, a CSV and, if matplotlib is there, a PNG chart.

Usage: bench-report.py OUTDIR LABEL=LOG...   (LABEL e.g. "x86_64 TCG, 2 CPUs")
"""
import csv
import os
import sys


def parse(path):
    rows = []
    for line in open(path, errors="replace"):
        line = line.strip().replace("\r", "")
        i = line.find("rslab-bench: ")
        if i < 0:
            continue
        w = line[i + len("rslab-bench: "):].split()
        if len(w) != 13 or w[2] != "rslab" or w[6] != "kernel":
            continue
        rows.append({
            "case": w[0], "unit": w[1],
            "rslab": float(w[3]), "rslab_min": float(w[4]), "rslab_max": float(w[5]),
            "kernel": float(w[7]), "kernel_min": float(w[8]), "kernel_max": float(w[9]),
            "rslab_cycles": int(w[11]), "kernel_cycles": int(w[12]),
        })
    return rows


def ratio(r):
    if r["kernel"] == 0:
        return float("nan")
    return r["rslab"] / r["kernel"]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    runs = []
    for arg in sys.argv[2:]:
        label, path = arg.split("=", 1)
        runs.append((label, parse(path)))
    with open(os.path.join(out, "bench.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["run", "case", "unit", "rslab", "rslab_min", "rslab_max", "kernel",
                     "kernel_min", "kernel_max", "ratio", "rslab_cycles", "kernel_cycles"])
        for label, rows in runs:
            for r in rows:
                wr.writerow([label, r["case"], r["unit"], r["rslab"], r["rslab_min"], r["rslab_max"],
                             r["kernel"], r["kernel_min"], r["kernel_max"], f"{ratio(r):.3f}",
                             r["rslab_cycles"], r["kernel_cycles"]])
    for label, rows in runs:
        print(f"\n== {label}")
        print(f"{'case':18} {'unit':7} {'rslab':>10} {'(min..max)':>19} {'kernel':>10} {'(min..max)':>19} {'rslab/kernel':>12}")
        for r in rows:
            print(f"{r['case']:18} {r['unit']:7} {r['rslab']:10.2f} {r['rslab_min']:8.2f}..{r['rslab_max']:<9.2f}"
                  f" {r['kernel']:10.2f} {r['kernel_min']:8.2f}..{r['kernel_max']:<9.2f} {ratio(r):12.2f}")
        sc = {r["case"]: r for r in rows}
        if "scale_1cpu" in sc and "scale_allcpus" in sc:
            for who in ("rslab", "kernel"):
                one, all_ = sc["scale_1cpu"][who], sc["scale_allcpus"][who]
                if one:
                    print(f"scaling {who}: all CPUs / one CPU = {all_ / one:.2f}x")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no matplotlib: no chart)")
        return
    fig, axes = plt.subplots(len(runs), 1, figsize=(12, 4.5 * len(runs)), squeeze=False)
    for ax, (label, rows) in zip(axes[:, 0], runs):
        rows = [r for r in rows if r["unit"] == "ns/op"]
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["rslab"] for r in rows], 0.4, label="rslab")
        ax.bar([x + 0.2 for x in xs], [r["kernel"] for r in rows], 0.4, label="kernel")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["case"] for r in rows], rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("ns per operation (median)")
        ax.set_yscale("log")
        ax.set_title(label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench.png"), dpi=100)
    print(f"\nchart: {os.path.join(out, 'bench.png')}")


main()
