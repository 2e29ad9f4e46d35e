"""Capture jobs: a photo becomes a customer draft, a voice note a follow-up (or customer) draft,
each shown to the rep as a card to confirm with one tap.

Each job can be retried without doing its effect twice: media is stored by hash, the draft is
unique per source event, and the card's outbox row is unique per draft. The slow parts (download,
OCR, ASR) run outside any transaction.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from bot.context import new_card_id
from bot.errors import PermanentError
from bot.events import Event
from bot.handlers.common import app_link
from bot.handlers.duplicates import matches_for_draft, offer_card
from cards import builders
from ocr_asr.errors import CaptureError
from storage import drafts, media, users
from storage.models import Customer, InboxEvent, User, utcnow
from storage.validators import mobile_in_text

from .outbound import enqueue_delivery, push_card, push_text
from .runtime import Runtime, current_runtime

log = logging.getLogger(__name__)

MEDIA_EXPIRED = "这条消息的文件已过期或无法下载，请重新发送一次。"
FIELD_LABELS = (("name", "姓名"), ("company", "公司"), ("title", "职务"), ("mobile", "手机"),
                ("phone", "电话"), ("email", "邮箱"), ("address", "地址"), ("website", "网址"))


@dataclass
class _Source:
    event: Event
    user_id: int
    org_id: int

    @property
    def source_id(self) -> str:
        return f"{self.event.platform}:{self.event.event_id}"


def _load(rt: Runtime, inbox_id: int) -> _Source | None:
    with rt.db.transaction() as session:
        event = Event.from_dict(session.get(InboxEvent, inbox_id).event)
        user = users.user_for_platform(session, str(event.platform), event.org, event.sender)
        return _Source(event, user.id, user.org_id) if user else None


def _download(rt: Runtime, event: Event) -> bytes:
    ref = event.payload["media_ref"]
    if str(event.platform) == "wecom":
        data, _content_type, _name = rt.client("wecom").download_media(ref)
        return data
    return rt.client("dingtalk").download_message_file(ref)


def _tell(rt: Runtime, src: _Source, text: str, key: str) -> None:
    with rt.db.transaction() as session:
        outbox_id = push_text(session, session.get(User, src.user_id), text,
                              dedupe_key=f"capture:{src.source_id}:{key}")
    if outbox_id:
        enqueue_delivery(rt, [outbox_id])


def _fetch(rt: Runtime, src: _Source) -> bytes | None:
    try:
        return _download(rt, src.event)
    except PermanentError as exc:
        log.warning("capture %s: media not downloadable: %s", src.source_id, exc)
        _tell(rt, src, MEDIA_EXPIRED, "expired")
        return None


# ------------------------------------------------------------------ business cards


def capture_image(inbox_id: int) -> str:
    from ocr_asr.card_scan import scan_card_bytes
    rt = current_runtime()
    src = _load(rt, inbox_id)
    if src is None:
        return "skipped"
    data = _fetch(rt, src)
    if data is None:
        return "expired"
    try:
        card = scan_card_bytes(data)
    except CaptureError as exc:
        _tell(rt, src, exc.user_message, "refused")
        return "refused"
    fields = {key: getattr(card, key) for key, _ in FIELD_LABELS}
    if not (fields["name"] or fields["company"] or fields["mobile"]):
        _tell(rt, src, "没有从照片里识别出名片信息，请对准名片、光线充足后再拍一张。", "empty")
        return "empty"
    with rt.db.transaction() as session:
        user = session.get(User, src.user_id)
        asset = media.store_media(session, src.org_id, data, "image", rt.settings.crmbot_media_dir)
        draft, _ = drafts.create_draft(session, user, "customer", fields, source_event_id=src.source_id,
                                       media_id=asset.id)
        outbox_id = push_card(session, user, _customer_draft_card(rt, session, user, draft),
                              subject_type="draft", subject_id=draft.id, dedupe_key=f"draft:{draft.id}")
    if outbox_id:
        enqueue_delivery(rt, [outbox_id])
    return "drafted"


def _customer_draft_card(rt: Runtime, session, user: User, draft):
    """The draft to confirm; when it looks like an existing customer, the show-before-create card
    (owners named, open / add as contact / ask / create anyway with a reason)."""
    fields = draft.fields
    matches = matches_for_draft(session, user, draft, rt.playbook) \
        if (fields.get("company") or fields.get("name") or fields.get("mobile")) else []
    shown = [(label, fields.get(key) or "") for key, label in FIELD_LABELS]
    edit = app_link(rt.settings, f"drafts/{draft.id}")
    card_id = new_card_id("draft", draft.id)
    if matches:
        return offer_card(rt.settings, rt.playbook, user, draft, matches, card_id=card_id, fields=shown,
                          title="名片识别结果：客户已存在" if matches[0].exact else "名片识别结果：可能重复")
    return builders.capture_draft_card(card_id, title="名片识别结果", fields=shown,
                                       note="核对无误后点“确认创建”。", actions=[("confirm", "确认创建"), ("discard", "放弃")],
                                       edit_link=edit)


# ------------------------------------------------------------------ voice notes


def capture_voice(inbox_id: int) -> str:
    from ocr_asr.note_parser import CustomerRef, parse_note
    from ocr_asr.transcribe import transcribe_bytes
    rt = current_runtime()
    src = _load(rt, inbox_id)
    if src is None:
        return "skipped"
    with rt.db.transaction() as session:
        user = session.get(User, src.user_id)
        owned = session.scalars(select(Customer).where(Customer.owner_id == user.id)
                                .order_by(Customer.last_interaction_at.desc().nulls_last()).limit(200)).all()
        refs = [CustomerRef(id=c.id, name=c.name, company=None) for c in owned]
    text = src.event.payload.get("recognition")  # DingTalk's own speech-to-text, when present
    if not text:
        data = _fetch(rt, src)
        if data is None:
            return "expired"
        try:
            text = transcribe_bytes(data, hotwords=[r.name for r in refs[:50]], settings=rt.settings).text
        except CaptureError as exc:
            _tell(rt, src, exc.user_message, "refused")
            return "refused"
    now = utcnow()
    parsed = parse_note(text, now.astimezone(rt.playbook.tz), rt.playbook, refs)
    with rt.db.transaction() as session:
        user = session.get(User, src.user_id)
        if parsed.customer_id:
            fields = {"customer_id": parsed.customer_id, "tags": parsed.tags, "transcript": text,
                      "next_followup_at": _iso(parsed.next_followup_at),
                      "amount": str(parsed.amount) if parsed.amount is not None else None,
                      "pause_reason": parsed.pause_reason}
            draft, _ = drafts.create_draft(session, user, "followup", fields, source_event_id=src.source_id)
            card = _followup_draft_card(rt, session, draft, parsed)
        else:
            mobile = mobile_in_text(text)
            fields = {"name": parsed.customer_hint or "", "mobile": mobile, "company": None}
            draft, _ = drafts.create_draft(session, user, "customer", fields, source_event_id=src.source_id)
            matches = matches_for_draft(session, user, draft, rt.playbook)
            card = offer_card(rt.settings, rt.playbook, user, draft, matches, title="语音：可能是已有客户",
                              fields=[("转写", text[:60]), ("手机", mobile or "")]) if matches else \
                builders.capture_draft_card(
                new_card_id("draft", draft.id), title="语音：没有找到对应客户",
                fields=[("转写", text[:60]), ("手机", mobile or "")],
                note="要新建客户吗？可以先编辑补全姓名和公司。",
                actions=[("confirm", "新建客户"), ("discard", "放弃")],
                edit_link=app_link(rt.settings, f"drafts/{draft.id}"))
        outbox_id = push_card(session, user, card, subject_type="draft", subject_id=draft.id,
                              dedupe_key=f"draft:{draft.id}")
    if outbox_id:
        enqueue_delivery(rt, [outbox_id])
    return "drafted"


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _followup_draft_card(rt: Runtime, session, draft, parsed):
    customer = session.get(Customer, parsed.customer_id)
    labels = "、".join(parsed.tags) or "无"
    when = _iso(parsed.next_followup_at) or "未说明（默认两天后）"
    fields = [("客户", customer.name), ("标签", labels), ("下次跟进", when.replace("T", " ")[:16]),
              ("金额", f"{parsed.amount}元" if parsed.amount is not None else "")]
    return builders.capture_draft_card(
        new_card_id("draft", draft.id), title="语音跟进草稿", fields=fields,
        note=draft.fields.get("transcript", "")[:120],
        actions=[("confirm", "确认"), ("discard", "放弃")],
        edit_link=app_link(rt.settings, f"drafts/{draft.id}"), edit_text="改客户")
