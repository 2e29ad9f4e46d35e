"""Decoding voice notes as reps' apps send them, and refusing what cannot be a voice note."""
from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ocr_asr.audio import (
    MSG_CORRUPT,
    MSG_EMPTY,
    MSG_NO_SOUND,
    MSG_NOT_AUDIO,
    MSG_TRUNCATED,
    MSG_UNSUPPORTED,
    SAMPLE_RATE,
    decode_audio,
    decode_file,
    sniff_format,
)
from ocr_asr.errors import CaptureError

AUDIO = Path(__file__).parent / "fixtures" / "audio"
MANIFEST = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))

# Bytes per AMR-NB frame in the storage format (RFC 4867 section 5), header byte included,
# by frame type: 0-7 speech modes, 8 SID (comfort noise), 15 NO_DATA.
AMR_NB_FRAME_BYTES = [13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1]


def amr_frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, frame type) of every frame of an AMR-NB file."""
    assert data.startswith(b"#!AMR\n")
    frames, pos = [], 6
    while pos < len(data):
        frame_type = (data[pos] >> 3) & 0x0F
        frames.append((pos, frame_type))
        pos += AMR_NB_FRAME_BYTES[frame_type]
    return frames


def encode(samples: np.ndarray, codec: str, container: str, rate: int) -> bytes:
    """Encode float32 16 kHz mono samples with PyAV, as a phone or a desktop app would."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate,
                                      frame_size=stream.codec_context.frame_size or None)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt",
                                           layout="mono")
        frame.sample_rate, frame.time_base, frame.pts = SAMPLE_RATE, Fraction(1, SAMPLE_RATE), 0
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixtures_decode_to_16k_mono_float32(name):
    audio = decode_file(AUDIO / name)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.sample_rate == SAMPLE_RATE
    # Every fixture is 1.5 s of silence, 5-6 s of speech, 1.5 s of silence.
    assert 7.0 < audio.duration_s < 10.0
    assert audio.duration_s == pytest.approx(audio.samples.size / SAMPLE_RATE, abs=1e-3)
    assert 0.3 < np.abs(audio.samples).max() <= 1.0
    assert audio.bad_packets == 0


def test_amr_fixture_really_has_comfort_noise_frames():
    # Guard for the next test: the fixture must contain the DTX frames that break FFmpeg's own decoder.
    types = [t for _, t in amr_frames((AUDIO / "note_huadong.amr").read_bytes())]
    assert types.count(8) >= 5 and types.count(15) >= 50
    assert types.count(7) >= 100  # and speech at 12.2 kbit/s


def test_amr_with_dtx_keeps_its_full_length():
    data = (AUDIO / "note_huadong.amr").read_bytes()
    frames = amr_frames(data)
    audio = decode_audio(data)
    assert audio.codec == "libopencore_amrnb"
    # Each AMR frame, speech or comfort noise, is 20 ms: nothing may be dropped.
    assert audio.duration_s == pytest.approx(len(frames) * 0.020, abs=0.03)


def test_ffmpeg_native_amr_decoder_drops_the_silence_we_keep():
    # Documents the trap audio.py works around: the native decoder refuses SID / NO_DATA frames.
    data = (AUDIO / "note_huadong.amr").read_bytes()
    decoder = av.CodecContext.create("amrnb", "r")
    samples = failures = 0
    with av.open(io.BytesIO(data), format="amr") as container:
        for packet in container.demux(container.streams.audio[0]):
            if packet.size == 0:
                continue
            try:
                samples += sum(frame.samples for frame in decoder.decode(packet))
            except (av.error.InvalidDataError, av.error.PatchWelcomeError):  # NO_DATA / SID frames
                failures += 1
    assert failures > 50
    assert samples / 8000 < decode_audio(data).duration_s - 1.0


def test_amr_wb_comfort_noise_frames_decode():
    # Neither PyAV nor Debian's ffmpeg has an AMR-WB encoder, so the file is built by hand:
    # 100 SID frames (type 9, 5 payload bytes) with arbitrary comfort-noise parameters.
    rng = np.random.default_rng(1)
    data = b"#!AMR-WB\n" + b"".join(bytes([(9 << 3) | 0x04]) + rng.bytes(5) for _ in range(100))
    audio = decode_audio(data)
    assert audio.source_format == "amr-wb" and audio.codec == "libopencore_amrwb"
    assert audio.duration_s == pytest.approx(100 * 0.020, abs=0.01)


def test_format_is_sniffed_not_taken_from_the_name(tmp_path):
    misnamed = tmp_path / "voice.mp3"
    misnamed.write_bytes((AUDIO / "note_xinghe.ogg").read_bytes())
    audio = decode_file(misnamed)
    assert audio.source_format == "ogg"
    assert audio.codec in ("opus", "libopus")


@pytest.mark.parametrize("codec,container,rate,expected", [
    ("pcm_s16le", "wav", 16000, "wav"),
    ("pcm_s16le", "wav", 44100, "wav"),
    ("aac", "mp4", 44100, "m4a"),
    ("aac", "adts", 22050, "aac"),
    ("libopus", "ogg", 48000, "ogg"),
    ("libopus", "webm", 48000, "webm"),
    ("libmp3lame", "mp3", 22050, "mp3"),
    ("flac", "flac", 16000, "flac"),
])
def test_other_formats_decode_and_resample(codec, container, rate, expected):
    data = encode(tone(2.0), codec, container, rate)
    assert sniff_format(data)[0] == expected
    audio = decode_audio(data)
    assert audio.source_format == expected
    assert audio.duration_s == pytest.approx(2.0, abs=0.1)  # codec padding adds a few ms
    # The tone survives resampling: its energy sits at 440 Hz.
    spectrum = np.abs(np.fft.rfft(audio.samples))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / audio.samples.size
    assert peak_hz == pytest.approx(440, abs=5)


def test_stereo_is_mixed_to_mono():
    left, right = tone(1.0, 440), tone(1.0, 1000)
    frame = av.AudioFrame.from_ndarray(np.stack([left, right]), format="fltp", layout="stereo")
    frame.sample_rate, frame.pts = SAMPLE_RATE, 0
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as out:
        stream = out.add_stream("pcm_f32le", rate=SAMPLE_RATE, layout="stereo")
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=SAMPLE_RATE)
        for chunk in resampler.resample(frame):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    audio = decode_audio(buffer.getvalue())
    spectrum = np.abs(np.fft.rfft(audio.samples))
    bins = np.fft.rfftfreq(audio.samples.size, 1 / SAMPLE_RATE)
    assert spectrum[np.argmin(abs(bins - 440))] > 100 and spectrum[np.argmin(abs(bins - 1000))] > 100


# ---------------------------------------------------------------- refusals


def refused(data: bytes, **kwargs) -> CaptureError:
    with pytest.raises(CaptureError) as info:
        decode_audio(data, **kwargs)
    return info.value


def test_zero_bytes():
    assert refused(b"").user_message == MSG_EMPTY


def test_amr_header_only():
    assert refused(b"#!AMR\n").user_message == MSG_EMPTY


def test_text_file_is_not_audio():
    text = "明天给王总打电话\n".encode("utf-8") * 50
    assert refused(text).user_message == MSG_NOT_AUDIO


def test_image_is_not_audio():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    assert refused(buffer.getvalue()).user_message == MSG_NOT_AUDIO


def test_wechat_silk_is_refused_as_unsupported():
    assert refused(b"\x02#!SILK_V3" + bytes(200)).user_message == MSG_UNSUPPORTED


def test_truncated_amr():
    data = (AUDIO / "note_huadong.amr").read_bytes()
    # Cut inside a 12.2 kbit/s speech frame in the middle, as an interrupted download would.
    offset = next(pos for pos, t in amr_frames(data)[len(amr_frames(data)) // 2:] if t == 7)
    error = refused(data[:offset + 10])
    assert error.user_message == MSG_TRUNCATED
    assert "partial" in str(error)


def test_truncated_ogg():
    data = (AUDIO / "note_xinghe.ogg").read_bytes()
    assert refused(data[: len(data) * 2 // 3]).user_message == MSG_TRUNCATED


def test_corrupt_ogg_body():
    data = (AUDIO / "note_xinghe.ogg").read_bytes()
    rng = np.random.default_rng(7)
    assert refused(data[:200] + rng.bytes(5000)).user_message == MSG_CORRUPT


def test_header_only_wav_is_corrupt():
    assert refused(b"RIFF\x24\x00\x00\x00WAVEfmt ").user_message == MSG_CORRUPT


def test_silent_recording():
    assert refused(encode(np.zeros(3 * SAMPLE_RATE, np.float32), "pcm_s16le", "wav", 16000)).user_message \
        == MSG_NO_SOUND


def test_tap_too_short():
    assert refused(encode(tone(0.1), "pcm_s16le", "wav", 16000)).user_message == MSG_NO_SOUND


def test_five_minute_recording_is_refused_with_the_limit_in_chinese():
    data = encode(tone(300.0), "libopencore_amrnb", "amr", 8000)
    error = refused(data, max_seconds=60)
    assert error.user_message == "语音太长了（超过60秒），请分段发送"


def test_limit_follows_the_setting():
    data = encode(tone(12.0), "libopus", "ogg", 48000)
    assert decode_audio(data, max_seconds=60).duration_s == pytest.approx(12.0, abs=0.1)
    assert "超过10秒" in refused(data, max_seconds=10).user_message


class FailingDecoder:
    """The real decoder, except that the packets numbered in `fail` raise as damaged frames do."""

    def __init__(self, real, fail):
        self.real, self.fail, self.count = real, fail, 0
        self.name = real.name

    def decode(self, packet):
        if packet is not None:
            self.count += 1
            if self.count in self.fail:
                raise av.error.InvalidDataError(22, "Invalid data found when processing input")
        return self.real.decode(packet)


def test_one_damaged_frame_is_skipped_not_fatal(monkeypatch):
    import ocr_asr.audio as audio_module

    data = (AUDIO / "note_huadong.amr").read_bytes()
    full = decode_audio(data).duration_s
    real = audio_module._decoder_for
    monkeypatch.setattr(audio_module, "_decoder_for", lambda stream: FailingDecoder(real(stream), {100}))
    audio = decode_audio(data)
    assert audio.bad_packets == 1
    assert audio.duration_s == pytest.approx(full - 0.020, abs=0.001)


def test_mostly_undecodable_is_corrupt(monkeypatch):
    import ocr_asr.audio as audio_module

    real = audio_module._decoder_for
    monkeypatch.setattr(audio_module, "_decoder_for",
                        lambda stream: FailingDecoder(real(stream), set(range(50, 10_000))))
    error = refused((AUDIO / "note_huadong.amr").read_bytes())
    assert error.user_message == MSG_CORRUPT
