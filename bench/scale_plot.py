#!/usr/bin/env python3
"""Log-log plot of retraining cost against shop size from bench/scale.sh's results (issue 14).

    bench/scale_plot.py docs/scale/results.jsonl > docs/scale/cost_vs_size.svg

One line per cost, in seconds, against the purchases in the shop: the whole retraining, VASG
stage 1 (walks + skip-gram) and stage 2 (encoder) + export of one VASG training (the first: with
retrain.refit_vasg a second one on the whole graph follows; the whole retraining includes it), the
neighbour lists and the HNSW index build. Peak RSS of the training child (MiB) is a second panel.
A dotted line of slope 1 (cost proportional to size) is drawn through each time line's first point.
Plain SVG from the standard library: the VM has no plotting package.
"""
import json
import math
import sys

def first_vasg(r, part):
    """`part` ("stage1" or "stage2_and_export") of the retraining's first VASG training; result lines
    written before scale.sh listed the runs hold one training's figures under vasg_<part>."""
    stages = r["retrain1_stages_s"]
    runs = stages.get("vasg_runs")
    return runs[0][part] if runs else stages.get("vasg_" + part)


SERIES = [  # (label, colour, function of a result line -> value or None)
    ("retraining (all stages)", "#000000", lambda r: r["retrain1_stages_s"].get("total")),
    ("VASG stage 1, one training", "#d62728", lambda r: first_vasg(r, "stage1")),
    ("VASG stage 2 + export, one training", "#ff7f0e", lambda r: first_vasg(r, "stage2_and_export")),
    ("neighbour lists", "#2ca02c", lambda r: r["retrain1_stages_s"].get("neighbours")),
    ("HNSW index build", "#1f77b4", lambda r: r["retrain1_stages_s"].get("index")),
]
RSS = ("training child peak RSS", "#9467bd", lambda r: r.get("child_peak_rss_mib_sampled"))

W, H, PAD = 900, 330, 70


def log_axis(values):
    lo = math.floor(math.log10(min(values)))
    hi = math.ceil(math.log10(max(values)))
    return lo, max(hi, lo + 1)


def panel(out, top, rows, series, unit, proportional=True):
    xs = [r["purchases"] for r in rows]
    ys = [f(r) for _, _, f in series for r in rows if f(r)]
    (xl, xh), (yl, yh) = log_axis(xs), log_axis(ys)
    left, right, bottom = PAD + 10, W - 330, top + H - PAD

    def px(x): return left + (math.log10(x) - xl) / (xh - xl) * (right - left)
    def py(y): return bottom - (math.log10(y) - yl) / (yh - yl) * (bottom - top - 20)

    out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#444"/>')
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{top + 20}" stroke="#444"/>')
    for e in range(xl, xh + 1):
        x = px(10 ** e)
        out.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{top + 20}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 18}" font-size="12" text-anchor="middle">1e{e}</text>')
    for e in range(yl, yh + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">1e{e}</text>')
    out.append(f'<text x="{(left + right) / 2}" y="{bottom + 40}" font-size="13" text-anchor="middle">purchases in the shop</text>')
    out.append(f'<text x="18" y="{(top + bottom) / 2}" font-size="13" transform="rotate(-90 18 {(top + bottom) / 2})" '
               f'text-anchor="middle">{unit}</text>')
    for i, (label, colour, f) in enumerate(series):
        pts = [(r["purchases"], f(r)) for r in rows if f(r)]
        if not pts:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
        (x0, y0), x1 = pts[0], pts[-1][0]
        if proportional:
            out.append(f'<line x1="{px(x0):.1f}" y1="{py(y0):.1f}" x2="{px(x1):.1f}" y2="{py(y0 * x1 / x0):.1f}" '
                   f'stroke="{colour}" stroke-dasharray="2,4"/>')
        ly = top + 30 + 20 * i
        out.append(f'<line x1="{right + 20}" y1="{ly - 4}" x2="{right + 44}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{right + 50}" y="{ly}" font-size="12">{label}</text>')


def main():
    rows = []
    for path in sys.argv[1:]:
        rows += [json.loads(line) for line in open(path) if line.strip()]
    rows.sort(key=lambda r: r["purchases"])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{2 * H + 40}" font-family="sans-serif">',
           f'<rect width="{W}" height="{2 * H + 40}" fill="white"/>',
           f'<text x="{W / 2}" y="20" font-size="15" text-anchor="middle">vasgd retraining cost against shop size '
           f'(bench/scale.sh, 2 cores; dotted: proportional to size)</text>']
    panel(out, 20, rows, SERIES, "seconds")
    panel(out, H + 30, rows, [RSS], "MiB", proportional=False)  # 10k built EASE (dense n²): not one curve
    refit = [r["size"] for r in rows if r.get("refit_vasg")]
    if refit:
        out.append(f'<text x="{PAD}" y="{2 * H + 30}" font-size="12">retrain.refit_vasg on at: {", ".join(refit)} '
                   f'(its retraining trains VASG twice)</text>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
