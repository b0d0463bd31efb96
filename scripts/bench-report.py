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


ICOUNT_SKIP = ("cross_cpu", "scale_")  # multi-CPU cases: TCG only


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    runs = []  # (arch, mode, vm label, rows)
    for arg in sys.argv[2:]:
        key, path = arg.split("=", 1)
        parts = key.split("|")
        if len(parts) != 3:
            parts = [key, "time", key]
        runs.append((parts[0], parts[1], parts[2], parse(path)))
    with open(os.path.join(out, "bench.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["arch", "mode", "vm", "case", "unit", "rslab", "rslab_min", "rslab_max", "kernel",
                     "kernel_min", "kernel_max", "ratio", "rslab_cycles", "kernel_cycles"])
        for arch, mode, vm, rows in runs:
            for r in rows:
                wr.writerow([arch, mode, vm, r["case"], r["unit"], r["rslab"], r["rslab_min"],
                             r["rslab_max"], r["kernel"], r["kernel_min"], r["kernel_max"],
                             f"{ratio(r):.3f}", r["rslab_cycles"], r["kernel_cycles"]])
    for arch, mode, vm, rows in runs:
        print(f"\n== {arch}: {vm}" + (" (ns/op are guest instructions/op)" if mode == "icount" else ""))
        print(f"{'case':18} {'unit':7} {'rslab':>10} {'(min..max)':>19} {'kernel':>10} {'(min..max)':>19} {'rslab/kernel':>12}")
        for r in rows:
            print(f"{r['case']:18} {r['unit']:7} {r['rslab']:10.2f} {r['rslab_min']:8.2f}..{r['rslab_max']:<9.2f}"
                  f" {r['kernel']:10.2f} {r['kernel_min']:8.2f}..{r['kernel_max']:<9.2f} {ratio(r):12.2f}")
        sc = {r["case"]: r for r in rows}
        # rslab loaded with allocinfo=1 (allocinfo_<case>) against the same
        # case without: what turning allocation profiling on costs.
        for c, r in sc.items():
            base = sc.get(c[len("allocinfo_"):]) if c.startswith("allocinfo_") else None
            if base and base["rslab"]:
                print(f"allocinfo=1 cost, {base['case']}: {base['rslab']:.1f} -> {r['rslab']:.1f} "
                      f"{r['unit']} ({r['rslab'] / base['rslab']:.2f}x)")
        if mode != "icount" and "scale_1cpu" in sc and "scale_allcpus" in sc:
            for who in ("rslab", "kernel"):
                one, all_ = sc["scale_1cpu"][who], sc["scale_allcpus"][who]
                if one:
                    print(f"scaling {who}: all CPUs / one CPU = {all_ / one:.2f}x")
    # The side-by-side table (Markdown, for README and the closing note).
    arches = []
    for arch, _, _, _ in runs:
        if arch not in arches:
            arches.append(arch)
    for arch in arches:
        by = {mode: {r["case"]: r for r in rows} for a, mode, _, rows in runs if a == arch}
        t, ic = by.get("time", {}), by.get("icount", {})
        cases = list(t) + [c for c in ic if c not in t]
        print(f"\n### {arch}\n")
        print("| case | unit | TCG rslab | TCG kernel | TCG ratio | icount rslab | icount kernel | icount ratio |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for c in cases:
            a, b = t.get(c), ic.get(c)
            if b is not None and c.startswith(ICOUNT_SKIP):
                b = None
            if a is None and b is None:
                continue
            unit = (a or b)["unit"]
            iunit = "insn/op" if unit == "ns/op" else unit
            cell = lambda r, k: f"{r[k]:.1f}" if r else "–"
            rat = lambda r: f"{ratio(r):.2f}" if r else "–"
            print(f"| {c} | {unit}{' / ' + iunit if b and iunit != unit else ''} | {cell(a, 'rslab')} | "
                  f"{cell(a, 'kernel')} | {rat(a)} | {cell(b, 'rslab')} | {cell(b, 'kernel')} | {rat(b)} |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no matplotlib: no chart)")
        return
    fig, axes = plt.subplots(len(arches), 1, figsize=(13, 4.8 * len(arches)), squeeze=False)
    for ax, arch in zip(axes[:, 0], arches):
        modes = [(mode, rows) for a, mode, _, rows in runs if a == arch]
        cases = []
        for _, rows in modes:
            for r in rows:
                if r["case"] not in cases:
                    cases.append(r["case"])
        w = 0.8 / max(1, len(modes))
        for i, (mode, rows) in enumerate(modes):
            by = {r["case"]: r for r in rows}
            ys = []
            for c in cases:
                r = by.get(c)
                skip = mode == "icount" and c.startswith(ICOUNT_SKIP)
                ys.append(float("nan") if r is None or skip else ratio(r))
            label = "instructions (icount)" if mode == "icount" else "TCG time"
            ax.bar([x - 0.4 + w * (i + 0.5) for x in range(len(cases))], ys, w, label=label)
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_xticks(list(range(len(cases))))
        ax.set_xticklabels(cases, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("rslab / kernel (lower is better)")
        ax.set_title(arch)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "bench.png"), dpi=100)
    print(f"\nchart: {os.path.join(out, 'bench.png')}")
    # Memory held after a burst (api_burst_256_*), over time: one line per
    # side, run and arch.
    steps = [("held", None), ("after_0s", 0), ("after_1s", 1), ("after_5s", 5), ("after_10s", 10)]
    fig, ax = plt.subplots(figsize=(8, 4.8))
    drawn = False
    for arch, mode, _, rows in runs:
        by = {r["case"]: r for r in rows}
        pts = [(t, by.get(f"api_burst_256_{s}")) for s, t in steps if t is not None]
        if not all(r for _, r in pts):
            continue
        for who, style in (("rslab", "-o"), ("kernel", "--s")):
            ax.plot([t for t, _ in pts], [r[who] for _, r in pts], style,
                    label=f"{who}, {arch} {mode}")
        drawn = True
        # rslab again with its decay on (decay_ms=1000), if that run is there.
        dpts = [(t, by.get(f"decay_api_burst_256_{s}")) for s, t in steps if t is not None]
        if all(r for _, r in dpts):
            ax.plot([t for t, _ in dpts], [r["rslab"] for _, r in dpts], "-^",
                    label=f"rslab decay_ms=1000, {arch} {mode}")
    if drawn:
        ax.set_xlabel("seconds after freeing 1M objects of 256 bytes")
        ax.set_ylabel("pages held above the start")
        ax.set_title("After a burst")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "burst.png"), dpi=100)
        print(f"chart: {os.path.join(out, 'burst.png')}")


main()
