"""OCR behind a small interface: an engine turns an upright-or-not RGB image into text lines with boxes.

Default: PaddleOCR's PP-OCRv4 detection/recognition models (and the PP-OCR direction classifier)
run with ONNX Runtime through rapidocr_onnxruntime. The .onnx files ship inside that wheel, so it
works offline and in CI with nothing to download. `paddleocr` is the alternative for a site that
installs PaddlePaddle and keeps its own model folders (CRMBOT_PADDLEOCR_MODEL_DIR); it never downloads.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np
from PIL import Image

from ocr_asr.errors import CaptureError

if TYPE_CHECKING:  # pragma: no cover
    from config.settings import Settings

log = logging.getLogger(__name__)

Point = tuple[float, float]

_ENGINE_NOT_READY_ZH = "名片识别暂时不可用：识别引擎未配置好，请联系管理员"


@dataclass
class OcrLine:
    """One detected text line. `box` is the 4 corners (top-left, top-right, bottom-right,
    bottom-left) in pixels of the recognized image once turned upright (a photo taken sideways
    or upside down is turned by a multiple of 90°)."""

    text: str
    box: list[Point]
    score: float
    # The size of the upright page the box is measured in (None when not known).
    page_size: tuple[int, int] | None = None

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)

    @property
    def right(self) -> float:
        return max(x for x, _ in self.box)

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def center_y(self) -> float:
        return sum(y for _, y in self.box) / len(self.box)

    @property
    def height(self) -> float:
        """Type size, measured along the box's own sides so a tilted photo does not inflate it."""
        return min(self._side_lengths())

    @property
    def width(self) -> float:
        return max(self._side_lengths())

    def _side_lengths(self) -> tuple[float, float]:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.box[:4]
        across = (math.dist((x0, y0), (x1, y1)) + math.dist((x3, y3), (x2, y2))) / 2
        down = (math.dist((x0, y0), (x3, y3)) + math.dist((x1, y1), (x2, y2))) / 2
        return (across, down)


class OcrEngine(Protocol):
    def recognize(self, image: Image.Image, *, det_side: int | None = None,
                  sample: list | None = None) -> list[OcrLine]:
        """Text lines of an RGB image, any of the four page orientations. Hints an engine may
        ignore: `det_side`, the long side lines may be detected at; `sample`, line boxes already
        found on a small copy of `image` (in `image`'s pixels), to settle its orientation from."""
        ...


class RapidOcrEngine:
    """PP-OCRv4 det + rec and the PP-OCR direction classifier on ONNX Runtime (rapidocr_onnxruntime).

    Reading a card costs mostly recognition (each line is a 48 px high strip run through the
    recognizer; the cost grows with the strip's width) and then detection (grows with the area).
    So: detection runs on a copy no larger than `det_side`; the page's orientation is settled
    before the main detection from a small copy (`TURN_SIDE`), so a turned card is detected once;
    each line is recognised at its own width (rapidocr pads every line of a batch to the widest
    and to at least 320 px: names and short titles cost as much as a full contact line); and the
    lines are shared between `threads` workers, each running a one-thread ONNX Runtime session
    call. One thread per call because ONNX Runtime's own thread pool spins while it waits, which
    on a shared 2-core machine burns the other core for little gain on strips this small."""

    TURN_SIDE = 448      # px: the copy the page's orientation is read from (the name and the company suffice)

    def __init__(self, threads: int | None = None) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # the package is a hard dependency; this is a broken install
            raise CaptureError(_ENGINE_NOT_READY_ZH, f"rapidocr_onnxruntime is not installed: {exc}") from exc
        # use_cls: each line crop is turned 180° when the classifier says so (photos taken upside down).
        self._ocr = RapidOCR(use_cls=True, print_verbose=False, intra_op_num_threads=1, inter_op_num_threads=1)
        # Detect at the size we hand over, never enlarged: the default ("min", 736) blows a
        # 1000 px card up to 1290 px, which costs time and finds nothing more.
        self._ocr.text_det.limit_type = "max"
        # Each line is recognised alone, at its own width (see the class docstring): the
        # recognizer's minimum width becomes one character's.
        self._ocr.text_rec.rec_image_shape = [3, 48, 48]
        self.threads = threads or min(4, len(os.sched_getaffinity(0)))
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ocr") if self.threads > 1 else None
        if self.threads > 1:
            # Detection is one large image: it does use several cores, with ONNX Runtime's own
            # pool told not to spin while it waits (rapidocr's options cannot say that).
            self._ocr.text_det.infer.session = _session(_model_path("Det"), self.threads)
        # One page at a time per engine: the workers above are this page's.
        self._lock = threading.Lock()

    def recognize(self, image: Image.Image, *, det_side: int | None = None,
                  sample: list | None = None) -> list[OcrLine]:
        """Text lines of `image`, turned upright. `det_side` caps the long side of the copy lines
        are detected on (a flattened card needs less than a whole photo); recognition always
        reads the full-size pixels. `sample`: boxes from `detect(image, det_side=TURN_SIDE)`,
        when the caller has them already."""
        with self._lock:
            pixels = _bgr(image)
            height, width = pixels.shape[:2]
            if sample is None:
                sample = self._detect(pixels, self.TURN_SIDE)
            turn = self._turn_from_sample(pixels, sample)
            if turn:
                pixels = _rotate(pixels, turn)
            boxes = self._detect(pixels, det_side)
            if turn is None:
                # Too little text on the small copy to tell; decide from the full detection.
                turn = self._page_turn(pixels, boxes)
                if turn:
                    # Detection finds fewer lines on turned text, and the field rules rely on
                    # "above", "beside" and "wrapped onto the next line": detect the upright page.
                    pixels = _rotate(pixels, turn)
                    boxes = self._detect(pixels, det_side)
            if det_side and det_side > self.TURN_SIDE:
                # The detector's sizes each miss a line now and then (large light type on a dark
                # card, most often the name): a line found on the small copy and by nothing at the
                # reading size is read too.
                small = [np.array([_turned(float(x), float(y), turn or 0, width, height) for x, y in box],
                                  dtype=np.float32) for box in sample]
                boxes = boxes + [box for box in small if _is_line(box) and _uncovered(box, boxes) > 0.7]
            return self._recognise(pixels, boxes)

    def detect(self, image: Image.Image, *, det_side: int | None = None) -> list[list[Point]]:
        """The text-line boxes of `image` (4 corners each, in `image`'s pixels), without reading them."""
        with self._lock:
            return [[(float(x), float(y)) for x, y in box] for box in self._detect(_bgr(image), det_side)]

    def _detect(self, pixels: np.ndarray, side: int | None) -> list:
        height, width = pixels.shape[:2]
        scale = 1.0
        if side and max(height, width) > side:
            scale = side / max(height, width)
            pixels = cv2.resize(pixels, (max(1, round(width * scale)), max(1, round(height * scale))),
                                interpolation=cv2.INTER_AREA)
        boxes, _elapsed = self._ocr.text_det(pixels)
        if boxes is None or len(boxes) == 0:
            return []
        return list(self._ocr.sorted_boxes(np.asarray(boxes, dtype=np.float32) / scale))

    def _recognise(self, pixels: np.ndarray, boxes: list) -> list[OcrLine]:
        """Recognise the detected lines (rapidocr's own crop, direction and recognition steps,
        called on boxes we already have), each line at its own width, shared among the workers."""
        if not boxes:
            return []
        crops = self._ocr.get_crop_img_list(pixels, boxes)
        crops, _directions, _ = self._ocr.text_cls(crops)
        # Longest first, each to the least loaded worker: the workers finish together.
        order = sorted(range(len(crops)), key=lambda i: -crops[i].shape[1] / max(1, crops[i].shape[0]))
        shares: list[list[int]] = [[] for _ in range(self.threads)]
        loads = [0.0] * self.threads
        for i in order:
            k = loads.index(min(loads))
            shares[k].append(i)
            loads[k] += crops[i].shape[1] / max(1, crops[i].shape[0]) + 1.0
        results: list = [None] * len(crops)

        def read(indices: list[int]) -> None:
            for i in indices:
                results[i] = self._ocr.text_rec([crops[i]], False)[0][0]

        if self._pool is None:
            read(order)
        else:
            for future in [self._pool.submit(read, share) for share in shares if share]:
                future.result()
        lines = []
        size = (pixels.shape[1], pixels.shape[0])
        for box, result in zip(boxes, results):
            text, score = str(result[0]), float(result[1])
            if score < self._ocr.text_score or not text.strip():
                continue
            points = corners_in_reading_order([(float(x), float(y)) for x, y in box])
            lines.append(OcrLine(text=text, box=points, score=score, page_size=size))
        return lines

    def _turn_from_sample(self, pixels: np.ndarray, boxes: list) -> int | None:
        """The page's turn read from a small copy's lines (`boxes`), or None when it holds too few lines."""
        lines = [np.asarray(box, dtype=np.float32) for box in boxes if _is_line(box)]
        if len(lines) < 3:
            return None
        return self._page_turn(pixels, lines)

    def _page_turn(self, pixels: np.ndarray, boxes: list) -> int:
        """Degrees to rotate the page counter-clockwise so its text reads left to right: 0/90/180/270."""
        shapes = [(box, *_box_sides(box)) for box in boxes if _is_line(box)]
        if not shapes:
            return 0
        tall = sum(max(w, h) for box, w, h in shapes if _is_tall_box(box))
        sideways = tall > sum(max(w, h) for _, w, h in shapes) / 2
        turn = 90 if sideways else 0
        # Cut out the longest lines as they would read after `turn` and ask the direction
        # classifier (one batch) whether they are upright or upside down; longer lines weigh more.
        samples = sorted((s for s in shapes if _is_tall_box(s[0]) == sideways), key=lambda s: -max(s[1], s[2]))[:6]
        if not samples:
            return turn
        crops = [_cut_out(pixels, [(float(x), float(y)) for x, y in box], turn) for box, _, _ in samples]
        _, directions, _ = self._ocr.text_cls(crops)
        flipped = upright = 0.0
        for (box, w, h), (label, score) in zip(samples, directions):
            weight = max(w, h) / max(1.0, min(w, h))
            if str(label) == "180":
                flipped += weight * float(score)
            else:
                upright += weight * float(score)
        return turn + 180 if flipped > upright else turn


def _model_path(part: str) -> str:
    """Where rapidocr keeps the .onnx file of one of its parts ("Det", "Cls", "Rec")."""
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
    from rapidocr_onnxruntime.utils import read_yaml, update_model_path
    return update_model_path(read_yaml(DEFAULT_CFG_PATH))[part]["model_path"]


def _session(model_path: str, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])


def _bgr(image: Image.Image) -> np.ndarray:
    """An RGB PIL image as the BGR array rapidocr's steps expect."""
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


def _rotate(pixels: np.ndarray, turn: int) -> np.ndarray:
    """The page turned `turn` degrees counter-clockwise (as PIL's rotate with expand=True)."""
    return np.ascontiguousarray(np.rot90(pixels, turn // 90))


def _is_line(box) -> bool:
    """A text line, not a speck: one side at least twice the other."""
    w, h = _box_sides(box)
    return max(w, h) >= 2 * min(w, h)


def _turned(x: float, y: float, turn: int, width: float, height: float) -> Point:
    """Where (x, y) lands when the page is rotated `turn` degrees counter-clockwise (PIL, expand=True)."""
    if turn == 90:
        return (y, width - x)
    if turn == 180:
        return (width - x, height - y)
    if turn == 270:
        return (height - y, x)
    return (x, y)


def corners_in_reading_order(box: list[Point], turn: int = 0, size: tuple[int, int] = (0, 0)) -> list[Point]:
    """The box's corners ordered upper-left, upper-right, lower-right, lower-left as seen after
    turning the page `turn` degrees counter-clockwise. Detectors order a tilted box's corners by
    x, which for a steep box starts on the wrong side; this goes by angle around the centre."""
    turned = [_turned(x, y, turn, *size) for x, y in box]
    cx = sum(x for x, _ in turned) / len(turned)
    cy = sum(y for _, y in turned) / len(turned)
    # With y pointing down, increasing atan2 runs clockwise on screen: left, top, right, bottom.
    order = sorted(range(len(turned)), key=lambda i: math.atan2(turned[i][1] - cy, turned[i][0] - cx))
    start = min(range(len(order)), key=lambda k: turned[order[k]][0] + turned[order[k]][1])
    order = order[start:] + order[:start]
    return [box[i] for i in order]


def _cut_out(pixels: np.ndarray, box: list[Point], turn: int) -> np.ndarray:
    """The line's quadrilateral warped flat as it would read after turning the page `turn` degrees
    (a tilted photo's bounding rectangle would also catch the neighbouring lines)."""
    height, width = pixels.shape[:2]
    p0, p1, p2, p3 = corners_in_reading_order(box, turn, (width, height))
    across = max(1, round(math.dist(p0, p1)))
    down = max(1, round(math.dist(p0, p3)))
    target = np.array([[0, 0], [across, 0], [across, down], [0, down]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(np.array([p0, p1, p2, p3], dtype=np.float32), target)
    return cv2.warpPerspective(pixels, matrix, (across, down), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def _uncovered(box, others: list) -> float:
    """Share of `box`'s bounding rectangle that no rectangle of `others` overlaps (approximately:
    overlaps are summed, so lines stacked tight count a little more than they cover)."""
    x0, y0 = np.min(box, axis=0)
    x1, y1 = np.max(box, axis=0)
    area = max(float((x1 - x0) * (y1 - y0)), 1.0)
    covered = 0.0
    for other in others:
        ox0, oy0 = np.min(other, axis=0)
        ox1, oy1 = np.max(other, axis=0)
        covered += max(0.0, min(x1, ox1) - max(x0, ox0)) * max(0.0, min(y1, oy1) - max(y0, oy0))
    return max(0.0, 1.0 - covered / area)


def _box_sides(box) -> tuple[float, float]:
    xs = [float(x) for x, _ in box]
    ys = [float(y) for _, y in box]
    return (max(xs) - min(xs), max(ys) - min(ys))


def _is_tall_box(box) -> bool:
    width, height = _box_sides(box)
    return height >= 1.5 * width


class PaddleOcrEngine:
    """PaddleOCR itself, for sites that install paddlepaddle + paddleocr and keep the models locally.

    CRMBOT_PADDLEOCR_MODEL_DIR must hold det/, rec/ and cls/ inference model folders. Nothing is
    downloaded: a missing folder is an error that names the setting.
    """

    SUBDIRS = ("det", "rec", "cls")

    def __init__(self, model_dir: Path | None) -> None:
        self.model_dir = self.check_model_dir(model_dir)
        try:
            import paddleocr  # heavy: imported only when this engine is chosen
        except ImportError as exc:
            raise CaptureError(
                _ENGINE_NOT_READY_ZH,
                "CRMBOT_OCR_ENGINE=paddleocr but the paddleocr package is not installed "
                "(pip install paddlepaddle paddleocr), or set CRMBOT_OCR_ENGINE=rapidocr") from exc
        self._ocr, self._v3 = self._build(paddleocr)
        self._lock = threading.Lock()

    @classmethod
    def check_model_dir(cls, model_dir: Path | None) -> Path:
        if model_dir is None:
            raise CaptureError(
                _ENGINE_NOT_READY_ZH,
                "CRMBOT_OCR_ENGINE=paddleocr needs CRMBOT_PADDLEOCR_MODEL_DIR: a folder with det/, rec/ "
                "and cls/ PaddleOCR inference models (models are never downloaded at run time)")
        model_dir = Path(model_dir)
        missing = [name for name in cls.SUBDIRS if not (model_dir / name).is_dir()]
        if missing:
            raise CaptureError(
                _ENGINE_NOT_READY_ZH,
                f"CRMBOT_PADDLEOCR_MODEL_DIR={model_dir} is missing the model folder(s) "
                f"{', '.join(missing)}/ (expected det/, rec/ and cls/ PaddleOCR inference models)")
        return model_dir

    def _build(self, paddleocr):
        det, rec, cls = (str(self.model_dir / name) for name in self.SUBDIRS)
        major = str(getattr(paddleocr, "__version__", "2")).split(".")[0]
        if major.isdigit() and int(major) >= 3:
            # paddleocr 3.x (PaddleX pipeline): document unwarping/orientation are extra models; off.
            ocr = paddleocr.PaddleOCR(
                text_detection_model_dir=det, text_recognition_model_dir=rec,
                textline_orientation_model_dir=cls, use_textline_orientation=True,
                use_doc_orientation_classify=False, use_doc_unwarping=False)
            return ocr, True
        ocr = paddleocr.PaddleOCR(det_model_dir=det, rec_model_dir=rec, cls_model_dir=cls,
                                  use_angle_cls=True, lang="ch", show_log=False)
        return ocr, False

    def recognize(self, image: Image.Image, *, det_side: int | None = None,
                  sample: list | None = None) -> list[OcrLine]:
        bgr = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()
        with self._lock:
            if self._v3:
                pages = self._ocr.predict(bgr)
            else:
                pages = self._ocr.ocr(bgr, cls=True)
        lines: list[OcrLine] = []
        for page in pages or []:
            if self._v3:
                found = zip(page["rec_polys"], page["rec_texts"], page["rec_scores"])
            else:
                found = ((box, text, score) for box, (text, score) in (page or []))
            for box, text, score in found:
                points = [(float(x), float(y)) for x, y in box]
                lines.append(OcrLine(text=str(text), box=points, score=float(score), page_size=image.size))
        return lines


_engines: dict[tuple, OcrEngine] = {}
_engines_lock = threading.Lock()


def get_ocr_engine(settings: "Settings") -> OcrEngine:
    """The engine chosen by CRMBOT_OCR_ENGINE, built once per process (model loading takes seconds)."""
    name = settings.crmbot_ocr_engine
    key = (name, str(settings.crmbot_paddleocr_model_dir) if name == "paddleocr" else None)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            log.info("loading OCR engine %s", name)
            engine = PaddleOcrEngine(settings.crmbot_paddleocr_model_dir) if name == "paddleocr" \
                else RapidOcrEngine()
            _engines[key] = engine
        return engine
