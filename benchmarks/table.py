"""Print the README's performance tables (Markdown) from ``benchmarks/results/*.json``.

    python benchmarks/table.py
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def tables(report: dict) -> str:
    """One machine's tables: folder scoring against its ceilings, then the rest."""
    cuda = "cuda" in report["cases"][0]["device"]
    bound, key, target = ("min(decode, metrics)", "ratio_to_ceiling", 0.80) if cuda else \
        ("serial bound", "ratio_to_serial_bound", 0.85)
    lines = [f"**{report['machine']['description']}**, torch {report['machine']['torch']}, "
             f"{report['pairs']} pairs of {report['size']}x{report['size']} px (file `{report['machine']['name']}.json`):",
             "",
             f"| case | pairs | engine pairs/s | decode-only | metrics-only | {bound} | engine / bound (target >= {target}) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in report["cases"]:
        ceiling = min(row["decode_only_pairs_s"], row["metrics_only_pairs_s"]) if cuda else row["serial_bound_pairs_s"]
        lines.append(f"| {row['case']} ({row['precision']}) | {row['pairs']} | {row['engine_pairs_s']:.1f} | "
                     f"{row['decode_only_pairs_s']:.1f} | {row['metrics_only_pairs_s']:.1f} | {ceiling:.1f} | "
                     f"{row[key]:.2f} |")
    loop = report["plain_loop"]
    lines += ["", f"- SSIM folder scoring vs a plain per-pair loop (PIL + pytorch-msssim): "
                  f"{loop['engine_ssim_pairs_s']:.1f} vs {loop['plain_loop_pairs_s']:.1f} pairs/s, "
                  f"{loop['engine_over_plain_loop']:.2f}x" + (" (target >= 8x)" if cuda else ""),
              "- W-SSIM / SSIM time (batch 8 RGB, best of 5): "
              + ", ".join(f"{size} px {ratio:.2f}x" for size, ratio in report["wssim_over_ssim"].items())
              + " (target <= 2)"]
    if "startup" in report:
        medians = report["startup"]["medians_s"]
        lines.append(f"- start-up: `import torch` {medians['import torch']:.2f} s, `imgloss compare a.png b.png -m ssim` "
                     f"{medians['compare -m ssim']:.2f} s ({report['startup']['compare_over_import_torch']:.2f}x, "
                     f"target <= 1.25), `imgloss --help` {medians['--help']:.3f} s (target < 0.3)")
    for large in report.get("large", []):
        lines.append(f"- one {large['size']}x{large['size']} pair, {', '.join(large['metrics'])}: {large['summary']}")
    return "\n".join(lines)


def main() -> None:
    for path in sorted(RESULTS.glob("*.json")):
        report = json.loads(path.read_text())
        if "pairs" in report:  # engine runs (run_all.py); losses-*.json has its own layout
            print(tables(report))
            print()


if __name__ == "__main__":
    main()
