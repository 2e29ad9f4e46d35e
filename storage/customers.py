"""Customers and their contacts: creation with identifier checks, duplicates refused with the
owner named, 待补全 with a data task, search and visibility."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pypinyin import Style, lazy_pinyin
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit, tasks
from .errors import Conflict, DuplicateCustomer, InvalidInput, NotFound
from .models import Contact, Customer, User
from .name_search import pinyin_keys
from .permissions import check_access, visible_user_ids
from .validators import normalize_credit_code, normalize_email, normalize_mobile, normalize_name, normalize_phone

KINDS = ("company", "person")
GRADES = ("A", "B", "C", "D")
INCOMPLETE = "incomplete"  # shown to people as 待补全


@dataclass
class ContactInput:
    name: str
    title: str | None = None
    mobile: str | None = None
    phone: str | None = None
    email: str | None = None
    wecom_external_userid: str | None = None


@dataclass
class CustomerInput:
    kind: str
    name: str
    credit_code: str | None = None
    mobile: str | None = None          # a person's identifier
    source: str | None = None
    industry: str | None = None
    grade: str | None = None
    address: str | None = None
    contacts: list[ContactInput] = field(default_factory=list)


def initials(name: str) -> str:
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()[:100]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _validated_contact(data: ContactInput) -> dict:
    name = _clean(data.name)
    if not name:
        raise InvalidInput("contact.name", "联系人姓名不能为空")
    return dict(name=name[:50], title=_clean(data.title),
                mobile=normalize_mobile(data.mobile) if _clean(data.mobile) else None,
                phone=normalize_phone(data.phone) if _clean(data.phone) else None,
                email=normalize_email(data.email) if _clean(data.email) else None,
                wecom_external_userid=_clean(data.wecom_external_userid))


def _identifier(kind: str, credit_code: str | None, mobile: str | None) -> str | None:
    if kind == "company":
        return f"uscc:{credit_code}" if credit_code else None
    return f"mobile:{mobile}" if mobile else None


def find_by_identifier(session: Session, org_id: int, identifier: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.org_id == org_id,
                                                  Customer.identifier == identifier)).first()


def _refuse_duplicate(session: Session, org_id: int, identifier: str | None,
                      exclude_id: int | None = None) -> None:
    if identifier is None:
        return
    existing = find_by_identifier(session, org_id, identifier)
    if existing is not None and existing.id != exclude_id:
        raise DuplicateCustomer(existing.id, existing.name, existing.owner.name, identifier)


def create_customer(session: Session, actor: User, data: CustomerInput, playbook: Playbook,
                    owner: User | None = None, *, now: datetime) -> Customer:
    """Create a customer owned by `owner` (default: the actor). Raises InvalidInput,
    DuplicateCustomer. A customer without its identifier is saved as 待补全 with a data task."""
    owner = owner or actor
    check_access(session, actor, owner.org_id, owner.id, "客户")
    if data.kind not in KINDS:
        raise InvalidInput("kind", "客户类型应为企业或个人")
    name = _clean(data.name)
    if not name:
        raise InvalidInput("name", "客户名称不能为空")
    if len(name) > 200:
        raise InvalidInput("name", "客户名称过长（最多200字）")
    if data.grade and data.grade not in GRADES:
        raise InvalidInput("grade", "客户等级应为 A/B/C/D")
    credit_code = normalize_credit_code(data.credit_code) if _clean(data.credit_code) else None
    mobile = normalize_mobile(data.mobile) if _clean(data.mobile) else None
    contacts = [_validated_contact(c) for c in data.contacts]
    if data.kind == "person" and mobile is None:
        mobile = next((c["mobile"] for c in contacts if c["mobile"]), None)
    identifier = _identifier(data.kind, credit_code, mobile)
    _refuse_duplicate(session, owner.org_id, identifier)

    customer = Customer(
        org_id=owner.org_id, kind=data.kind, name=name, normalized_name=normalize_name(name),
        name_initials=initials(name), credit_code=credit_code, mobile=mobile,
        identifier=identifier, status="active" if identifier else INCOMPLETE, owner_id=owner.id,
        source=_clean(data.source), industry=_clean(data.industry), grade=data.grade,
        address=_clean(data.address), created_at=now, updated_at=now)
    customer.owner = owner
    session.add(customer)
    try:
        with session.begin_nested():  # a concurrent twin hits the unique index: report it kindly
            session.flush()
    except IntegrityError:
        _refuse_duplicate(session, owner.org_id, identifier)
        raise
    for contact in contacts:
        session.add(Contact(org_id=owner.org_id, customer_id=customer.id, **contact))
    customer.pinyin_keys = pinyin_keys(name, [c["name"] for c in contacts])
    audit.record(session, actor, "customer.create", customer)
    if identifier is None:
        _ensure_completion_task(session, customer, playbook, now)
    return customer


def _ensure_completion_task(session: Session, customer: Customer, playbook: Playbook,
                            now: datetime) -> None:
    what = "统一社会信用代码" if customer.kind == "company" else "手机号"
    tasks.ensure_task(session, tasks.TaskSpec(
        org_id=customer.org_id, kind="data_completion", subject_type="customer",
        subject_id=customer.id, customer_id=customer.id, assignee_id=customer.owner_id,
        title=f"补全客户资料：{customer.name}", detail=f"缺少{what}，补全后才能避免重复录入和撞单",
        due_at=now + timedelta(days=playbook.rules.data_completion.due_days),
        dedupe_key=f"data_completion:customer:{customer.id}"), now=now)


def complete_identifier(session: Session, actor: User, customer_id: int, *, now: datetime,
                        credit_code: str | None = None, mobile: str | None = None) -> Customer:
    """Fill in the missing identifier of a 待补全 customer and close its data task."""
    customer = get_customer(session, actor, customer_id)
    before = audit.snapshot(customer)
    if customer.kind == "company":
        if not _clean(credit_code):
            raise InvalidInput("credit_code", "请填写统一社会信用代码")
        customer.credit_code = normalize_credit_code(credit_code)
    else:
        if not _clean(mobile):
            raise InvalidInput("mobile", "请填写手机号")
        customer.mobile = normalize_mobile(mobile)
    identifier = _identifier(customer.kind, customer.credit_code, customer.mobile)
    _refuse_duplicate(session, customer.org_id, identifier, exclude_id=customer.id)
    customer.identifier = identifier
    if customer.status == INCOMPLETE:
        customer.status = "active"
    audit.record(session, actor, "customer.complete", customer, before)
    task = session.scalars(select(tasks.Task).where(
        tasks.Task.org_id == customer.org_id,
        tasks.Task.dedupe_key == f"data_completion:customer:{customer.id}",
        tasks.Task.status == "open")).first()
    if task is not None:
        tasks.close_task(session, actor, task.id, "资料已补全", now=now)
    return customer


UPDATABLE = ("name", "industry", "grade", "address", "source")


def update_customer(session: Session, actor: User, customer_id: int, changes: dict) -> Customer:
    customer = get_customer(session, actor, customer_id)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "该字段不能在这里修改")
    before = audit.snapshot(customer)
    if "name" in changes:
        name = _clean(changes["name"])
        if not name:
            raise InvalidInput("name", "客户名称不能为空")
        customer.name, customer.normalized_name, customer.name_initials = (
            name, normalize_name(name), initials(name))
        customer.pinyin_keys = pinyin_keys(name, [c.name for c in customer.contacts])
    if "grade" in changes and changes["grade"] not in (None, *GRADES):
        raise InvalidInput("grade", "客户等级应为 A/B/C/D")
    for key in ("industry", "grade", "address", "source"):
        if key in changes:
            setattr(customer, key, _clean(changes[key]))
    audit.record(session, actor, "customer.update", customer, before)
    return customer


def transfer_customer(session: Session, actor: User, customer_id: int, to: User) -> Customer:
    """Hand a customer to another rep of the org (the actor must see the customer)."""
    customer = get_customer(session, actor, customer_id)
    if to.org_id != customer.org_id or not to.active:
        raise InvalidInput("owner", "只能转交给本公司在职的同事")
    before = audit.snapshot(customer, ("owner_id",))
    customer.owner_id, customer.owner = to.id, to
    audit.record(session, actor, "customer.transfer", customer, before)
    return customer


def take_back(session: Session, actor: User, customer_id: int, *, handed_to: int, back_to: User) -> Customer:
    """Undo of 转交: the customer returns to `back_to` if `handed_to` still owns it."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.org_id != actor.org_id:
        raise NotFound("客户不存在")
    if customer.owner_id != handed_to:
        return customer  # the colleague passed it on already: leave it where it is now
    before = audit.snapshot(customer, ("owner_id",))
    customer.owner_id, customer.owner = back_to.id, back_to
    audit.record(session, actor, "customer.take_back", customer, before)
    return customer


def mark_lost(session: Session, actor: User, customer_id: int, reason: str | None = None) -> Customer:
    """流失: kept in the store (a later follow-up revives it), out of the silent-customer scans."""
    customer = get_customer(session, actor, customer_id)
    before = audit.snapshot(customer, ("status", "lost_reason"))
    customer.status, customer.lost_reason = "lost", (reason or "")[:100] or None
    audit.record(session, actor, "customer.lost", customer, before)
    return customer


def add_contact(session: Session, actor: User, customer_id: int, data: ContactInput) -> Contact:
    customer = get_customer(session, actor, customer_id)
    values = _validated_contact(data)
    for existing in customer.contacts:  # 添加为联系人 twice, or a card of someone already there
        same_mobile = values.get("mobile") and existing.mobile == values["mobile"]
        same_name = not values.get("mobile") and existing.name == values.get("name")
        if same_mobile or same_name:
            raise Conflict(f"{customer.name}已有这位联系人：{existing.name}"
                           + (f"（{existing.mobile}）" if existing.mobile else "") + "，不用重复添加")
    contact = Contact(org_id=customer.org_id, customer_id=customer.id, **values)
    session.add(contact)
    customer.pinyin_keys = pinyin_keys(customer.name, [*(c.name for c in customer.contacts), contact.name])
    audit.record(session, actor, "contact.create", contact)
    return contact


def get_customer(session: Session, actor: User, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("客户不存在")
    check_access(session, actor, customer.org_id, customer.owner_id, "客户")
    return customer


def visible_customers(session: Session, actor: User) -> Select:
    query = select(Customer).where(Customer.org_id == actor.org_id)
    owners = visible_user_ids(session, actor)
    if owners is not None:
        query = query.where(Customer.owner_id.in_(owners))
    return query


def search_customers(session: Session, actor: User, q: str | None = None, *,
                     status: str | None = None, owner_id: int | None = None,
                     limit: int = 20, offset: int = 0) -> tuple[list[Customer], int]:
    """Name, company, pinyin initials or mobile (of the customer or a contact)."""
    query = visible_customers(session, actor)
    q = _clean(q)
    if q:
        like = f"%{normalize_name(q)}%"
        conditions = [Customer.normalized_name.like(like), Customer.name_initials.like(f"{q.lower()}%")]
        letters = q.replace(" ", "").lower()
        if letters.isascii() and letters.isalpha():   # pinyin: initials or full, of any part of a name
            conditions.append(Customer.pinyin_keys.like(f"%|{letters}%"))
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 4:
            conditions.append(Customer.mobile.like(f"%{digits}%"))
            conditions.append(Customer.id.in_(select(Contact.customer_id)
                                              .where(Contact.mobile.like(f"%{digits}%"))))
        conditions.append(Customer.id.in_(select(Contact.customer_id)
                                          .where(Contact.name.like(f"%{q}%"))))
        query = query.where(or_(*conditions))
    if status:
        query = query.where(Customer.status == status)
    if owner_id:
        query = query.where(Customer.owner_id == owner_id)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(Customer.last_interaction_at.desc().nulls_last(),
                                           Customer.id.desc()).limit(limit).offset(offset)).all()
    return list(items), total or 0


def find_matches(session: Session, org_id: int, *, mobile: str | None = None,
                 company: str | None = None, name: str | None = None) -> list[Customer]:
    """Existing customers that look like the same one (same mobile, same company name)."""
    conditions = []
    if mobile:
        conditions.append(Customer.mobile == mobile)
        conditions.append(Customer.id.in_(select(Contact.customer_id).where(Contact.mobile == mobile)))
    for value in (company, name):
        if _clean(value):
            conditions.append(Customer.normalized_name == normalize_name(value))
    if not conditions:
        return []
    return list(session.scalars(select(Customer).where(Customer.org_id == org_id, or_(*conditions))
                                .order_by(Customer.id).limit(5)))
