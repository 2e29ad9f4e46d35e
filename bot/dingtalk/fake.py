"""A fake DingTalk for tests and the demo: the API endpoints crmbot calls, plus request builders.

The demo mounts `create_fake_dingtalk_blueprint(state)` at /dev/fake/dingtalk/ and points
DINGTALK_API_BASE and DINGTALK_OAPI_BASE at it (both hosts live under one prefix here). Tests use
`start_fake_dingtalk()`, which serves the same blueprint on 127.0.0.1 in a thread.

It answers in DingTalk's own shapes: new-API errors are HTTP 4xx `{"code","message","requestid"}`
(401 InvalidAuthentication for a bad token), oapi errors are HTTP 200 `{"errcode","errmsg"}`
(40014 unknown token, 42001 expired token). `GET /sent` lists everything sent or updated.
Behaviour DingTalk does not document (session-webhook errors, duplicate outTrackIds) is the fake's own.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Flask, Response, abort, jsonify, request, url_for

from bot.dingtalk.adapter import card_callback_sign, robot_sign

FAKE_APP_KEY = "dingfakeappkey"
FAKE_APP_SECRET = "fake-app-secret-0123456789"
FAKE_CORP_ID = "dingfakecorp"
FAKE_AGENT_ID = 1000001
TOKEN_PATH = "/v1.0/oauth2/accessToken"


@dataclass
class _Fault:
    failure: int | str
    remaining: int
    path: str | None


class FakeDingTalkState:
    """What the fake platform knows and has received. Thread-safe: the test server is threaded."""

    def __init__(self, app_key: str = FAKE_APP_KEY, app_secret: str = FAKE_APP_SECRET,
                 robot_code: str | None = None, agent_id: int = FAKE_AGENT_ID,
                 corp_id: str = FAKE_CORP_ID, base_url: str | None = None):
        self.app_key = app_key
        self.app_secret = app_secret
        self.robot_code = robot_code or app_key
        self.agent_id = agent_id
        self.corp_id = corp_id
        self.base_url = base_url          # needed only for session_webhook_url()
        self.lock = threading.Lock()
        self.valid_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()
        self.token_requests = 0
        self.files: dict[str, bytes] = {}
        self.media: dict[str, tuple[str, bytes, str]] = {}   # media_id -> (type, content, filename)
        self.flow_controlled: set[str] = set()
        self.invalid_users: set[str] = set()
        self.auth_codes: dict[str, str] = {}
        self.sessions: dict[str, int] = {}   # session -> expiry (ms)
        self.cards: dict[str, dict[str, str]] = {}
        self.card_callbacks: dict[str, dict[str, str]] = {}   # routeKey -> {callbackUrl, apiSecret}
        self.sent: list[dict[str, Any]] = []
        self.jsapi_ticket = "fake-jsapi-ticket-" + secrets.token_hex(4)
        self._faults: list[_Fault] = []

    # --- set-up helpers for tests and the demo ---

    def add_file(self, data: bytes) -> str:
        code = "dlcode-" + secrets.token_urlsafe(12)
        with self.lock:
            self.files[code] = data
        return code

    def flow_control(self, user_id: str) -> None:
        """batchSend will report this user in flowControlledStaffIdList."""
        with self.lock:
            self.flow_controlled.add(user_id)

    def mark_invalid(self, user_id: str) -> None:
        with self.lock:
            self.invalid_users.add(user_id)

    def add_auth_code(self, code: str, user_id: str) -> None:
        """A mini-app login code (single use) that resolves to `user_id`."""
        with self.lock:
            self.auth_codes[code] = user_id

    def session_webhook_url(self, session: str | None = None, expires_in_s: int = 5400) -> str:
        if not self.base_url:
            raise RuntimeError("set state.base_url to build session webhook URLs")
        session = session or secrets.token_hex(8)
        with self.lock:
            self.sessions[session] = int(time.time() * 1000) + expires_in_s * 1000
        return f"{self.base_url}/robot/sendBySession?session={session}"

    def expire_tokens(self) -> None:
        """Every issued token now counts as expired (401 / errcode 42001)."""
        with self.lock:
            self.expired_tokens |= self.valid_tokens
            self.valid_tokens.clear()

    def fail_next(self, failure: int | str, n: int = 1, path: str | None = None) -> None:
        """Make the next `n` calls fail. `failure`: an HTTP status (100..599, DingTalk-shaped JSON
        body), an oapi errcode (any other int, HTTP 200 {"errcode"}), or "html" (an HTML 403 page like
        the per-IP ban). `path` (e.g. "/v1.0/robot/oToMessages/batchSend") limits it to one endpoint;
        without it any endpoint except the token endpoint and /sent fails."""
        with self.lock:
            self._faults.append(_Fault(failure, n, path))

    def sent_to(self, api: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.sent if s["api"] == api]

    def button_texts(self, user: str) -> list[str]:
        """What tapping the ActionCard buttons sent to `user` makes their client send (the
        `content` of each dtmd://dingtalkclient/sendMessage URL), oldest first."""
        texts = []
        for entry in self.sent_to("batchSend"):
            if user in entry["body"].get("userIds", []):
                texts += [parse_qs(urlsplit(url).query).get("content", [""])[0]
                          for name, url in entry["msg_param"].items()
                          if "url" in name.lower() and str(url).startswith("dtmd://")]
        return texts

    # --- used by the endpoints ---

    def _record(self, api: str, body: dict, **extra: Any) -> None:
        with self.lock:
            self.sent.append({"api": api, "body": body, "at": time.time(), **extra})

    def _take_fault(self, path: str) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.path is None and path in (TOKEN_PATH, "/sent"):
                    continue
                if fault.path is None or path.endswith(fault.path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def create_fake_dingtalk_blueprint(state: FakeDingTalkState) -> Blueprint:
    bp = Blueprint("fake_dingtalk", __name__)

    def new_api_error(status: int, code: str, message: str) -> Response:
        resp = jsonify({"code": code, "message": message, "requestid": secrets.token_hex(8)})
        resp.status_code = status
        return resp

    def oapi_error(errcode: int, errmsg: str) -> Response:
        return jsonify({"errcode": errcode, "errmsg": errmsg, "request_id": secrets.token_hex(8)})

    @bp.before_request
    def inject_fault():
        fault = state._take_fault(_api_path(request.path))
        if fault is None:
            return None
        if fault.failure == "html":
            return Response("<html><body>访问被拒绝</body></html>", status=403, mimetype="text/html")
        if isinstance(fault.failure, int) and 100 <= fault.failure <= 599:
            status = fault.failure
            code = {429: "Throttling", 401: "InvalidAuthentication"}.get(
                status, "ServiceUnavailable" if status >= 500 else "invalidParameter")
            return new_api_error(status, code, f"fake fault {status}")
        return oapi_error(int(fault.failure), f"fake fault {fault.failure}")

    def new_api_auth() -> Response | None:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        with state.lock:
            valid = token in state.valid_tokens
        if not valid:
            return new_api_error(401, "InvalidAuthentication", "不合法的access_token")
        return None

    def oapi_auth() -> Response | None:
        token = request.args.get("access_token", "")
        with state.lock:
            valid, expired = token in state.valid_tokens, token in state.expired_tokens
        if expired:
            return oapi_error(42001, "access_token已过期")
        if not valid:
            return oapi_error(40014, "不合法的access_token")
        return None

    def body() -> dict:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @bp.post(TOKEN_PATH)
    def access_token():
        data = body()
        if data.get("appKey") != state.app_key or data.get("appSecret") != state.app_secret:
            return new_api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        with state.lock:
            state.token_requests += 1
            # Within its validity DingTalk hands out the same token again.
            token = next(iter(state.valid_tokens), None) or "fake-token-" + secrets.token_hex(8)
            state.valid_tokens.add(token)
        return jsonify({"accessToken": token, "expireIn": 7200})

    @bp.post("/v1.0/robot/messageFiles/download")
    def message_file_download():
        if (denied := new_api_auth()) is not None:
            return denied
        data = body()
        if data.get("robotCode") != state.robot_code:
            return new_api_error(400, "invalidParameter.robotCode", "robotCode不合法")
        code = data.get("downloadCode")
        if code not in state.files:
            return new_api_error(400, "invalidParameter.downloadCode", "downloadCode不合法")
        return jsonify({"downloadUrl": url_for(".serve_file", code=code, _external=True)})

    @bp.get("/files/<code>")
    def serve_file(code: str):
        data = state.files.get(code)
        if data is None:
            abort(404)
        return Response(data, mimetype="application/octet-stream")

    @bp.post("/v1.0/robot/oToMessages/batchSend")
    def batch_send():
        if (denied := new_api_auth()) is not None:
            return denied
        data = body()
        if (problem := _check_robot_message(data, state)) is not None:
            return new_api_error(400, *problem)
        users = data.get("userIds") or []
        if not isinstance(users, list) or not 0 < len(users) <= 20:
            return new_api_error(400, "invalidParameter.userIds", "userIds数量需在1到20之间")
        with state.lock:
            invalid = [u for u in users if u in state.invalid_users]
            flow = [u for u in users if u in state.flow_controlled and u not in invalid]
        delivered = [u for u in users if u not in invalid and u not in flow]
        key = "pqk-" + secrets.token_hex(8)
        state._record("batchSend", data, msg_param=json.loads(data["msgParam"]), delivered=delivered,
                      process_query_key=key)
        return jsonify({"processQueryKey": key, "invalidStaffIdList": invalid,
                        "flowControlledStaffIdList": flow})

    @bp.post("/media/upload")
    def media_upload():
        """oapi media/upload: multipart `media`, ?type=image|voice|video|file → media_id."""
        if (denied := oapi_auth()) is not None:
            return denied
        kind = request.args.get("type", "")
        if kind not in MEDIA_LIMITS:
            return oapi_error(40004, "不合法的媒体文件类型")
        upload = request.files.get("media")
        if upload is None:
            return oapi_error(41005, "缺少多媒体文件数据")
        content = upload.read()
        if len(content) > MEDIA_LIMITS[kind]:
            return oapi_error(40006, "不合法的文件大小")
        if kind == "image" and not content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            return oapi_error(40005, "不合法的文件类型")
        media_id = "@lA" + secrets.token_urlsafe(16)
        with state.lock:
            state.media[media_id] = (kind, content, upload.filename or "")
        state._record("mediaUpload", {"type": kind, "filename": upload.filename, "size": len(content)},
                      media_id=media_id)
        return jsonify({"errcode": 0, "errmsg": "ok", "type": kind, "media_id": media_id,
                        "created_at": int(time.time() * 1000)})

    @bp.post("/v1.0/robot/groupMessages/send")
    def group_send():
        if (denied := new_api_auth()) is not None:
            return denied
        data = body()
        if (problem := _check_robot_message(data, state)) is not None:
            return new_api_error(400, *problem)
        if not data.get("openConversationId"):
            return new_api_error(400, "invalidParameter.openConversationId", "openConversationId不能为空")
        key = "pqk-" + secrets.token_hex(8)
        state._record("groupSend", data, msg_param=json.loads(data["msgParam"]), process_query_key=key)
        return jsonify({"processQueryKey": key})

    @bp.post("/robot/sendBySession")
    def session_webhook():
        session = request.args.get("session", "")
        with state.lock:
            expires = state.sessions.get(session)
        if expires is None or expires < time.time() * 1000:
            return oapi_error(300001, "session不存在或已过期")  # fake's own code
        data = body()
        if data.get("msgtype") not in ("text", "markdown", "actionCard", "link", "feedCard"):
            return oapi_error(40035, "缺少参数 msgtype")
        state._record("webhook", data, session=session)
        return jsonify({"errcode": 0, "errmsg": "ok"})

    @bp.post("/v1.0/card/instances/createAndDeliver")
    def card_create_and_deliver():
        if (denied := new_api_auth()) is not None:
            return denied
        data = body()
        out_track_id = data.get("outTrackId")
        params = (data.get("cardData") or {}).get("cardParamMap")
        space = data.get("openSpaceId") or ""
        if not data.get("cardTemplateId") or not out_track_id:
            return new_api_error(400, "invalidParameter", "cardTemplateId/outTrackId不能为空")
        if not _all_strings(params):
            return new_api_error(400, "invalidParameter.cardParamMap", "cardParamMap的值必须是字符串")
        if space.startswith("dtv1.card//IM_ROBOT.") and "imRobotOpenDeliverModel" not in data:
            return new_api_error(400, "invalidParameter", "缺少imRobotOpenDeliverModel")
        if space.startswith("dtv1.card//IM_GROUP.") and "imGroupOpenDeliverModel" not in data:
            return new_api_error(400, "invalidParameter", "缺少imGroupOpenDeliverModel")
        if not space.startswith(("dtv1.card//IM_ROBOT.", "dtv1.card//IM_GROUP.")):
            return new_api_error(400, "invalidParameter.openSpaceId", "openSpaceId不合法")
        if (problem := _check_deliver_model(data, space, state)) is not None:
            return new_api_error(400, *problem)
        with state.lock:
            state.cards[out_track_id] = dict(params)
        state._record("cardCreate", data)
        space_type, space_id = space.removeprefix("dtv1.card//").split(".", 1)
        return jsonify({"success": True, "result": {"outTrackId": out_track_id, "deliverResults": [
            {"spaceType": space_type, "spaceId": space_id, "success": True,
             "carrierId": "carrier-" + secrets.token_hex(6)}]}})

    @bp.put("/v1.0/card/instances")
    def card_update():
        if (denied := new_api_auth()) is not None:
            return denied
        data = body()
        out_track_id = data.get("outTrackId")
        params = (data.get("cardData") or {}).get("cardParamMap")
        if not _all_strings(params):
            return new_api_error(400, "invalidParameter.cardParamMap", "cardParamMap的值必须是字符串")
        with state.lock:
            if out_track_id not in state.cards:
                return new_api_error(400, "param.cardInstanceNotExist", "卡片实例不存在")
            by_key = (data.get("cardUpdateOptions") or {}).get("updateCardDataByKey", False)
            state.cards[out_track_id] = {**state.cards[out_track_id], **params} if by_key else dict(params)
        state._record("cardUpdate", data)
        return jsonify({"success": True, "result": True})

    @bp.post("/v1.0/card/callbacks/register")
    def card_callback_register():
        if (denied := new_api_auth()) is not None:
            return denied
        data = body()
        route_key, url = data.get("callbackRouteKey"), data.get("callbackUrl")
        if not route_key or not url or not data.get("apiSecret"):
            return new_api_error(400, "invalidParameter", "callbackRouteKey/callbackUrl/apiSecret不能为空")
        with state.lock:
            # A first registration sticks unless forceUpdate is set (as DingTalk documents it).
            if route_key not in state.card_callbacks or data.get("forceUpdate"):
                state.card_callbacks[route_key] = {"callbackUrl": url, "apiSecret": data["apiSecret"]}
            entry = dict(state.card_callbacks[route_key])
        state._record("cardCallbackRegister", data)
        return jsonify({"success": True, "result": {"callbackUrl": entry["callbackUrl"]}})

    @bp.post("/topapi/message/corpconversation/asyncsend_v2")
    def work_notice():
        if (denied := oapi_auth()) is not None:
            return denied
        data = body()
        if str(data.get("agent_id")) != str(state.agent_id):
            return oapi_error(60011, "没有调用该接口的权限")
        users = [u for u in str(data.get("userid_list") or "").split(",") if u]
        msg = data.get("msg")
        if not users or len(users) > 100 or not isinstance(msg, dict) or "msgtype" not in msg:
            return oapi_error(400002, "参数不合法")
        task_id = int(time.time() * 1000) % 10**9
        state._record("workNotice", data, users=users, task_id=task_id)
        return jsonify({"errcode": 0, "errmsg": "ok", "task_id": task_id,
                        "request_id": secrets.token_hex(8)})

    @bp.post("/topapi/v2/user/getuserinfo")
    def user_by_auth_code():
        if (denied := oapi_auth()) is not None:
            return denied
        code = body().get("code", "")
        with state.lock:
            user_id = state.auth_codes.pop(code, None)   # codes are single use
        if user_id is None:
            return oapi_error(40078, "不存在的临时授权码")
        return jsonify({"errcode": 0, "errmsg": "ok", "result": {
            "userid": user_id, "unionid": "union-" + user_id, "name": user_id,
            "associated_unionid": "", "device_id": "fake-device", "sys": False, "sys_level": 0}})

    @bp.get("/get_jsapi_ticket")
    def jsapi_ticket():
        if (denied := oapi_auth()) is not None:
            return denied
        return jsonify({"errcode": 0, "errmsg": "ok", "ticket": state.jsapi_ticket, "expires_in": 7200})

    @bp.get("/sent")
    def sent():
        with state.lock:
            return jsonify({"sent": list(state.sent), "cards": dict(state.cards)})

    return bp


# oapi media/upload size limits per type. Unverified: older docs say image 1 MB (jpg/png), voice
# 2 MB, video 10 MB, file 10 MB; newer ones give larger figures. The fake keeps the strict ones.
MEDIA_LIMITS = {"image": 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024,
                "file": 10 * 1024 * 1024}


def _api_path(path: str) -> str:
    """The path without the mount prefix (e.g. /dev/fake/dingtalk), for fault matching."""
    for root in ("/v1.0/", "/topapi/", "/robot/", "/files/", "/media/", "/get_jsapi_ticket", "/sent"):
        at = path.find(root)
        if at >= 0:
            return path[at:]
    return path


def _check_robot_message(data: dict, state: FakeDingTalkState) -> tuple[str, str] | None:
    if data.get("robotCode") != state.robot_code:
        return "invalidParameter.robotCode", "robotCode不合法"
    if not data.get("msgKey"):
        return "invalidParameter.msgKey", "msgKey不能为空"
    param = data.get("msgParam")
    if not isinstance(param, str):
        return "invalidParameter.msgParam", "msgParam必须是JSON字符串"
    try:
        decoded = json.loads(param)
    except ValueError:
        return "invalidParameter.msgParam", "msgParam不是合法的JSON"
    if data["msgKey"] == "sampleImageMsg":
        photo = str(decoded.get("photoURL") or "") if isinstance(decoded, dict) else ""
        with state.lock:
            known = state.media.get(photo)
        if not (photo.startswith(("http://", "https://")) or (known and known[0] == "image")):
            return "invalidParameter.photoURL", "photoURL不是可访问的图片地址或图片media_id"
    return None


def _check_deliver_model(data: dict, space: str, state: FakeDingTalkState) -> tuple[str, str] | None:
    """The deliver model of a robot space names the robot; a group's may @ members
    (`atUserIds` {userid: name}) and limit who sees the card (`recipients` [userid])."""
    if space.startswith("dtv1.card//IM_GROUP."):
        model = data.get("imGroupOpenDeliverModel")
        if not isinstance(model, dict) or model.get("robotCode") != state.robot_code:
            return "invalidParameter.robotCode", "imGroupOpenDeliverModel.robotCode不合法"
        at = model.get("atUserIds", {})
        recipients = model.get("recipients", [])
        if not _all_strings(at) or not (isinstance(recipients, list) and all(isinstance(r, str) for r in recipients)):
            return "invalidParameter", "atUserIds/recipients格式不正确"
        if not space.removeprefix("dtv1.card//IM_GROUP."):
            return "invalidParameter.openSpaceId", "openConversationId不能为空"
    else:
        model = data.get("imRobotOpenDeliverModel")
        if not isinstance(model, dict) or model.get("robotCode") != state.robot_code \
                or model.get("spaceType") != "IM_ROBOT":
            return "invalidParameter.robotCode", "imRobotOpenDeliverModel不合法"
    return None


def _all_strings(params: Any) -> bool:
    return isinstance(params, dict) and all(isinstance(v, str) for v in params.values())


def start_fake_dingtalk(state: FakeDingTalkState | None = None, url_prefix: str = ""
                        ) -> tuple[str, FakeDingTalkState, Callable[[], None]]:
    """Serve the fake on 127.0.0.1 (free port) in a thread. Returns (base_url, state, stop);
    base_url (including `url_prefix`, e.g. "/dev/fake/dingtalk") is both the API and the oapi base."""
    from werkzeug.serving import make_server

    state = state or FakeDingTalkState()
    app = Flask("fake_dingtalk")
    app.register_blueprint(create_fake_dingtalk_blueprint(state), url_prefix=url_prefix or None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}{url_prefix}"
    state.base_url = state.base_url or base_url
    # A short poll interval makes stop() quick (the default 0.5 s adds up over a test run).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-dingtalk", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    return base_url, state, stop


# ---------------------------------------------------------------------------------------------------
# Builders of what DingTalk sends us (tests and the demo simulator)


def build_robot_request(app_secret: str, message: dict, timestamp_ms: int | None = None
                        ) -> tuple[dict[str, str], bytes]:
    """Headers and body of a signed robot-message callback, as DingTalk POSTs it."""
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    headers = {"Content-Type": "application/json; charset=utf-8", "timestamp": str(timestamp_ms),
               "sign": robot_sign(app_secret, timestamp_ms)}
    return headers, json.dumps(message, ensure_ascii=False).encode()


def card_callback_data(out_track_id: str, user_id: str, action_ids: list[str] | None = None,
                       params: dict | None = None, corp_id: str = FAKE_CORP_ID) -> dict:
    """The JSON of a card click (HTTP body, or the `data` of a Stream frame)."""
    content = {"cardPrivateData": {"actionIds": list(action_ids or []), "params": dict(params or {})}}
    return {"type": "actionCallback", "outTrackId": out_track_id, "corpId": corp_id,
            "userId": user_id, "content": json.dumps(content, ensure_ascii=False)}


def build_card_callback(api_secret: str, out_track_id: str, user_id: str,
                        action_ids: list[str] | None = None, params: dict | None = None,
                        corp_id: str = FAKE_CORP_ID, timestamp_ms: int | None = None
                        ) -> tuple[dict[str, str], bytes]:
    """Headers and body of a signed HTTP card callback."""
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    headers = {"Content-Type": "application/json", "x-ddpaas-signature-timestamp": str(timestamp_ms),
               "x-ddpaas-signature": card_callback_sign(api_secret, timestamp_ms)}
    data = card_callback_data(out_track_id, user_id, action_ids, params, corp_id)
    return headers, json.dumps(data, ensure_ascii=False).encode()


def robot_message(msgtype: str, sender: str | None = "zhangsan", *, group: bool = False,
                  at_robot: bool = True, conversation_id: str | None = None, msg_id: str | None = None,
                  session_webhook: str | None = None, robot_code: str = FAKE_APP_KEY,
                  corp_id: str = FAKE_CORP_ID, now_ms: int | None = None,
                  conversation_title: str = "销售一组", **payload: Any) -> dict:
    """A robot message dict; `payload` is merged in (e.g. text={...} or content={...}). A group
    message carries the group's `conversationTitle` and, when it @s the robot, `isInAtList`."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    message = {
        "msgId": msg_id or "msg" + secrets.token_hex(10), "msgtype": msgtype, "createAt": now_ms,
        "conversationType": "2" if group else "1",
        "conversationId": conversation_id or ("cidfakegroup==" if group else "cidfake1to1" + (sender or "")),
        "senderId": "$:LWCP_v1:$" + secrets.token_hex(8), "senderNick": sender or "外部联系人",
        "senderCorpId": corp_id, "chatbotCorpId": corp_id, "chatbotUserId": "$:LWCP_v1:$robot",
        "robotCode": robot_code, "isAdmin": False,
        "sessionWebhook": session_webhook or "https://oapi.dingtalk.com/robot/sendBySession?session=fake",
        "sessionWebhookExpiredTime": now_ms + 90 * 60 * 1000,
    }
    if sender:
        message["senderStaffId"] = sender
    if group:
        message["conversationTitle"] = conversation_title
        message["isInAtList"] = at_robot
        message["atUsers"] = [{"dingtalkId": "$:LWCP_v1:$robot"}] if at_robot else []
    message.update(payload)
    return message


def text_message(content: str, sender: str | None = "zhangsan", **kw: Any) -> dict:
    return robot_message("text", sender, text={"content": content}, **kw)


def group_text_message(content: str, sender: str = "zhangsan", at_robot: bool = True, **kw: Any) -> dict:
    # DingTalk strips the "@robot" but leaves the space after it.
    return robot_message("text", sender, group=True, at_robot=at_robot,
                         text={"content": " " + content}, **kw)


def picture_message(download_code: str, sender: str = "zhangsan", **kw: Any) -> dict:
    return robot_message("picture", sender, content={"downloadCode": download_code,
                                                     "pictureDownloadCode": "pic-" + download_code}, **kw)


def audio_message(download_code: str, recognition: str | None = None, duration_ms: int = 3000,
                  sender: str = "zhangsan", **kw: Any) -> dict:
    content = {"downloadCode": download_code, "duration": duration_ms}
    if recognition is not None:
        content["recognition"] = recognition
    return robot_message("audio", sender, content=content, **kw)


def video_message(download_code: str, duration_ms: int = 5000, sender: str = "zhangsan", **kw: Any) -> dict:
    return robot_message("video", sender, content={"downloadCode": download_code, "duration": duration_ms,
                                                   "videoType": "mp4"}, **kw)


def file_message(download_code: str, file_name: str, sender: str = "zhangsan", **kw: Any) -> dict:
    return robot_message("file", sender, content={"downloadCode": download_code, "fileName": file_name},
                         **kw)


def rich_text_message(parts: list[str | tuple[str, str]], sender: str = "zhangsan", **kw: Any) -> dict:
    """`parts`: text strings and ("picture", download_code) tuples, in order."""
    rich = [{"text": p} if isinstance(p, str)
            else {"type": "picture", "downloadCode": p[1], "pictureDownloadCode": "pic-" + p[1]}
            for p in parts]
    return robot_message("richText", sender, content={"richText": rich}, **kw)
