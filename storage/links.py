"""Chat links (关联客户): a platform chat or external contact → a customer, with who and when.
Linking a contact another rep already linked shows who owns it; it never silently re-links."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .customers import get_customer
from .errors import Conflict, InvalidInput
from .models import ChatLink, Contact, Customer, User


def find_link(session: Session, org_id: int, platform: str, external_id: str) -> ChatLink | None:
    return session.scalars(select(ChatLink).where(ChatLink.org_id == org_id,
                                                  ChatLink.platform == platform,
                                                  ChatLink.external_id == external_id)).first()


def link_chat(session: Session, actor: User, platform: str, external_id: str, customer_id: int,
              contact_id: int | None = None, *, now: datetime) -> ChatLink:
    if not (external_id or "").strip():
        raise InvalidInput("external_id", "缺少聊天对象标识")
    customer = get_customer(session, actor, customer_id)
    existing = find_link(session, actor.org_id, platform, external_id)
    if existing is not None:
        if existing.customer_id == customer.id:
            return existing
        other = session.get(Customer, existing.customer_id)
        linker = session.get(User, existing.linked_by_id)
        raise Conflict(f"该联系人已被{linker.name}关联到客户“{other.name}”（负责人：{other.owner.name}）",
                       customer_id=other.id, owner=other.owner.name)
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.customer_id != customer.id:
            raise InvalidInput("contact_id", "联系人不属于该客户")
    link = ChatLink(org_id=actor.org_id, platform=platform, external_id=external_id,
                    customer_id=customer.id, contact_id=contact_id, linked_by_id=actor.id,
                    linked_at=now)
    session.add(link)
    audit.record(session, actor, "chat_link.create", link)
    return link
