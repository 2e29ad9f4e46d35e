"""DingTalk outbound client: the ~10 API calls crmbot makes, over plain `requests`.

- One app access token for every process, cached in Redis (TTL = expireIn minus a margin). A short
  Redis lock lets one process refresh while the others wait a moment for its result.
- A rejected token (HTTP 401 / InvalidAuthentication on api.dingtalk.com, errcode 40014/42001/33001/
  40001 on oapi.dingtalk.com) is dropped, refetched, and the call retried ONCE. No other retries happen
  here: every failure is raised as a bot.errors class and the outbox delivery job decides.
- Classification: HTTP 429, errcode 90002/90018/90019/-1 → RateLimited; 90020 (monthly API quota of
  the org) → PermanentError; 5xx, timeouts, connection errors and non-JSON answers (the IP-ban page is
  HTML) → RetryableError; any other 4xx or errcode → PermanentError.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from bot.errors import PermanentError, RateLimited, RetryableError

log = logging.getLogger(__name__)

TOKEN_MARGIN_S = 300          # refresh 5 min before DingTalk's expiry
TOKEN_LOCK_S = 10             # how long one process may hold the refresh lock
TOKEN_LOCK_WAIT_S = 3.0       # how long the others wait for its result before fetching themselves
MAX_USERS_PER_BATCH_SEND = 20
MAX_USERS_PER_WORK_NOTICE = 100

TOKEN_ERRCODES = {40014, 42001, 33001, 40001}
RATE_LIMIT_ERRCODES = {90002, 90018, 90019, -1}
# New-API throttling codes seen in SDKs (unverified list; any 429 counts as well).
RATE_LIMIT_CODES = {"Throttling", "Throttling.Api", "Throttling.User", "Forbidden.AccessDenied.QpsLimitForApi",
                    "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"}


@dataclass(frozen=True)
class SendResult:
    """Answer of batchSend. A 200 is not delivery to everyone: `flow_controlled` users were throttled
    (retry them later), `invalid`/`filtered` ones will never get it."""
    process_query_key: str | None
    invalid: list[str] = field(default_factory=list)
    flow_controlled: list[str] = field(default_factory=list)
    filtered: list[str] = field(default_factory=list)


class _TokenRejected(Exception):
    pass


class DingTalkClient:
    def __init__(self, api_base: str, oapi_base: str, app_key: str, app_secret: str,
                 robot_code: str | None, redis, agent_id: int | None = None,
                 card_template_id: str | None = None, http: requests.Session | None = None,
                 timeout: float = 5, max_download_bytes: int = 20 * 1024 * 1024):
        self.api_base = api_base.rstrip("/")
        self.oapi_base = oapi_base.rstrip("/")
        self.app_key = app_key
        self.app_secret = app_secret
        # For an internal app's robot the robotCode is the AppKey unless the console says otherwise.
        self.robot_code = robot_code or app_key
        self.redis = redis
        self.agent_id = agent_id
        self.card_template_id = card_template_id
        self.http = http or requests.Session()
        self.timeout = timeout
        self.max_download_bytes = max_download_bytes
        self._token_key = f"crmbot:dingtalk:{app_key}:access_token"
        self._ticket_key = f"crmbot:dingtalk:{app_key}:jsapi_ticket"

    @classmethod
    def from_settings(cls, settings, redis, http: requests.Session | None = None) -> "DingTalkClient":
        if not settings.dingtalk_configured:
            raise ValueError("DINGTALK_APP_KEY and DINGTALK_APP_SECRET must be set")
        return cls(settings.dingtalk_api_base, settings.dingtalk_oapi_base, settings.dingtalk_app_key,
                   settings.dingtalk_app_secret, settings.dingtalk_robot_code, redis,
                   agent_id=settings.dingtalk_agent_id,
                   card_template_id=settings.dingtalk_card_template_id, http=http,
                   max_download_bytes=settings.crmbot_max_upload_bytes)

    # -----------------------------------------------------------------------------------------------
    # access token

    def access_token(self) -> str:
        cached = self.redis.get(self._token_key)
        if cached:
            return cached.decode()
        lock_key = self._token_key + ":lock"
        if self.redis.set(lock_key, "1", nx=True, ex=TOKEN_LOCK_S):
            try:
                return self._refresh_token()
            finally:
                self.redis.delete(lock_key)
        deadline = time.monotonic() + TOKEN_LOCK_WAIT_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
            cached = self.redis.get(self._token_key)
            if cached:
                return cached.decode()
        # The refreshing process is slow or died; a second fetch is harmless (DingTalk hands out
        # the same token while it is valid).
        return self._refresh_token()

    def _refresh_token(self) -> str:
        log.info("fetching DingTalk access token for app %s", self.app_key)
        data = self._send("POST", f"{self.api_base}/v1.0/oauth2/accessToken",
                          body={"appKey": self.app_key, "appSecret": self.app_secret})
        token, expire_in = data.get("accessToken"), int(data.get("expireIn") or 7200)
        if not token:
            raise PermanentError(f"DingTalk token answer without accessToken: {data}")
        self.redis.set(self._token_key, token, ex=max(expire_in - TOKEN_MARGIN_S, 60))
        return token

    def _drop_token(self, token: str) -> None:
        # Only drop it if nobody has replaced it meanwhile.
        cached = self.redis.get(self._token_key)
        if cached and cached.decode() == token:
            self.redis.delete(self._token_key)

    # -----------------------------------------------------------------------------------------------
    # robot messages and files

    def download_message_file(self, download_code: str) -> bytes:
        """Bytes of a received picture/audio/video/file. The URL is short-lived, so fetch it at once."""
        data = self._api("POST", "/v1.0/robot/messageFiles/download",
                         {"downloadCode": download_code, "robotCode": self.robot_code})
        url = data.get("downloadUrl")
        if not url:
            raise PermanentError(f"no downloadUrl for download code: {data}")
        try:
            with self.http.get(url, timeout=self.timeout, stream=True) as resp:
                if resp.status_code != 200:
                    # A new attempt asks for a fresh URL, so even a 4xx here is worth retrying.
                    raise RetryableError(f"file download answered HTTP {resp.status_code}", resp.status_code)
                chunks, size = [], 0
                for chunk in resp.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > self.max_download_bytes:
                        raise PermanentError(f"file larger than {self.max_download_bytes} bytes", "too_large")
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.RequestException as exc:
            raise RetryableError(f"file download failed: {exc}") from exc

    def send_to_users(self, user_ids: list[str], msg_key: str, msg_param: dict) -> SendResult:
        """1:1 robot message to ≤20 users (POST /v1.0/robot/oToMessages/batchSend)."""
        if not 0 < len(user_ids) <= MAX_USERS_PER_BATCH_SEND:
            raise ValueError(f"batchSend takes 1..{MAX_USERS_PER_BATCH_SEND} users, got {len(user_ids)}")
        data = self._api("POST", "/v1.0/robot/oToMessages/batchSend", {
            "robotCode": self.robot_code, "userIds": list(user_ids), "msgKey": msg_key,
            "msgParam": json.dumps(msg_param, ensure_ascii=False)})
        return SendResult(process_query_key=data.get("processQueryKey"),
                          invalid=list(data.get("invalidStaffIdList") or []),
                          flow_controlled=list(data.get("flowControlledStaffIdList") or []),
                          filtered=list(data.get("filteredStaffIdList") or []))

    def send_to_group(self, open_conversation_id: str, msg_key: str, msg_param: dict) -> str | None:
        """Robot message to a group the robot is in; returns processQueryKey."""
        data = self._api("POST", "/v1.0/robot/groupMessages/send", {
            "robotCode": self.robot_code, "openConversationId": open_conversation_id,
            "msgKey": msg_key, "msgParam": json.dumps(msg_param, ensure_ascii=False)})
        return data.get("processQueryKey")

    def reply_via_webhook(self, webhook_url: str, body: dict) -> None:
        """Reply through a message's sessionWebhook (no token; valid until sessionWebhookExpiredTime).
        `body` is e.g. cards.dingtalk.render_text(...) or render_markdown(...)."""
        if not webhook_url.startswith(("https://", "http://")):
            raise PermanentError(f"not a webhook URL: {webhook_url!r}")
        self._send("POST", webhook_url, body=body)

    # -----------------------------------------------------------------------------------------------
    # interactive cards

    def create_and_deliver_card(self, out_track_id: str, card_param_map: dict[str, str],
                                user_id: str | None = None, open_conversation_id: str | None = None,
                                callback_route_key: str | None = None) -> dict:
        """Create a card from DINGTALK_CARD_TEMPLATE_ID and put it in a 1:1 robot chat (user_id) or a
        group (open_conversation_id). With `callback_route_key` clicks come by HTTP to the registered
        URL, otherwise by Stream. Returns DingTalk's `result`; a failed delivery raises PermanentError."""
        if not self.card_template_id:
            raise ValueError("DINGTALK_CARD_TEMPLATE_ID is not configured; use the ActionCard fallback")
        if (user_id is None) == (open_conversation_id is None):
            raise ValueError("give exactly one of user_id / open_conversation_id")
        body: dict[str, Any] = {
            "cardTemplateId": self.card_template_id, "outTrackId": out_track_id,
            "cardData": {"cardParamMap": _string_map(card_param_map)},
            "callbackType": "HTTP" if callback_route_key else "STREAM", "userIdType": 1,
        }
        if callback_route_key:
            body["callbackRouteKey"] = callback_route_key
        if user_id is not None:
            body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{user_id}"
            body["imRobotOpenSpaceModel"] = {"supportForward": True}
            body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": self.robot_code}
        else:
            body["openSpaceId"] = f"dtv1.card//IM_GROUP.{open_conversation_id}"
            body["imGroupOpenSpaceModel"] = {"supportForward": True}
            body["imGroupOpenDeliverModel"] = {"robotCode": self.robot_code}
        data = self._api("POST", "/v1.0/card/instances/createAndDeliver", body)
        result = data.get("result") or {}
        failed = [r for r in result.get("deliverResults") or [] if r.get("success") is False]
        if failed:
            raise PermanentError(f"card {out_track_id} not delivered: {failed[0].get('errorMsg')}",
                                 "deliver_failed")
        return result

    def update_card(self, out_track_id: str, card_param_map: dict[str, str],
                    update_by_key: bool = True) -> None:
        """Change a delivered card. With update_by_key the given keys are merged; without, the whole
        cardParamMap is replaced. Never call this while answering the card callback itself."""
        self._api("PUT", "/v1.0/card/instances", {
            "outTrackId": out_track_id, "cardData": {"cardParamMap": _string_map(card_param_map)},
            "cardUpdateOptions": {"updateCardDataByKey": update_by_key}, "userIdType": 1})

    def register_card_callback(self, route_key: str, callback_url: str, force: bool = True) -> dict:
        """Point card clicks of `route_key` at our /dingtalk/card-callback (run once at set-up).
        The apiSecret DingTalk will sign with is our AppSecret, which the adapter verifies with."""
        data = self._api("POST", "/v1.0/card/callbacks/register", {
            "callbackRouteKey": route_key, "callbackUrl": callback_url, "apiSecret": self.app_secret,
            "forceUpdate": force})
        return data.get("result") or {}

    # -----------------------------------------------------------------------------------------------
    # old-API (oapi) calls: work notice, mini-app login, JSAPI ticket

    def send_work_notice(self, user_ids: list[str], msg: dict) -> int | None:
        """工作通知 to ≤100 users; returns DingTalk's task_id. Identical content to the same user is
        silently dropped after the first one of the day: vary the text."""
        if self.agent_id is None:
            raise ValueError("DINGTALK_AGENT_ID is not configured")
        if not 0 < len(user_ids) <= MAX_USERS_PER_WORK_NOTICE:
            raise ValueError(f"work notice takes 1..{MAX_USERS_PER_WORK_NOTICE} users, got {len(user_ids)}")
        data = self._oapi("/topapi/message/corpconversation/asyncsend_v2", {
            "agent_id": self.agent_id, "userid_list": ",".join(user_ids), "to_all_user": False,
            "msg": msg})
        return data.get("task_id")

    def upload_media(self, kind: str, content: bytes, filename: str,
                     content_type: str = "application/octet-stream") -> str:
        """POST oapi /media/upload?type=image|voice|video|file, multipart field `media` → media_id
        (what `sampleImageMsg.photoURL` accepts besides a URL; platforms.md 2.2 and 2.5)."""
        data = self._oapi("/media/upload", None, params={"type": kind},
                          files={"media": (filename, content, content_type)})
        media_id = data.get("media_id")
        if not media_id:
            raise PermanentError(f"media/upload answered without media_id: {data}")
        return media_id

    def send_image_to_users(self, user_ids: list[str], media_id: str) -> SendResult:
        """An image in the 1:1 robot chat: batchSend's sampleImageMsg with the uploaded media_id."""
        return self.send_to_users(user_ids, "sampleImageMsg", {"photoURL": media_id})

    def get_user_id_by_auth_code(self, code: str) -> str:
        """Mini-app silent login: the code from dd.requestAuthCode → the member's userid."""
        data = self._oapi("/topapi/v2/user/getuserinfo", {"code": code})
        user_id = (data.get("result") or {}).get("userid")
        if not user_id:
            raise PermanentError(f"no userid for this auth code: {data}")
        return user_id

    def get_jsapi_ticket(self) -> str:
        cached = self.redis.get(self._ticket_key)
        if cached:
            return cached.decode()
        data = self._oapi("/get_jsapi_ticket", None, method="GET")
        ticket = data.get("ticket")
        if not ticket:
            raise PermanentError(f"no jsapi ticket in answer: {data}")
        ttl = int(data.get("expires_in") or 7200) - TOKEN_MARGIN_S
        self.redis.set(self._ticket_key, ticket, ex=max(ttl, 60))
        return ticket

    # -----------------------------------------------------------------------------------------------
    # transport

    def _api(self, method: str, path: str, body: dict) -> dict:
        """api.dingtalk.com call with the token in a header, retried once on a rejected token."""
        for attempt in (1, 2):
            token = self.access_token()
            try:
                return self._send(method, self.api_base + path, body=body,
                                  headers={"x-acs-dingtalk-access-token": token}, token_used=True)
            except _TokenRejected:
                self._drop_token(token)
        raise PermanentError(f"DingTalk rejected a fresh access token on {path}", "InvalidAuthentication")

    def _oapi(self, path: str, body: dict | None, method: str = "POST", params: dict | None = None,
              files: dict | None = None) -> dict:
        """oapi.dingtalk.com call with the token in the query, retried once on a rejected token."""
        for attempt in (1, 2):
            token = self.access_token()
            try:
                return self._send(method, self.oapi_base + path, body=body,
                                  params={**(params or {}), "access_token": token}, token_used=True,
                                  files=files)
            except _TokenRejected:
                self._drop_token(token)
        raise PermanentError(f"DingTalk rejected a fresh access token on {path}", "InvalidAuthentication")

    def _send(self, method: str, url: str, body: dict | None = None, headers: dict | None = None,
              params: dict | None = None, token_used: bool = False, files: dict | None = None) -> dict:
        try:
            resp = self.http.request(method, url, json=body, headers=headers, params=params,
                                     files=files, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise RetryableError(f"{method} {_path(url)}: {exc.__class__.__name__}") from exc
        except requests.RequestException as exc:
            raise PermanentError(f"{method} {_path(url)}: {exc}") from exc
        try:
            return _check_answer(resp)
        except _TokenRejected:
            if token_used:
                raise
            # The token endpoint or a session webhook said "unauthorised": no token of ours to renew.
            raise PermanentError(f"{method} {_path(url)}: authentication rejected", resp.status_code) from None


def _check_answer(resp: requests.Response) -> dict:
    """Raise the bot.errors class that fits DingTalk's answer; return its JSON when it succeeded."""
    where = f"{resp.request.method} {_path(resp.url)}"
    status = resp.status_code
    try:
        data = resp.json()
    except ValueError:
        data = None
    if status == 429:
        raise RateLimited(f"{where}: HTTP 429", 429, retry_after_s=_retry_after(resp))
    if not isinstance(data, dict):
        # The per-IP ban and proxies answer with HTML: the call may well work later.
        raise RetryableError(f"{where}: non-JSON answer, HTTP {status}", status)
    if status >= 500:
        raise RetryableError(f"{where}: HTTP {status} {data.get('code')} {data.get('message')}",
                             data.get("code") or status)
    code = data.get("code")
    if status == 401 or code == "InvalidAuthentication":
        raise _TokenRejected()
    if status >= 400:
        message = f"{where}: HTTP {status} {code} {data.get('message')}"
        if code in RATE_LIMIT_CODES:
            raise RateLimited(message, code, retry_after_s=_retry_after(resp))
        raise PermanentError(message, code or status)
    errcode = _errcode(data.get("errcode"))
    if errcode:
        message = f"{where}: errcode {errcode} {data.get('errmsg')}"
        if errcode in TOKEN_ERRCODES:
            raise _TokenRejected()
        if errcode in RATE_LIMIT_ERRCODES:
            raise RateLimited(message, errcode, retry_after_s=_retry_after(resp))
        raise PermanentError(message, errcode)  # includes 90020, the org's monthly API quota
    return data


def _errcode(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _retry_after(resp: requests.Response) -> float:
    try:
        return float(resp.headers.get("Retry-After", 60))
    except ValueError:
        return 60.0


def _path(url: str) -> str:
    # Never log the query: it holds the access token.
    return url.split("?", 1)[0]


def _string_map(values: dict[str, Any]) -> dict[str, str]:
    bad = [k for k, v in values.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"cardParamMap values must be strings (JSON-encode lists): {bad}")
    return dict(values)
