"""Decode an uploaded photo safely: refuse what is not an image, refuse decompression bombs,
apply the camera's EXIF orientation, flatten to RGB and shrink to a size OCR needs.

Everything that goes wrong becomes a CaptureError whose Chinese message goes to the rep as is.
"""
from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from ocr_asr.errors import CaptureError

# Phones shoot 12-50 MP; 64 MP leaves room for the 50 MP modes and still refuses a 100 MP
# bomb before any pixel is decoded (64 MP RGB is ~200 MB, the most we accept to hold).
MAX_PIXELS = 64_000_000
# A business card is readable at ~1600 px on its long side; detection time grows with area.
MAX_SIDE = 1600
MIN_SIDE = 32
# Only formats phones and chat apps produce. TIFF, PSD, EPS and friends are refused on purpose:
# they are rare here and have a long history of decoder bugs.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")  # JPEG includes MPO (multi-picture JPEG)

_PREFIX = "这张图片无法识别："


def _refuse(reason_zh: str, detail: str) -> CaptureError:
    return CaptureError(_PREFIX + reason_zh, detail)


def decode_image(data: bytes, *, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS,
                 resample: Image.Resampling = Image.Resampling.LANCZOS) -> Image.Image:
    """Bytes of an uploaded photo -> an upright RGB image whose long side is at most `max_side`
    (shrunk with `resample`: BILINEAR costs half of LANCZOS on a 12 MP photo)."""
    if not data:
        raise _refuse("文件是空的，请重新发送", "empty image file")
    image = _open(data, max_pixels)
    _shrink_while_decoding(image, max_side)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow says "image file is truncated" / "broken data stream" for cut-off uploads.
        raise _refuse("文件不完整或已损坏，请重新发送", f"cannot decode image: {exc}") from exc
    except Image.DecompressionBombError as exc:  # pragma: no cover - _open checks the size first
        raise _refuse("图片尺寸过大，请截图或压缩后再发", str(exc)) from exc
    image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), resample)
    return image


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Read only the header: format and size are known before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between its limit and twice its limit; we decide ourselves below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise _refuse("图片尺寸过大，请截图或压缩后再发", str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse("文件不是图片（支持 JPG、PNG、WebP、BMP、GIF）",
                      f"not a supported image: {exc}") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise _refuse(
            f"图片尺寸过大（{width}×{height}，上限 {max_pixels // 1_000_000} 百万像素），请截图或压缩后再发",
            f"image of {width}x{height} pixels exceeds the limit of {max_pixels}")
    if min(width, height) < MIN_SIDE:
        raise _refuse(f"图片太小（{width}×{height}），请拍清楚一些再发",
                      f"image of {width}x{height} is too small to read")
    return image


def _shrink_while_decoding(image: Image.Image, max_side: int) -> None:
    """For JPEG, let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 12 MP photo then costs a
    fraction of the memory and time. draft() keeps both sides at or above the requested size."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    scale = max_side / max(width, height)
    if scale < 1:
        image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # A transparent PNG would turn black under its (often black) text; lay it on white paper.
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, "white")
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return image.convert("RGB")
