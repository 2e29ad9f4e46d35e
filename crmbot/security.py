"""Process-wide safety the app factory and the command line switch on (issue 15):

- `require_secret_key`: outside the demo, no CRMBOT_SECRET_KEY means no start. Each gunicorn worker
  used to invent its own random key, so a session cookie signed by one worker was refused by the
  other (7 of 12 WeCom logins answered 400 with two workers).
- `init_app`: query strings without control characters (one check for every route), and security
  headers. Pages and the API get a Content-Security-Policy (scripts only from
  our origin: the page script and the vendored platform SDKs live under /app/static), frame-ancestors
  limited to our origin and the platforms' web clients, nosniff, a same-origin referrer (our URLs
  carry customer ids) and `Cache-Control: no-store` on everything that shows customer data, so a
  shared phone or a proxy keeps no copy. Static files keep their year-long cache.
- `RedactSecrets`: a logging filter that masks secrets in every record, including formatted
  exceptions (requests puts the full URL, e.g. gettoken?corpsecret=…, into its error messages).
"""
from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify, request

from config.settings import Settings, SettingsError

# The WeCom and DingTalk clients open our pages as the top document in their webviews; their web
# and desktop clients may embed H5 apps in a frame (not documented in what we read: unverified),
# so those origins may frame us and nobody else may (clickjacking on 认领 / 赢单 buttons).
FRAME_ANCESTORS = ("'self'", "https://*.work.weixin.qq.com", "https://work.weixin.qq.com",
                   "https://*.dingtalk.com")
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # one inline style attribute draws the dashboard's bars; styles cannot run code
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors " + " ".join(FRAME_ANCESTORS),
])
STATIC_PREFIXES = ("/app/static/",)


def require_secret_key(settings: Settings) -> None:
    if not settings.crmbot_secret_key and not settings.crmbot_demo:
        raise SettingsError(
            "CRMBOT_SECRET_KEY is not set: every web process needs the same key to read the "
            "mini-app's session cookies (generate one with `python -c 'import secrets; "
            "print(secrets.token_hex(32))'`)")


ID_MAX = 2 ** 31 - 1  # INTEGER primary keys


def init_app(app: Flask) -> None:
    app.before_request(_printable_query)
    app.before_request(_ids_in_range)
    app.after_request(_security_headers)


def _ids_in_range():
    """/app/customers/2147483648 is "not found", not a database overflow (a 500 on PostgreSQL)."""
    if any(isinstance(v, int) and not -ID_MAX <= v <= ID_MAX for v in (request.view_args or {}).values()):
        if request.path.startswith("/api/"):
            return jsonify(error="记录不存在"), 404
        return Response("记录不存在", status=404, mimetype="text/plain")
    return None


def _printable_query():
    """No route takes control characters in its query string, and PostgreSQL cannot even compare
    text holding NUL (`q=%00` was a 500): refuse them for every route, once, here."""
    for name, value in request.args.items(multi=True):
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name + value):
            message = f"参数 {name!r} 包含不可见字符"
            if request.path.startswith("/api/"):
                return jsonify(error=message, field=name), 400
            return Response(message, status=400, mimetype="text/plain")
    return None


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    path = request.path
    if path.startswith(STATIC_PREFIXES):
        return response
    if path.startswith(("/app/", "/api/")) or path == "/app":
        headers.setdefault("Content-Security-Policy", CSP)
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    return response


# ------------------------------------------------------------------ secrets in logs

_QUERY_SECRET = re.compile(
    r"(?i)((?:corpsecret|appsecret|app_secret|client_secret|secret|access_token|accesstoken|"
    r"jsapi_ticket|ticket|(?<![a-z_])code)=)[^&\s'\"]+")
_JSON_SECRET = re.compile(
    r"(?i)([\"']?(?:corpsecret|appsecret|appSecret|clientSecret|client_secret|secret|access_token|"
    r"accessToken|ticket|encoding_aes_key)[\"']?\s*[:=]\s*[\"'])[^\"']+")
_HEADER_SECRET = re.compile(r"(?i)(x-acs-dingtalk-access-token['\"]?\s*[:=]\s*['\"]?)[^'\",\s}]+")
MASK = "***"


def redact(text: str) -> str:
    text = _QUERY_SECRET.sub(r"\1" + MASK, text)
    text = _JSON_SECRET.sub(r"\1" + MASK, text)
    return _HEADER_SECRET.sub(r"\1" + MASK, text)


class RedactSecrets(logging.Filter):
    """Masks secrets in the message and in the formatted exception, then lets the record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's problem, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of `logger` (default: root). Handler filters see records
    propagated from every library logger (urllib3 logs full URLs at DEBUG), logger filters do not."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
