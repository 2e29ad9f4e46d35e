"""The engine interface: choosing an engine by settings, paddleocr's local-model checks, box geometry,
and the default engine reading real (synthetic) card images in all four orientations."""
from __future__ import annotations

import math

import pytest
from PIL import Image

from config.settings import load_settings
from ocr_asr import ocr
from ocr_asr.errors import CaptureError
from ocr_asr.ocr import (
    OcrLine,
    PaddleOcrEngine,
    corners_in_reading_order,
    get_ocr_engine,
)


def test_paddleocr_without_model_dir_names_the_setting():
    with pytest.raises(CaptureError) as err:
        get_ocr_engine(load_settings(crmbot_ocr_engine="paddleocr"))
    assert "CRMBOT_PADDLEOCR_MODEL_DIR" in str(err.value)
    assert "管理员" in err.value.user_message


def test_paddleocr_with_missing_subfolders_names_them(tmp_path):
    (tmp_path / "det").mkdir()
    with pytest.raises(CaptureError) as err:
        PaddleOcrEngine(tmp_path)
    message = str(err.value)
    assert "CRMBOT_PADDLEOCR_MODEL_DIR" in message and "rec" in message and "cls" in message


def test_paddleocr_never_downloads_when_the_package_is_missing(tmp_path):
    try:
        import paddleocr  # noqa: F401
        pytest.skip("paddleocr is installed here; this checks the message when it is not")
    except ImportError:
        pass
    for name in ("det", "rec", "cls"):
        (tmp_path / name).mkdir()
    with pytest.raises(CaptureError) as err:
        PaddleOcrEngine(tmp_path)
    assert "paddleocr" in str(err.value) and "CRMBOT_OCR_ENGINE" in str(err.value)


def test_unknown_engine_name_is_refused_by_settings():
    from config.settings import SettingsError
    with pytest.raises(SettingsError, match="CRMBOT_OCR_ENGINE"):
        load_settings(crmbot_ocr_engine="tesseract")


def test_steep_box_corners_come_back_in_reading_order():
    # Detectors order corners by x; for a box tilted this much that starts at the wrong corner.
    box = [(689, 762), (757, 1296), (712, 1302), (643, 768)]
    top_left, top_right, bottom_right, bottom_left = corners_in_reading_order(box)
    assert (top_left, top_right, bottom_right, bottom_left) == ((643, 768), (689, 762), (757, 1296), (712, 1302))
    # After turning that page 90° clockwise (270° counter-clockwise) the long side reads left to right.
    p0, p1, p2, _ = corners_in_reading_order(box, 270, (1600, 1600))
    assert math.dist(p0, p1) > 5 * math.dist(p1, p2)
    assert p0 == (712, 1302)  # the bottom-left corner becomes the top-left once turned


def test_line_height_ignores_tilt():
    flat = OcrLine("名片", [(0, 0), (200, 0), (200, 40), (0, 40)], 1.0)
    tilted = OcrLine("名片", [(0, 0), (197, 35), (190, 74), (-7, 39)], 1.0)
    assert flat.height == 40
    assert 38 < tilted.height < 42 and tilted.bottom - tilted.top > 70


@pytest.mark.slow
def test_engine_is_loaded_once_per_process():
    settings = load_settings()
    first = get_ocr_engine(settings)
    assert isinstance(first, ocr.RapidOcrEngine)
    assert get_ocr_engine(load_settings()) is first


@pytest.mark.slow
@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_default_engine_reads_a_card_in_any_orientation(cardgen, ocr_engine, turn):
    card = cardgen.make_card(7, style="left", labels="zh")
    image = card.image.rotate(turn, expand=True)
    lines = ocr_engine.recognize(image)
    texts = [l.text.replace(" ", "") for l in lines]
    name = next(l for l in lines if l.text.replace(" ", "") == card.truth.name)
    mobile = next(l for l in lines if card.truth.mobile in l.text.replace(" ", "").replace("-", ""))
    assert any(card.truth.company.replace("（", "(").replace("）", ")") in t.replace("（", "(").replace("）", ")")
               for t in texts)
    # The page was turned upright: the name sits above the mobile and is the larger type.
    assert name.center_y < mobile.center_y
    assert name.height > 1.5 * mobile.height
    assert all(0.5 <= l.score <= 1 for l in lines)


@pytest.mark.slow
def test_default_engine_on_a_blank_image_finds_nothing(ocr_engine):
    assert ocr_engine.recognize(Image.new("RGB", (800, 500), "white")) == []
