"""The decrypted WeCom message, as a pydantic model bounded by the columns it ends up in
(platforms.md 1.3). XML gives strings or nested elements; a field we read that arrives nested
(`<Content><a/></Content>`) or longer than its column is a 400 naming the field.

Unknown elements are allowed (WeCom adds fields) and kept in the inbox's raw JSON; the depth check
in `bot/inbound.py` bounds them."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from config.inbound import bounded_str

EVENT_ID_MAX = 160   # inbox_event.event_id
USERID_MAX = 64      # user_account.wecom_userid, contact.wecom_external_userid


_text = bounded_str


class InboundMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    ToUserName: _text(64) | None = None
    FromUserName: _text(USERID_MAX) | None = None
    CreateTime: Annotated[StrictStr, Field(max_length=12, pattern=r"^\d*$")] | None = None
    MsgType: _text(32) | None = None
    MsgId: _text(EVENT_ID_MAX) | None = None
    AgentID: _text(20) | None = None
    Content: _text(5000) | None = None
    MediaId: _text(512) | None = None
    PicUrl: _text(1024) | None = None
    Format: _text(16) | None = None
    Event: _text(64) | None = None
    EventKey: _text(1024) | None = None
    TaskId: _text(128) | None = None
    CardType: _text(64) | None = None
    ResponseCode: _text(512) | None = None
    ChangeType: _text(64) | None = None
    UserID: _text(USERID_MAX) | None = None
    ExternalUserID: _text(USERID_MAX) | None = None
    State: _text(128) | None = None
    WelcomeCode: _text(512) | None = None
    SelectedItems: dict[str, Any] | None = None
