"""Master data on WeCom and DingTalk (ActionCard and interactive card): the same company typed
three ways is shown before create, the 宁波东海贸易 撞单 sequence of issue 11 ends with rep2 still
owning the original and a card to the manager, and a merge moves every related row while an old
card button keeps working. Through the real callback, worker and fake platforms."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from storage import merge
from storage.models import Customer, FollowUp, Task
from storage.validators import credit_code_check_char
from tests.scenarios.test_both_platforms import Rep, stack  # noqa: F401 - the three-platform fixture

SEEDED = "上海华东机电设备有限公司"
CODE = "91330200MA2H0X123" + credit_code_check_char("91330200MA2H0X123")


def _customers(database, **where) -> list[Customer]:
    with database.transaction() as s:
        rows = s.scalars(select(Customer).filter_by(**where).order_by(Customer.id)).all()
        s.expunge_all()
        return rows


def _dump(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def test_same_company_typed_three_ways_is_shown_before_create(stack, database):
    rep2 = Rep(stack, stack.platform, "rep2")
    for i, typed in enumerate((SEEDED, "上海华东机电", "华东机电设备（上海）有限公司")):
        rep2.send(f"新客户 赵工 1390000000{i} {typed}")
        card = rep2.cards()[-1]
        assert "可能已存在" in card["title"], typed
        assert f"{SEEDED}（负责人：李明）" in _dump(card)
        assert {"ask:1", "anyway:0", "discard"} <= rep2.keys(card)
    assert len(rep2.cards()) == 3
    assert [c.name for c in _customers(database)] == [SEEDED]  # nothing was created


def test_claim_by_identifier_sequence_ends_with_a_manager_card(stack, database):
    rep2, rep3 = Rep(stack, stack.platform, "rep2"), Rep(stack, stack.platform, "rep3")
    boss = Rep(stack, stack.platform, "director")
    boss.send("帮助")  # pushes reach a person where they last talked to the bot
    rep2.send("新客户 陈东 13712345678 宁波东海贸易")
    original = _customers(database, name="宁波东海贸易")[0]
    assert original.owner_id != 0 and original.status == "incomplete"

    rep3.send("新客户 陈东 13712345678 东海贸易有限公司")  # rep2's contact mobile
    card = rep3.cards()[-1]
    assert "宁波东海贸易（负责人：王芳）" in _dump(card) and "手机号相同" in _dump(card)
    rep3.click(card, "anyway:0")  # 仍然创建：同名不同公司
    copy = _customers(database, name="东海贸易有限公司")[0]

    rep3.send(f"补全 东海贸易有限公司 {CODE}")  # filling the code first must not take the customer
    assert "负责人不会因此变更" in rep3.texts()[-1] and "撞单" in rep3.texts()[-1]
    rep2.send(f"补全 宁波东海贸易 {CODE}")
    assert rep2.texts()[-1].startswith("已补全：宁波东海贸易")

    original, copy = _customers(database, id=original.id)[0], _customers(database, id=copy.id)[0]
    assert original.owner_id == _user_id(database, "rep2") and original.identifier == f"uscc:{CODE}"
    assert copy.identifier is None and copy.owner_id == _user_id(database, "rep3")
    # rep2 (team A) and rep3 (team B) meet at the director: one review, one 撞单 card with both records
    with database.transaction() as s:
        reviews = s.scalars(select(Task).where(Task.kind == "duplicate_review")).all()
        assert len(reviews) == 1 and reviews[0].assignee.wecom_userid == "director"
    boss_cards = [c for c in boss.cards() if "撞单" in c["title"]]
    assert len(boss_cards) == 1
    text = _dump(boss_cards[0])
    assert "宁波东海贸易" in text and "东海贸易有限公司" in text and "王芳" in text and "张伟" in text
    assert {"merge", "keep", "transfer"} <= boss.keys(boss_cards[0])


def _user_id(database, uid: str) -> int:
    from storage.models import User
    with database.transaction() as s:
        return s.scalar(select(User.id).where(User.wecom_userid == uid, User.org_id == 1))


def test_merge_moves_every_row_and_an_old_card_button_still_works(stack, database):
    rep1, manager = Rep(stack, stack.platform, "rep1"), Rep(stack, stack.platform, "manager")
    manager.send("帮助")
    rep1.send("新客户 刘工 13900000009 华东机电设备（上海）有限公司")
    rep1.click(rep1.cards()[-1], "anyway:1")
    a = _customers(database, name=SEEDED)[0].id
    b = _customers(database, name="华东机电设备（上海）有限公司")[0].id
    rep1.send("查 华东机电设备（上海）有限公司")
    rep1.click(rep1.cards()[-1], "tag:quoted")        # a follow-up on B
    rep1.send("查 华东机电设备（上海）有限公司")
    old_card = rep1.cards()[-1]                          # a card of B that stays in the chat
    with database.transaction() as s:
        before = {k: merge.related_counts(s, a)[k] + v for k, v in merge.related_counts(s, b).items()}
        assert merge.related_counts(s, b)["follow_up"] == 1 and merge.related_counts(s, b)["contact"] == 1

    review_card = [c for c in manager.cards() if "撞单" in c["title"]][-1]
    manager.click(review_card, "merge")
    with database.transaction() as s:
        assert merge.related_counts(s, b) == {k: 0 for k in before}
        assert merge.related_counts(s, a) == before
        assert s.get(Customer, b).merged_into_id == a
        assert s.scalars(select(Task).where(Task.kind == "duplicate_review")).one().status == "done"

    rep1.click(old_card, "tag:quoted")                   # the old card of B now works on A
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.customer_id == a)) == 2
        assert s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.customer_id == b)) == 0
