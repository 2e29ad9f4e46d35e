"""Capture jobs: a photo becomes a customer draft, a voice note a follow-up (or customer) draft,
each shown to the rep as a card to confirm with one tap.

Each job can be retried without doing its effect twice: media is stored by hash, the draft is
unique per source event, and the card's outbox row is unique per draft. The slow parts (download,
OCR, ASR) run outside any transaction.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import PermanentError
from bot.events import Event
from bot.handlers.duplicates import matches_for_draft, offer_card
from bot.outbound import Outbound, Purpose, sender_for
from bot.services import Services
from cards import formats, rows
from ocr_asr import vocabulary
from ocr_asr.errors import CaptureError
from ocr_asr.name_correction import correct_names
from ocr_asr.note_parser import CustomerRef, company_keys, parse_note
from ocr_asr.transcribe import transcribe_bytes
from ocr_asr.voice_customer import parse_voice_customer
from storage import drafts, media, users
from storage.models import Contact, Customer, InboxEvent, User
from storage.validators import mobile_in_text

from .runtime import current_runtime

log = logging.getLogger(__name__)

MEDIA_EXPIRED = "这条消息的文件已过期或无法下载，请重新发送一次。"


@dataclass
class _Source:
    event: Event
    user_id: int
    org_id: int

    @property
    def source_id(self) -> str:
        return f"{self.event.platform}:{self.event.event_id}"


def _load(rt: Services, inbox_id: int) -> _Source | None:
    with rt.db.transaction() as session:
        event = Event.from_dict(session.get(InboxEvent, inbox_id).event)
        user = users.user_for_platform(session, str(event.platform), event.org, event.sender)
        return _Source(event, user.id, user.org_id) if user else None


@contextmanager
def _answer(rt: Services) -> Iterator[tuple[Session, Outbound]]:
    """A transaction and the one way out; what it wrote is delivered after the commit. A capture
    result answers what the rep just sent, so it is never paced."""
    with rt.db.transaction() as session:
        out = Outbound(session, rt.playbook, rt.settings, rt.clock.now())
        yield session, out
    out.deliver_after_commit(rt.queue)


def _tell(rt: Services, src: _Source, text: str, key: str) -> None:
    with _answer(rt) as (session, out):
        out.text(session.get(User, src.user_id), text, dedupe_key=f"capture:{src.source_id}:{key}",
                 purpose=Purpose.REPLY)


def _show(out: Outbound, user: User, card, draft) -> None:
    out.card(user, card, subject_type="draft", subject_id=draft.id, dedupe_key=f"draft:{draft.id}",
             purpose=Purpose.REPLY)


def _fetch(rt: Services, src: _Source) -> bytes | None:
    try:
        return sender_for(str(src.event.platform)).download(rt, src.event.payload["media_ref"])
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
    # every key the scan gives that a draft keeps (a second mobile, the fax, the English name ...)
    fields = {key: value for key, value in card.all_fields().items() if key in drafts.SCANNED_FIELDS}
    if not (fields["name"] or fields["company"] or fields["mobile"]):
        _tell(rt, src, "没有从照片里识别出名片信息，请对准名片、光线充足后再拍一张。", "empty")
        return "empty"
    with _answer(rt) as (session, out):
        user = session.get(User, src.user_id)
        asset = media.store_media(session, src.org_id, data, "image", rt.settings.crmbot_media_dir)
        draft, _ = drafts.create_draft(session, user, "customer", fields, source_event_id=src.source_id,
                                       media_id=asset.id)
        _show(out, user, _customer_draft_card(rt, session, user, draft), draft)
    return "drafted"


def _customer_draft_card(rt: Services, session, user: User, draft, source: str = "名片"):
    """The draft to confirm, the same for a card photo and a voice note (`source` names which); when
    it looks like an existing customer, the show-before-create card (owners named, open / add as
    contact / ask / create anyway with a reason)."""
    fields = draft.fields
    matches = matches_for_draft(session, user, draft, rt.playbook) \
        if (fields.get("company") or fields.get("name") or fields.get("mobile")) else []
    shown = rows.customer_draft_fields(fields)
    public_url = rt.settings.crmbot_public_url
    if matches:
        return offer_card(public_url, rt.playbook, user, draft, matches, fields=shown,
                          title=f"{source}识别结果：客户已存在" if matches[0].exact else f"{source}识别结果：可能重复")
    return rows.draft_card(draft, public_url, title=f"{source}识别结果", fields=shown,
                           note="", hint="核对无误后点“确认创建”。",
                           actions=[("confirm", "确认创建"), ("discard", "放弃")])


# ------------------------------------------------------------------ voice notes


def capture_voice(inbox_id: int) -> str:
    rt = current_runtime()
    src = _load(rt, inbox_id)
    if src is None:
        return "skipped"
    with rt.db.transaction() as session:
        user = session.get(User, src.user_id)
        owned = session.scalars(select(Customer).where(Customer.owner_id == user.id)
                                .order_by(Customer.last_interaction_at.desc().nulls_last()).limit(200)).all()
        refs = [CustomerRef(id=c.id, name=c.name, company=None) for c in owned]
        contact_names = list(session.scalars(select(Contact.name).where(
            Contact.customer_id.in_([c.id for c in owned[:50]])).order_by(Contact.id)))
    text = src.event.payload.get("recognition")  # DingTalk's own speech-to-text, when present
    if not text:
        data = _fetch(rt, src)
        if data is None:
            return "expired"
        words = vocabulary.hotwords([r.name for r in refs[:30]], contact_names, rt.playbook)
        try:
            text = transcribe_bytes(data, hotwords=words, settings=rt.settings).text
        except CaptureError as exc:
            _tell(rt, src, exc.user_message, "refused")
            return "refused"
    # A misheard customer or contact name must not become the record; the card shows each fix.
    # Reps say the short name ("星河科技"), so the company keys of each name count as names too.
    known = [*(r.name for r in refs), *(k for r in refs for k in company_keys(r.name) if len(k) >= 3),
             *contact_names]
    text, fixes = correct_names(text, known)
    now = rt.clock.now()
    parsed = parse_note(text, now.astimezone(rt.playbook.tz), rt.playbook, refs)
    with _answer(rt) as (session, out):
        user = session.get(User, src.user_id)
        if parsed.customer_id:
            fields = {"customer_id": parsed.customer_id, "tags": parsed.tags, "transcript": text,
                      "next_followup_at": _iso(parsed.next_followup_at),
                      "amount": str(parsed.amount) if parsed.amount is not None else None,
                      "pause_reason": parsed.pause_reason}
            draft, _ = drafts.create_draft(session, user, "followup", fields, source_event_id=src.source_id)
            card = _followup_draft_card(rt, session, draft, parsed, fixes, now)
        elif new_customer := parse_voice_customer(text):
            # "刚见了先和科技的王总，手机139…": a new customer, drafted exactly as from a card photo.
            draft, _ = drafts.create_draft(session, user, "customer", new_customer.fields(),
                                           source_event_id=src.source_id)
            card = _customer_draft_card(rt, session, user, draft, source="语音")
        else:
            mobile = mobile_in_text(text)
            fields = {"name": parsed.customer_hint or "", "mobile": mobile, "company": None}
            draft, _ = drafts.create_draft(session, user, "customer", fields, source_event_id=src.source_id)
            matches = matches_for_draft(session, user, draft, rt.playbook)
            card = offer_card(rt.settings.crmbot_public_url, rt.playbook, user, draft, matches,
                              title="语音：可能是已有客户",
                              fields=[("转写", text[:60]), ("手机", mobile or "")]) if matches else \
                rows.draft_card(
                draft, rt.settings.crmbot_public_url, title="语音：没有找到对应客户",
                fields=[("转写", formats.fit(text, 60)), ("手机", mobile or "")],
                note="", hint="要新建客户吗？可以先编辑补全姓名和公司。",
                actions=[("confirm", "新建客户"), ("discard", "放弃")])
        _show(out, user, card, draft)
    return "drafted"


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _followup_draft_card(rt: Services, session, draft, parsed, fixes, now):
    customer = session.get(Customer, parsed.customer_id)
    labels = "、".join(parsed.tags) or "无"
    when = formats.when(parsed.next_followup_at, rt.playbook.tz, now, empty="未说明（默认两天后）")
    fields = [("客户", customer.name), ("标签", labels), ("下次跟进", when),
              ("金额", formats.money(parsed.amount))]
    if fixes:
        fields.append(("已更正", "、".join(str(f) for f in fixes)))
    return rows.draft_card(
        draft, rt.settings.crmbot_public_url, title="语音跟进草稿", fields=fields,
        note=formats.fit(draft.fields.get("transcript", ""), 120),
        actions=[("confirm", "确认"), ("discard", "放弃")], edit_text="改客户", subject=customer.name)
