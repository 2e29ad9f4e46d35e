"""A new customer from a voice note, end to end on both platforms: a TTS recording of a rep saying
who they met (name, company, title, mobile spoken digit by digit) goes through the real callback,
the worker, the real ASR and the voice-customer rules; the rep gets the same draft card as for a
card photo, confirms it with one tap, and the customer exists with the name, company, title and mobile
said. A colleague's note about the same mobile gets the duplicate warning naming the owner instead,
and creates nothing. Both platforms, each from its own TTS recording (AMR for WeCom, Ogg for DingTalk)."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from bot.wecom import fake as wc_fake
from storage.models import CaptureDraft, Contact, Customer

AUDIO = Path(__file__).resolve().parents[1] / "ocr_asr" / "fixtures" / "audio"
MANIFEST = json.loads((AUDIO / "manifest.json").read_text(encoding="utf-8"))

pytestmark = pytest.mark.slow  # runs the real speech recognizer


def _wecom_cards(state):
    return [m["body"]["template_card"] for m in state.sent
            if m["path"].endswith("/message/send") and m["body"].get("msgtype") == "template_card"]


def _shown(card) -> dict[str, str]:
    return {item["keyname"]: item["value"] for item in card.get("horizontal_content_list", [])}


def _customer_drafts(database) -> list[dict]:
    with database.transaction() as s:
        return [d.fields for d in s.scalars(select(CaptureDraft).where(CaptureDraft.kind == "customer"))]


def _stored(database, mobile: str) -> tuple[str, str, str | None, str, int]:
    """(customer name, contact name, contact title, owner name, customers with this mobile)."""
    with database.transaction() as s:
        contacts = s.scalars(select(Contact).where(Contact.mobile == mobile)).all()
        contact = contacts[0]
        customer = s.get(Customer, contact.customer_id)
        return customer.name, contact.name, contact.title, customer.owner.name, len(contacts)


def test_wecom_voice_note_drafts_a_customer_confirmed_with_one_tap(stack, database):
    media_id = stack.wecom.add_media((AUDIO / "customer_xianhe.amr").read_bytes(), "audio/amr")
    stack.wecom_post(wc_fake.voice_xml(stack.settings.wecom_corp_id, "rep1", media_id, msg_id=770001))
    stack.drain()
    card = _wecom_cards(stack.wecom)[-1]
    assert card["main_title"]["title"] == "语音识别结果"          # the photo's card, named for its source
    shown = _shown(card)
    assert shown["手机"] == "13912345678"
    # the first character is the speech model's homophone pick (先/鲜 both heard); the rest is parsing
    assert shown["公司"].endswith("和科技有限公司") and len(shown["公司"]) == 8 and shown["职务"] == "销售总监"
    assert shown["姓名"].startswith("王")
    confirm = next(b for b in card["button_list"] if b.get("key") == "confirm")
    stack.wecom_click("rep1", card["task_id"], confirm["key"])
    stack.drain()
    # what the card showed is what was stored, on one tap
    assert _stored(database, "13912345678") == (shown["公司"], shown["姓名"], "销售总监", "李明", 1)

    # A colleague tells the same customer: not in their own book, so a new-customer draft, and the
    # photo card's duplicate check says whose it is. (For rep1 it is now their customer: a follow-up.)
    media_id = stack.wecom.add_media((AUDIO / "customer_xianhe.amr").read_bytes(), "audio/amr")
    stack.wecom_post(wc_fake.voice_xml(stack.settings.wecom_corp_id, "rep2", media_id, msg_id=770002))
    stack.drain()
    again = [m["body"]["template_card"] for m in stack.wecom.sent if m["path"].endswith("/message/send")
             and m["body"].get("msgtype") == "template_card" and m["body"].get("touser") == "rep2"][-1]
    assert again["main_title"]["title"] == "语音识别结果：客户已存在"
    assert "李明" in json.dumps(again, ensure_ascii=False)
    assert _stored(database, "13912345678")[4] == 1   # shown, never created silently


def test_dingtalk_voice_note_drafts_the_same_customer_card(stack, database):
    code = stack.dingtalk.add_file((AUDIO / "customer_boyuan.ogg").read_bytes())
    message = stack.dingtalk_message("audio", "rep1", content={"downloadCode": code, "duration": 6000},
                                     session_webhook=stack.dingtalk.session_webhook_url())
    assert stack.dingtalk_post(message).status_code == 200
    stack.drain()
    cards = [e for e in stack.dingtalk.sent_to("batchSend") if e["body"]["msgKey"].startswith("sampleActionCard")]
    assert cards, "no draft card was sent"
    param = cards[-1]["msg_param"]
    assert "语音识别结果" in param["title"]
    drafts = _customer_drafts(database)
    assert len(drafts) == 1
    fields = drafts[0]
    assert fields["mobile"] == "15812345678"
    assert fields["company"] == "华信电子有限公司" and fields["title"] == "销售经理"
    # the given name is the speech model's homophone pick (with the rep's hotwords in Whisper's prompt
    # it hears 张为); the rep sees it on the card before the one tap
    assert fields["name"].startswith("张") and len(fields["name"]) == 2
    for shown in ("**手机**：15812345678", "**公司**：华信电子有限公司", "**职务**：销售经理", f"**姓名**：{fields['name']}"):
        assert shown in param["text"]
    confirm = next(param[f"actionURL{i}"] for i in range(1, 5) if param.get(f"actionTitle{i}") == "确认创建")
    button_text = parse_qs(urlparse(confirm).query)["content"][0]
    assert stack.dingtalk_text("rep1", button_text,
                               session_webhook=stack.dingtalk.session_webhook_url()).status_code == 200
    stack.drain()
    assert _stored(database, "15812345678") == ("华信电子有限公司", fields["name"], "销售经理", "李明", 1)

    # A colleague on DingTalk tells the same customer: the duplicate check names its owner, nothing new.
    code = stack.dingtalk.add_file((AUDIO / "customer_boyuan.ogg").read_bytes())
    message = stack.dingtalk_message("audio", "rep2", content={"downloadCode": code, "duration": 6000},
                                     session_webhook=stack.dingtalk.session_webhook_url())
    assert stack.dingtalk_post(message).status_code == 200
    stack.drain()
    again = [e for e in stack.dingtalk.sent_to("batchSend") if e["body"]["userIds"] == ["rep2"]
             and e["body"]["msgKey"].startswith("sampleActionCard")][-1]["msg_param"]
    assert again["title"] == "语音识别结果：客户已存在" and "华信电子有限公司（负责人：李明）" in again["text"]
    assert _stored(database, "15812345678")[4] == 1


def test_fixtures_say_what_the_tests_expect():
    assert "一三九一二三四五六七八" in MANIFEST["customer_xianhe.amr"]
    assert "一五八一二三四五六七八" in MANIFEST["customer_boyuan.ogg"] and "张伟" in MANIFEST["customer_boyuan.ogg"]
