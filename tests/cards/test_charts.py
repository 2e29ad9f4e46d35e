"""The report charts are checked for what they show, not only that a file exists: bar heights
measured in pixel columns follow the data, every Chinese label has a glyph in the font actually
used (and renders differently from the font's missing-glyph box), and the PNG fits the platforms'
image limits."""
from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.ft2font import FT2Font
from PIL import Image

from cards import charts
from cards.charts import BAR_COLOR, MAX_IMAGE_BYTES, Bar

LABELS = "本月丢单原因价格不合适选择了竞品联系不上需求取消有效跟进目标团队中位数赢单率近天次单暂无数据"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _bar_heights(png: bytes) -> list[int]:
    """Each bar's height in pixels: find the bars' columns just above the x axis, then count the
    bar-coloured pixels in each bar's middle column."""
    rgb = _pixels(png)
    want = np.array([int(BAR_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    is_bar = (np.abs(rgb - want).sum(axis=2) < 30)
    rows_with_bars = np.where(is_bar.any(axis=1))[0]
    base = rows_with_bars.max()           # the lowest bar row, just above the axis
    cols = np.where(is_bar[base])[0]
    runs, start = [], cols[0]
    for a, b in zip(cols, cols[1:]):
        if b != a + 1:
            runs.append((start, a))
            start = b
    runs.append((start, cols[-1]))
    return [int(is_bar[:, (s + e) // 2].sum()) for s, e in runs]


def test_bar_heights_follow_the_data():
    values = [5, 3, 1, 8]
    png = charts.bar_chart("本周有效跟进（次）", [Bar(f"成员{i}", v) for i, v in enumerate(values)], ymax=10)
    heights = _bar_heights(png)
    assert len(heights) == len(values)
    per_unit = heights[0] / values[0]
    for value, height in zip(values, heights):
        assert abs(height - value * per_unit) <= 2, (values, heights)
    assert heights[3] > heights[0] > heights[1] > heights[2]


def test_a_target_line_does_not_change_the_bars():
    bars = [Bar("李明", 4), Bar("王芳", 12)]
    plain = _bar_heights(charts.bar_chart("本周有效跟进（次）", bars, ymax=15))
    marked = _bar_heights(charts.bar_chart("本周有效跟进（次）", bars, ymax=15, mark=10, mark_label="目标 10"))
    assert plain == marked and abs(marked[1] / marked[0] - 3) < 0.05


def _glyph(font_path: str, ch: str) -> np.ndarray:
    face = FT2Font(font_path)
    face.set_size(32, 72)
    face.set_text(ch, 0.0)
    face.draw_glyphs_to_bitmap()
    return np.asarray(face.get_image())


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_every_label_has_a_glyph_in_the_font_used():
    path = str(charts.cjk_font_path())
    assert charts.missing_glyphs(LABELS) == []
    tofu = _glyph(path, "\U0010fffd")  # a private-use code point no font draws: the missing-glyph box
    for ch in LABELS:
        drawn = _glyph(path, ch)
        assert drawn.shape != tofu.shape or not np.array_equal(drawn, tofu), ch
    # the check can fail: a font without CJK draws these labels as its missing-glyph box
    assert charts.missing_glyphs("丢单", DEJAVU) == ["丢", "单"]
    assert np.array_equal(_glyph(DEJAVU, "丢"), _glyph(DEJAVU, "\U0010fffd"))


def test_charts_fit_the_platforms_image_limits():
    png = charts.loss_reasons_chart([("价格不合适", 5), ("选择了竞品", 3), ("联系不上", 1)])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) <= MAX_IMAGE_BYTES  # 1 MB: the smallest image limit quoted for either platform
    width, height = Image.open(io.BytesIO(png)).size
    assert (width, height) == (768, 432)


def test_no_cjk_font_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(charts, "missing_glyphs", lambda text, font_path=None: ["丢"])
    with pytest.raises(charts.ChartFontMissing, match="lacks glyphs"):
        charts.bar_chart("丢单", [Bar("a", 1)])
