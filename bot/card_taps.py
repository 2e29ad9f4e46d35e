"""A tap on a card button that arrives as the person's own text, and the card it came from.

DingTalk's classic ActionCard (used when no interactive-card template is configured) can only open
URLs: a button opens `dtmd://dingtalkclient/sendMessage?content=…`, and the person's client sends
that text into the chat as them. The text is written for people ("☑ 老板未拍板 · 上海华东机电设备有限公司",
cards/dingtalk.py `button_texts`) and names no card and no key, so the card is found here: among the
cards this person was sent on this platform, and when the text was sent in a group chat also among
the cards posted into that group, by writing each card's button texts again from the card as it was
sent (the outbox keeps it) and comparing.

Which card a text means, decided in this order:
- only cards sent to this person on this platform, plus, for a text sent in a group, the cards posted
  into that very group that this person may act on (`Group.may_act`: the router's rule, a chat-wide
  card by anyone of its org, as with a tap on an interactive card). The same text sent by a colleague
  can never reach someone else's 1:1 card, nor a card of another group. Only the newest `LOOKBACK`
  card messages of each (the person's, the group's) count, older cards have expired;
- the newest open card that shows the text wins: the one nearest the bottom of the chat;
- unless a newer card showing the text is already done AND is about the same record (subject type and
  id). Then the tap repeats what was done — the same button tapped twice (an ActionCard keeps its
  buttons after the tap), or two 查 cards of one customer — and the done card answers (the router's
  "已经处理过了" middleware) instead of the work being done twice;
- no open card shows it: the newest done card answers (or acts, for what a done card still offers: 撤销);
- nothing shows it: None, and the person is told the card has expired and what to do instead.
Two open cards about different records that read the same (same subject, same button) resolve to
the newest. `Card.subject` makes that rare: a customer card is named by the customer, a draft by the
name read from the photo, so three business cards photographed in a row are three subjects.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from sqlalchemy import select
from sqlalchemy.orm import Session

from cards.dingtalk import button_texts, read_button_text, tapped_label
from cards.model import Card
from storage import messaging
from storage.models import CardRecord, User

LOOKBACK = 200   # card messages (sends and updates) a tap is looked up among


@dataclass(frozen=True)
class Tap:
    record: CardRecord
    key: str


@dataclass(frozen=True)
class Group:
    """The group chat a tap's text was sent in, and whether a person may act on a card posted there
    (passed in: the rule is the router's, and storage knows no router)."""
    conversation_id: str
    may_act: Callable[[CardRecord, User], bool]


def resolve(session: Session, user: User, platform: str, text: str, group: Group | None = None) -> Tap | None:
    """The card `text` (a button's text, sent by `user` on `platform`) was tapped on; `group`: the
    group chat it was sent in, if any."""
    text = read_button_text(text)
    if text is None:
        return None
    mine = messaging.cards_shown_to(session, user.id, platform, LOOKBACK)
    posted = messaging.cards_shown_in(session, group.conversation_id, platform, LOOKBACK) if group else []
    matches: dict[str, str] = {}   # card id → key, newest card first
    for message in heapq.merge(mine, posted, key=attrgetter("sent_in"), reverse=True):
        key = button_texts(Card.from_dict(message.card)).get(text)
        if key is not None:
            matches.setdefault(message.card_id, key)
    posted_here = {message.card_id for message in posted}

    def may_tap(record: CardRecord) -> bool:
        return record.platform == platform and (record.recipient_user_id == user.id or (
            group is not None and record.card_id in posted_here and group.may_act(record, user)))

    records = {r.card_id: r for r in session.scalars(select(CardRecord).where(CardRecord.card_id.in_(matches)))}
    done: dict[tuple[str, int], Tap] = {}
    for card_id, key in matches.items():
        record = records.get(card_id)
        if record is None or not may_tap(record):
            continue
        subject = (record.subject_type, record.subject_id)
        if record.status != "done":
            return done.get(subject) or Tap(record, key)
        done.setdefault(subject, Tap(record, key))
    return next(iter(done.values()), None)


def not_found(text: str) -> str:
    """What a person is told when their tap matches no card of theirs."""
    label = tapped_label(text)
    what = f"“{label}”没有执行。" if label else "这次没有执行任何操作。"
    return f"这张卡片已过期或不是发给你的，{what}请发送“待办”查看最新任务，或发送“查 客户名”重新打开客户卡片。"
