"""Every link a card carries points into the mini-app; one function builds them, so a page that
moves is changed in one place (tests open every link a builder can make).

A group chat's page (关联客户 from a DingTalk group) is opened from a card anyone in the group can
see, so its link carries the group as a signed, short-lived token (itsdangerous, keyed with
CRMBOT_SECRET_KEY), never as a bare id: the page links only the group the bot itself put in the
link, and the link action still checks the rep's rights on the customer server-side."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer

CHAT_TOKEN_SALT = "crmbot.chat-link"
# A day: long enough to open it from the card after a meeting, short enough that a forwarded
# screenshot of the link goes stale; the rep @s the robot again for a fresh one.
CHAT_TOKEN_MAX_AGE_S = 24 * 3600
CHAT_TITLE_MAX_CHARS = 16   # the title is shown on the page only; the button URL must stay ≤ 500 chars


@dataclass(frozen=True)
class ChatRef:
    """A group chat as the bot saw it: in which org, on which platform, its id and its title."""
    org_id: int
    platform: str
    chat_id: str
    title: str = ""


def app_link(public_url: str, path: str = "") -> str:
    return f"{public_url.rstrip('/')}/app/{path.lstrip('/')}"


def customer_link(public_url: str, customer_id: int) -> str:
    return app_link(public_url, f"customers/{customer_id}")


def draft_link(public_url: str, draft_id: int) -> str:
    return app_link(public_url, f"drafts/{draft_id}")


def home_link(public_url: str) -> str:
    return app_link(public_url)


def dashboard_link(public_url: str, **filters: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return app_link(public_url, "dashboard" + (f"?{query}" if query else ""))


def chat_page_link(public_url: str, secret: str, chat: ChatRef) -> str:
    """The workbench page that links this group chat to a customer (search, link, create)."""
    token = _serializer(secret).dumps([chat.org_id, chat.platform, chat.chat_id,
                                       chat.title[:CHAT_TITLE_MAX_CHARS]])
    return app_link(public_url, f"group?t={quote(token, safe='')}")


def read_chat_token(secret: str, token: str, max_age_s: int = CHAT_TOKEN_MAX_AGE_S) -> ChatRef | None:
    """The group a page link was made for; None when the token is forged, altered or too old.
    Its age is wall-clock time on purpose: a security expiry, like the session cookie's."""
    try:
        org_id, platform, chat_id, title = _serializer(secret).loads(token, max_age=max_age_s)
    except (BadSignature, ValueError, TypeError):
        return None
    if not (isinstance(org_id, int) and isinstance(platform, str) and isinstance(chat_id, str)
            and isinstance(title, str) and chat_id):
        return None
    return ChatRef(org_id, platform, chat_id, title)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("CRMBOT_SECRET_KEY is not set: group page links cannot be signed")
    return URLSafeTimedSerializer(secret, salt=CHAT_TOKEN_SALT)
