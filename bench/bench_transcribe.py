"""Real-time factor and character error rate of the configured ASR engine on the voice fixtures.

    /work/venv/bin/python bench/bench_transcribe.py [--repeat 3] [--threads 2] [AUDIO ...]

RTF = processing time / audio duration (decode + recognition, model already loaded); below 1
is faster than real time. CER is measured against tests/ocr_asr/fixtures/audio/manifest.json,
with and without the customer names as hotwords. Other files (no reference) get RTF only.
The engine comes from the environment (CRMBOT_ASR_ENGINE etc.), so the same command measures
FunASR on a machine that has its models.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.settings import load_settings  # noqa: E402
from ocr_asr.asr import WhisperEngine, character_error_rate, get_asr_engine  # noqa: E402
from ocr_asr.audio import decode_audio  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "ocr_asr" / "fixtures" / "audio"
HOTWORDS = {
    "note_huadong.amr": ["华东机电", "王总"],
    "note_hengtong.amr": ["恒通物流", "李经理"],
    "note_xinghe.ogg": ["星河科技", "陈总"],
    "note_zhangwei.mp3": ["张伟"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="*", help="files to time (default: the test fixtures)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per file; the median is reported")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for Whisper (0 = library default)")
    args = parser.parse_args()

    settings = load_settings()
    references = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    paths = [Path(p) for p in args.audio] or [FIXTURES / name for name in sorted(references)]

    started = time.perf_counter()
    if settings.crmbot_asr_engine == "whisper" and args.threads:
        engine = WhisperEngine(settings.crmbot_whisper_model_dir, cpu_threads=args.threads)
    else:
        engine = get_asr_engine(settings)
    print(f"engine {engine.name}: loaded in {time.perf_counter() - started:.2f} s")

    total_audio = total_time = 0.0
    cer_plain, cer_hot = [], []
    for path in paths:
        data = path.read_bytes()
        hotwords = HOTWORDS.get(path.name, [])
        times, text = [], ""
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            audio = decode_audio(data, max_seconds=settings.crmbot_max_audio_s)
            text = engine.transcribe(audio.samples, hotwords=hotwords).text
            times.append(time.perf_counter() - t0)
        elapsed = statistics.median(times)
        total_audio += audio.duration_s
        total_time += elapsed
        line = f"{path.name:22s} {audio.duration_s:5.2f} s audio  {elapsed * 1000:6.0f} ms  RTF {elapsed / audio.duration_s:.3f}"
        reference = references.get(path.name) if path.resolve().parent == FIXTURES else None
        if reference:
            hot = character_error_rate(reference, text)
            plain = character_error_rate(reference, engine.transcribe(audio.samples).text)
            cer_hot.append(hot)
            cer_plain.append(plain)
            line += f"  CER {plain:.3f} plain / {hot:.3f} with hotwords"
        print(line + f"  {text}")
    print(f"overall: {total_audio:.1f} s audio in {total_time:.2f} s, RTF {total_time / total_audio:.3f}")
    if cer_hot:
        print(f"mean CER over {len(cer_hot)} fixtures: {statistics.mean(cer_plain):.3f} plain, "
              f"{statistics.mean(cer_hot):.3f} with hotwords")


if __name__ == "__main__":
    main()
