"""WeCom HTTP API out (platforms.md 1.4–1.8): plain `requests` against a configurable base URL.

wechatpy's client hard-codes qyapi.weixin.qq.com for gettoken and media, so it cannot talk to the
fake; this one honours WECOM_API_BASE. The access_token and the JS-SDK tickets live in Redis so
every process shares one (WeCom returns the same token while it is valid, and rate-limits
gettoken). The only retry here is the one WeCom asks for: refetch the token once when it is
rejected. Everything else is classified into bot.errors and left to the outbox delivery job.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import urlparse

import requests

from bot.errors import CardCodeSpent, PermanentError, RateLimited, RetryableError

log = logging.getLogger(__name__)

TOKEN_REJECTED = frozenset({40014, 42001, 40001})  # invalid / expired / bad credential
RATE_LIMITED = frozenset({45009, 45033})           # API frequency / concurrency limit
SYSTEM_BUSY = frozenset({-1})
CARD_CODE_SPENT = frozenset({60140})               # unverified (platforms.md 1.6)
EARLY_REFRESH_S = 300          # refresh before WeCom's expires_in runs out
LOCK_TTL_S = 10
LOCK_WAIT_S = 5.0
DEFAULT_MAX_MEDIA_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class SendResult:
    msgid: str | None
    response_code: str | None          # only for interactive template cards
    invalid_users: tuple[str, ...]     # errcode 0 but not delivered to these


class WeComClient:
    def __init__(self, base_url: str, corp_id: str, secret: str, agent_id: int, redis: Any,
                 http: requests.Session | None = None, timeout: float = 5,
                 max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES):
        self.base_url = base_url.rstrip("/")
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = int(agent_id)
        self.redis = redis
        self.http = http or requests.Session()
        self.timeout = timeout
        self.max_media_bytes = max_media_bytes

    @classmethod
    def from_settings(cls, settings: Any, redis: Any, **kwargs: Any) -> "WeComClient":
        return cls(settings.wecom_api_base, settings.wecom_corp_id, settings.wecom_secret,
                   settings.wecom_agent_id, redis,
                   max_media_bytes=kwargs.pop("max_media_bytes", settings.crmbot_max_upload_bytes),
                   **kwargs)

    # -- messages ------------------------------------------------------------------------------

    def send(self, touser: str, msg: dict[str, Any]) -> SendResult:
        """POST /cgi-bin/message/send. `msg` is {"msgtype": ..., <msgtype>: {...}} or a full body
        from cards.wecom; touser and agentid are always this call's."""
        body = {**msg, "touser": touser, "agentid": self.agent_id}
        data = self._post("/cgi-bin/message/send", body)
        invalid = tuple(u for u in (data.get("invaliduser") or "").split("|") if u)
        if invalid:
            log.warning("wecom send: not delivered to %s", ",".join(invalid))
        return SendResult(msgid=data.get("msgid") or None,
                          response_code=data.get("response_code") or None,
                          invalid_users=invalid)

    def update_template_card(self, userids: Iterable[str], response_code: str, *,
                             template_card: dict[str, Any] | None = None,
                             replace_name: str | None = None) -> dict[str, Any]:
        """POST /cgi-bin/message/update_template_card for the named users' copies.

        Give exactly one of `template_card` (the whole new card) or `replace_name` (grey out the
        buttons with this text). A spent or expired response_code raises CardCodeSpent."""
        if (template_card is None) == (replace_name is None):
            raise ValueError("give exactly one of template_card or replace_name")
        body: dict[str, Any] = {"userids": list(userids), "agentid": self.agent_id,
                                "response_code": response_code}
        if template_card is not None:
            body["template_card"] = template_card
        else:
            body["button"] = {"replace_name": replace_name}
        return self._post("/cgi-bin/message/update_template_card", body)

    # -- media ---------------------------------------------------------------------------------

    def download_media(self, media_id: str) -> tuple[bytes, str, str | None]:
        """GET /cgi-bin/media/get → (content, content_type, filename). WeCom answers an error
        as JSON with HTTP 200, so the Content-Type decides; the size cap holds while streaming."""
        response = self._authed(lambda token: self._http(
            "GET", "/cgi-bin/media/get", params={"access_token": token, "media_id": media_id},
            stream=True))
        content_type = response.headers.get("Content-Type", "")
        if _is_json(content_type):
            self._result(response)  # raises on any errcode
            raise PermanentError(f"media/get answered JSON without an error for {media_id}")
        _check_status(response, "/cgi-bin/media/get")
        content = self._read_capped(response)
        return content, content_type.split(";")[0].strip(), _filename(response)

    def upload_media(self, kind: str, content: bytes, filename: str,
                     content_type: str = "application/octet-stream") -> str:
        """POST /cgi-bin/media/upload?type=image|voice|video|file → media_id (valid 3 days)."""
        response = self._authed(lambda token: self._http(
            "POST", "/cgi-bin/media/upload", params={"access_token": token, "type": kind},
            files={"media": (filename, content, content_type)}))
        return self._result(response)["media_id"]

    # -- contacts, login, JS-SDK ---------------------------------------------------------------

    def get_external_contact(self, external_userid: str, cursor: str | None = None) -> dict[str, Any]:
        """GET /cgi-bin/externalcontact/get → {"external_contact", "follow_user", "next_cursor"}."""
        params = {"external_userid": external_userid}
        if cursor:
            params["cursor"] = cursor
        return self._get("/cgi-bin/externalcontact/get", params)

    def get_user_id_by_code(self, code: str) -> str:
        """GET /cgi-bin/auth/getuserinfo: the member userid behind an OAuth code (single use)."""
        data = self._get("/cgi-bin/auth/getuserinfo", {"code": code})
        userid = data.get("userid") or data.get("UserId")
        if not userid:  # a non-member (openid / external_userid only) may not log in
            raise PermanentError("the OAuth code belongs to someone outside the corp", code="not_member")
        return userid

    def get_jsapi_ticket(self) -> str:
        """Corp ticket for wx.config (cached per corp)."""
        return self._cached(f"crmbot:wecom:jsapi_ticket:{self.corp_id}",
                            lambda: self._ticket("/cgi-bin/get_jsapi_ticket", {}))

    def get_agent_ticket(self) -> str:
        """App ticket for wx.agentConfig (cached per corp + app)."""
        return self._cached(f"crmbot:wecom:agent_ticket:{self.corp_id}:{self.agent_id}",
                            lambda: self._ticket("/cgi-bin/ticket/get", {"type": "agent_config"}))

    # -- access_token --------------------------------------------------------------------------

    @property
    def _token_key(self) -> str:
        return f"crmbot:wecom:access_token:{self.corp_id}:{self.agent_id}"

    def access_token(self) -> str:
        return self._cached(self._token_key, self._fetch_token)

    def _refresh_token(self, rejected: str) -> str:
        """WeCom refused `rejected`: drop it unless another process already replaced it."""
        with _RedisLock(self.redis, self._token_key + ":lock"):
            current = _text(self.redis.get(self._token_key))
            if current and current != rejected:
                return current
            value, ttl = self._fetch_token()
            self.redis.set(self._token_key, value, ex=ttl)
            return value

    def _fetch_token(self) -> tuple[str, int]:
        response = self._http("GET", "/cgi-bin/gettoken",
                              params={"corpid": self.corp_id, "corpsecret": self.secret})
        data = self._result(response)
        return data["access_token"], _ttl(data)

    def _ticket(self, path: str, params: dict[str, str]) -> tuple[str, int]:
        data = self._get(path, params)
        return data["ticket"], _ttl(data)

    def _cached(self, key: str, fetch: Callable[[], tuple[str, int]]) -> str:
        """Read-through Redis cache; a short lock so only one process fetches at a time."""
        value = _text(self.redis.get(key))
        if value:
            return value
        with _RedisLock(self.redis, key + ":lock"):
            value = _text(self.redis.get(key))  # another process may have fetched meanwhile
            if value:
                return value
            value, ttl = fetch()
            self.redis.set(key, value, ex=ttl)
            return value

    # -- HTTP plumbing -------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._result(self._authed(lambda token: self._http(
            "GET", path, params={**params, "access_token": token})))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # ensure_ascii=False: WeCom counts content limits in UTF-8 bytes of the characters
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return self._result(self._authed(lambda token: self._http(
            "POST", path, params={"access_token": token}, data=payload,
            headers={"Content-Type": "application/json; charset=utf-8"})))

    def _authed(self, call: Callable[[str], requests.Response]) -> requests.Response:
        """Run `call` with the token; if WeCom rejects the token, refetch it and retry once."""
        token = self.access_token()
        response = call(token)
        if _errcode(response) in TOKEN_REJECTED:
            log.info("wecom rejected the access_token (errcode %s); refetching", _errcode(response))
            response.close()
            response = call(self._refresh_token(rejected=token))
        return response

    def _http(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        # requests puts the full URL, access_token included, into its messages: keep it out of
        # the errors that end up in logs and outbox rows.
        try:
            return self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise RetryableError(f"{path}: timeout ({_redact(exc)})", code="timeout") from None
        except requests.ConnectionError as exc:
            raise RetryableError(f"{path}: connection failed ({_redact(exc)})", code="connection") from None
        except requests.RequestException as exc:
            raise RetryableError(f"{path}: {_redact(exc)}", code="request") from None

    def _result(self, response: requests.Response) -> dict[str, Any]:
        """The JSON answer of a call, or the matching bot.errors exception."""
        path = urlparse(response.url).path
        _check_status(response, path)
        try:
            data = response.json()
        except ValueError:
            # A proxy or gateway page instead of WeCom's JSON: most likely transient.
            raise RetryableError(f"{path}: answer is not JSON", code=response.status_code) from None
        code = data.get("errcode", 0)
        if code == 0:
            return data
        message = f"{path}: errcode {code} {data.get('errmsg', '')}".strip()
        if code in RATE_LIMITED:
            raise RateLimited(message, code=code)
        if code in SYSTEM_BUSY:
            raise RetryableError(message, code=code)
        if code in CARD_CODE_SPENT:
            raise CardCodeSpent(message, code=code)
        raise PermanentError(message, code=code)

    def _read_capped(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_media_bytes:
            response.close()
            raise PermanentError(f"media of {declared} bytes exceeds the limit", code="too_large")
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.max_media_bytes:
                response.close()
                raise PermanentError("media exceeds the size limit", code="too_large")
            chunks.append(chunk)
        return b"".join(chunks)


# ----------------------------------------------------------------------------------------------

class _RedisLock:
    """SET NX with a TTL. Plain GET+DEL release (no Lua, so fakeredis works): if the lock expired
    and someone else took it, the worst case is one extra concurrent fetch, which is harmless —
    gettoken hands out the same token while it is valid."""

    def __init__(self, redis: Any, key: str):
        self.redis, self.key, self.value = redis, key, secrets.token_hex(8)
        self.held = False

    def __enter__(self) -> "_RedisLock":
        deadline = time.monotonic() + LOCK_WAIT_S
        while not self.redis.set(self.key, self.value, nx=True, ex=LOCK_TTL_S):
            if time.monotonic() > deadline:
                log.warning("wecom: %s still locked after %.0fs; fetching anyway", self.key, LOCK_WAIT_S)
                return self
            time.sleep(0.05)
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held and _text(self.redis.get(self.key)) == self.value:
            self.redis.delete(self.key)


_SECRET_PARAM = re.compile(r"(access_token|corpsecret)=[^&\s'\"]+")


def _redact(exc: Exception) -> str:
    return _SECRET_PARAM.sub(r"\1=***", str(exc))


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _ttl(data: dict[str, Any]) -> int:
    return max(60, int(data.get("expires_in", 7200)) - EARLY_REFRESH_S)


def _is_json(content_type: str) -> bool:
    return "json" in content_type or content_type.startswith("text/plain")


def _errcode(response: requests.Response) -> int | None:
    """The errcode of a JSON answer; None for anything else (media bytes, HTML, 5xx)."""
    if response.status_code != 200 or not _is_json(response.headers.get("Content-Type", "")):
        return None
    try:
        return response.json().get("errcode")
    except ValueError:
        return None


def _check_status(response: requests.Response, path: str) -> None:
    status = response.status_code
    if status == 429:
        raise RateLimited(f"{path}: HTTP 429", code=429)
    if status >= 500:
        raise RetryableError(f"{path}: HTTP {status}", code=status)
    if status >= 400:
        raise PermanentError(f"{path}: HTTP {status}", code=status)


def _filename(response: requests.Response) -> str | None:
    disposition = response.headers.get("Content-Disposition")
    if not disposition:
        return None
    header = Message()
    header["Content-Disposition"] = disposition
    names = [value for key, value in header.get_params(header="content-disposition") or []
             if key == "filename"]
    # An RFC 5987 filename*= (parsed as a tuple) carries the real UTF-8 name; the plain
    # filename= beside it is only an ASCII fallback.
    names.sort(key=lambda value: not isinstance(value, tuple))
    return collapse_rfc2231_value(names[0]) if names else None
