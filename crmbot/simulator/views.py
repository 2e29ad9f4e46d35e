"""The IM simulator (demo only): act as a user of the demo org on WeCom or DingTalk.

Everything the page does goes through the same doors the real platforms use:
- a typed text, an uploaded photo or voice file, a card click → this module builds the request the
  platform would send (bot.wecom.fake.build_callback: AES-encrypted and signed; bot.dingtalk.fake:
  HMAC-signed) and POSTs it to this app's own /wecom/callback, /dingtalk/callback or
  /dingtalk/card-callback. It uses Flask's test client for that POST: the request runs through the
  full WSGI stack (verification, decryption, inbox) without a socket, so it cannot deadlock a
  single-threaded server.
- photos and voice files are first registered with the fake platform (WeCom media id / DingTalk
  download code), so the capture job downloads them with the real client.
- the answers are read back from what the fake platforms received (conversation.py).
"""
from __future__ import annotations

import mimetypes
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request, url_for
from sqlalchemy import func, select

from bot.dingtalk import fake as dt_fake
from bot.outbound import HELD, in_quiet_hours, user_platform
from bot.wecom import fake as wc_fake
from cards.dingtalk import read_button_text
from jobs.scheduler import periodic_jobs
from storage.models import OutboxMessage, User
from storage.users import user_for_platform

from .conversation import SimulatorLog, conversation, session_for

bp = Blueprint("simulator", __name__, url_prefix="/dev/simulator",
               template_folder="templates", static_folder="static")

PLATFORMS = ("wecom", "dingtalk")
USER_ID = re.compile(r"^[0-9A-Za-z_@.\-]{1,64}$")
MAX_TEXT_CHARS = 2000
ROLE_NAMES = {"director": "总监", "manager": "经理", "rep": "销售"}
WECOM_VOICE_FORMATS = {"amr", "mp3", "wav", "ogg", "m4a", "silk", "speex"}


class BadRequest(Exception):
    def __init__(self, message: str):  # Chinese: shown on the page
        super().__init__(message)
        self.message = message


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return jsonify(ok=False, error=exc.message), 400


def _runtime():
    return current_app.extensions["crmbot"]


def _fakes():
    return current_app.extensions["crmbot_fakes"]


def _log() -> SimulatorLog:
    return current_app.extensions["crmbot_simulator"]


def _who(data) -> tuple[str, str]:
    platform, user = str(data.get("platform") or ""), str(data.get("user") or "")
    if platform not in PLATFORMS:
        raise BadRequest("请选择平台：企业微信或钉钉")
    if not USER_ID.match(user):
        raise BadRequest("请选择一个用户")
    return platform, user


# ------------------------------------------------------------------ page and reads


@bp.get("")
@bp.get("/")
def page():
    quiet = _runtime().playbook.quiet_hours
    return render_template("simulator.html", quiet_start=f"{quiet.start:%H:%M}",
                           default_platform=current_app.config.get("CRMBOT_DEMO_PLATFORM", "wecom"))


@bp.get("/api/users")
def users():
    with _runtime().db.transaction() as session:
        rows = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
        people = [{"id": u.wecom_userid or u.dingtalk_userid, "name": u.name,
                   "role": ROLE_NAMES.get(u.role, u.role), "wecom": bool(u.wecom_userid),
                   "dingtalk": bool(u.dingtalk_userid)} for u in rows if u.wecom_userid or u.dingtalk_userid]
    return jsonify(users=people)


@bp.get("/api/conversation")
def get_conversation():
    """The chat as the platform shows it, and where the bot reaches this user now (their reminders
    go where they last wrote: an empty DingTalk chat is explained, not a mystery)."""
    platform, user = _who(request.args)
    rt = _runtime()
    with rt.db.transaction() as session:
        found = user_for_platform(session, platform, None, user)
        reaches = user_platform(found) if found else None
    messages = conversation(_log(), _fakes(), platform, user)
    as_user = _opener(platform, user)
    for message in messages:
        if message.get("card"):
            card = message["card"]
            card["link"] = as_user(card.get("link"))
            for button in card.get("buttons") or []:
                button["url"] = as_user(button.get("url"))
            if card.get("markdown"):
                card["markdown"] = MARKDOWN_LINK.sub(lambda m: f"[{m[1]}]({as_user(m[2])})", card["markdown"])
        elif message["type"] == "markdown":
            message["text"] = MARKDOWN_LINK.sub(lambda m: f"[{m[1]}]({as_user(m[2])})", message["text"])
    return jsonify(messages=messages, reaches=reaches)


MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")


def _opener(platform: str, user: str):
    """Links to our pages open as the simulated user, as the platform's login would make them
    (WeCom OAuth, DingTalk free login): through the demo-only /app/dev-login. Without it a page
    would open as whoever logged in last in this browser, or at the login page."""
    ours = urlsplit(_runtime().settings.crmbot_public_url)

    def as_user(url: str | None) -> str | None:
        target = urlsplit(url or "")
        if not url or (target.scheme, target.netloc) != (ours.scheme, ours.netloc) or not target.path.startswith("/app/"):
            return url
        page_path = target.path + (f"?{target.query}" if target.query else "")
        return url_for("miniapp_auth.dev_login", user=user, platform=platform, next=page_path)
    return as_user


@bp.get("/api/media/<media_id>")
def media(media_id: str):
    """A photo or voice file the user sent, or an image the bot sent (a report's chart)."""
    fakes = _fakes()
    found = _log().media.get(media_id) or fakes.wecom.media_file(media_id)
    if found is None and media_id in fakes.dingtalk.media:
        _kind, content, filename = fakes.dingtalk.media[media_id]
        found = (content, mimetypes.guess_type(filename)[0] or "image/png")
    if found is None:
        return jsonify(ok=False, error="文件不存在"), 404
    content, mimetype = found
    return Response(content, mimetype=mimetype)


# ------------------------------------------------------------------ 客户聊天: a WeCom customer chat and its sidebar


@bp.get("/api/chats")
def chats():
    """The user's WeCom customers (外部联系人, from the fake WeCom), each with the sidebar page
    WeCom opens beside that chat: /app/sidebar?external_userid=…, logged in as this user through
    the demo-only /app/dev-login. DingTalk has no customer-chat sidebar: an empty list."""
    platform, user = _who(request.args)
    if platform != "wecom":
        return jsonify(chats=[])
    found = []
    for contact in _fakes().wecom.external_contacts_of(user):
        person = contact["external_contact"]
        mine = next(f for f in contact["follow_user"] if f.get("userid") == user)
        company = mine.get("remark_corp_name") or person.get("corp_name") or ""
        sidebar = url_for("miniapp_pages.sidebar", external_userid=person["external_userid"])
        found.append({"external_userid": person["external_userid"], "name": person["name"], "company": company,
                      "label": f"{person['name']}（{company}）" if company else person["name"],
                      "sidebar_url": url_for("miniapp_auth.dev_login", user=user, platform="wecom", next=sidebar)})
    return jsonify(chats=found)


# ------------------------------------------------------------------ 模拟时间: the demo's clock

WEEKDAYS = "一二三四五六日"


def _jump(now: datetime, playbook, jump: str) -> datetime:
    tz = playbook.tz
    if jump == "tomorrow_10":
        return datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(10), tzinfo=tz)
    if jump == "tonight":  # the start of tonight's quiet hours: see what is held, and what is said about it
        if in_quiet_hours(now.astimezone(tz).time(), playbook.quiet_hours):
            raise BadRequest("现在已经是免打扰时段")
        tonight = datetime.combine(now.astimezone(tz).date(), playbook.quiet_hours.start, tzinfo=tz)
        return tonight if tonight > now else tonight + timedelta(days=1)
    if jump == "plus_2h":
        return now + timedelta(hours=2)
    if jump == "plus_1d":
        return now + timedelta(days=1)
    raise BadRequest("未知的时间操作")


def _clock_state(platform: str | None, user: str | None) -> dict:
    rt = _runtime()
    local = rt.clock.now().astimezone(rt.playbook.tz)
    state = {"now": local.isoformat(), "label": f"{local:%m-%d} 周{WEEKDAYS[local.weekday()]} {local:%H:%M}",
             "held": 0, "held_until": None, "held_note": None}
    if platform in PLATFORMS and user:
        with rt.db.transaction() as session:
            count, first = session.execute(select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.platform == platform, OutboxMessage.recipient == user,
                OutboxMessage.status == HELD)).one()
        if count:
            until = first.astimezone(rt.playbook.tz)
            # right after a jump the release job may not have run yet: never name a time gone by
            note = (f"有 {count} 条消息处于免打扰时段或稍后提醒，将在 {until:%m-%d %H:%M} 送达" if until > local
                    else f"有 {count} 条消息即将送达")
            state.update(held=count, held_until=f"{until:%m-%d %H:%M}", held_note=note)
    return state


@bp.get("/api/clock")
def get_clock():
    return jsonify(_clock_state(request.args.get("platform"), request.args.get("user")))


@bp.post("/api/clock")
def move_clock():
    """Jump the demo's clock and run what the scheduler runs each minute, as of the new time:
    held messages whose time came are released, timers fire, reports go out."""
    data = request.get_json(silent=True) or {}
    rt = _runtime()
    if not hasattr(rt.clock, "set"):
        raise BadRequest("只有演示环境可以调整时间")
    rt.clock.set(_jump(rt.clock.now(), rt.playbook, str(data.get("jump") or "")))
    for job in periodic_jobs():
        rt.queue.enqueue(job.path, *job.args)
    return jsonify(_clock_state(data.get("platform"), data.get("user")))


# ------------------------------------------------------------------ acting as the user


@bp.post("/api/send")
def send_text():
    data = request.get_json(silent=True) or {}
    platform, user = _who(data)
    text = str(data.get("text") or "").strip()
    if not text:
        raise BadRequest("请输入要发送的内容")
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(f"消息太长了（最多 {MAX_TEXT_CHARS} 字）")
    settings = _runtime().settings
    if platform == "wecom":
        status = _post_wecom(wc_fake.text_xml(settings.wecom_corp_id, user, text,
                                              agent_id=settings.wecom_agent_id))
    else:
        status = _post_dingtalk(_robot_message("text", user, text={"content": text}))
    return _sent(platform, user, "text", text, status)


@bp.post("/api/upload")
def upload():
    platform, user = _who(request.form)
    kind = request.form.get("kind")
    file = request.files.get("file")
    if kind not in ("image", "voice"):
        raise BadRequest("只能发送照片或语音")
    if file is None or not file.filename:
        raise BadRequest("请选择文件")
    content = file.read()
    if not content:
        raise BadRequest("文件是空的")
    mimetype = file.mimetype if file.mimetype and file.mimetype != "application/octet-stream" else (
        mimetypes.guess_type(file.filename)[0] or "application/octet-stream")
    settings, fakes = _runtime().settings, _fakes()
    if platform == "wecom":
        media_id = fakes.wecom.add_media(content, mimetype, file.filename)
        if kind == "image":
            inner = wc_fake.image_xml(settings.wecom_corp_id, user, media_id, agent_id=settings.wecom_agent_id)
        else:
            extension = Path(file.filename).suffix.lower().lstrip(".")
            inner = wc_fake.voice_xml(settings.wecom_corp_id, user, media_id, agent_id=settings.wecom_agent_id,
                                      format=extension if extension in WECOM_VOICE_FORMATS else "amr")
        status = _post_wecom(inner)
    else:
        media_id = fakes.dingtalk.add_file(content)
        if kind == "image":
            message = _robot_message("picture", user, content={"downloadCode": media_id,
                                                              "pictureDownloadCode": media_id})
        else:
            message = _robot_message("audio", user, content={"downloadCode": media_id, "duration": 0})
        status = _post_dingtalk(message)
    _log().keep_media(media_id, content, mimetype)
    label = "[照片] " if kind == "image" else "[语音] "
    return _sent(platform, user, kind, label + file.filename, status, media_id)


@bp.post("/api/click")
def click():
    data = request.get_json(silent=True) or {}
    platform, user = _who(data)
    card_id, key = str(data.get("card_id") or ""), str(data.get("key") or "")
    button_text = str(data.get("text") or key)
    # an ActionCard button (conversation.py) has no card id: its key is the text the tap sends
    if not key or not (card_id or read_button_text(key)):
        raise BadRequest("这个按钮无法点击")
    settings, fakes = _runtime().settings, _fakes()
    if platform == "wecom":
        code = fakes.wecom.new_response_code()  # the single-use code WeCom puts in a click
        _log().remember_click(code, card_id)
        status = _post_wecom(wc_fake.card_event_xml(settings.wecom_corp_id, user, card_id, key,
                                                    response_code=code, agent_id=settings.wecom_agent_id))
        shown = f"点击了「{button_text}」"
    elif settings.dingtalk_card_template_id:
        headers, body = dt_fake.build_card_callback(settings.dingtalk_app_secret, card_id, user,
                                                    action_ids=[key], corp_id=settings.dingtalk_corp_id)
        status = _client().post("/dingtalk/card-callback", headers=headers, data=body).status_code
        shown = f"点击了「{button_text}」"
    else:
        # The ActionCard fallback: DingTalk's client sends the button's text into the chat as the user.
        if read_button_text(key) is None:
            raise BadRequest("这个按钮无法点击")
        shown = key
        status = _post_dingtalk(_robot_message("text", user, text={"content": shown}))
    return _sent(platform, user, "click", shown, status)


def _sent(platform: str, user: str, type_: str, text: str, status: int, media_id: str | None = None):
    entry = _log().add(platform, user, type_, text, status, media_id)
    ok = status == 200
    return jsonify(ok=ok, status=status, seq=entry.seq,
                   error=None if ok else f"回调被拒绝（HTTP {status}）"), 200 if ok else 502


# ------------------------------------------------------------------ the platform's side of the wire


def _client():
    return current_app.test_client()


def _post_wecom(inner_xml: str) -> int:
    params, body = wc_fake.build_callback(_runtime().settings, inner_xml)
    return _client().post("/wecom/callback", query_string=params, data=body,
                          content_type="text/xml").status_code


def _robot_message(msgtype: str, user: str, **payload) -> dict:
    settings, fakes = _runtime().settings, _fakes()
    webhook = fakes.dingtalk.session_webhook_url(session_for(user))  # replies in this chat come back here
    return dt_fake.robot_message(msgtype, user, corp_id=settings.dingtalk_corp_id,
                                 robot_code=settings.dingtalk_robot_code or settings.dingtalk_app_key,
                                 session_webhook=webhook, conversation_id=f"cidsim{user}", **payload)


def _post_dingtalk(message: dict) -> int:
    headers, body = dt_fake.build_robot_request(_runtime().settings.dingtalk_app_secret, message)
    return _client().post("/dingtalk/callback", headers=headers, data=body).status_code


def init_app(app: Flask) -> None:
    app.extensions["crmbot_simulator"] = SimulatorLog()
    app.register_blueprint(bp)
