"""Voice note → text: decoding (audio.py) plus recognition (asr.py), with the refusals a rep sees.

`transcribe_bytes` serves the capture job (one note downloaded from WeCom / DingTalk);
`transcribe_files` serves `crmbot transcribe AUDIO... --json` (a batch; a bad file does not stop it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from .asr import AsrEngine, Segment, get_asr_engine
from .audio import MSG_NO_FILE, decode_audio
from .errors import CaptureError

if TYPE_CHECKING:
    from config.settings import Settings

MSG_NOTHING_HEARD = "没有听清说的内容，请在安静的地方靠近话筒重新录一段"
MSG_TOO_BIG = "语音文件太大了，请分段发送"


@dataclass(frozen=True)
class VoiceTranscript:
    text: str
    duration_s: float
    elapsed_ms: int                 # decode + recognition, for logs and the benchmark
    language: str | None = None
    segments: tuple[Segment, ...] = field(default_factory=tuple)


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from config.settings import settings_from_env

    return settings_from_env()


def transcribe_bytes(data: bytes, hotwords: Sequence[str] = (), engine: AsrEngine | None = None,
                     settings: Settings | None = None) -> VoiceTranscript:
    """Transcribe one voice note; CaptureError (with .user_message in Chinese) if it is refused.

    `hotwords`: the rep's customer and company names, so that "华东机电" is not heard as "华东西电".
    """
    started = time.perf_counter()
    cfg = _settings(settings)
    if len(data) > cfg.crmbot_max_upload_bytes:
        raise CaptureError(MSG_TOO_BIG, f"audio is {len(data)} bytes, limit {cfg.crmbot_max_upload_bytes}")
    audio = decode_audio(data, max_seconds=cfg.crmbot_max_audio_s)
    engine = engine or get_asr_engine(cfg)
    transcript = engine.transcribe(audio.samples, hotwords=tuple(hotwords))
    if not transcript.text.strip():
        raise CaptureError(MSG_NOTHING_HEARD, f"{engine.name} heard no speech in {audio.duration_s:.1f} s")
    return VoiceTranscript(
        text=transcript.text.strip(),
        duration_s=audio.duration_s,
        elapsed_ms=round((time.perf_counter() - started) * 1000),
        language=transcript.language,
        segments=transcript.segments,
    )


def transcribe_files(paths: Iterable[str | Path], engine: AsrEngine | None = None,
                     settings: Settings | None = None) -> Iterator[dict]:
    """Per file `{"file", "text", "duration_s", "elapsed_ms"}`, or `{"file", "error", "elapsed_ms"}`
    with a Chinese message when the file is refused. The engine is built once, on the first file
    that decodes, so a batch of bad files never loads a model."""
    cfg = _settings(settings)
    for path in map(str, paths):
        started = time.perf_counter()
        try:
            data = _read(path)
            if engine is None:
                decode_audio(data, max_seconds=cfg.crmbot_max_audio_s)  # refuse before a model load
                engine = get_asr_engine(cfg)
            result = transcribe_bytes(data, engine=engine, settings=cfg)
        except CaptureError as exc:
            yield {"file": path, "error": exc.user_message,
                   "elapsed_ms": round((time.perf_counter() - started) * 1000)}
            continue
        yield {"file": path, "text": result.text, "duration_s": result.duration_s,
               "elapsed_ms": round((time.perf_counter() - started) * 1000)}


def _read(path: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        raise CaptureError(MSG_NO_FILE, f"no such file: {path}")
    return file.read_bytes()
