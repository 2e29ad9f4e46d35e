"""The card for each situation, built from plain values (cards/ never reads the store).
Every text here is what a rep or manager reads: Simplified Chinese, short, with one-tap actions."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Sequence

from . import formats
from .model import Button, ButtonStyle, Card, CardField


def when(dt: datetime | None, tz, now: datetime | None = None) -> str:
    """See cards.formats.when: 12-02 15:00 this year, 2027-01-05 15:00 otherwise."""
    return formats.when(dt, tz, now)


def days_ago(dt: datetime | None, now: datetime) -> str:
    if dt is None:
        return "从未联系"
    days = (now - dt).days
    return "今天" if days <= 0 else f"{days}天前"


def customer_summary(card_id: str, *, name: str, owner: str, status_label: str, last_contact: str,
                     last_summary: str | None, stage: str | None, next_followup: str,
                     quick_tags: Sequence[tuple[str, str]], link: str | None) -> Card:
    """`查` answer: who owns it, when we last talked, where the deal is, and one-tap tags."""
    fields = [CardField("负责人", owner), CardField("上次联系", last_contact),
              CardField("阶段", stage or "暂无商机"), CardField("下次跟进", next_followup)]
    buttons = [Button(text=label, key=f"tag:{key}", style=ButtonStyle.PRIMARY if i == 0 else ButtonStyle.DEFAULT)
               for i, (key, label) in enumerate(quick_tags[:3])]
    if link:
        buttons.append(Button(text="打开详情", url=link))
    return Card(card_id=card_id, title=f"{name}（{status_label}）", text=last_summary or "",
                fields=tuple(fields), buttons=tuple(buttons), link=link, source="客户", subject=name)


# What a task's card asks while it is open, per task kind (gone from the card once it is done).
TASK_HINTS: dict[str, str] = {
    "lead_assignment": "请在{claim_minutes}分钟内认领，超时将改派给其他同事。",
    "data_completion": "在详情页补全后，这条待办会自动完成。",
}


def task_hint(kind: str, playbook) -> str:
    return TASK_HINTS.get(kind, "").format(claim_minutes=playbook.rules.claim_timeout.minutes)


def task_card(card_id: str, *, title: str, detail: str | None, fields: Sequence[tuple[str, str]],
              actions: Sequence[tuple[str, str]], link: str | None, source: str = "待办",
              hint: str = "") -> Card:
    """A task with its one-tap actions, e.g. [("done", "已联系"), ("snooze", "7天后提醒")]."""
    buttons = tuple(Button(text=text, key=key, style=ButtonStyle.PRIMARY if i == 0 else ButtonStyle.DEFAULT)
                    for i, (key, text) in enumerate(actions))
    if link:
        buttons += (Button(text="打开", url=link),)
    return Card(card_id=card_id, title=title, text=detail or "", hint=hint,
                fields=tuple(CardField(k, v) for k, v in fields), buttons=buttons, link=link,
                source=source)


def new_contact_card(card_id: str, *, contact_name: str, matches: Sequence[tuple[int, str, str]],
                     link: str | None) -> Card:
    """新好友: link to a customer that looks like them, create one, or ignore."""
    buttons = [Button(text=f"关联：{name[:8]}", key=f"link:{cid}", style=ButtonStyle.PRIMARY)
               for cid, name, _owner in matches[:3]]
    buttons += [Button(text="新建客户", key="create"), Button(text="忽略", key="ignore")]
    text = ("可能是已有客户：" + "；".join(f"{n}（{o}）" for _, n, o in matches[:3])) if matches \
        else "没有找到匹配的客户，可以直接新建。"
    return Card(card_id=card_id, title=f"新好友 {contact_name}", text=text, buttons=tuple(buttons),
                link=link, source="客户联系")


def capture_draft_card(card_id: str, *, title: str, fields: Sequence[tuple[str, str]], note: str,
                       actions: Sequence[tuple[str, str]], edit_link: str | None,
                       edit_text: str = "编辑", hint: str = "", subject: str = "") -> Card:
    """`subject`: who the draft is about (the name read from the photo), so two drafts in one chat
    are told apart by more than their title."""
    buttons = tuple(Button(text=text, key=key, style=ButtonStyle.PRIMARY if i == 0 else
                           (ButtonStyle.DANGER if key == "discard" else ButtonStyle.DEFAULT))
                    for i, (key, text) in enumerate(actions))
    if edit_link:
        buttons = buttons[:1] + (Button(text=edit_text, url=edit_link),) + buttons[1:]
    return Card(card_id=card_id, title=title, text=note, hint=hint,
                fields=tuple(CardField(k, v) for k, v in fields if v), buttons=buttons,
                link=edit_link, source="拍名片 / 语音录入", subject=subject)


def pick_card(card_id: str, *, title: str, choices: Sequence[tuple[int, str, str]]) -> Card:
    """Several records answer a lookup: one button per record (name and owner), `pick:<id>`."""
    buttons = tuple(Button(text=name[:10], key=f"pick:{cid}", style=ButtonStyle.PRIMARY if i == 0 else ButtonStyle.DEFAULT)
                    for i, (cid, name, _owner) in enumerate(choices[:5]))
    text = "\n".join(f"{i}. {name}（负责人：{owner}）" for i, (_cid, name, owner) in enumerate(choices[:5], 1))
    return Card(card_id=card_id, title=title, text=text, buttons=buttons, source="选择客户")


def chat_link_card(card_id: str, *, title: str, text: str, choices: Sequence[tuple[int, str, str]],
                   page_link: str | None) -> Card:
    """关联客户 in a group chat: one button per customer the group may be about (name and owner in
    the text), `pick:<id>`, and the workbench page to search for or create another one."""
    buttons = [Button(text=f"关联：{name[:8]}", key=f"pick:{cid}",
                      style=ButtonStyle.PRIMARY if i == 0 else ButtonStyle.DEFAULT)
               for i, (cid, name, _owner) in enumerate(choices[:4])]
    if page_link:
        buttons.append(Button(text="搜索/新建客户", url=page_link))
    lines = [text] + [f"{i}. {name}（负责人：{owner}）" for i, (_cid, name, owner) in enumerate(choices[:4], 1)]
    return Card(card_id=card_id, title=title, text="\n".join(lines), buttons=tuple(buttons), link=page_link,
                source="关联客户")


def chat_note_card(card_id: str, *, customer: str, note: str, fields: Sequence[tuple[str, str]],
                   extra: dict) -> Card:
    """A message said in a linked group, offered as a follow-up of the group's customer: one tap
    on 记为跟进 (key `log`). `extra` keeps what the tap needs (the words, when, the message id)."""
    return Card(card_id=card_id, title=f"记为“{customer}”的跟进？", text=note,
                fields=tuple(CardField(k, v) for k, v in fields if v),
                buttons=(Button(text="记为跟进", key="log", style=ButtonStyle.PRIMARY),),
                source="群消息", extra=extra)


def done(card: Card, note: str, link: str | None = None) -> Card:
    """The same card after a click: no action buttons, no instructions (the hint), a line saying
    what was done and by whom. `link` replaces where the card and its 打开 button lead (what was
    acted on may have moved)."""
    buttons = tuple(replace(b, url=link or b.url) for b in card.buttons if b.url)
    return replace(card, buttons=buttons, done_note=note, link=link or card.link, hint="")


def possible_duplicate_card(card_id: str, *, typed: str, matches: Sequence[tuple[int, str, str, str, bool]],
                            open_links: Sequence[str], reasons: Sequence[str],
                            fields: Sequence[tuple[str, str]] = (), title: str | None = None) -> Card:
    """Show before create: the likely existing customers with their owners. The rep opens one,
    adds the person to their own customer, asks the manager for another rep's, or creates anyway
    with one of the playbook's reasons (which raises a review to the manager).
    `matches`: (customer id, name, owner, reasons, owned by the rep)."""
    lines = [f"可能重复：{name}（负责人：{owner}）· {why}" for _cid, name, owner, why, _own in matches[:3]]
    # A DingTalk ActionCard shows five buttons: open the closest match (the card body opens it
    # too), one way to get it, the first two reasons to create anyway, and 放弃
    buttons = [Button(text=f"打开：{name[:8]}", url=url)
               for (_cid, name, *_rest), url in zip(matches[:1], open_links)]
    first_id, _, _, _, own = matches[0]
    if own:
        buttons.append(Button(text="添加为联系人", key=f"add_contact:{first_id}", style=ButtonStyle.PRIMARY))
    else:
        buttons.append(Button(text="申请共享/转交", key=f"ask:{first_id}", style=ButtonStyle.PRIMARY))
    buttons += [Button(text=f"仍然创建：{reason}", key=f"anyway:{i}") for i, reason in enumerate(reasons[:2])]
    buttons.append(Button(text="放弃", key="discard", style=ButtonStyle.DANGER))
    return Card(card_id=card_id, title=title or f"“{typed}”可能已存在", text="\n".join(lines),
                fields=tuple(CardField(k, v) for k, v in fields if v), buttons=tuple(buttons),
                link=open_links[0] if open_links else None, source="查重", subject=typed)


def duplicate_review_card(card_id: str, *, title: str, reason: str,
                          records: Sequence[tuple[str, Sequence[tuple[str, str]]]],
                          can_merge: bool, transfer_to: str | None, links: Sequence[str]) -> Card:
    """撞单 to the manager: both records with their owners, and what to do about them."""
    fields = [CardField(f"{label}·{k}", v) for label, pairs in records for k, v in pairs if v]
    buttons = []
    if can_merge:
        buttons.append(Button(text="合并到已有客户", key="merge", style=ButtonStyle.PRIMARY))
    buttons.append(Button(text="保持两个", key="keep"))
    if transfer_to:
        buttons.append(Button(text=f"转给{transfer_to}", key="transfer"))
    buttons += [Button(text="打开已有客户" if i == 0 else "打开新录入", url=url) for i, url in enumerate(links[:2])]
    return Card(card_id=card_id, title=title, text=reason, fields=tuple(fields), buttons=tuple(buttons),
                link=links[0] if links else None, source="撞单")


def completion_digest_card(card_id: str, *, count: int, lines: Sequence[str], link: str) -> Card:
    """The weekly 补全 digest: every 待补全 customer of a rep on one card; 去补全 opens the list."""
    more = f"\n…另有{count - len(lines)}个" if count > len(lines) else ""
    return Card(card_id=card_id, title=f"本周待补全：{count}个客户缺少信用代码或手机号",
                text="\n".join(lines) + more + "\n也可以直接发：补全 客户名 信用代码",
                buttons=(Button(text="去补全", url=link, style=ButtonStyle.PRIMARY),), link=link,
                source="资料补全")

def approval_card(card_id: str, *, title: str, text: str, fields: Sequence[tuple[str, str]],
                  reject_reasons: Sequence[str], link: str | None) -> Card:
    """An approval asked of a manager or director: 同意, or 驳回 with one of the playbook's reasons
    (a button per reason: a card has no text box on either platform). Keys: approve, reject:<i>."""
    buttons = [Button(text="同意", key="approve", style=ButtonStyle.PRIMARY)]
    buttons += [Button(text=f"驳回·{reason}"[:8], key=f"reject:{i}", style=ButtonStyle.DANGER)
                for i, reason in enumerate(reject_reasons)]
    if link:
        buttons.append(Button(text="查看商机", url=link))
    return Card(card_id=card_id, title=title, text=text,
                fields=tuple(CardField(k, v) for k, v in fields if v), buttons=tuple(buttons[:6]),
                link=link, source="审批")


def approval_copy_card(card_id: str, *, title: str, text: str, fields: Sequence[tuple[str, str]],
                       link: str | None) -> Card:
    """The same request, for the person copied (抄送): to know, not to decide."""
    return Card(card_id=card_id, title=title, text=text,
                fields=tuple(CardField(k, v) for k, v in fields if v),
                buttons=(Button(text="查看商机", url=link),) if link else (), link=link, source="审批抄送")


def approval_cards(approver_card_id: str, copy_card_id: str, *, title: str, fields: Sequence[tuple[str, str]],
                   approver: str, level: str, copy_to: str | None, reject_reasons: Sequence[str],
                   link: str | None, prefix: str = "") -> tuple[Card, Card | None]:
    """The approver's card and, when someone is copied, theirs."""
    card = approval_card(approver_card_id, title=prefix + title, text=f"请{level}{approver}审批。", fields=fields,
                         reject_reasons=reject_reasons, link=link)
    copy = approval_copy_card(copy_card_id, title=f"抄送｜{prefix}{title}", text=f"由{level}{approver}审批，供你知悉。",
                              fields=fields, link=link) if copy_to else None
    return card, copy
