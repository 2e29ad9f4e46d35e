"""Who is looking at the mini-app: a signed Flask session holding the crmbot user and org, started
by the platform's login code (WeCom OAuth, DingTalk requestAuthCode) or, in the demo and tests
only, by /app/dev-login.

Every request re-reads the user inside its own transaction, so a rep switched off by an admin
loses access on the next request, not when the cookie expires. The cookie also carries the user's
`session_version`: logging out bumps it, and so does any change of role, team, manager or org
(a mapper event in storage/models.py), so every cookie issued before stops working at once, even a
copy kept after /app/logout.

The WeCom OAuth `state` is single-use: it is kept in Redis from the redirect to the callback and
deleted atomically there, so replaying the pre-callback cookie with the same state is refused."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template, request,
                   session, url_for)
from sqlalchemy.orm import Session

from bot.errors import PlatformError
from bot.services import Services
from cards.links import ChatRef, read_chat_token
from storage import users
from storage.errors import InvalidInput, NotFound
from storage.models import User

from . import bodies

bp = Blueprint("miniapp_auth", __name__, url_prefix="/app", template_folder="templates")

CSRF_HEADER = "X-Requested-With"
WECOM_AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"
OAUTH_STATE_TTL_S = 600  # WeCom's code lives 5 minutes; a login taking longer starts again


class NotLoggedIn(Exception):
    """No session, or the session's user is gone or switched off."""


def clock_now() -> datetime:
    """The runtime clock's "now" (the demo's 模拟时间 and tests set it)."""
    return runtime().clock.now()


def runtime() -> Services:
    return current_app.extensions["crmbot"]


def dev_login_enabled() -> bool:
    """Demo mode, or a test app that set CRMBOT_DEV_LOGIN in its config (never from the environment)."""
    return bool(current_app.config.get("CRMBOT_DEMO") or current_app.config.get("CRMBOT_DEV_LOGIN"))


def current_user(db_session: Session) -> User:
    uid, org_id, version = session.get("uid"), session.get("org"), session.get("sv")
    if not uid or not org_id or not isinstance(uid, int) or version is None:
        raise NotLoggedIn()
    user = db_session.get(User, uid)
    if user is None or not user.active or user.org_id != org_id or user.session_version != version:
        session.clear()
        raise NotLoggedIn()
    return user


@contextmanager
def work() -> Iterator[tuple[Session, User]]:
    """One unit of work for one request: a transaction and the logged-in user inside it."""
    with runtime().db.transaction() as db_session:
        yield db_session, current_user(db_session)


def chat_from_token(token: str | None, user: User) -> ChatRef:
    """The group chat a page link was signed for by the bot (cards/links.py). A forged, altered or
    stale token is refused, and so is another org's group; what the user may then do with it is
    checked by the storage services like everywhere else."""
    chat = read_chat_token(runtime().settings.crmbot_secret_key or "", token or "") if token else None
    if chat is None:
        raise InvalidInput("chat_token", "这个链接已过期或无效，请回到群里重新@我获取")
    if chat.org_id != user.org_id:
        raise NotFound("群不存在")
    return chat


def start_session(user: User) -> None:
    session.clear()
    session["uid"], session["org"], session["sv"] = user.id, user.org_id, user.session_version or 0


def safe_next(value: str | None) -> str:
    """Only our own pages: an open redirect after login would hand the session to anyone, and a
    control character or space would end up in the Location header (a 500 before)."""
    if (value and isinstance(value, str) and value.startswith("/app/") and not value.startswith("//")
            and "\\" not in value and len(value) <= 512
            and all(32 < ord(ch) != 127 and not ch.isspace() for ch in value)):
        return value
    return url_for("miniapp_pages.home")


def _page_error(message: str, status: int):
    return render_template("miniapp/message.html", title="无法登录", message=message), status


# ------------------------------------------------------------------ entry page


@bp.get("/welcome")
def welcome():
    """Where a page without a session lands. Inside WeCom or DingTalk its script starts the
    platform's silent login; in an ordinary browser it says where to open the app."""
    return render_template("miniapp/welcome.html", next=safe_next(request.args.get("next")),
                           dingtalk_corp_id=runtime().settings.dingtalk_corp_id or "",
                           dingtalk_client_id=runtime().settings.dingtalk_app_key or "",
                           dev_login=dev_login_enabled())


@bp.get("/logout")
def logout():
    """Revokes every session of the user (this cookie and any copy of it), then forgets it."""
    try:
        with work() as (_db_session, user):
            user.session_version = (user.session_version or 0) + 1
    except NotLoggedIn:
        pass
    session.clear()
    return redirect(url_for("miniapp_auth.welcome"))


# ------------------------------------------------------------------ demo / tests


@bp.get("/dev-login")
def dev_login():
    if not dev_login_enabled():
        abort(404)
    platform = request.args.get("platform", "wecom")
    if platform not in ("wecom", "dingtalk"):
        abort(400)
    uid = (request.args.get("user") or "").strip()
    corp = request.args.get("corp") or None
    with runtime().db.transaction() as db_session:
        user = users.user_for_platform(db_session, platform, corp, uid) if uid else None
        if user is None:
            return _page_error(f"没有找到账号“{uid}”（同名账号在多个公司时请加 corp 参数）", 404)
        start_session(user)
    return redirect(safe_next(request.args.get("next")))


# ------------------------------------------------------------------ WeCom OAuth (snsapi_base)


@bp.get("/login/wecom")
def wecom_login():
    settings = runtime().settings
    if not settings.wecom_corp_id:
        return _page_error("企业微信尚未配置，请联系管理员", 503)
    state = secrets.token_urlsafe(16)
    runtime().redis.set(_state_key(state), "1", ex=OAUTH_STATE_TTL_S)
    session["oauth_state"] = state
    session["oauth_next"] = safe_next(request.args.get("next"))
    callback = settings.crmbot_public_url.rstrip("/") + url_for("miniapp_auth.wecom_callback")
    url = (f"{WECOM_AUTHORIZE}?appid={quote(settings.wecom_corp_id)}"
           f"&redirect_uri={quote(callback, safe='')}&response_type=code&scope=snsapi_base"
           f"&state={state}&agentid={settings.wecom_agent_id or ''}#wechat_redirect")
    return redirect(url)


@bp.get("/login/wecom/callback")
def wecom_callback():
    expected = session.pop("oauth_state", None)
    next_url = session.pop("oauth_next", None)
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not expected or not state.isascii() or not secrets.compare_digest(expected, state) \
            or not runtime().redis.delete(_state_key(state)):  # single use: a replay finds it gone
        return _page_error("登录已过期，请关闭页面后重新打开", 400)
    if not code:
        return _page_error("企业微信没有返回登录凭证，请重新打开", 400)
    rt = runtime()
    try:
        platform_uid = rt.client("wecom").get_user_id_by_code(code)
    except PlatformError as exc:   # an expired or reused code is an expected answer: one line
        current_app.logger.warning("wecom oauth code refused: errcode %s %s", exc.code, exc)
        return _page_error("企业微信登录失败，请关闭页面后重新打开", 502)
    with rt.db.transaction() as db_session:
        user = users.user_for_platform(db_session, "wecom", rt.settings.wecom_corp_id, platform_uid)
        if user is None:
            return _page_error("你的账号还没有开通销售助手，请联系管理员", 403)
        start_session(user)
    return redirect(safe_next(next_url))


def _state_key(state: str) -> str:
    return f"crmbot:oauth-state:{state}"


# ------------------------------------------------------------------ DingTalk free login


@bp.post("/login/dingtalk")
def dingtalk_login():
    """The workbench page posts the code from dd.requestAuthCode (5 minutes, single use)."""
    if not request.headers.get(CSRF_HEADER):
        return jsonify(error="请求缺少安全标记，请刷新页面"), 403
    try:
        body = bodies.parse(bodies.DingTalkLogin)
    except InvalidInput as exc:
        return jsonify(error=exc.message, field=exc.field), 400
    code = (body.code or "").strip()
    if not code:
        return jsonify(error="缺少钉钉登录码", field="code"), 400
    rt = runtime()
    try:
        platform_uid = rt.client("dingtalk").get_user_id_by_auth_code(code)
    except PlatformError as exc:
        current_app.logger.warning("dingtalk auth code refused: code %s %s", exc.code, exc)
        return jsonify(error="钉钉登录失败，请关闭页面后重新打开"), 502
    with rt.db.transaction() as db_session:
        user = users.user_for_platform(db_session, "dingtalk", rt.settings.dingtalk_corp_id, platform_uid)
        if user is None:
            return jsonify(error="你的账号还没有开通销售助手，请联系管理员"), 403
        start_session(user)
    return jsonify(ok=True, next=safe_next(body.next))


def same_origin_url(url: str) -> bool:
    """The JS-SDK signs the page's own URL; refuse to sign someone else's."""
    target = urlsplit(url)
    ours = {urlsplit(runtime().settings.crmbot_public_url).netloc, request.host}
    return target.scheme in ("http", "https") and target.netloc in ours
