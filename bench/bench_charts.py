"""How long the report charts take to draw and how big they are.

    .venv/bin/python bench/bench_charts.py [--runs 20]

Prints, per chart, the median and worst render time (matplotlib Agg, Noto Sans CJK) and the PNG
size, against the 1 MB image cap (cards/charts.py MAX_IMAGE_BYTES). The first draw also loads the
font; it is reported separately.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cards import charts  # noqa: E402

REPS = [(f"销售{i}", 3 + (i * 7) % 15) for i in range(12)]   # a 12-rep team
CHARTS = {
    "loss_reasons (3 bars)": lambda: charts.loss_reasons_chart([("价格不合适", 7), ("选择了竞品", 4), ("需求取消", 2)]),
    "followups (12 reps)": lambda: charts.followups_chart(REPS, 10),
    "conversion (12 reps)": lambda: charts.conversion_chart([(n, v * 6.0) for n, v in REPS], 45.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    started = time.perf_counter()
    charts.loss_reasons_chart([("价格不合适", 1)])
    print(f"first chart (font lookup + load): {1000 * (time.perf_counter() - started):.0f} ms")
    print(f"{'chart':<24} {'median ms':>10} {'max ms':>8} {'PNG bytes':>10}")
    for name, draw in CHARTS.items():
        times, size = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            size = len(draw())
            times.append(1000 * (time.perf_counter() - t0))
        print(f"{name:<24} {statistics.median(times):>10.1f} {max(times):>8.1f} {size:>10,}")
    print(f"image cap: {charts.MAX_IMAGE_BYTES:,} bytes")


if __name__ == "__main__":
    main()
