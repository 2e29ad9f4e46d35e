"""Handlers registered by what they match (bolt-python's @app.message / @app.action / @app.event):
text commands by their first word (with Chinese aliases), card actions by "<subject>:<key>",
free text in a group chat apart from free text in the 1:1 chat, everything else by event kind."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from cards.model import Card
from storage.models import CardRecord, User

from .context import Context
from .events import Chat, Kind

Handler = Callable[..., None]


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    usage: str
    handler: Handler
    # answered in the group chat it was sent in; other commands sent there are answered in the
    # sender's 1:1 chat with the bot (a 客户群 has customers in it: they must not read the CRM)
    in_group: bool = False


# Said in the group when a command sent there is answered in the sender's 1:1 chat instead.
ANSWERED_PRIVATELY_ZH = "已私聊回复你（群里有客户，客户资料不在群里显示）"


class Router:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.ordered: list[Command] = []
        self.actions: dict[str, Handler] = {}
        self.after_done: set[str] = set()   # actions a done card still offers (撤销)
        # subjects of cards posted into a group chat: anyone there may tap them (their rights are
        # checked by the storage services), not only the person the card answered
        self.chat_wide: set[str] = set()
        self.kinds: dict[Kind, Handler] = {}
        self.fallback_text: Handler | None = None
        self.group_fallback_text: Handler | None = None

    def command(self, name: str, *aliases: str, usage: str = "",
                in_group: bool = False) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            cmd = Command(name, aliases, usage, fn, in_group)
            self.ordered.append(cmd)
            for word in (name, *aliases):
                self.commands[word.lower()] = cmd
            return fn
        return register

    def action(self, key: str, *, when_done: bool = False,
               anyone_in_chat: bool = False) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.actions[key] = fn
            if when_done:
                self.after_done.add(key)
            if anyone_in_chat:
                self.chat_wide.add(key.partition(":")[0])
            return fn
        return register

    def event(self, kind: Kind) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.kinds[kind] = fn
            return fn
        return register

    def text(self, fn: Handler) -> Handler:
        """Free text that is not a command."""
        self.fallback_text = fn
        return fn

    def group_text(self, fn: Handler) -> Handler:
        """Free text in a group chat that is not a command (the robot only hears @-messages there)."""
        self.group_fallback_text = fn
        return fn

    def may_act_on(self, record: CardRecord, user: User) -> bool:
        """Whether `user`'s click on the card `record` is handled: a card is answered by the person
        it was sent to, a card posted into a group chat by anyone of the org in it."""
        return record.recipient_user_id == user.id or (
            record.org_id == user.org_id and record.subject_type in self.chat_wide)

    # ---- dispatch
    def dispatch(self, ctx: Context) -> None:
        kind = ctx.event.kind
        if kind == Kind.TEXT:
            return self._text(ctx, ctx.event.payload.get("text", ""))
        if kind == Kind.CARD_ACTION:
            record = ctx.card_record
            # a button key is "verb" or "verb:argument"; handlers register "<subject>:<verb>"
            verb, _, arg = str(ctx.event.payload.get("action", "")).partition(":")
            if record is not None and f"{record.subject_type}:{verb}" not in self.after_done and already_done(ctx):
                return None
            handler = self.actions.get(f"{record.subject_type}:{verb}") if record else None
            if handler is not None:
                return handler(ctx, arg)
            handler = self.kinds.get(Kind.CARD_ACTION)
            if handler is not None:
                handler(ctx)
            return None
        handler = self.kinds.get(kind)
        if handler is not None:
            handler(ctx)

    def _text(self, ctx: Context, text: str) -> None:
        text = text.strip()
        word, _, rest = re.sub(r"^[/／]", "", text).partition(" ")
        cmd = self.commands.get(word.lower())
        if cmd is None:  # "查华东机电" without a space
            cmd = next((c for w, c in sorted(self.commands.items(), key=lambda kv: -len(kv[0]))
                        if text.startswith(w) and len(w) <= 3 and not w.isascii()), None)
            if cmd is not None:
                rest = text[len(next(w for w in (cmd.name, *cmd.aliases) if text.startswith(w))):]
        if cmd is not None:
            if ctx.event.chat.is_group and not cmd.in_group:
                return _privately(ctx, cmd, rest.strip())
            return cmd.handler(ctx, rest.strip())
        if ctx.event.chat.is_group and self.group_fallback_text is not None:
            return self.group_fallback_text(ctx, text)
        if self.fallback_text is not None:
            self.fallback_text(ctx, text)


def _privately(ctx: Context, cmd: Command, args: str) -> None:
    """Run a command sent in a group chat as if it had come in the sender's 1:1 chat (answers,
    cards and their taps go there), and say so in the group, without what was asked."""
    group_event = ctx.event
    ctx.event = replace(group_event, chat=Chat())
    try:
        cmd.handler(ctx, args)
    finally:
        ctx.event = group_event
    ctx.say(ANSWERED_PRIVATELY_ZH)


def already_done(ctx: Context) -> bool:
    """Middleware for every card action: a card already acted upon is answered, not acted on
    again (a DingTalk ActionCard cannot be greyed out, and a second tap must not redo the work)."""
    if ctx.card_record.status != "done":
        return False
    note = Card.from_dict(ctx.card_record.card).done_note or "已处理"
    ctx.say(f"这张卡片已经处理过了：{note}")
    return True


router = Router()
