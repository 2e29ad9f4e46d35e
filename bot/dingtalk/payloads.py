"""The DingTalk bodies we accept, as pydantic models bounded by the columns they end up in.

Fields we do not read are allowed (DingTalk adds fields over time) and kept in the inbox's raw JSON;
the depth and size checks in `bot/inbound.py` bound them. Fields we read are typed: a `text` that is
a string instead of {"content"}, a `msgId` longer than the inbox's event_id column (160), a userid
longer than user_account.dingtalk_userid (64) is a 400 naming the field, never a 500.
Limits for free text follow platforms.md (text ≤ 5000 characters is generous: DingTalk suggests 500).
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from config.inbound import bounded_str

EVENT_ID_MAX = 160          # inbox_event.event_id
USERID_MAX = 64             # user_account.dingtalk_userid
CORP_ID_MAX = 64            # org.dingtalk_corp_id
MS_EPOCH_MAX = 2 ** 53      # a JSON number every client agrees on

Id = bounded_str(USERID_MAX)
Short = bounded_str(256)
Code = bounded_str(1024)     # download codes, webhook URLs
MsEpoch = Annotated[StrictInt, Field(ge=0, le=MS_EPOCH_MAX)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class RobotText(_Lenient):
    content: bounded_str(5000) = ""


class AtUser(_Lenient):
    dingtalkId: Short | None = None
    staffId: Id | None = None


class RobotMessage(_Lenient):
    """A robot message (HTTP callback body or a Stream frame's data); platforms.md 2.3."""
    msgId: bounded_str(EVENT_ID_MAX, min_length=1)
    msgtype: bounded_str(32) | None = None
    createAt: MsEpoch | None = None
    conversationType: Annotated[StrictStr, Field(max_length=8)] | StrictInt | None = None
    conversationId: Short | None = None
    conversationTitle: Short | None = None
    senderId: Short | None = None
    senderStaffId: Id | None = None
    senderNick: Short | None = None
    senderCorpId: Annotated[StrictStr, Field(max_length=CORP_ID_MAX)] | None = None
    chatbotCorpId: Annotated[StrictStr, Field(max_length=CORP_ID_MAX)] | None = None
    chatbotUserId: Short | None = None
    robotCode: Short | None = None
    isAdmin: StrictBool | None = None
    isInAtList: StrictBool | None = None
    atUsers: Annotated[list[AtUser], Field(max_length=100)] | None = None
    sessionWebhook: Code | None = None
    sessionWebhookExpiredTime: MsEpoch | None = None
    text: RobotText | None = None
    # a dict in HTTP mode; Stream frames have been seen carrying it as a JSON string
    content: dict[str, Any] | Annotated[StrictStr, Field(max_length=65536)] | None = None

    @field_validator("sessionWebhook")
    @classmethod
    def _https_or_local(cls, value: str | None) -> str | None:
        # replies are POSTed there: only a web URL, never file:// or gopher://
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class RobotContent(_Lenient):
    """`content` of picture/richText/audio/video/file messages."""
    downloadCode: Code | None = None
    pictureDownloadCode: Code | None = None
    recognition: bounded_str(5000) | None = None
    duration: Annotated[StrictInt, Field(ge=0, le=24 * 3600 * 1000)] | Annotated[StrictStr, Field(max_length=16)] | None = None
    fileName: Short | None = None
    videoType: Annotated[StrictStr, Field(max_length=16)] | None = None
    richText: Annotated[list[dict[str, Any]], Field(max_length=100)] | None = None


class CardPrivateData(_Lenient):
    actionIds: Annotated[list[bounded_str(256)], Field(max_length=10)] = []
    params: dict[str, Any] = {}


class CardContent(_Lenient):
    cardPrivateData: CardPrivateData | None = None


class CardCallback(_Lenient):
    """An interactive-card click (HTTP card callback body or Stream frame data); platforms.md 2.6."""
    outTrackId: bounded_str(128, min_length=1)
    userId: bounded_str(USERID_MAX, min_length=1)
    corpId: Annotated[StrictStr, Field(max_length=CORP_ID_MAX)] | None = None
    type: Short | None = None
    content: dict[str, Any] | Annotated[StrictStr, Field(max_length=65536)] | None = None
