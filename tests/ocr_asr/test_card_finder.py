"""Finding the card in a photo before reading it: its outline on a cluttered desk, its group of
text lines when the outline does not stand out, nothing when there is no card to cut out."""
from __future__ import annotations

import io
import math

import pytest
from PIL import Image

import cv2
import numpy as np

from ocr_asr.card_finder import (
    CARD_LONG_SIDE,
    CardOutline,
    card_from_text,
    cut_sides,
    find_card,
    flatten,
    lines_in_card_group,
    lines_on_card,
    widen,
)
from ocr_asr.images import decode_image
from ocr_asr.ocr import OcrLine


def _photo(cardgen, seed: int, turn: int = 0) -> tuple[object, Image.Image]:
    card = cardgen.make_real_card(seed)
    return card, decode_image(cardgen.desk_photo(card.image, seed, turn=turn), max_side=2400)


def _sides(outline) -> tuple[float, float]:
    a, b, c, d = outline.corners
    return (math.dist(a, b) + math.dist(d, c)) / 2, (math.dist(a, d) + math.dist(b, c)) / 2


@pytest.mark.parametrize("seed", [0, 2, 5, 9])
def test_outline_of_a_card_on_a_cluttered_desk(cardgen, seed):
    card, photo = _photo(cardgen, seed)
    outline = find_card(photo)
    assert outline is not None
    across, down = _sides(outline)
    ratio = max(across, down) / min(across, down)
    assert 1.4 < ratio < 2.1
    # The card is a third to a half of the frame wide: its outline is neither a speck nor the page.
    assert 0.25 * photo.width < max(across, down) < 0.6 * max(photo.size)
    flat = flatten(photo, outline)
    assert max(flat.size) == CARD_LONG_SIDE or max(flat.size) < CARD_LONG_SIDE
    assert (flat.height > flat.width) == outline.portrait


def test_a_scan_that_is_all_card_has_no_outline_to_cut(cardgen):
    card = cardgen.make_card(3)
    assert find_card(decode_image(cardgen.scan_bytes(card.image))) is None


def test_blank_desk_has_no_card():
    assert find_card(Image.new("RGB", (1200, 900), (120, 100, 80))) is None


def _box(x, y, w, h):
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def test_card_from_text_picks_the_lines_with_a_large_name_not_the_page():
    # A page: twelve lines of one type size, left; a card: a large name and small lines, right.
    page = [_box(50, 100 + 40 * i, 500, 24) for i in range(12)]
    card = [_box(900, 300, 160, 60)] + [_box(900, 380 + 32 * i, 380, 20) for i in range(5)]
    outline = card_from_text(page + card, (1600, 1200))
    assert outline is not None
    xs = [x for x, _ in outline.corners]
    assert min(xs) > 800 and max(xs) < 1350


def test_card_from_text_gives_up_on_a_page_alone():
    assert card_from_text([_box(50, 100 + 40 * i, 500, 24) for i in range(12)], (1600, 1200)) is None


def test_card_from_text_keeps_every_group_of_the_card():
    # A close-up: the name block and a column of contact lines set apart, no page to leave out:
    # the cut-out takes both.
    name = [_box(100, 100, 300, 120), _box(100, 240, 260, 30), _box(100, 285, 260, 30), _box(100, 330, 200, 30)]
    contacts = [_box(900, 500 + 34 * i, 380, 22) for i in range(5)]
    outline = card_from_text(name + contacts, (1400, 800))
    assert outline is not None
    xs = [x for x, _ in outline.corners]
    ys = [y for _, y in outline.corners]
    assert min(xs) <= 100 and max(xs) >= 1280 and min(ys) <= 100 and max(ys) >= 658


@pytest.mark.slow
@pytest.mark.parametrize("seed, turn", [
    (3, 0), (5, 90), (10, 180), (24, 270),
    (9430, 0),     # the outline took in the page's lines beside the card, longer and more than its own
    (9116, 0),     # the name (light Kai type on a dark card) is missed by the detector at the reading size
    (9116, 90),    # ... and the cut-out, widened, is read at the card's own scale
    (9104, 270),   # no outline (a white card on the page, turned): the card's lines, read upright, tell it
])
def test_desk_photo_reads_the_card_not_the_page(cardgen, ocr_engine, seed, turn):
    from config.settings import load_settings
    from ocr_asr.card_scan import scan_card_bytes
    card = cardgen.make_real_card(seed)
    got = scan_card_bytes(cardgen.desk_photo(card.image, seed, turn=turn), ocr_engine,
                          settings=load_settings()).all_fields()
    wrong = {name: (got[name], want) for name, want in card.truth.real_fields().items()
             if not cardgen.same_field(name, got[name], want)}
    assert not wrong, f"{card.notes}: fields read wrong (got, want): {wrong}"
    if card.truth.fax:
        assert got["fax"] == card.truth.fax and got["phone"] != card.truth.fax


def _iou(found, truth) -> float:
    a = np.array(found, dtype=np.float32)
    b = np.array(truth, dtype=np.float32)
    inter, _ = cv2.intersectConvexConvex(a, b)
    return inter / (cv2.contourArea(a) + cv2.contourArea(b) - inter)


@pytest.mark.parametrize("seed", [6, 11, 22, 40])
def test_card_lying_on_the_page_is_found_by_its_corners(cardgen, seed):
    # A light card half on the printed page: against the paper its sides show only by the shadow
    # they cast or not at all, so it has no closed outline (the old finder found none of these);
    # the corners where its visible sides meet do.
    card = cardgen.make_real_card(seed)
    scene = cardgen.desk_scene(card.image, seed, turn=0)
    assert scene.on_page
    outline = find_card(decode_image(scene.photo, max_side=4000))
    assert outline is not None
    assert _iou(outline.corners, scene.corners) > 0.85


@pytest.mark.parametrize("seed", [
    9406,   # a navy band on a dark grey desk: one grey, two colours (the line detector works on grey)
    9101,   # a green band whose company name, printed along it, shows as an edge inside the band
])
def test_outline_takes_in_the_band_printed_along_the_card(cardgen, seed):
    card = cardgen.make_real_card(seed)
    scene = cardgen.desk_scene(card.image, seed, turn=0)
    outline = find_card(decode_image(scene.photo, max_side=4000))
    assert outline is not None
    assert _iou(outline.corners, scene.corners) > 0.9


def test_text_running_into_the_cut_out_names_the_side():
    size = (1000, 600)
    inside = [[(100, 100), (500, 100), (500, 140), (100, 140)]]
    assert cut_sides(inside, size) == set()
    assert cut_sides(inside + [[(300, 0), (700, 0), (700, 30), (300, 30)]], size) == {"top"}
    assert cut_sides([[(600, 300), (999, 300), (999, 340), (600, 340)]], size) == {"right"}


def test_widen_moves_only_the_cut_side_out():
    outline = CardOutline(corners=((400.0, 300.0), (1400.0, 300.0), (1400.0, 900.0), (400.0, 900.0)), score=1.0)
    flat = flatten(Image.new("RGB", (2000, 1500), "white"), outline)
    wider = widen(outline, {"top"}, flat.size, (2000, 1500))
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = wider.corners
    assert ay == pytest.approx(300 - 0.3 * 600, abs=6) and by == pytest.approx(ay, abs=1)
    assert cy == pytest.approx(900, abs=6) and dy == pytest.approx(900, abs=6)
    assert ax == pytest.approx(400, abs=6) and bx == pytest.approx(1400, abs=6)
    # Never past the photo's edge.
    assert min(y for _, y in widen(outline, {"top"}, flat.size, (2000, 400)).corners) >= 0


def _line(text, x, y, w, h=30, degrees=0.0):
    a = math.radians(degrees)
    dx, dy = math.cos(a), math.sin(a)
    box = [(x, y), (x + w * dx, y + w * dy), (x + w * dx - h * dy, y + w * dy + h * dx), (x - h * dy, y + h * dx)]
    return OcrLine(text, box, 0.99)


def test_lines_cut_by_the_edge_or_turned_against_the_card_are_left_out():
    card = [_line("上海博远信息技术有限公司", 60, 40, 420), _line("手机：13812345678", 60, 200, 300),
            _line("邮箱：wang@boyuan.com", 60, 250, 330), _line("地址：上海市浦东新区张江路1号", 60, 300, 420)]
    cut = _line("采购合同", 900, 400, 99)               # runs into the right edge of a 1000 px card
    askew = _line("总价：人民币壹拾贰万元整", 500, 450, 300, degrees=9)   # the page beside, at its own angle
    kept = lines_on_card(card + [cut, askew], (1000, 600))
    assert [line.text for line in kept] == [line.text for line in card]
    # A line read on the page turned upright goes by that page's size.
    turned = OcrLine("手机：13812345678", [(60, 900), (360, 900), (360, 930), (60, 930)], 0.99, page_size=(600, 1000))
    assert lines_on_card(card + [turned], (1000, 600))[-1] is turned


def test_the_card_s_lines_win_over_more_and_longer_lines_of_the_page_at_another_angle():
    # The outline took in a strip of the page: ten long lines at 7.5°, one type size; the card's
    # own lines run at 2° under a name in large type. The page's lines are left out, not the card's.
    page = [_line(f"合同条款第{i}条：付款方式预付30%", 130, 10 + 45 * i, 240, h=36, degrees=7.5) for i in range(10)]
    card = [_line("顾子秀", 400, 190, 130, h=56, degrees=2), _line("上海云启智能装备有限公司", 390, 110, 290, degrees=2),
            _line("M:13696079022", 400, 250, 130, h=25, degrees=2),
            _line("T:021-59251318", 400, 275, 130, h=25, degrees=2),
            _line("E:huang.qiang@yunqi-group.net", 405, 320, 245, h=26, degrees=2)]
    kept = lines_on_card(page + card, (1000, 600))
    assert [line.text for line in kept] == [line.text for line in card]


def test_lines_in_card_group_leaves_out_the_page_around_a_card_read_whole():
    page = [OcrLine(f"第{i}条：交货时间2026年12月15日前", _box(50, 100 + 40 * i, 500, 24), 0.99, page_size=(1600, 1200))
            for i in range(12)]
    card = [OcrLine("秦博", _box(900, 300, 160, 60), 0.99, page_size=(1600, 1200))] + [
        OcrLine(f"电话：010-3438770{i}", _box(900, 380 + 32 * i, 380, 20), 0.99, page_size=(1600, 1200))
        for i in range(5)]
    assert lines_in_card_group(page + card) == card
    # No card among the lines (a page alone, or too few lines): all are kept.
    assert lines_in_card_group(page) == page
    assert lines_in_card_group(card[:2]) == card[:2]
