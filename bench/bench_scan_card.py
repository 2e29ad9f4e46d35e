"""Business-card scanning benchmark: field accuracy and time per card on synthetic cards.

    /work/venv/bin/python bench/bench_scan_card.py --cards 60

Draws N cards with tests/ocr_asr/cardgen.py (needs a CJK font: apt-get install -y fonts-noto-cjk)
and scans each as three images: a clean scan (PNG), a phone photo (tilted 5-8°, uneven light,
noise, blur, JPEG 55-80) and the same kind of photo turned 90/180/270°. Prints per-field accuracy per
set and overall, and median / p95 milliseconds per card (decode + OCR + field rules, model loaded
beforehand). Targets: >= 98% on clean, >= 95% on photos, median < 1 s on 2 cores.
A field the card does not print counts as right only when it comes back empty.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.settings import load_settings  # noqa: E402
from ocr_asr.card_scan import scan_card_bytes  # noqa: E402
from ocr_asr.errors import CaptureError  # noqa: E402
from ocr_asr.ocr import RapidOcrEngine  # noqa: E402


def load_cardgen():
    spec = importlib.util.spec_from_file_location("ocr_cardgen", ROOT / "tests" / "ocr_asr" / "cardgen.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ocr_cardgen"] = module
    spec.loader.exec_module(module)
    return module


def image_for(cardgen, card, seed: int, kind: str) -> bytes:
    if kind == "clean":
        return cardgen.scan_bytes(card.image)
    if kind == "photo":
        return cardgen.photograph(card.image, seed, turn=0)
    turn = (90, 180, 270)[seed % 3]
    return cardgen.photograph(card.image, seed, turn=turn)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=60, help="cards per set (default 60)")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--sets", default="clean,photo,photo_rotated")
    parser.add_argument("--show-errors", action="store_true", help="print each wrong field")
    args = parser.parse_args()

    cardgen = load_cardgen()
    if cardgen.find_font("sans") is None:
        sys.exit(f"no CJK font: apt-get install -y {cardgen.FONT_PACKAGE}")
    settings = load_settings()
    print(f"cpus={os.cpu_count()} load average at start={os.getloadavg()[0]:.2f} cards per set={args.cards}")
    started = time.perf_counter()
    engine = RapidOcrEngine()
    print(f"model load: {(time.perf_counter() - started) * 1000:.0f} ms")

    sets = args.sets.split(",")
    all_ms: list[float] = []
    all_right = all_total = 0
    for kind in sets:
        right = dict.fromkeys(cardgen.FIELDS, 0)
        times: list[float] = []
        for seed in range(args.first_seed, args.first_seed + args.cards):
            card = cardgen.make_card(seed)
            data = image_for(cardgen, card, seed, kind)
            t0 = time.perf_counter()
            try:
                got = scan_card_bytes(data, engine, settings=settings).fields()
            except CaptureError as exc:
                got = dict.fromkeys(cardgen.FIELDS)
                print(f"  {kind} seed {seed}: refused: {exc.user_message}")
            times.append((time.perf_counter() - t0) * 1000)
            for name, want in card.truth.fields().items():
                ok = cardgen.same_field(name, got[name], want)
                right[name] += ok
                if not ok and args.show_errors:
                    print(f"  {kind} seed {seed} {name}: got {got[name]!r} want {want!r}")
        total = args.cards * len(cardgen.FIELDS)
        set_right = sum(right.values())
        all_right += set_right
        all_total += total
        all_ms += times
        per_field = "  ".join(f"{name} {right[name] / args.cards:.1%}" for name in cardgen.FIELDS)
        print(f"[{kind}] fields right {set_right}/{total} = {set_right / total:.2%}  "
              f"median {statistics.median(times):.0f} ms  p95 {percentile(times, 0.95):.0f} ms")
        print(f"    {per_field}")
    print(f"[overall] fields right {all_right}/{all_total} = {all_right / all_total:.2%}  "
          f"median {statistics.median(all_ms):.0f} ms  p95 {percentile(all_ms, 0.95):.0f} ms  "
          f"load average at end={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
