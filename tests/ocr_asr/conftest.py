"""Fixtures for OCR tests. cardgen (synthetic business cards) is loaded by path so these tests need
no package __init__ files; the CJK font comes from the Debian package fonts-noto-cjk."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load_cardgen():
    name = "ocr_cardgen"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("cardgen.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def cardgen():
    module = _load_cardgen()
    if module.find_font("sans") is None:
        pytest.skip(f"no CJK font to draw test cards: apt-get install -y {module.FONT_PACKAGE}")
    return module


@pytest.fixture(scope="session")
def ocr_engine():
    """The real default engine, loaded once for the whole session (it takes about a second)."""
    from ocr_asr.ocr import RapidOcrEngine
    return RapidOcrEngine()
