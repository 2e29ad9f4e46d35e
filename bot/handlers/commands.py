"""Text commands in Chinese: 帮助, 待办, 查, 新客户, 跟进 — and a helpful answer for anything else."""
from __future__ import annotations

import re

from cards import builders
from cards.model import new_card_id
from storage import customers, tasks
from storage.customers import ContactInput, CustomerInput
from storage.errors import CustomerCollision, InvalidInput

from ..context import Context
from ..router import router
from . import near_miss, notes
from .common import customer_card, task_to_card
from .duplicates import catch_duplicates, report_collision

# (example, what it does), most useful first: the greeting shows the first three, 帮助 all of them.
USES: tuple[tuple[str, str], ...] = (
    ("待办", "我今天要处理的事"),
    ("查 华东机电", "客户概况、上次联系、阶段"),
    ("跟进 华东机电 #已报价 下周三再约", "记一条跟进"),
    ("新客户 王建国 13812345678 上海华东机电 采购总监", "建客户"),
    ("发一张名片照片", "自动生成客户草稿，点一下确认"),
    ("发一段语音", "自动记跟进或建客户"),
    ("推进 华东机电年度采购", "推进到下一阶段（跳过阶段需经理审批）"),
    ("申请折扣 华东机电年度采购 8%", "按权限自动送审"),
    ("赢单 华东机电年度采购 14.8万 ／ 丢单 华东机电年度采购 价格不合适", "关单"),
    ("在钉钉客户群里@我：关联 华东机电", "把群关联到客户，群里@我的话点一下记为跟进"),
)
HELP = "crmbot 能帮你做这些（直接发给我）：\n" + "\n".join(f"· {ex} → {what}" for ex, what in USES)
SHORT_HELP = "\n".join(f"· {ex} → {what}" for ex, what in USES[:3]) + "\n发“帮助”看全部功能。"

@router.command("帮助", "help", "?", "？", "菜单", "功能", usage="帮助", in_group=True)
def help_(ctx: Context, _args: str) -> None:
    ctx.say(HELP)


@router.command("待办", "任务", "todo", "今日待办", usage="待办")
def todo(ctx: Context, _args: str) -> None:
    open_tasks = tasks.open_tasks_for(ctx.session, ctx.user, limit=5)
    if not open_tasks:
        ctx.say("太好了，你现在没有待办任务。")
        return
    ctx.say(f"你有 {len(open_tasks)} 项待办，最紧急的在前：" if len(open_tasks) < 5
            else "你的待办较多，先处理这5项：")
    for task in open_tasks:
        ctx.send_card(task_to_card(ctx, task), "task", task.id)


@router.command("查", "查询", "搜索", "找", "查客户", usage="查 <名字|公司|手机号>")
def lookup(ctx: Context, args: str) -> None:
    if not args:
        ctx.say("请告诉我要查谁，例如：查 华东机电 或 查 13812345678")
        return
    found, total = customers.search_customers(ctx.session, ctx.user, args, limit=5)
    if not found:
        ctx.say(f"没有找到“{args}”。如果是新客户，可以发：新客户 姓名 手机号 公司")
        return
    if len(found) == 1:
        ctx.send_card(customer_card(ctx, found[0]), "customer", found[0].id)
        return
    more = f"，先列出前{len(found)}个，说得具体些能更快找到" if total > len(found) else ""
    ctx.send_card(builders.pick_card(new_card_id("pick", ctx.user.id), title=f"找到{total}个“{args[:10]}”{more}",
                                     choices=[(c.id, c.name, c.owner.name) for c in found]),
                  "customer_pick", ctx.user.id)


@router.action("customer_pick:pick")
def pick_customer(ctx: Context, customer_id: str) -> None:
    """A name matching several customers: the rep taps the one they meant and gets its card."""
    if not customer_id.isdigit():
        raise InvalidInput("customer", "这个按钮已失效，请重新查询")
    customer = customers.get_customer(ctx.session, ctx.user, int(customer_id))
    ctx.finish_card(f"已选：{customer.name}")
    ctx.send_card(customer_card(ctx, customer), "customer", customer.id)


_MOBILE = re.compile(r"^\+?[\d\-\s]{11,16}$")


@router.command("新客户", "新建客户", "建客户", "添加客户", usage="新客户 <名字> <手机号> <公司> [职务]")
def new_customer(ctx: Context, args: str) -> None:
    parts = args.split()
    if len(parts) < 2:
        ctx.say("格式：新客户 姓名 手机号 公司 [职务]\n例如：新客户 王建国 13812345678 上海华东机电 采购总监")
        return
    name, rest = parts[0], parts[1:]
    mobile = next((p for p in rest if _MOBILE.match(p)), None)
    others = [p for p in rest if p != mobile]
    if mobile is None:
        raise InvalidInput("mobile", "请带上客户手机号，例如：新客户 王建国 13812345678 上海华东机电")
    company, title = (others + [None, None])[:2]
    contact = ContactInput(name=name, mobile=mobile, title=title)
    data = CustomerInput(kind="company", name=company, contacts=[contact], source="聊天录入") if company \
        else CustomerInput(kind="person", name=name, mobile=mobile, contacts=[contact], source="聊天录入")
    fields = {"name": name, "mobile": mobile, "company": company, "title": title, "source": "聊天录入"}
    customer = catch_duplicates(ctx, fields, lambda: customers.create_customer(
        ctx.session, ctx.user, data, ctx.playbook, now=ctx.now))
    if customer is None:  # shown before create, or 撞单 reported
        return
    if customer.status == "incomplete":
        ctx.say(f"已创建客户“{customer.name}”，还缺统一社会信用代码（待补全）。"
                f"拿到后发“补全 {customer.name} 信用代码”即可。")
    ctx.send_card(customer_card(ctx, customer), "customer", customer.id)


@router.command("补全", "补全资料", "补信用代码", usage="补全 <客户> <信用代码|手机号>")
def complete(ctx: Context, args: str) -> None:
    """补全 宁波东海贸易 91330200MA2H0X1234: the missing identifier, typed in chat."""
    head, _, value = args.strip().rpartition(" ")
    if not head or not value:
        ctx.say("格式：补全 客户名 统一社会信用代码（个人客户填手机号）\n例如：补全 宁波东海贸易 91330200MA2H0X1234")
        return
    found, total = customers.search_customers(ctx.session, ctx.user, head.strip(), limit=5)
    exact = [c for c in found if c.name == head.strip()]
    if total == 0:
        ctx.say(f"没有找到你负责的客户“{head}”，先用“查 {head}”确认一下名字？")
        return
    if not exact and total > 1:
        ctx.say(f"“{head}”对应多个客户：{'、'.join(c.name for c in found)}。请写完整的客户名。")
        return
    customer = (exact or found)[0]
    try:
        customer = customers.complete_identifier(
            ctx.session, ctx.user, customer.id, now=ctx.now,
            credit_code=value if customer.kind == "company" else None,
            mobile=value if customer.kind == "person" else None)
    except CustomerCollision as exc:
        report_collision(ctx, exc, newer_id=customer.id)
        return
    ctx.say(f"已补全：{customer.name}，资料完整。")


@router.command("跟进", "记跟进", "跟进记录", "记录", usage="跟进 <客户> #标签 备注 [日期]")
def follow_up(ctx: Context, args: str) -> None:
    head, _, rest = args.partition(" ")
    if not head or head.startswith(("#", "＃")):
        ctx.say("格式：跟进 客户名 #已报价 #老板未拍板 备注 下周三\n客户名可以是简称，如“华东机电”")
        return
    matches, total = customers.search_customers(ctx.session, ctx.user, head, limit=5)
    if total == 0:
        ctx.say(f"没有找到客户“{head}”，先用“查 {head}”确认一下名字？")
        return
    if total > 1 and not any(c.name == head for c in matches):
        names = "、".join(c.name for c in matches)
        ctx.say(f"“{head}”对应多个客户：{names}。请写得更完整一些。")
        return
    customer = next((c for c in matches if c.name == head), matches[0])
    parsed = notes.parse(ctx, customer, rest, ctx.now)
    followup = notes.record(ctx, customer, parsed, source_event_id=f"{ctx.event.platform}:{ctx.event.event_id}")
    done = f"已记录跟进：{customer.name}（{notes.labels(ctx, followup.tags)}）。下次跟进：{notes.next_due(ctx, followup)}。"
    ctx.say("\n".join([done, *notes.remarks(ctx, parsed)]))


@router.text
def anything_else(ctx: Context, text: str) -> None:
    """Not a command: a greeting, a command with a typo ("代办", "帮主", "cha 华东机电"), a
    customer's name, or — only then — a short list of what the bot understands."""
    if near_miss.is_greeting(text):
        who = ctx.user.name if ctx.user else ""
        ctx.say(f"你好{('，' + who) if who else ''}！最常用的三件事：\n" + SHORT_HELP)
        return
    guess = near_miss.likely_command(text, router.commands)
    if guess is not None:
        word, rest = guess
        command = router.commands[word]
        if command.name in near_miss.RUN_WHEN_GUESSED:
            command.handler(ctx, rest)
        else:   # a command that writes runs only when typed right: say what to send
            ctx.say(f"你是不是想发：{command.name} {rest}".rstrip() + f"\n格式：{command.usage}")
        return
    if near_miss.could_be_a_name(text):
        found, total = customers.search_customers(ctx.session, ctx.user, text, limit=3)
        if found:
            if total > 3:
                ctx.say(f"找到 {total} 个匹配“{text}”的客户，先显示前3个。")
            for customer in found:
                ctx.send_card(customer_card(ctx, customer), "customer", customer.id)
            return
    ctx.say(f"没看懂“{text[:20]}”。可以这样发：\n" + SHORT_HELP)
