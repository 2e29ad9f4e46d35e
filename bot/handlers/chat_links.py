"""关联客户 in a group chat (a DingTalk 客户群; the robot only hears messages that @ it there).

- "关联 华东机电" (关联客户, 绑定客户) links the group to the customer: one match links it, several
  answer with pick buttons, none says so and offers the workbench page (search or create). A customer
  the rep may not see is refused, naming its owner; a group a colleague already linked names who
  linked it to which customer and whose customer that is, and nothing changes (storage/links.py,
  the same rules as WeCom's sidebar). Linking the same customer again changes nothing.
- A bare "@robot" in a group nobody linked yet answers with a card of candidates read from the
  group's title and the workbench page link (a signed, short-lived token: cards/links.py).
- In a linked group, an @-message that is not a command ("客户说下周三来看样品 #已报价") answers with
  "记为“客户”的跟进？" and one button, 记为跟进: the `跟进` command's parser and rules
  (bot/handlers/notes.py), keyed on the message so a second tap or a retry logs nothing more.
  Anyone in the group may tap it; one who may not write to the customer is refused.
- "取消关联" undoes it: the rep who linked it, or a manager who may see the customer.
"""
from __future__ import annotations

import logging
from datetime import datetime

from cards import builders
from cards.links import ChatRef, chat_page_link
from cards.model import Card, new_card_id
from storage import customers, links
from storage.errors import Conflict, InvalidInput, PermissionDenied
from storage.models import ChatLink, Customer

from ..context import Context
from ..router import router
from . import commands, near_miss, notes

log = logging.getLogger(__name__)

LINK_SUBJECT = "chat_link"
NOTE_SUBJECT = "chat_note"
IN_GROUP_ONLY = ("关联客户要在客户群里@我发送“关联 客户名”（钉钉群）；企业微信请在客户聊天的侧边栏里关联。"
                 "和我单聊不需要关联。")
HOW_TO_LOG = "之后在群里@我说跟进内容（可带 #标签 和日期），点“记为跟进”即可记录。"


# ------------------------------------------------------------------ commands


@router.command("关联", "关联客户", "绑定", "绑定客户", usage="关联 <客户>（在客户群里@我）", in_group=True)
def link_group(ctx: Context, args: str) -> None:
    if not ctx.event.chat.is_group:
        ctx.say(IN_GROUP_ONLY)
        return
    name = args.strip()
    if not name:
        _offer_candidates(ctx)
        return
    found, total = customers.search_customers(ctx.session, ctx.user, name, limit=5)
    exact = [c for c in found if c.name == name]
    if total == 1 or exact:
        _link(ctx, (exact or found)[0].id)
        return
    if total > 1:
        more = f"，先列出前{len(found)}个" if total > len(found) else ""
        _send_link_card(ctx, f"找到{total}个“{name[:10]}”{more}", "请选择要关联到本群的客户：",
                        found)
        return
    _nothing_visible(ctx, name)


@router.command("取消关联", "解除关联", "取消绑定", usage="取消关联（在客户群里@我）", in_group=True)
def unlink_group(ctx: Context, _args: str) -> None:
    if not ctx.event.chat.is_group:
        ctx.say("请在已关联客户的群里@我发送“取消关联”。")
        return
    customer = links.unlink_chat(ctx.session, ctx.user, str(ctx.event.platform), ctx.event.chat.conversation_id,
                                 what=links.GROUP)
    ctx.say(f"已取消本群与客户“{customer.name}”的关联。需要时再@我发送“关联 客户名”。")


@router.group_text
def group_message(ctx: Context, text: str) -> None:
    """An @-message in a group that is no command: link the group first, or log it with one tap.
    A greeting or a mistyped command ("代办", "关连 华东机电") is answered as in the 1:1 chat."""
    if text and (near_miss.is_greeting(text) or near_miss.likely_command(text, router.commands)):
        commands.anything_else(ctx, text)
        return
    link = _group_link(ctx)
    if link is None or not text:
        _offer_candidates(ctx, said=bool(text))
        return
    # the customer's name only, whoever wrote: who may log it is checked on the tap
    customer = ctx.session.get(Customer, link.customer_id)
    parsed = notes.parse(ctx, customer, text, ctx.now)
    card = builders.chat_note_card(
        new_card_id("note", customer.id), customer=customer.name, note=parsed.note or text,
        fields=notes.preview(ctx, parsed),
        extra={"text": text, "said_at": ctx.now.isoformat(),
               "source": f"{ctx.event.platform}:{ctx.event.event_id}"})   # the follow-up's idempotency key
    ctx.send_card(card, NOTE_SUBJECT, customer.id)


# ------------------------------------------------------------------ taps on the group's cards


@router.action(f"{LINK_SUBJECT}:pick", anyone_in_chat=True)
def pick_customer(ctx: Context, customer_id: str) -> None:
    if not customer_id.isdigit():
        raise InvalidInput("customer", "这个按钮已失效，请在群里重新@我")
    customer = _link(ctx, int(customer_id))
    ctx.finish_card(f"已关联：{customer.name}")


@router.action(f"{NOTE_SUBJECT}:log", anyone_in_chat=True)
def log_note(ctx: Context, _arg: str) -> None:
    extra = Card.from_dict(ctx.card_record.card).extra
    customer_id = ctx.card_record.subject_id
    link = _group_link(ctx)
    if link is None or link.customer_id != customer_id:
        raise Conflict("本群关联的客户已经变了，这条消息没有记录。请重新@我说一遍。")
    try:
        customer = customers.get_customer(ctx.session, ctx.user, customer_id)
    except PermissionDenied:
        other = ctx.session.get(Customer, customer_id)
        raise PermissionDenied(f"{ctx.user.name}无权给客户“{other.name}”记跟进（负责人：{other.owner.name}），"
                               "请负责人或其经理来点“记为跟进”。") from None
    said_at = datetime.fromisoformat(extra["said_at"])
    parsed = notes.parse(ctx, customer, extra["text"], said_at)
    followup = notes.record(ctx, customer, parsed, source_event_id=extra["source"], occurred_at=said_at)
    ctx.finish_card(f"已记为跟进：{notes.labels(ctx, followup.tags)}，下次跟进 {notes.next_due(ctx, followup)}")
    remarks = notes.remarks(ctx, parsed)
    if remarks:
        ctx.say("\n".join(remarks))


# ------------------------------------------------------------------ helpers


def _group_link(ctx: Context) -> ChatLink | None:
    return links.find_link(ctx.session, ctx.user.org_id, str(ctx.event.platform), ctx.event.chat.conversation_id)


def _link(ctx: Context, customer_id: int) -> Customer:
    before = _group_link(ctx)
    link = links.link_chat(ctx.session, ctx.user, str(ctx.event.platform), ctx.event.chat.conversation_id,
                           customer_id, now=ctx.now, what=links.GROUP)
    customer = customers.get_customer(ctx.session, ctx.user, link.customer_id)
    if before is not None:
        ctx.say(f"本群已关联客户“{customer.name}”，无需重复关联。")
    else:
        ctx.say(f"已把本群关联到客户“{customer.name}”（负责人：{customer.owner.name}）。{HOW_TO_LOG}")
    return customer


def _page_link(ctx: Context) -> str | None:
    """The workbench page for this group; None without CRMBOT_SECRET_KEY (the chat still works)."""
    secret = ctx.settings.crmbot_secret_key
    if not secret:
        log.warning("CRMBOT_SECRET_KEY is not set: group cards go out without the workbench link")
        return None
    chat = ctx.event.chat
    return chat_page_link(ctx.public_url, secret, ChatRef(ctx.user.org_id, str(ctx.event.platform),
                                                          chat.conversation_id, chat.title or ""))


def _send_link_card(ctx: Context, title: str, text: str, choices: list[Customer]) -> None:
    card = builders.chat_link_card(new_card_id("link", ctx.user.id), title=title, text=text,
                                   choices=[(c.id, c.name, c.owner.name) for c in choices],
                                   page_link=_page_link(ctx))
    ctx.send_card(card, LINK_SUBJECT, ctx.user.id)


def _offer_candidates(ctx: Context, said: bool = False) -> None:
    """A group nobody linked yet: customers its title names, and the page to search or create.
    A group a colleague linked says so instead (who, which customer, whose)."""
    link = _group_link(ctx)
    if link is not None:
        try:
            customer = customers.get_customer(ctx.session, ctx.user, link.customer_id)
        except PermissionDenied:
            ctx.say(links.taken_message(ctx.session, link, links.GROUP) + "，如需跟进请联系负责人。")
            return
        ctx.say(f"本群已关联客户“{customer.name}”（负责人：{customer.owner.name}）。{HOW_TO_LOG}"
                "发送“取消关联”可解除。")
        return
    title = ctx.event.chat.title or ""
    found = links.candidates_for_title(ctx.session, ctx.user, title)
    first = "先把本群关联到客户，之后@我的话可一键记为跟进。" if said else "本群还没有关联客户。"
    hint = "可能是下面的客户，点一下即可关联；" if found else "没有从群名找到你的客户，"
    _send_link_card(ctx, f"关联客户：{title[:16]}" if title else "把本群关联到客户",
                    first + hint + "也可以打开工作台搜索或新建。", found)


def _nothing_visible(ctx: Context, name: str) -> None:
    """No customer of the rep answers to `name`. One a colleague owns is refused, naming the owner;
    a near miss among the rep's own is offered; otherwise the page to search or create."""
    near = customers.find_matches(ctx.session, ctx.user.org_id, company=name, playbook=ctx.playbook)
    visible = [c for c in near if _may_see(ctx, c)]
    if visible:
        _send_link_card(ctx, f"没有叫“{name[:10]}”的客户", "你是不是要关联：", visible[:4])
        return
    if near:
        other = near[0]
        raise PermissionDenied(f"客户“{other.name}”由{other.owner.name}负责，你无权把本群关联到它。"
                               f"请{other.owner.name}或其经理在群里@我发送“关联 {other.name}”。")
    _send_link_card(ctx, f"没有找到客户“{name[:10]}”",
                    "请换个名字再试（如“关联 华东机电”），或打开工作台搜索、新建客户后关联。", [])


def _may_see(ctx: Context, customer: Customer) -> bool:
    try:
        customers.get_customer(ctx.session, ctx.user, customer.id)
    except PermissionDenied:
        return False
    return True
