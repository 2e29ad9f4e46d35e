"""Scanning business-card photos end to end with the real default engine: a batch the way
`crmbot scan-card` runs it, and single photos the way the capture job does."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from config.settings import load_settings
from ocr_asr import card_scan
from ocr_asr.card_scan import NO_TEXT_ZH, scan_card_bytes, scan_card_files
from ocr_asr.errors import CaptureError

CONTRACT_KEYS = {"file", "name", "company", "title", "mobile", "phone", "email", "address", "website",
                 "lines", "elapsed_ms"}
ADDED_KEYS = {"mobile2", "fax", "english_name", "english_title"}  # new keys only; the contract's keys stay


def _assert_fields(cardgen, got: dict, truth) -> None:
    wrong = {name: (got[name], want) for name, want in truth.fields().items()
             if not cardgen.same_field(name, got[name], want)}
    assert not wrong, f"fields read wrong (got, want): {wrong}"


@pytest.mark.slow
def test_batch_of_files_loads_the_model_once_and_survives_bad_files(cardgen, ocr_engine, tmp_path, monkeypatch):
    loads = []

    def counting_engine(settings):
        loads.append(settings.crmbot_ocr_engine)
        return ocr_engine

    monkeypatch.setattr(card_scan, "get_ocr_engine", counting_engine)
    clean = cardgen.make_card(3, style="band", labels="zh2")
    photo = cardgen.make_card(11, style="left", labels="en2")
    files = {
        "not_an_image.jpg": "这不是图片".encode(),
        "clean.png": cardgen.scan_bytes(clean.image),
        "empty.jpg": b"",
        "photo.jpg": cardgen.photograph(photo.image, 11, turn=180, tilt=-6),
        "truncated.jpg": cardgen.photograph(photo.image, 12, turn=0)[:5000],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / name) for name in files] + [str(tmp_path / "missing.jpg")]

    results = list(scan_card_files(paths, settings=load_settings()))

    assert [r["file"] for r in results] == paths
    assert loads == ["rapidocr"]
    by_name = {r["file"].rsplit("/", 1)[-1]: r for r in results}
    for good in ("clean.png", "photo.jpg"):
        assert set(by_name[good]) == CONTRACT_KEYS | ADDED_KEYS
        assert by_name[good]["lines"] and by_name[good]["elapsed_ms"] > 0
    _assert_fields(cardgen, by_name["clean.png"], clean.truth)
    _assert_fields(cardgen, by_name["photo.jpg"], photo.truth)
    assert "文件不是图片" in by_name["not_an_image.jpg"]["error"]
    assert "文件是空的" in by_name["empty.jpg"]["error"]
    assert "不完整" in by_name["truncated.jpg"]["error"]
    assert by_name["missing.jpg"]["error"] == "找不到这个文件"
    for bad in ("not_an_image.jpg", "empty.jpg", "truncated.jpg", "missing.jpg"):
        assert set(by_name[bad]) == CONTRACT_KEYS | ADDED_KEYS | {"error"}
        assert by_name[bad]["name"] is None and by_name[bad]["lines"] == []


@pytest.mark.slow
def test_batch_of_only_bad_files_never_loads_the_model(tmp_path, monkeypatch):
    monkeypatch.setattr(card_scan, "get_ocr_engine", lambda settings: pytest.fail("model loaded"))
    (tmp_path / "a.jpg").write_text("hello")
    results = list(scan_card_files([str(tmp_path / "a.jpg")], settings=load_settings()))
    assert "error" in results[0]


# Styles, label sets, light/dark and degradations spread over the cases; seeds are fixed so a
# failure can be redrawn with cardgen.make_card(seed, ...).
PHOTO_CASES = [
    # seed, style, labels, dark, turn, tilt
    (101, "left", "zh", False, 0, 7.0),
    (102, "center", "en", True, 90, -5.5),
    (103, "split", "bi", False, 270, 6.0),
    (104, "band", "none", True, 180, -8.0),
    (105, "left", "en2", True, 0, -6.5),
    (106, "center", "zh2", False, 0, 5.0),
    (107, "split", "icon", False, 0, -7.0),
    (108, "left", "icon", True, 90, 6.5),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed, style, labels, dark, turn, tilt", PHOTO_CASES)
def test_phone_photo_of_a_card(cardgen, ocr_engine, seed, style, labels, dark, turn, tilt):
    card = cardgen.make_card(seed, style=style, labels=labels, dark=dark)
    photo = cardgen.photograph(card.image, seed, turn=turn, tilt=tilt)
    result = scan_card_bytes(photo, ocr_engine, settings=load_settings())
    _assert_fields(cardgen, result.fields(), card.truth)
    assert result.confidence.get("name", 0) > 0.5


@pytest.mark.slow
def test_a_scan_whose_last_line_reaches_the_edge_is_read_whole(cardgen, ocr_engine):
    # The address wraps onto a last line ("楼") at the scan's bottom edge: a cut-out around the
    # card's lines would cut it off, so a card whose lines reach the frame is read as it is.
    card = cardgen.make_card(9018)
    result = scan_card_bytes(cardgen.scan_bytes(card.image), ocr_engine, settings=load_settings())
    _assert_fields(cardgen, result.fields(), card.truth)
    assert result.address.endswith("24楼")


@pytest.mark.slow
def test_photo_without_text_is_refused_with_a_reason(ocr_engine):
    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (90, 80, 70)).save(out, "JPEG")
    with pytest.raises(CaptureError) as err:
        scan_card_bytes(out.getvalue(), ocr_engine, settings=load_settings())
    assert err.value.user_message == NO_TEXT_ZH


def test_upload_over_the_size_limit_is_refused_before_decoding():
    settings = load_settings(crmbot_max_upload_bytes=1000)
    with pytest.raises(CaptureError) as err:
        scan_card_bytes(b"\xff\xd8" + b"\x00" * 2000, engine=object(), settings=settings)
    assert "文件太大" in err.value.user_message
