"""Safe decoding of uploaded photos: what a rep might send by mistake is refused with a Chinese reason."""
from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from ocr_asr.errors import CaptureError
from ocr_asr.images import MAX_SIDE, decode_image


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels: a bomb costs a few bytes to send."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_text_file_named_jpg_is_refused():
    with pytest.raises(CaptureError) as err:
        decode_image("王伟 13812345678 这不是图片\n".encode())
    assert err.value.user_message.startswith("这张图片无法识别：文件不是图片")


def test_zero_byte_file_is_refused():
    with pytest.raises(CaptureError) as err:
        decode_image(b"")
    assert "文件是空的" in err.value.user_message


def test_truncated_jpeg_is_refused():
    photo = Image.effect_noise((800, 600), 60).convert("RGB")
    data = _encode(photo, "JPEG", quality=90)
    with pytest.raises(CaptureError) as err:
        decode_image(data[: len(data) // 2])
    assert "文件不完整或已损坏" in err.value.user_message


def test_hundred_megapixel_image_is_refused_before_decoding():
    data = _png_header_only(10_000, 10_000)
    started = time.perf_counter()
    with pytest.raises(CaptureError) as err:
        decode_image(data)
    assert "图片尺寸过大" in err.value.user_message and "10000×10000" in err.value.user_message
    # Refused from the header: decoding 100 MP would take seconds and ~300 MB.
    assert time.perf_counter() - started < 1.0


def test_really_encoded_large_png_is_refused():
    # 1-bit 12000 x 9000 compresses to a few kB but is 108 MP once decoded.
    data = _encode(Image.new("1", (12_000, 9_000), 1), "PNG")
    assert len(data) < 200_000
    with pytest.raises(CaptureError) as err:
        decode_image(data)
    assert "图片尺寸过大" in err.value.user_message


def test_formats_outside_the_list_are_refused():
    data = _encode(Image.new("RGB", (200, 100), "white"), "TIFF")
    with pytest.raises(CaptureError) as err:
        decode_image(data)
    assert "文件不是图片" in err.value.user_message


def test_tiny_image_is_refused():
    with pytest.raises(CaptureError) as err:
        decode_image(_encode(Image.new("RGB", (20, 12), "white"), "PNG"))
    assert "图片太小" in err.value.user_message


def test_exif_orientation_is_applied():
    # Landscape pixels, with the camera's note "rotate 90° clockwise to view" (orientation 6).
    image = Image.new("RGB", (400, 200), "white")
    image.paste((255, 0, 0), (0, 0, 200, 200))  # red on the left
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(_encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    assert decoded.size == (200, 400)
    red, green, _ = decoded.getpixel((100, 50))   # the left edge is now the top
    assert red > 200 and green < 60


def test_large_photo_is_downscaled_and_rgb():
    photo = Image.linear_gradient("L").resize((4000, 3000)).convert("CMYK")
    decoded = decode_image(_encode(photo, "JPEG", quality=80))
    assert decoded.mode == "RGB"
    assert max(decoded.size) == MAX_SIDE
    assert abs(decoded.size[0] / decoded.size[1] - 4 / 3) < 0.01


def test_png_smaller_than_the_limit_keeps_its_size():
    decoded = decode_image(_encode(Image.new("L", (1050, 600), 255), "PNG"))
    assert decoded.size == (1050, 600) and decoded.mode == "RGB"


def test_transparent_png_is_laid_on_white():
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (0, 0, 100, 100))
    decoded = decode_image(_encode(image, "PNG"))
    assert decoded.getpixel((250, 150)) == (255, 255, 255)
    assert decoded.getpixel((50, 50)) == (0, 0, 0)
