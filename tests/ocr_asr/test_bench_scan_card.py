"""The card benchmark runs end to end in its tiny mode (it measures nothing then; numbers come from
full runs, documented in ocr_asr/README.md)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_scan_card_tiny_runs_every_set(cardgen):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_scan_card.py"), "--tiny"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for kind in ("clean", "photo", "photo_rotated", "desk", "desk_rotated", "overall"):
        assert f"[{kind}] fields right" in done.stdout
    assert "mobile2" in done.stdout and "by condition:" in done.stdout
