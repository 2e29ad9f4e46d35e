"""Error answers people can read: JSON under /api/ (the page script shows `error`), a Chinese,
phone-sized page under /app/, Flask's default elsewhere (callbacks and the simulator).

Unmatched URLs never reach a blueprint, so these handlers are app-wide and decide by path."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

PAGES = {  # status → (title, what the person can do)
    400: ("请求有误", "页面参数不完整，请返回后重试。"),
    403: ("没有权限", "这个页面不对你开放。如需查看，请联系你的经理。"),
    404: ("页面不存在", "链接可能已失效，或记录已被删除。"),
    405: ("无法这样打开", "请从首页重新进入。"),
    500: ("出错了", "服务器暂时出了问题，我们已经记录。请稍后重试。"),
}
API_MESSAGES = {400: "请求有误", 403: "没有权限", 404: "接口不存在", 405: "不支持的请求方式",
                500: "服务器出错了，请稍后重试"}


def error_page(status: int, message: str | None = None):
    title, hint = PAGES.get(status, PAGES[500])
    return render_template("miniapp/message.html", title=title, message=message or hint,
                           status=status), status


def _answer(exc: HTTPException | Exception):
    status = exc.code if isinstance(exc, HTTPException) and exc.code else 500
    if request.path.startswith("/api/"):
        return jsonify(error=API_MESSAGES.get(status, "请求失败")), status
    if request.path.startswith("/app/") or request.path == "/app":
        return error_page(status)
    return exc


def init_app(app: Flask) -> None:
    for status in PAGES:
        app.register_error_handler(status, _answer)
