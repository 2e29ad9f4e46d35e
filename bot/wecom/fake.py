"""A fake WeCom for tests and the demo: both directions of the wire.

* Callbacks WeCom would send us: `build_callback` encrypts and signs an inner XML exactly as WeCom
  does (wechatpy's `encrypt_message`), and `*_xml` helpers write the inner XML of each kind.
* The HTTP API WeCom would answer: `create_fake_wecom_blueprint(state)` speaks the endpoints
  `bot.wecom.client.WeComClient` calls, checks tokens and body shapes, and records what it received;
  `start_fake_wecom()` serves it on a loopback port in a thread for tests.

Error codes the fake chooses where the real one is not confirmed (platforms.md):
  40058  template_card shape errors, and a task_id used before  (reuse code: unverified)
  42045  text_notice/news_notice without a valid card_action     (global error code list, 96213)
  60140  response_code used before                            (unverified, one SDK's reading)
"""
from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.wecom.adapter import CallbackKeys

# ------------------------------------------------------------------------------------------------
# Callbacks (WeCom → us)


def build_callback(settings_or_keys: Any, inner_xml: str, *, timestamp: int | str | None = None,
                   nonce: str | None = None, agent_id: int | str | None = None
                   ) -> tuple[dict[str, str], bytes]:
    """(query params, body) of a POST callback carrying `inner_xml`, encrypted and signed."""
    keys = CallbackKeys.from_settings(settings_or_keys)
    encrypt, signature, timestamp, nonce = _encrypt(keys, inner_xml, timestamp, nonce)
    envelope = ET.Element("xml")
    ET.SubElement(envelope, "ToUserName").text = keys.corp_id
    if agent_id is None:
        agent_id = getattr(settings_or_keys, "wecom_agent_id", None)
    if agent_id is not None:
        ET.SubElement(envelope, "AgentID").text = str(agent_id)
    ET.SubElement(envelope, "Encrypt").text = encrypt
    params = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
    return params, ET.tostring(envelope, encoding="utf-8")


def build_verify_request(settings_or_keys: Any, echo_plain: str | None = None, *,
                         timestamp: int | str | None = None, nonce: str | None = None
                         ) -> tuple[dict[str, str], str]:
    """(query params, expected answer) of the GET URL verification WeCom sends on Save."""
    keys = CallbackKeys.from_settings(settings_or_keys)
    echo_plain = echo_plain or str(secrets.randbelow(10**19))
    encrypt, signature, timestamp, nonce = _encrypt(keys, echo_plain, timestamp, nonce)
    return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce,
            "echostr": encrypt}, echo_plain


def _encrypt(keys: CallbackKeys, plaintext: str, timestamp: Any, nonce: str | None
             ) -> tuple[str, str, str, str]:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(secrets.randbelow(10**10))
    reply = keys.crypto().encrypt_message(plaintext, nonce, timestamp)
    parsed = SafeET.fromstring(reply.encode("utf-8"))
    return parsed.findtext("Encrypt"), parsed.findtext("MsgSignature"), timestamp, nonce


_msg_ids = itertools.count(int(time.time()) * 1000)


def _inner_xml(corp_id: str, from_user: str, msg_type: str, fields: Mapping[str, Any],
               *, agent_id: int | str = 1000002, create_time: int | None = None,
               children: list[ET.Element] | None = None) -> str:
    root = ET.Element("xml")
    base = {"ToUserName": corp_id, "FromUserName": from_user,
            "CreateTime": create_time if create_time is not None else int(time.time()),
            "MsgType": msg_type}
    for name, value in {**base, **fields, "AgentID": agent_id}.items():
        if value is not None:
            ET.SubElement(root, name).text = str(value)
    root.extend(children or [])
    return ET.tostring(root, encoding="unicode")


def text_xml(corp_id: str, from_user: str, content: str, *, msg_id: int | str | None = None,
             **common: Any) -> str:
    return _inner_xml(corp_id, from_user, "text",
                      {"Content": content, "MsgId": msg_id or next(_msg_ids)}, **common)


def image_xml(corp_id: str, from_user: str, media_id: str, *, pic_url: str = "",
              msg_id: int | str | None = None, **common: Any) -> str:
    return _inner_xml(corp_id, from_user, "image",
                      {"PicUrl": pic_url or f"https://example.invalid/pic/{media_id}",
                       "MediaId": media_id, "MsgId": msg_id or next(_msg_ids)}, **common)


def voice_xml(corp_id: str, from_user: str, media_id: str, *, format: str = "amr",
              msg_id: int | str | None = None, **common: Any) -> str:
    return _inner_xml(corp_id, from_user, "voice",
                      {"MediaId": media_id, "Format": format,
                       "MsgId": msg_id or next(_msg_ids)}, **common)


def event_xml(corp_id: str, from_user: str, event: str, fields: Mapping[str, Any] | None = None,
              **common: Any) -> str:
    """Any event (`click`, `enter_agent`, ...): extra fields go in as given."""
    return _inner_xml(corp_id, from_user, "event", {"Event": event, **(fields or {})}, **common)


def card_event_xml(corp_id: str, from_user: str, task_id: str, event_key: str, *,
                   response_code: str | None = None, card_type: str = "button_interaction",
                   selected: Mapping[str, list[str]] | None = None, **common: Any) -> str:
    """A template_card_event: a button click, or a vote/multiple submit with `selected`
    = {question_key: [option ids]}."""
    children = []
    if selected:
        items = ET.Element("SelectedItems")
        for question_key, option_ids in selected.items():
            item = ET.SubElement(items, "SelectedItem")
            ET.SubElement(item, "QuestionKey").text = question_key
            ids = ET.SubElement(item, "OptionIds")
            for option_id in option_ids:
                ET.SubElement(ids, "OptionId").text = option_id
        children.append(items)
    fields = {"Event": "template_card_event", "EventKey": event_key, "TaskId": task_id,
              "CardType": card_type, "ResponseCode": response_code or new_response_code()}
    return _inner_xml(corp_id, from_user, "event", fields, children=children, **common)


def contact_event_xml(corp_id: str, user_id: str, external_userid: str,
                      change_type: str = "add_external_contact", *, state: str | None = None,
                      welcome_code: str | None = None, **common: Any) -> str:
    """A change_external_contact event (FromUserName is "sys", the member is UserID)."""
    fields = {"Event": "change_external_contact", "ChangeType": change_type, "UserID": user_id,
              "ExternalUserID": external_userid, "State": state,
              "WelcomeCode": welcome_code if welcome_code is not None else (
                  secrets.token_urlsafe(16) if change_type == "add_external_contact" else None)}
    return _inner_xml(corp_id, "sys", "event", fields, **common)


def new_response_code() -> str:
    return "RC" + secrets.token_urlsafe(24)


# ------------------------------------------------------------------------------------------------
# The HTTP API (us → WeCom)

MSG_TYPES = frozenset({"text", "markdown", "image", "voice", "video", "file", "textcard", "news",
                       "mpnews", "miniprogram_notice", "template_card"})
INTERACTIVE_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
CARD_TYPES = INTERACTIVE_CARDS | {"text_notice", "news_notice"}
TASK_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-@")
MAX_CONTENT_BYTES = 2048
# media/upload limits per type (platforms.md 1.5, unverified): image 10 MB jpg/png, voice 2 MB amr,
# video 10 MB mp4, file 20 MB.
MEDIA_LIMITS = {"image": 10 * 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024,
                "file": 20 * 1024 * 1024}


class WeComAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errmsg)
        self.errcode, self.errmsg = errcode, errmsg


@dataclass
class _Failure:
    code: int                  # 100–599: an HTTP status; anything else: a WeCom errcode
    remaining: int
    path: str | None


@dataclass
class FakeWeComState:
    """What the fake remembers; the test or the demo simulator arranges it and reads `sent`.

    Thread-safe: the fake server answers from its own threads."""
    corp_id: str = "wwfakecorp0000001"
    secret: str = "fake-app-secret"
    agent_id: int = 1000002
    token_ttl_s: int = 7200
    sent: list[dict[str, Any]] = field(default_factory=list)      # messages and card updates
    calls: list[tuple[str, str]] = field(default_factory=list)   # (method, /cgi-bin/... path)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._tokens: dict[str, float] = {}          # token → expires at (monotonic)
        self._current_token: str | None = None
        self._task_ids: set[str] = set()
        self._response_codes: dict[str, bool] = {}  # code → used
        self._media: dict[str, tuple[bytes, str, str]] = {}
        self._login_codes: dict[str, str] = {}
        self._contacts: dict[str, dict[str, Any]] = {}
        self._members: set[str] | None = None       # None: every recipient is valid
        self._failures: list[_Failure] = []

    # -- arranged by tests / the simulator ------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every issued token now answers 42001, as when WeCom invalidates tokens early."""
        with self._lock:
            self._tokens = {token: 0.0 for token in self._tokens}
            self._current_token = None

    def fail_next(self, code: int, n: int = 1, path: str | None = None) -> None:
        """The next `n` API calls (to `path`, e.g. "/cgi-bin/message/send"; by default any but
        gettoken) fail: 100–599 → that HTTP status, anything else → that errcode (45009, -1...)."""
        with self._lock:
            self._failures.append(_Failure(code, n, path))

    def add_media(self, content: bytes, content_type: str, filename: str | None = None) -> str:
        media_id = "MEDIA_" + secrets.token_urlsafe(18)
        extension = content_type.split("/")[-1].split(";")[0]
        with self._lock:
            self._media[media_id] = (content, content_type, filename or f"{media_id}.{extension}")
        return media_id

    def add_login_code(self, userid: str, code: str | None = None) -> str:
        """An OAuth code for `userid`, valid for one auth/getuserinfo call."""
        code = code or secrets.token_urlsafe(16)
        with self._lock:
            self._login_codes[code] = userid
        return code

    def add_external_contact(self, external_userid: str, name: str, *,
                             follow_user: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        with self._lock:
            self._contacts[external_userid] = {
                "external_contact": {"external_userid": external_userid, "name": name, "type": 1,
                                     **extra},
                "follow_user": follow_user or []}

    def external_contacts_of(self, userid: str) -> list[dict[str, Any]]:
        """The external contacts `userid` follows, as externalcontact/get answers each (the demo's
        simulator lists them as 客户聊天)."""
        with self._lock:
            return [dict(c) for c in self._contacts.values()
                    if any(f.get("userid") == userid for f in c["follow_user"])]

    def media_file(self, media_id: str) -> tuple[bytes, str] | None:
        """(content, content type) of an uploaded or added media id, as media/get would answer."""
        with self._lock:
            found = self._media.get(media_id)
        return (found[0], found[1]) if found else None

    def set_members(self, userids: Iterable[str]) -> None:
        """Only these userids are valid recipients; others come back in `invaliduser`."""
        with self._lock:
            self._members = set(userids)

    def new_response_code(self) -> str:
        """A ResponseCode WeCom would put in a click callback (usable once for an update)."""
        code = new_response_code()
        with self._lock:
            self._response_codes[code] = False
        return code

    def sent_to(self, path_suffix: str) -> list[dict[str, Any]]:
        with self._lock:
            return [entry for entry in self.sent if entry["path"].endswith(path_suffix)]

    def call_count(self, path_suffix: str) -> int:
        with self._lock:
            return sum(1 for _, path in self.calls if path.endswith(path_suffix))

    # -- used by the blueprint ------------------------------------------------------------------

    def _take_failure(self, path: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                matches = (path.endswith(failure.path) if failure.path
                           else not path.endswith("/gettoken"))
                if matches and failure.remaining > 0:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure.code
        return None

    def _issue_token(self, corpid: str, corpsecret: str) -> tuple[str, int]:
        if corpid != self.corp_id:
            raise WeComAPIError(40013, "invalid corpid")
        if corpsecret != self.secret:
            raise WeComAPIError(40001, "invalid credential, access_token is invalid or not latest")
        with self._lock:
            now = time.monotonic()
            token = self._current_token
            if not token or self._tokens.get(token, 0) <= now:
                token = secrets.token_urlsafe(48)
                self._tokens[token] = now + self.token_ttl_s
                self._current_token = token
            return token, int(self._tokens[token] - now)

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise WeComAPIError(41001, "access_token missing")
        with self._lock:
            expires_at = self._tokens.get(token)
        if expires_at is None:
            raise WeComAPIError(40014, "invalid access_token")
        if expires_at <= time.monotonic():
            raise WeComAPIError(42001, "access_token expired")

    def _record(self, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.sent.append({"path": path, "body": body, "time": time.time()})


def create_fake_wecom_blueprint(state: FakeWeComState) -> Blueprint:
    bp = Blueprint("fake_wecom", __name__)

    @bp.before_request
    def _inject_failure() -> Response | None:
        path = _api_path()
        if path is None:
            return None
        with state._lock:
            state.calls.append((request.method, path))
        code = state._take_failure(path)
        if code is None:
            return None
        if 100 <= code <= 599:
            return Response(f"injected HTTP {code}", status=code, mimetype="text/plain")
        return jsonify(errcode=code, errmsg="injected failure")

    @bp.errorhandler(WeComAPIError)
    def _api_error(exc: WeComAPIError) -> Response:
        return jsonify(errcode=exc.errcode, errmsg=exc.errmsg)  # WeCom answers errors with 200

    @bp.get("/cgi-bin/gettoken")
    def gettoken():
        token, expires_in = state._issue_token(request.args.get("corpid", ""),
                                               request.args.get("corpsecret", ""))
        return jsonify(errcode=0, errmsg="ok", access_token=token, expires_in=expires_in)

    @bp.post("/cgi-bin/message/send")
    def message_send():
        state._check_token(request.args.get("access_token"))
        body = _json_body()
        reply = _check_send(state, body)
        state._record("/cgi-bin/message/send", body)
        return jsonify(reply)

    @bp.post("/cgi-bin/message/update_template_card")
    def update_template_card():
        state._check_token(request.args.get("access_token"))
        body = _json_body()
        _check_update(state, body)
        state._record("/cgi-bin/message/update_template_card", body)
        return jsonify(errcode=0, errmsg="ok", invaliduser=[])

    @bp.get("/cgi-bin/media/get")
    def media_get():
        state._check_token(request.args.get("access_token"))
        with state._lock:
            media = state._media.get(request.args.get("media_id", ""))
        if media is None:
            raise WeComAPIError(40007, "invalid media_id")
        content, content_type, filename = media
        # RFC 6266: an ASCII fallback plus the UTF-8 name (HTTP headers are latin-1)
        fallback = filename.encode("ascii", "replace").decode().replace('"', "_")
        disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
        return Response(content, content_type=content_type,
                        headers={"Content-Disposition": disposition})

    @bp.post("/cgi-bin/media/upload")
    def media_upload():
        state._check_token(request.args.get("access_token"))
        kind = request.args.get("type", "")
        if kind not in ("image", "voice", "video", "file"):
            raise WeComAPIError(40004, "invalid media type")
        upload = request.files.get("media")
        if upload is None:
            raise WeComAPIError(44001, "empty media data")
        content = upload.read()
        if len(content) > MEDIA_LIMITS[kind]:
            raise WeComAPIError(40006, "invalid file size")
        if kind == "image" and not content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            raise WeComAPIError(40005, "invalid file type")  # images must be jpg or png
        media_id = state.add_media(content, upload.mimetype or "application/octet-stream",
                                   upload.filename)
        return jsonify(errcode=0, errmsg="ok", type=kind, media_id=media_id,
                       created_at=str(int(time.time())))

    @bp.get("/cgi-bin/externalcontact/get")
    def externalcontact_get():
        state._check_token(request.args.get("access_token"))
        with state._lock:
            contact = state._contacts.get(request.args.get("external_userid", ""))
        if contact is None:
            raise WeComAPIError(84061, "not external contact")  # code unverified
        return jsonify(errcode=0, errmsg="ok", next_cursor="", **contact)

    @bp.get("/cgi-bin/auth/getuserinfo")
    def auth_getuserinfo():
        state._check_token(request.args.get("access_token"))
        with state._lock:
            userid = state._login_codes.pop(request.args.get("code", ""), None)  # single use
        if userid is None:
            raise WeComAPIError(40029, "invalid code")
        return jsonify(errcode=0, errmsg="ok", userid=userid)

    @bp.get("/cgi-bin/get_jsapi_ticket")
    def get_jsapi_ticket():
        state._check_token(request.args.get("access_token"))
        return jsonify(errcode=0, errmsg="ok", ticket="corp-" + secrets.token_urlsafe(24),
                       expires_in=7200)

    @bp.get("/cgi-bin/ticket/get")
    def ticket_get():
        state._check_token(request.args.get("access_token"))
        if request.args.get("type") != "agent_config":
            raise WeComAPIError(40058, "type must be agent_config")
        return jsonify(errcode=0, errmsg="ok", ticket="agent-" + secrets.token_urlsafe(24),
                       expires_in=7200)

    @bp.get("/sent")
    def sent():
        with state._lock:
            return jsonify(list(state.sent))

    return bp


def start_fake_wecom(state: FakeWeComState | None = None
                     ) -> tuple[str, FakeWeComState, Callable[[], None]]:
    """Serve a fake WeCom on 127.0.0.1:<free port> in a thread → (base_url, state, stop)."""
    state = state or FakeWeComState()
    app = Flask("fake_wecom")
    app.register_blueprint(create_fake_wecom_blueprint(state))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-wecom", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}", state, stop


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # keep test output readable
        pass


# -- request checks, shaped like WeCom's answers ----------------------------------------------

def _api_path() -> str | None:
    index = request.path.find("/cgi-bin/")
    return request.path[index:] if index >= 0 else None


def _json_body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise WeComAPIError(47001, "data format error")
    return body


def _check_send(state: FakeWeComState, body: dict[str, Any]) -> dict[str, Any]:
    if not any(body.get(name) for name in ("touser", "toparty", "totag")):
        raise WeComAPIError(40058, "touser, toparty and totag are all empty")
    if body.get("agentid") != state.agent_id:
        raise WeComAPIError(40056, "invalid agentid")
    msg_type = body.get("msgtype")
    if msg_type not in MSG_TYPES:
        raise WeComAPIError(40008, f"invalid message type {msg_type!r}")
    content = body.get(msg_type)
    if not isinstance(content, dict):
        raise WeComAPIError(40058, f"missing {msg_type} object")
    if msg_type in ("text", "markdown"):
        text = content.get("content")
        if not text:
            raise WeComAPIError(44004, "empty content")
        if len(text.encode("utf-8")) > MAX_CONTENT_BYTES:
            raise WeComAPIError(45002, "content size out of limit")

    if msg_type in ("image", "voice", "video", "file"):
        with state._lock:
            known = content.get("media_id") in state._media
        if not known:
            raise WeComAPIError(40007, "invalid media_id")

    response_code = None
    if msg_type == "template_card":
        _check_card(content, sending=True)
        with state._lock:
            task_id = content.get("task_id")
            if task_id and task_id in state._task_ids:
                # WeCom keeps task_ids unique per app forever; its errcode here is unverified.
                raise WeComAPIError(40058, f"task_id {task_id} has been used")
            if task_id:
                state._task_ids.add(task_id)
        if content.get("card_type") in INTERACTIVE_CARDS or content.get("action_menu"):
            response_code = state.new_response_code()

    recipients = [u for u in str(body.get("touser", "")).split("|") if u]
    with state._lock:
        members = state._members
    invalid = [u for u in recipients if members is not None and u != "@all" and u not in members]
    if recipients and len(invalid) == len(recipients) and not (body.get("toparty") or body.get("totag")):
        raise WeComAPIError(81013, "user & party & tag all invalid")
    reply = {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid),
             "msgid": "MSG" + secrets.token_urlsafe(16)}
    if response_code:
        reply["response_code"] = response_code
    return reply


def _check_update(state: FakeWeComState, body: dict[str, Any]) -> None:
    if body.get("agentid") != state.agent_id:
        raise WeComAPIError(40056, "invalid agentid")
    code = body.get("response_code")
    if not code:
        raise WeComAPIError(40058, "missing response_code")
    if not (body.get("userids") or body.get("partyids") or body.get("tagids") or body.get("atall")):
        raise WeComAPIError(40058, "no recipients")
    button, card = body.get("button"), body.get("template_card")
    if (button is None) == (card is None):
        raise WeComAPIError(40058, "give exactly one of button or template_card")
    if button is not None and not (isinstance(button, dict) and button.get("replace_name")):
        raise WeComAPIError(40058, "button.replace_name required")
    if card is not None:
        _check_card(card, sending=False)
    with state._lock:
        # A code the fake never issued is accepted once: the demo simulator may make up clicks.
        if state._response_codes.get(code):
            raise WeComAPIError(60140, "response_code has been used or expired")
        state._response_codes[code] = True


def _check_card(card: Any, *, sending: bool) -> None:
    """The required fields of platforms.md 1.6 (task_id matters only when sending)."""
    if not isinstance(card, dict):
        raise WeComAPIError(40058, "template_card must be an object")
    card_type = card.get("card_type")
    if card_type not in CARD_TYPES:
        raise WeComAPIError(40058, f"invalid card_type {card_type!r}")
    main_title = card.get("main_title") or {}
    task_id = card.get("task_id")
    if task_id is not None and (not isinstance(task_id, str) or not task_id
                                or len(task_id.encode()) > 128 or set(task_id) - TASK_ID_CHARS):
        raise WeComAPIError(40058, "task_id must be [0-9A-Za-z_-@]{1,128}")
    if sending and (card_type in INTERACTIVE_CARDS or card.get("action_menu")) and not task_id:
        raise WeComAPIError(40058, "task_id required")
    if len(card.get("horizontal_content_list") or []) > 6:
        raise WeComAPIError(40058, "horizontal_content_list has more than 6 items")
    if any(not item.get("keyname") for item in card.get("horizontal_content_list") or []):
        raise WeComAPIError(40058, "horizontal_content_list.keyname required")
    if len(card.get("jump_list") or []) > 3:
        raise WeComAPIError(40058, "jump_list has more than 3 items")

    if card_type in ("text_notice", "news_notice"):
        action = card.get("card_action") or {}
        if action.get("type") not in (1, 2) or (action.get("type") == 1 and not action.get("url")):
            raise WeComAPIError(42045, "Template_Card.card_action missing or invalid")
        if card_type == "text_notice" and not (main_title.get("title") or card.get("sub_title_text")):
            raise WeComAPIError(40058, "main_title.title or sub_title_text required")
    else:
        if not main_title.get("title"):
            raise WeComAPIError(40058, "main_title.title required")
    if card_type == "button_interaction":
        _check_buttons(card.get("button_list"))
    if card_type in ("vote_interaction", "multiple_interaction") and not (
            card.get("submit_button") or {}).get("key"):
        raise WeComAPIError(40058, "submit_button.key required")


def _check_buttons(buttons: Any) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
        raise WeComAPIError(40058, "button_list must have 1 to 6 buttons")
    keys = set()
    for button in buttons:
        if not isinstance(button, dict) or not button.get("text"):
            raise WeComAPIError(40058, "button text required")
        if button.get("style", 1) not in (1, 2, 3, 4):
            raise WeComAPIError(40058, "button style must be 1 to 4")
        if button.get("type", 0) == 1:
            if not button.get("url"):
                raise WeComAPIError(40058, "url button without url")
            continue
        key = button.get("key")
        if not key or len(key.encode("utf-8")) > 1024 or key in keys:
            raise WeComAPIError(40058, "button key missing, too long or repeated")
        keys.add(key)
