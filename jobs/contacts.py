"""A rep added a customer on WeCom: fetch the contact's details and offer link / create / ignore."""
from __future__ import annotations

import logging
from dataclasses import replace

from bot.errors import PermanentError
from bot.events import Event
from bot.outbound import Outbound, Purpose
from cards import builders
from cards.links import app_link
from cards.model import new_card_id
from storage import customers, links, users
from storage.models import InboxEvent
from storage.validators import first_mobile

from .runtime import current_runtime

log = logging.getLogger(__name__)


def new_contact_card(inbox_id: int) -> str:
    rt = current_runtime()
    with rt.db.transaction() as session:
        event = Event.from_dict(session.get(InboxEvent, inbox_id).event)
    external_userid = event.payload["external_userid"]
    try:
        details = rt.client("wecom").get_external_contact(external_userid)  # outside any transaction
    except PermanentError as exc:
        # An expected platform answer (84061: not an external contact of this app's members, or the
        # app lacks the 客户联系 permission): one warning line, and the card offers what we know.
        log.warning("wecom external contact %s not readable: errcode %s %s", external_userid, exc.code, exc)
        details = {}
    contact = details.get("external_contact", {})
    follow = next((f for f in details.get("follow_user", []) if f.get("userid") == event.sender), {})
    mobile = first_mobile(follow.get("remark_mobiles") or [])
    info = {"external_userid": external_userid, "name": contact.get("name"),
            "corp_name": contact.get("corp_name") or follow.get("remark_corp_name"), "mobile": mobile}
    with rt.db.transaction() as session:
        out = Outbound(session, rt.playbook, rt.settings, rt.clock.now())
        user = users.user_for_platform(session, "wecom", event.org, event.sender)
        if user is None or links.find_link(session, user.org_id, "wecom", external_userid):
            return "skipped"
        matches = customers.find_matches(session, user.org_id, mobile=mobile,
                                         company=info["corp_name"], name=info["name"])
        card = builders.new_contact_card(
            new_card_id("contact", inbox_id), contact_name=info["name"] or "（未命名）",
            matches=[(c.id, c.name, c.owner.name) for c in matches],
            link=app_link(rt.settings.crmbot_public_url, f"sidebar?external_userid={external_userid}"))
        card = replace(card, extra={"contact": info})
        # the rep just added this contact: the card answers what they did, so it is never paced
        out.card(user, card, subject_type="contact", subject_id=inbox_id,
                 dedupe_key=f"new_contact:{inbox_id}", purpose=Purpose.REPLY)
    out.deliver_after_commit(rt.queue)
    return "sent"
