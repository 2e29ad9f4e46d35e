"""Photo of a business card in, fields out: for the capture job (bytes) and `crmbot scan-card` (files)."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ocr_asr.card_fields import EXTRA_FIELDS, FIELDS, BusinessCard, extract_card
from ocr_asr.card_finder import (CARD_LONG_SIDE, CardOutline, card_from_text, cut_sides, find_card, flatten,
                                 lines_in_card_group, lines_on_card, widen)
from ocr_asr.errors import CaptureError
from ocr_asr.images import MAX_SIDE, decode_image
from ocr_asr.ocr import OcrEngine, RapidOcrEngine, get_ocr_engine

if TYPE_CHECKING:  # pragma: no cover
    from config.settings import Settings

log = logging.getLogger(__name__)

NO_TEXT_ZH = "这张图片里没有识别到文字：请把名片放平、对准、光线充足时重拍"


def _settings(settings: "Settings | None") -> "Settings":
    if settings is not None:
        return settings
    from config.settings import settings_from_env
    return settings_from_env()


def scan_card_bytes(data: bytes, engine: OcrEngine | None = None, *,
                    settings: "Settings | None" = None) -> BusinessCard:
    """Read one card photo. Raises CaptureError (Chinese `user_message`) for a file we refuse or a
    photo without any text; the engine comes from settings unless one is passed."""
    settings = _settings(settings)
    _check_size(len(data), settings.crmbot_max_upload_bytes)
    # Decoded larger than OCR needs: a card that fills a third of the frame still gets enough
    # pixels once it is cut out. The outline itself is looked for on a small copy.
    photo = decode_image(data, max_side=PHOTO_SIDE, resample=Image.Resampling.BILINEAR)
    engine = engine or get_ocr_engine(settings)
    page = card_page(photo, engine)
    lines = engine.recognize(page.image, det_side=page.det_side, sample=page.sample)
    lines = lines_on_card(lines, page.image.size) if page.is_card else lines_in_card_group(lines)
    if not any(line.text.strip() for line in lines):
        raise CaptureError(NO_TEXT_ZH, "OCR found no text in the image")
    return extract_card(lines)


# The long side a photo is decoded to before the card is looked for in it: a phone's 12 MP photo
# (4000 px) is shrunk a little, a 48 MP one halved while decoding; the generated 3000 px desk
# photos are not resized at all (a resize of the whole photo costs more than cutting the card out).
PHOTO_SIDE = 3200
# The long side text lines are looked for at on a flattened card (CARD_LONG_SIDE px): its body
# type is still ~20 px high there, and detection time grows with the area.
CARD_DET_SIDE = 800
# The long side a flattened card's lines are first looked for at, to check the outline took the
# whole card: the name and the contact lines are still found there. The engine reads the card's
# orientation from a copy of this size too, so the boxes are handed on.
CHECK_DET_SIDE = RapidOcrEngine.TURN_SIDE
# The long side the whole photo's lines are looked for at when the card's outline was not found:
# a card a third of the frame wide has its body type ~12 px high there (at 1280 the small print of
# the smallest cards was lost).
PHOTO_DET_SIDE = 1600


@dataclass(frozen=True)
class Page:
    """What OCR reads: `image`, the long side to detect its lines at (None: as it is), and whether
    it is a card cut out of the photo (then lines crossing its edge are the desk's, not the card's)."""

    image: Image.Image
    det_side: int | None
    is_card: bool
    sample: list | None = None   # line boxes found on a small copy of `image` already


def card_page(photo: Image.Image, engine: OcrEngine | None = None) -> Page:
    """The card cut out of the photo and flattened when one is found (text outside the card is
    never read), else the whole photo at the usual reading size.

    The card is found by its outline (`card_finder.find_card`), else, when the engine can detect
    text lines without reading them, by its group of lines (`card_finder.card_from_text`)."""
    outline = find_card(photo)
    detect = getattr(engine, "detect", None)
    if outline is not None:
        log.debug("card found by its outline: %s", outline)
        card = flatten(photo, outline)
        if detect is None:
            return Page(card, CARD_DET_SIDE, True)
        # A quick look at the card's text (a small copy: only where the lines are matters; the
        # engine settles the card's orientation from the same boxes).
        boxes = detect(card, det_side=CHECK_DET_SIDE)
        cut = cut_sides(boxes, card.size)
        held = [box for box in boxes if not cut_sides([box], card.size)]
        if len(boxes) >= 2 and not cut:
            return Page(card, CARD_DET_SIDE, True, sample=boxes)
        if len(held) >= 2:
            # Text runs into the cut-out's edge, yet lines lie whole inside it: the outline missed
            # part of the card (a band melted into the desk, an edge invisible on paper of the
            # card's colour). Widen it there; what the wider cut-out takes in from beside the card
            # is left out after reading (`lines_on_card`).
            log.debug("text runs into the card's %s side(s): widening", "/".join(sorted(cut)))
            wider = widen(outline, cut, card.size, photo.size)
            # At the card's own scale: shrunk to the usual size, the wider cut-out's type would be
            # smaller than the detector sees well.
            growth = wider.long_side / max(outline.long_side, 1.0)
            return Page(flatten(photo, wider, round(CARD_LONG_SIDE * growth)), round(CARD_DET_SIDE * growth), True)
        # No text on it, or none that it holds whole: a patch of desk or paper that happens to have
        # a card's shape, or a block of large type (a bold name on a scan) that does.
        log.debug("no text held inside the outline: looking for the card's lines instead")
    page = photo
    if max(page.size) > MAX_SIDE:
        page = photo.copy()
        page.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    if detect is not None:
        scale = photo.width / page.width
        boxes = [[(x * scale, y * scale) for x, y in box] for box in detect(page, det_side=PHOTO_DET_SIDE)]
        outline = card_from_text(boxes, photo.size)
        if outline is not None and not _reaches_frame(outline, photo.size):
            log.debug("card found by its text lines: %s", outline)
            return Page(flatten(photo, outline), CARD_DET_SIDE, True)
        # A card whose lines reach the frame's edge (a scan, a close-up) has nothing around it to
        # leave out there, and a cut-out would cut its outermost lines: it is read whole (the
        # lines of anything beside it are left out after reading: `lines_in_card_group`).
    return Page(page, None, False)


def _reaches_frame(outline: CardOutline, size: tuple[int, int]) -> bool:
    width, height = size
    return any(x <= 0 or y <= 0 or x >= width - 1 or y >= height - 1 for x, y in outline.corners)


def scan_card_files(paths: Iterable[str], engine: OcrEngine | None = None, *,
                    settings: "Settings | None" = None) -> Iterator[dict]:
    """One dict per file, in order, with the keys of the `crmbot scan-card --json` contract:
    file, name, company, title, mobile, phone, email, address, website (None when absent), lines,
    elapsed_ms, plus the keys added since (mobile2, fax, english_name, english_title); a file that
    cannot be read also has `error` (Chinese) and the batch goes on.
    The engine is built once, at the first readable image, and reused for the rest."""
    settings = _settings(settings)
    for path in paths:
        started = time.perf_counter()
        result: dict = {"file": str(path), **{name: None for name in FIELDS + EXTRA_FIELDS}, "lines": []}
        try:
            data = _read(Path(path), settings.crmbot_max_upload_bytes)
            if engine is None:
                decode_image(data)  # refuse a bad file before paying for the model load
                engine = get_ocr_engine(settings)
            card = scan_card_bytes(data, engine, settings=settings)
            result.update(card.all_fields(), lines=card.lines)
        except CaptureError as exc:
            result["error"] = exc.user_message
        except Exception:  # one broken file must not stop a batch of fifty
            log.exception("scan-card failed on %s", path)
            result["error"] = "这张图片识别失败：程序内部错误，请把图片发给管理员排查"
        result["elapsed_ms"] = round((time.perf_counter() - started) * 1000)
        yield result


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        _check_size(size, max_bytes)
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CaptureError("找不到这个文件", f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise CaptureError("这是一个文件夹，不是图片", f"is a directory: {path}") from exc
    except PermissionError as exc:
        raise CaptureError("没有权限读取这个文件", f"permission denied: {path}") from exc
    except OSError as exc:
        raise CaptureError("这个文件无法读取", f"cannot read {path}: {exc}") from exc


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise CaptureError(f"这张图片无法识别：文件太大（{size / 1024 / 1024:.1f} MB，上限 "
                           f"{max_bytes / 1024 / 1024:.0f} MB），请压缩后再发",
                           f"image of {size} bytes exceeds CRMBOT_MAX_UPLOAD_BYTES={max_bytes}")
