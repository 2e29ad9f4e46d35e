"""Photos and voice notes: stored and handed to the capture jobs (OCR / ASR run there, not here)."""
from __future__ import annotations

from ..context import Context
from ..events import Kind
from ..router import router

CAPTURE_QUEUE = "crmbot-capture"


@router.event(Kind.IMAGE)
def on_image(ctx: Context) -> None:
    ctx.say("已收到名片照片，正在识别，稍等几秒…")
    ctx.defer("jobs.capture.capture_image", ctx.inbox_id, queue=CAPTURE_QUEUE)


@router.event(Kind.VOICE)
def on_voice(ctx: Context) -> None:
    ctx.say("已收到语音，正在转写…")
    ctx.defer("jobs.capture.capture_voice", ctx.inbox_id, queue=CAPTURE_QUEUE)


@router.event(Kind.FILE)
def on_file(ctx: Context) -> None:
    ctx.say("暂时只能识别名片照片和语音。文件请在小程序里上传到客户资料。")
