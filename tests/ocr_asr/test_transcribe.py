"""transcribe_files (the CLI batch) and transcribe_bytes (the capture job), end to end with Whisper."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ocr_asr.transcribe as transcribe_module
from config.settings import load_settings
from ocr_asr.asr import Transcript, character_error_rate, get_asr_engine
from ocr_asr.audio import MSG_EMPTY, MSG_NOT_AUDIO, MSG_TRUNCATED
from ocr_asr.errors import CaptureError
from ocr_asr.name_correction import correct_names
from ocr_asr.transcribe import (
    MSG_NOTHING_HEARD,
    MSG_TOO_BIG,
    VoiceTranscript,
    transcribe_bytes,
    transcribe_files,
)

AUDIO = Path(__file__).parent / "fixtures" / "audio"
MANIFEST = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))
SETTINGS = load_settings(crmbot_asr_engine="whisper", crmbot_whisper_model_dir=None)


@pytest.fixture(scope="module")
def whisper():
    return get_asr_engine(SETTINGS)


class SilentEngine:
    """An engine that hears nothing, as Whisper does on a recording of background noise."""

    name = "silent"

    def transcribe(self, samples, hotwords=()):
        return Transcript(text="  ", language="zh")


@pytest.mark.slow
def test_batch_goes_on_past_bad_files_and_loads_the_model_once(tmp_path, monkeypatch, whisper):
    builds = []

    def counting_get_asr_engine(settings):
        builds.append(settings)
        return whisper

    monkeypatch.setattr(transcribe_module, "get_asr_engine", counting_get_asr_engine)
    empty = tmp_path / "empty.amr"
    empty.write_bytes(b"")
    text = tmp_path / "note.amr"  # the name lies: it is text
    text.write_text("明天给王总打电话", encoding="utf-8")
    cut = tmp_path / "cut.ogg"
    cut.write_bytes((AUDIO / "note_xinghe.ogg").read_bytes()[:9000])
    paths = [str(empty), str(AUDIO / "note_huadong.amr"), str(text), str(tmp_path / "missing.mp3"),
             str(cut), str(AUDIO / "note_zhangwei.mp3")]

    results = list(transcribe_files(paths, settings=SETTINGS))

    assert [r["file"] for r in results] == paths
    assert results[0] == {"file": paths[0], "error": MSG_EMPTY, "elapsed_ms": results[0]["elapsed_ms"]}
    assert results[2]["error"] == MSG_NOT_AUDIO
    assert results[3]["error"] == "找不到这个语音文件"
    assert results[4]["error"] == MSG_TRUNCATED
    for good, name in ((results[1], "note_huadong.amr"), (results[5], "note_zhangwei.mp3")):
        assert set(good) == {"file", "text", "duration_s", "elapsed_ms"}
        assert character_error_rate(MANIFEST[name], good["text"]) <= 0.3, good["text"]
        assert 7.0 < good["duration_s"] < 10.0
        assert good["elapsed_ms"] > 0
        json.dumps(good, ensure_ascii=False)  # what the CLI prints
    assert len(builds) == 1


def test_batch_of_bad_files_never_loads_a_model(tmp_path, monkeypatch):
    def no_model(settings):
        raise AssertionError("model loaded for a batch with nothing to transcribe")

    monkeypatch.setattr(transcribe_module, "get_asr_engine", no_model)
    empty = tmp_path / "a.amr"
    empty.write_bytes(b"")
    results = list(transcribe_files([empty, tmp_path], settings=SETTINGS))
    assert [r["error"] for r in results] == [MSG_EMPTY, "找不到这个语音文件"]
    assert [r["file"] for r in results] == [str(empty), str(tmp_path)]  # JSON-ready even for Path input


@pytest.mark.slow
def test_transcribe_bytes_with_customer_names(whisper):
    """The rep's names bias recognition, and what is still misheard ("华东西电": Whisper's output
    changed between releases) is put back by name correction, as jobs/capture.py does."""
    data = (AUDIO / "note_huadong.amr").read_bytes()
    names = ["华东机电", "王总"]
    result = transcribe_bytes(data, hotwords=names, engine=whisper, settings=SETTINGS)
    assert isinstance(result, VoiceTranscript)
    text, _corrections = correct_names(result.text, names)
    assert "华东机电" in text and "王总" in text
    assert character_error_rate(MANIFEST["note_huadong.amr"], text) <= 0.2
    assert result.duration_s == pytest.approx(7.84, abs=0.05)
    assert result.language == "zh" and result.segments


def test_transcribe_bytes_refuses_what_is_too_long_for_the_settings():
    short_limit = load_settings(crmbot_max_audio_s=5)
    with pytest.raises(CaptureError) as info:
        transcribe_bytes((AUDIO / "note_hengtong.amr").read_bytes(), engine=SilentEngine(), settings=short_limit)
    assert info.value.user_message == "语音太长了（超过5秒），请分段发送"


def test_transcribe_bytes_refuses_too_many_bytes():
    small = load_settings(crmbot_max_upload_bytes=1000)
    with pytest.raises(CaptureError) as info:
        transcribe_bytes((AUDIO / "note_huadong.amr").read_bytes(), engine=SilentEngine(), settings=small)
    assert info.value.user_message == MSG_TOO_BIG


def test_nothing_heard_is_an_error_not_an_empty_note():
    with pytest.raises(CaptureError) as info:
        transcribe_bytes((AUDIO / "note_huadong.amr").read_bytes(), engine=SilentEngine(), settings=SETTINGS)
    assert info.value.user_message == MSG_NOTHING_HEARD


@pytest.mark.slow
def test_background_noise_end_to_end(whisper):
    import io

    import av

    rng = np.random.default_rng(5)
    noise = (0.01 * rng.standard_normal(16000 * 3)).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as out:
        stream = out.add_stream("pcm_f32le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(noise.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            out.mux(packet)
    with pytest.raises(CaptureError) as info:
        transcribe_bytes(buffer.getvalue(), engine=whisper, settings=SETTINGS)
    assert info.value.user_message == MSG_NOTHING_HEARD
