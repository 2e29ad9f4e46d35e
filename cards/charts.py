"""Charts drawn as PNG images for the reports (pushed as image messages) and the mini-app.

matplotlib with the Agg backend (no display, thread-safe enough when each chart has its own
Figure object and nothing touches pyplot's global state). Chinese labels need a CJK font:
Debian's `fonts-noto-cjk` (installed by .ci/run). We look it up through fontconfig (`fc-match`)
and then in the package's usual path, and refuse to draw without it (`ChartFontMissing`) — a
chart of tofu boxes (□□□) is worse than none.

Bars are drawn in one solid colour (BAR_COLOR) on white, no anti-aliasing on the bar patches, so a
test can measure each bar's height in pixels and compare it with the data.
"""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # before any other matplotlib import: no display on a server

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties, fontManager  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

BAR_COLOR = "#1f6feb"
MARK_COLOR = "#d1242f"        # target / median line
# The smallest image limit we know of on either platform: WeCom's group robot takes images up to
# 2 MB and some DingTalk media/upload docs say 1 MB for images (unverified; platforms.md 1.5, 1.9).
MAX_IMAGE_BYTES = 1024 * 1024
WIDTH_IN, HEIGHT_IN, DPI = 6.4, 3.6, 120   # 768×432 px: legible on a phone, ~30 KB
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK")
KNOWN_PATHS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
               "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf")


class ChartFontMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """The CJK font file: fontconfig's answer for Noto Sans CJK SC, else Debian's path."""
    if shutil.which("fc-match"):
        for family in CJK_FAMILIES:
            out = subprocess.run(["fc-match", "-f", "%{file}", f"{family}:lang=zh-cn"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            if out and "CJK" in Path(out).name and Path(out).exists():
                return Path(out)
    for candidate in KNOWN_PATHS:
        if Path(candidate).exists():
            return Path(candidate)
    raise ChartFontMissing("no CJK font found: install Debian's fonts-noto-cjk "
                           "(apt-get install fonts-noto-cjk); charts with Chinese labels need it")


@lru_cache(maxsize=1)
def _font() -> FontProperties:
    path = cjk_font_path()
    fontManager.addfont(str(path))
    return FontProperties(fname=str(path))


def missing_glyphs(text: str, font_path: Path | None = None) -> list[str]:
    """Characters of `text` the font has no glyph for (each would be drawn as a tofu box)."""
    face = FT2Font(str(font_path or cjk_font_path()))
    return [ch for ch in dict.fromkeys(text) if not ch.isspace() and face.get_char_index(ord(ch)) == 0]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""      # shown above the bar, e.g. "3单" or "45%"


def bar_chart(title: str, bars: Sequence[Bar], *, unit: str = "", mark: float | None = None,
              mark_label: str = "", ymax: float | None = None) -> bytes:
    """A vertical bar chart as PNG bytes. `mark`: a horizontal line (target, team median)."""
    font = _font()
    labels = "".join([title, unit, mark_label] + [b.label + b.note for b in bars])
    missing = missing_glyphs(labels)
    if missing:
        raise ChartFontMissing(f"font {cjk_font_path().name} lacks glyphs {''.join(missing)!r}")
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    ax = fig.add_subplot()
    values = [max(0.0, float(b.value)) for b in bars]
    top = ymax or max(values + [mark or 0, 1]) * 1.18
    patches = ax.bar(range(len(bars)), values, width=0.55, color=BAR_COLOR, antialiased=False)
    for patch, bar in zip(patches, bars):
        if bar.note:
            ax.text(patch.get_x() + patch.get_width() / 2, patch.get_height() + top * 0.015, bar.note,
                    ha="center", va="bottom", fontproperties=font, fontsize=10, color="#333333")
    if mark is not None:
        # behind the bars (zorder): a bar's height stays measurable where the line crosses it
        ax.axhline(mark, color=MARK_COLOR, linewidth=1.2, linestyle="--", zorder=0.5)
        if mark_label:
            ax.text(-0.55, mark, mark_label, ha="left", va="bottom", fontproperties=font, fontsize=9,
                    color=MARK_COLOR, zorder=3, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_ylim(0, top)
    ax.set_xlim(-0.6, max(len(bars), 1) - 0.4)
    ax.set_xticks(range(len(bars)), [b.label for b in bars], fontproperties=font, fontsize=10)
    for tick in ax.get_yticklabels():
        tick.set_fontproperties(font)
    if unit:
        ax.set_ylabel(unit, fontproperties=font, fontsize=10)
    ax.set_title(title, fontproperties=font, fontsize=13)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not bars:
        ax.text(0, top / 2, "暂无数据", ha="center", fontproperties=font, fontsize=12, color="#999999")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    data = buffer.getvalue()
    if len(data) > MAX_IMAGE_BYTES:  # cannot happen at this size; a guard against a future change
        raise ValueError(f"chart is {len(data)} bytes, above the platforms' {MAX_IMAGE_BYTES}")
    return data


# ------------------------------------------------------------------ the dashboard's charts
# Plain values in (cards/ never reads the store); miniapp/metrics.py and jobs/rules/reports.py
# pass what storage.deal_insights computed.


def loss_reasons_chart(pairs: Sequence[tuple[str, int]]) -> bytes:
    return bar_chart("本月丢单原因 Top3", [Bar(reason, count, f"{count}单") for reason, count in pairs], unit="单数")


def followups_chart(rows: Sequence[tuple[str, int]], target: int) -> bytes:
    return bar_chart("本周有效跟进（次）", [Bar(name, count, str(count)) for name, count in rows],
                     unit="次数", mark=target, mark_label=f"目标 {target}")


def conversion_chart(rows: Sequence[tuple[str, float]], median_pct: float | None) -> bytes:
    return bar_chart("近90天赢单率", [Bar(name, pct, f"{pct:.0f}%") for name, pct in rows], unit="%",
                     mark=median_pct, mark_label="团队中位数" if median_pct is not None else "", ymax=118)
