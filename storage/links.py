"""Chat links (关联客户): a platform chat or external contact → a customer, with who and when.
Linking a contact another rep already linked shows who owns it; it never silently re-links.

The same rules hold for a WeCom external contact (the sidebar) and a DingTalk group chat (a 客户群,
linked from the robot or the workbench page): `what` only names the thing in the Chinese sentence."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .customers import get_customer, search_customers
from .errors import Conflict, InvalidInput, NotFound, PermissionDenied
from .models import ChatLink, Contact, Customer, User
from .permissions import check_access

CONTACT = "该联系人"      # a WeCom external contact (the sidebar)
GROUP = "该群"            # a group chat (a DingTalk 客户群)
# Who may undo someone else's link: a manager of the customer's owner, or the whole org's roles.
UNLINK_ROLES = {"manager", "director", "admin"}


def find_link(session: Session, org_id: int, platform: str, external_id: str) -> ChatLink | None:
    return session.scalars(select(ChatLink).where(ChatLink.org_id == org_id,
                                                  ChatLink.platform == platform,
                                                  ChatLink.external_id == external_id)).first()


def taken_message(session: Session, link: ChatLink, what: str = CONTACT) -> str:
    """Who linked it to which customer and whose customer that is: what a colleague must know to
    talk to the right person (撞单 avoided), and nothing more of the customer."""
    other = session.get(Customer, link.customer_id)
    linker = session.get(User, link.linked_by_id)
    return f"{what}已被{linker.name}关联到客户“{other.name}”（负责人：{other.owner.name}）"


def link_chat(session: Session, actor: User, platform: str, external_id: str, customer_id: int,
              contact_id: int | None = None, *, now: datetime, what: str = CONTACT) -> ChatLink:
    """Link, or return the link when it already points at this customer (idempotent). Raises
    Conflict naming the linker, the customer and its owner when it points at another one."""
    if not (external_id or "").strip():
        raise InvalidInput("external_id", "缺少聊天对象标识")
    customer = get_customer(session, actor, customer_id)
    existing = find_link(session, actor.org_id, platform, external_id)
    if existing is not None:
        if existing.customer_id == customer.id:
            return existing
        other = session.get(Customer, existing.customer_id)
        raise Conflict(taken_message(session, existing, what), customer_id=other.id, owner=other.owner.name)
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


def unlink_chat(session: Session, actor: User, platform: str, external_id: str, *,
                what: str = CONTACT) -> Customer:
    """取消关联: the rep who linked it, or a manager (director, admin) who may see the customer.
    Returns the customer it was linked to; the audit row keeps the link whole."""
    link = find_link(session, actor.org_id, platform, external_id)
    if link is None:
        raise NotFound(f"{what}还没有关联客户")
    customer = session.get(Customer, link.customer_id)
    if link.linked_by_id != actor.id:
        linker = session.get(User, link.linked_by_id)
        refusal = f"{what}由{linker.name}关联，只有{linker.name}或其经理可以取消关联"
        if actor.role not in UNLINK_ROLES:
            raise PermissionDenied(refusal)
        try:
            check_access(session, actor, customer.org_id, customer.owner_id, "客户")
        except PermissionDenied:
            raise PermissionDenied(refusal) from None
    audit.record(session, actor, "chat_link.delete", link, before=audit.snapshot(link))
    session.delete(link)
    session.flush()
    return customer


# A group's title often names the customer: "华东机电项目群", "上海华东机电 x 我司 对接群".
_TITLE_SEPARATORS = re.compile(r"[\s\-—_|/\\·&＆×+＋,，、:：()（）\[\]【】<>《》]+|(?<=[\u4e00-\u9fff])[xX与和](?=[\u4e00-\u9fff])")
_GROUP_WORDS = ("项目群", "客户群", "对接群", "沟通群", "交流群", "服务群", "合作群", "工作群", "售后群",
                "项目组", "群聊", "群")


def title_terms(title: str | None) -> list[str]:
    """The parts of a group title that may name a customer, group words removed, longest first."""
    terms: list[str] = []
    for part in _TITLE_SEPARATORS.split(title or ""):
        for word in _GROUP_WORDS:
            if part.endswith(word):
                part = part[: -len(word)]
                break
        part = part.strip()
        if len(part) >= 2 and part not in terms:
            terms.append(part)
    return sorted(terms, key=len, reverse=True)[:4]


def candidates_for_title(session: Session, actor: User, title: str | None, limit: int = 3) -> list[Customer]:
    """Customers the actor may link whose name the group title mentions (the existing name search)."""
    found: list[Customer] = []
    for term in title_terms(title):
        for customer in search_customers(session, actor, term, limit=limit)[0]:
            if customer not in found:
                found.append(customer)
    return found[:limit]
