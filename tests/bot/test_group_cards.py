"""Cards posted into a group chat: anyone of the org there may tap the ones registered for it, and
a tap (which a DingTalk interactive card reports without its chat) is placed in the card's group."""
from bot.context import CHAT_KEY, tapped_in
from bot.events import Chat, Event, Kind, Platform
from bot.router import Router
from storage.models import CardRecord, User


def _record(subject_type: str, extra: dict | None = None) -> CardRecord:
    return CardRecord(card_id="c-1", org_id=1, platform="dingtalk", recipient_user_id=10,
                      subject_type=subject_type, subject_id=5,
                      card={"card_id": "c-1", "title": "t", "extra": extra or {}})


def _tap(chat: Chat = Chat()) -> Event:
    return Event(platform=Platform.DINGTALK, event_id="card-1", org="dingcorp", sender="rep2", chat=chat,
                 kind=Kind.CARD_ACTION, payload={"card_ref": "c-1", "action": "log"})


def test_a_group_card_is_open_to_the_org_an_ordinary_card_to_its_recipient():
    router = Router()
    router.action("chat_note:log", anyone_in_chat=True)(lambda ctx, arg: None)
    router.action("customer:tag")(lambda ctx, arg: None)
    colleague, outsider = User(id=11, org_id=1), User(id=12, org_id=2)
    assert router.may_act_on(_record("chat_note"), colleague)
    assert not router.may_act_on(_record("chat_note"), outsider)
    assert not router.may_act_on(_record("customer"), colleague)
    assert router.may_act_on(_record("customer"), User(id=10, org_id=1))


def test_a_tap_happens_in_the_group_the_card_was_posted_in():
    record = _record("chat_note", {CHAT_KEY: "cidA=="})
    moved = tapped_in(_tap(), record)                       # an interactive card's callback: no chat
    assert moved.chat == Chat(conversation_id="cidA==", is_group=True)
    here = Chat(conversation_id="cidA==", is_group=True, reply_webhook="https://x/hook")
    assert tapped_in(_tap(here), record).chat == here      # the fallback's text, sent in that group
    elsewhere = Chat(conversation_id="cidB==", is_group=True)
    assert tapped_in(_tap(elsewhere), record).chat.conversation_id == "cidA=="
    assert tapped_in(_tap(), _record("customer")).chat == Chat()   # a 1:1 card stays 1:1
