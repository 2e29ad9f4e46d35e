"""A card that prints more than the basics, end to end on both platforms: two mobiles, a fax beside the
phone and an English name beside the Chinese one. The photo goes through the real callback, the worker
and the real OCR; the rep's draft card shows "手机 150… / 133…", the English name and the fax (never as
the phone); one tap stores all of it on the contact, where the duplicate check then finds the second
mobile. Text the rep sees is read back from what the fake WeCom / fake DingTalk received."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from bot.wecom import fake as wc_fake
from storage.dedupe import Candidate, find_duplicates
from storage.models import Contact, Customer

pytestmark = pytest.mark.slow  # runs the real OCR

# Seed 5000 with these conditions prints 曹涵兰 / Jason Huang, 恒通物流有限公司, two mobiles on two lines
# and 电话 … 传真 … on one line; today's scanner reads every one of those fields from the photo.
SEED = 5000


@pytest.fixture(scope="module")
def card():
    from tests.ocr_asr.cardgen import FONT_PACKAGE, RealConditions, find_font, make_card
    if find_font("sans") is None:
        pytest.skip(f"no CJK font to draw test cards: apt-get install -y {FONT_PACKAGE}")
    made = make_card(SEED, real=RealConditions(seed=SEED, typeface="sans", mobile2=True, english_beside=True,
                                               fax_beside=True, english_title=True))
    truth = made.truth
    # what the test is about
    assert truth.mobile2 and truth.english_name and truth.english_title and truth.fax and truth.phone
    return made


def _photo(card) -> bytes:
    from tests.ocr_asr.cardgen import photograph
    return photograph(card.image, SEED, turn=0)


def _stored_contact(database, mobile: str) -> tuple[Contact, Customer]:
    with database.transaction() as s:
        contact = s.scalars(select(Contact).where(Contact.mobile == mobile)).one()
        customer = s.get(Customer, contact.customer_id)
        s.expunge_all()
        return contact, customer


def _assert_stored(database, truth, owner: str) -> None:
    contact, customer = _stored_contact(database, truth.mobile)
    assert customer.name == truth.company
    assert (contact.name, contact.mobile2, contact.phone, contact.fax, contact.english_name,
            contact.english_title) == (truth.name, truth.mobile2, truth.phone, truth.fax, truth.english_name,
                                       truth.english_title)
    with database.transaction() as s:
        assert s.get(Customer, customer.id).owner.name == owner
        # the second mobile is an identifier: a later card or lead giving it finds this customer
        found = find_duplicates(s, customer.org_id, Candidate(mobile=truth.mobile2))
        assert [m.customer_id for m in found] == [customer.id] and found[0].exact


def test_wecom_card_with_two_mobiles_fax_and_english_name(stack, database, card):
    truth = card.truth
    media_id = stack.wecom.add_media(_photo(card), "image/jpeg")
    stack.wecom_post(wc_fake.image_xml(stack.settings.wecom_corp_id, "rep1", media_id, msg_id=991001))
    stack.drain()
    sent = [m["body"]["template_card"] for m in stack.wecom.sent
            if m["path"].endswith("/message/send") and m["body"].get("msgtype") == "template_card"]
    draft = sent[-1]
    assert draft["main_title"]["title"] == "名片识别结果"
    shown = {item["keyname"]: item["value"] for item in draft["horizontal_content_list"]}
    assert shown["手机"] == f"{truth.mobile} / {truth.mobile2}"
    assert shown["电话"] == truth.phone and truth.fax not in shown.values()   # the fax is never the phone
    # fields past WeCom's six go under the title, whole
    below = draft["sub_title_text"].splitlines()
    assert f"英文名：{truth.english_name}" in below and f"传真：{truth.fax}" in below
    assert f"英文职务：{truth.english_title}" in below
    assert "核对无误后点“确认创建”" in draft["sub_title_text"]

    confirm = next(b for b in draft["button_list"] if b.get("key") == "confirm")
    stack.wecom_click("rep1", draft["task_id"], confirm["key"])
    stack.drain()
    done = [m for m in stack.wecom.sent if m["path"].endswith("/update_template_card")][-1]["body"]["template_card"]
    assert "已创建客户" in done["main_title"]["desc"] and "核对无误" not in done.get("sub_title_text", "")
    _assert_stored(database, truth, "李明")


def test_dingtalk_card_with_two_mobiles_fax_and_english_name(stack, database, card):
    truth = card.truth
    code = stack.dingtalk.add_file(_photo(card))
    assert stack.dingtalk_post(stack.dingtalk_message("picture", "rep2", content={"downloadCode": code})
                               ).status_code == 200
    stack.drain()
    cards = [e for e in stack.dingtalk.sent_to("batchSend") if e["body"]["msgKey"].startswith("sampleActionCard")]
    param = cards[-1]["msg_param"]
    assert "名片识别结果" in param["title"]
    text = param["text"]
    assert f"**手机**：{truth.mobile} / {truth.mobile2}" in text
    assert f"**英文名**：{truth.english_name}" in text and f"**传真**：{truth.fax}" in text
    assert f"**英文职务**：{truth.english_title}" in text
    assert f"**电话**：{truth.phone}" in text
    confirm = next(param[f"actionURL{i}"] for i in range(1, 5) if param.get(f"actionTitle{i}") == "确认创建")
    assert stack.dingtalk_text("rep2", parse_qs(urlparse(confirm).query)["content"][0]).status_code == 200
    stack.drain()
    _assert_stored(database, truth, "王芳")
    answer = stack.dingtalk.sent_to("batchSend")[-1]["msg_param"]["content"]
    assert "已创建客户 恒通物流有限公司" in answer and "王芳" in answer
