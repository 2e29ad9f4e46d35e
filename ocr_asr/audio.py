"""Decode a voice note (any format a rep's app sends) to 16 kHz mono float32 samples.

Decoding is PyAV's bundled FFmpeg; this module only picks the format and the decoder and
refuses what cannot be a usable voice note, with a sentence the rep can act on.

- The container is sniffed from the first bytes, never taken from a file name: WeCom says
  `Format=amr`, DingTalk says nothing, and a renamed file lies.
- AMR: FFmpeg's native AMR-NB decoder rejects the comfort-noise frames (SID / NO_DATA) that
  phones write during pauses when DTX is on, so seconds of audio vanish and packets raise.
  The bundled opencore decoders handle them, so they are preferred when PyAV has them.
- Length is counted from decoded samples, not from the container header: AMR has no header
  length and FFmpeg's estimate for it is off by a factor of two.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .errors import CaptureError

SAMPLE_RATE = 16000
MIN_SPEECH_S = 0.3        # shorter than this is an accidental tap, not a note
MAX_BAD_PACKET_SHARE = 0.5  # above this the file is damaged rather than a few glitches

# (magic bytes, offset, our name, FFmpeg demuxer name)
_MAGIC: list[tuple[bytes, int, str, str]] = [
    (b"#!AMR-WB\n", 0, "amr-wb", "amr"),
    (b"#!AMR\n", 0, "amr", "amr"),
    (b"OggS", 0, "ogg", "ogg"),
    (b"RIFF", 0, "wav", "wav"),      # checked further for WAVE below
    (b"fLaC", 0, "flac", "flac"),
    (b"\x1a\x45\xdf\xa3", 0, "webm", "matroska"),
    (b"ftyp", 4, "m4a", "mp4"),
    (b"ID3", 0, "mp3", "mp3"),
    (b"#!SILK_V3", 0, "silk", ""),
    (b"\x02#!SILK_V3", 0, "silk", ""),
]

# Bytes per frame in the AMR storage format (RFC 4867 section 5), header byte included, by the
# frame type in bits 3-6 of that header byte. A shorter last packet means the file was cut off.
_AMR_FRAME_BYTES = {
    "amr": (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1),
    "amr-wb": (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1),
}

# FFmpeg's own decoders for these codecs are incomplete (see the module docstring).
_PREFERRED_DECODERS = {"amrnb": "libopencore_amrnb", "amrwb": "libopencore_amrwb"}

MSG_EMPTY = "收到的语音是空的，请重新录一段再发送"
MSG_NOT_AUDIO = "这个文件不是语音，请发送语音消息或音频文件"
MSG_UNSUPPORTED = "暂不支持这种语音格式，请用企业微信或钉钉直接录音发送"
MSG_CORRUPT = "语音文件已损坏，无法播放，请重新发送"
MSG_TRUNCATED = "语音文件不完整（可能没有下载完），请重新发送"
MSG_NO_SOUND = "语音太短或没有声音，请重新录一段"
MSG_NO_FILE = "找不到这个语音文件"


def msg_too_long(max_seconds: float) -> str:
    return f"语音太长了（超过{max_seconds:g}秒），请分段发送"


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray   # float32, mono, SAMPLE_RATE Hz, nominally in [-1, 1]
    duration_s: float
    source_format: str    # what the bytes were sniffed as: "amr", "ogg", "mp3", ...
    codec: str            # decoder actually used, e.g. "libopencore_amrnb"
    bad_packets: int = 0  # packets skipped because they would not decode

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE


def sniff_format(data: bytes) -> tuple[str, str] | None:
    """(our name, FFmpeg demuxer) for the container the bytes start with, or None."""
    for magic, offset, name, demuxer in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            if name == "wav" and data[8:12] != b"WAVE":
                continue
            return name, demuxer
    if len(data) >= 2 and data[0] == 0xFF:
        # ADTS AAC: 12 sync bits and layer 00; MPEG audio (mp3): 11 sync bits and a non-zero layer.
        if data[1] & 0xF6 == 0xF0:
            return "aac", "aac"
        if data[1] & 0xE0 == 0xE0 and data[1] & 0x06:
            return "mp3", "mp3"
    return None


def decode_file(path: str | Path, max_seconds: float | None = 60) -> DecodedAudio:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CaptureError(MSG_NO_FILE, f"no such file: {path}") from None
    except IsADirectoryError:
        raise CaptureError(MSG_NOT_AUDIO, f"is a directory: {path}") from None
    return decode_audio(data, max_seconds=max_seconds)


def decode_audio(data: bytes, max_seconds: float | None = 60) -> DecodedAudio:
    """Decode a whole voice note; raise CaptureError for anything we must refuse.

    `max_seconds` is Settings.crmbot_max_audio_s in the app; decoding stops as soon as the
    audio passes it, so a long recording costs little before it is refused.
    """
    if not data:
        raise CaptureError(MSG_EMPTY, "zero-byte audio")
    sniffed = sniff_format(data)
    if sniffed is None:
        raise CaptureError(MSG_NOT_AUDIO, f"unknown audio container, first bytes {data[:12]!r}")
    name, demuxer = sniffed
    if not demuxer:
        raise CaptureError(MSG_UNSUPPORTED, f"{name} audio is not supported")

    try:
        container = av.open(io.BytesIO(data), mode="r", format=demuxer)
    except av.error.FFmpegError as exc:
        raise CaptureError(MSG_CORRUPT, f"cannot open {name}: {exc}") from None
    with container:
        if not container.streams.audio:
            raise CaptureError(MSG_NOT_AUDIO, f"{name} container has no audio stream")
        decoded = _decode_stream(container, name, max_seconds)
    if name == "ogg" and _ogg_last_page_cut(data):
        raise CaptureError(MSG_TRUNCATED, "ogg audio ends inside a page")
    return decoded


def _ogg_last_page_cut(data: bytes) -> bool:
    """True when the last Ogg page is shorter than its own header says.

    FFmpeg's ogg demuxer drops a partial last page without a word, so a note cut off in
    transfer would otherwise decode "fine" and lose its end.
    """
    start = data.rfind(b"OggS")
    if start < 0 or len(data) < start + 27:
        return True
    n_segments = data[start + 26]
    table = data[start + 27:start + 27 + n_segments]
    if len(table) < n_segments:
        return True
    return start + 27 + n_segments + sum(table) > len(data)


def _decoder_for(stream: av.audio.stream.AudioStream) -> av.CodecContext:
    preferred = _PREFERRED_DECODERS.get(stream.codec_context.name)
    if preferred and preferred in av.codecs_available:
        ctx = av.CodecContext.create(preferred, "r")
        ctx.sample_rate = stream.codec_context.sample_rate
        ctx.layout = "mono"
        return ctx
    return stream.codec_context


def _decode_stream(container, name: str, max_seconds: float | None) -> DecodedAudio:
    stream = container.streams.audio[0]
    decoder = _decoder_for(stream)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    max_samples = int(max_seconds * SAMPLE_RATE) if max_seconds else None
    chunks: list[np.ndarray] = []
    total = packets = bad = 0
    truncated = False
    frame_bytes = _AMR_FRAME_BYTES.get(name)

    def take(frames) -> None:
        nonlocal total
        for frame in frames:
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                total += chunk.size

    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            packets += 1
            if packet.is_corrupt or (frame_bytes and packet.size < frame_bytes[(bytes(packet)[0] >> 3) & 0x0F]):
                # A short read at the end: the download or upload was cut off.
                truncated = True
                continue
            try:
                take(decoder.decode(packet))
            except av.error.FFmpegError:
                bad += 1  # one damaged frame should not cost the whole note
            if max_samples is not None and total > max_samples:
                raise CaptureError(msg_too_long(max_seconds), f"{name} audio longer than {max_seconds} s")
        try:
            take(decoder.decode(None))
        except av.error.FFmpegError:
            bad += 1
        take([None])  # flush the resampler
    except av.error.FFmpegError as exc:
        raise CaptureError(MSG_CORRUPT, f"{name} demux error after {packets} packets: {exc}") from None

    if packets == 0:
        raise CaptureError(MSG_EMPTY, f"{name} container holds no audio packets")
    if bad > MAX_BAD_PACKET_SHARE * packets:
        raise CaptureError(MSG_CORRUPT, f"{bad} of {packets} {name} packets failed to decode")
    if truncated:
        raise CaptureError(MSG_TRUNCATED, f"{name} audio ends in a partial packet")
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    duration = samples.size / SAMPLE_RATE
    if max_seconds is not None and duration > max_seconds:
        raise CaptureError(msg_too_long(max_seconds), f"{name} audio is {duration:.1f} s")
    if duration < MIN_SPEECH_S or not np.any(np.abs(samples) > 1e-4):
        raise CaptureError(MSG_NO_SOUND, f"{name} audio is {duration:.2f} s, peak {np.abs(samples).max(initial=0):.5f}")
    return DecodedAudio(samples=samples, duration_s=round(duration, 3), source_format=name,
                        codec=decoder.name, bad_packets=bad)
