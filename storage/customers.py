"""Customers and their contacts: creation with identifier checks, duplicates refused with the
owner named, 待补全 with a data task, search and visibility."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pypinyin import Style, lazy_pinyin
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit, dedupe, duplicate_reviews, tasks
from .errors import Conflict, CustomerCollision, DuplicateCustomer, InvalidInput, NotFound, PossibleDuplicate
from .models import Contact, Customer, User
from .name_search import pinyin_keys
from .permissions import check_access, visible_user_ids
from .validators import (bounded_text, normalize_credit_code, normalize_email, normalize_fax, normalize_mobile,
                         normalize_name, normalize_phone)

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
    mobile2: str | None = None         # a second mobile: a second number to call, never the phone
    fax: str | None = None
    english_name: str | None = None
    english_title: str | None = None


# What a contact's edit may change (the mini-app's contact form).
CONTACT_FIELDS = ("name", "title", "mobile", "mobile2", "phone", "fax", "email", "english_name", "english_title")


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
    mobile = normalize_mobile(data.mobile) if _clean(data.mobile) else None
    mobile2 = normalize_mobile(data.mobile2, "mobile2", "第二手机号") if _clean(data.mobile2) else None
    if mobile is None:  # a second mobile without a first is the mobile
        mobile, mobile2 = mobile2, None
    if mobile2 == mobile:  # "138… / 138…" printed twice, or typed in both boxes
        mobile2 = None
    return dict(name=name[:50], title=_clean(data.title), mobile=mobile, mobile2=mobile2,
                phone=normalize_phone(data.phone) if _clean(data.phone) else None,
                fax=normalize_fax(data.fax) if _clean(data.fax) else None,
                email=normalize_email(data.email) if _clean(data.email) else None,
                english_name=bounded_text(data.english_name, 100, "english_name", "英文名"),
                english_title=bounded_text(data.english_title, 100, "english_title", "英文职务"),
                wecom_external_userid=_clean(data.wecom_external_userid))


def contact_mobiles(contact) -> set[str]:
    """Both mobiles of a contact (a Contact row, a ContactInput or a validated dict)."""
    get = contact.get if isinstance(contact, dict) else (lambda key: getattr(contact, key, None))
    return {m for m in (get("mobile"), get("mobile2")) if m}


def _identifier(kind: str, credit_code: str | None, mobile: str | None) -> str | None:
    if kind == "company":
        return f"uscc:{credit_code}" if credit_code else None
    return f"mobile:{mobile}" if mobile else None


def find_by_identifier(session: Session, org_id: int, identifier: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.org_id == org_id,
                                                  Customer.identifier == identifier)).first()


def _refuse_duplicate(session: Session, org_id: int, identifier: str | None,
                      exclude_id: int | None = None, owner_id: int | None = None) -> None:
    """The identifier is taken: by the same owner it is a plain duplicate; by another owner it is
    撞单 (CustomerCollision) and ownership never moves."""
    if identifier is None:
        return
    existing = find_by_identifier(session, org_id, identifier)
    if existing is not None and existing.id != exclude_id:
        if owner_id is not None and existing.owner_id != owner_id:
            raise CustomerCollision(existing.id, existing.name, existing.owner.name, identifier,
                                    owner_id=existing.owner_id)
        raise DuplicateCustomer(existing.id, existing.name, existing.owner.name, identifier)


def set_name(customer: Customer, name: str) -> None:
    """The name and every key derived from it (search, initials, duplicate check)."""
    customer.name, customer.normalized_name, customer.name_initials = name, normalize_name(name), initials(name)
    customer.name_key, customer.name_city, customer.name_pinyin = dedupe.name_keys(customer.kind, name)


def create_customer(session: Session, actor: User, data: CustomerInput, playbook: Playbook,
                    owner: User | None = None, *, now: datetime,
                    duplicate_reason: str | None = None) -> Customer:
    """Create a customer owned by `owner` (default: the actor), after the duplicate check.
    Without its identifier it is refused (playbook [identifiers] `block`) or saved as 待补全
    (`incomplete`): a data-health item in the owner's weekly 补全 digest, not a task of its own.

    Raises InvalidInput; DuplicateCustomer (same identifier, same owner); CustomerCollision (the
    identifier is another rep's customer: the caller raises 撞单, nothing is created);
    PossibleDuplicate (likely the same as existing customers: shown before create). With a
    `duplicate_reason` (a person picks one of the playbook's; a system path names itself) a likely
    duplicate is created anyway and a review task goes to the manager."""
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
    if identifier is None and playbook.identifiers.policy(data.kind) == "block":
        if data.kind == "company":
            raise InvalidInput("credit_code", "请填写统一社会信用代码：按公司规定，没有信用代码的企业客户不能保存")
        raise InvalidInput("mobile", "请填写手机号：按公司规定，没有手机号的个人客户不能保存")
    _refuse_duplicate(session, owner.org_id, identifier, owner_id=owner.id)
    if duplicate_reason is not None and not duplicate_reason.strip():
        raise InvalidInput("duplicate_reason", "请选择仍然创建的原因")
    matches = dedupe.find_duplicates(session, owner.org_id, dedupe.candidate_for(
        data.kind, name, credit_code=credit_code, mobile=mobile,
        contacts=[ContactInput(**c) for c in contacts]), playbook=playbook)
    if matches and duplicate_reason is None:
        raise PossibleDuplicate(matches, reasons=playbook.dedupe.create_anyway_reasons)

    customer = Customer(
        org_id=owner.org_id, kind=data.kind, credit_code=credit_code, mobile=mobile,
        identifier=identifier, status="active" if identifier else INCOMPLETE, owner_id=owner.id,
        source=_clean(data.source), industry=_clean(data.industry), grade=data.grade,
        address=_clean(data.address), created_at=now, updated_at=now)
    set_name(customer, name)
    customer.owner = owner
    session.add(customer)
    try:
        with session.begin_nested():  # a concurrent twin hits the unique index: report it kindly
            session.flush()
    except IntegrityError:
        _refuse_duplicate(session, owner.org_id, identifier, owner_id=owner.id)
        raise
    for contact in contacts:
        session.add(Contact(org_id=owner.org_id, customer_id=customer.id, **contact))
    customer.pinyin_keys = pinyin_keys(name, [c["name"] for c in contacts])
    audit.record(session, actor, "customer.create", customer)
    if matches:
        for match in matches[:1]:  # one review per creation: the closest existing customer
            duplicate_reviews.open_review(session, actor, existing_id=match.customer_id, newer_id=customer.id,
                        reason=f"仍然创建：{duplicate_reason}；{'、'.join(match.reasons)}",
                        playbook=playbook, now=now)
    return customer


def complete_identifier(session: Session, actor: User, customer_id: int, *, now: datetime,
                        credit_code: str | None = None, mobile: str | None = None) -> Customer:
    """Fill in the missing identifier of a 待补全 customer (and close a data task left from before
    the weekly digest, if any)."""
    customer = get_customer(session, actor, customer_id)
    before = audit.snapshot(customer)
    code, mobile_value = customer.credit_code, customer.mobile
    if customer.kind == "company":
        if not _clean(credit_code):
            raise InvalidInput("credit_code", "请填写统一社会信用代码")
        code = normalize_credit_code(credit_code)
    else:
        if not _clean(mobile):
            raise InvalidInput("mobile", "请填写手机号")
        mobile_value = normalize_mobile(mobile)
    identifier = _identifier(customer.kind, code, mobile_value)
    # checked before anything is written: a refusal leaves the customer as it was
    _refuse_duplicate(session, customer.org_id, identifier, exclude_id=customer.id,
                      owner_id=customer.owner_id)
    _refuse_claim_by_identifier(session, customer)
    customer.credit_code, customer.mobile = code, mobile_value
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


def _refuse_claim_by_identifier(session: Session, customer: Customer) -> None:
    """Filling an identifier first never takes another rep's customer: when an OLDER customer of
    another owner already shares a contact mobile, e-mail or platform id with this one, the
    identifier is not written here (CustomerCollision; the caller raises 撞单)."""
    contacts = list(customer.contacts)
    matches = dedupe.find_duplicates(session, customer.org_id, dedupe.candidate_for(
        customer.kind, customer.name, mobile=customer.mobile, contacts=contacts), exclude_id=customer.id)
    for match in matches:
        if match.exact and match.owner_id != customer.owner_id and match.customer_id < customer.id:
            raise CustomerCollision(match.customer_id, match.customer_name, match.owner_name,
                                    "、".join(match.reasons), owner_id=match.owner_id)


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
        set_name(customer, name)
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
        same_mobile = bool(contact_mobiles(values) & contact_mobiles(existing))
        same_name = not values.get("mobile") and existing.name == values.get("name")
        if same_mobile or same_name:
            raise Conflict(f"{customer.name}已有这位联系人：{existing.name}"
                           + (f"（{existing.mobile}）" if existing.mobile else "") + "，不用重复添加")
    contact = Contact(org_id=customer.org_id, customer_id=customer.id, **values)
    session.add(contact)
    customer.pinyin_keys = pinyin_keys(customer.name, [*(c.name for c in customer.contacts), contact.name])
    audit.record(session, actor, "contact.create", contact)
    return contact


def update_contact(session: Session, actor: User, contact_id: int, changes: dict) -> Contact:
    """Change a contact's fields (the mini-app's contact form): checked as when it was added, all
    or nothing. Another rep's contact is refused like their customer."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.org_id != actor.org_id:
        raise NotFound("联系人不存在")
    customer = get_customer(session, actor, contact.customer_id)
    unknown = set(changes) - set(CONTACT_FIELDS)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "该字段不能在这里修改")
    current = {key: getattr(contact, key) for key in CONTACT_FIELDS}
    values = _validated_contact(ContactInput(**{**current, **changes},
                                             wecom_external_userid=contact.wecom_external_userid))
    for other in customer.contacts:
        if other.id != contact.id and contact_mobiles(values) & contact_mobiles(other):
            raise Conflict(f"{customer.name}的联系人{other.name}已使用这个手机号")
    before = audit.snapshot(contact)
    for key in CONTACT_FIELDS:
        setattr(contact, key, values[key])
    customer.pinyin_keys = pinyin_keys(customer.name, [c.name for c in customer.contacts])
    audit.record(session, actor, "contact.update", contact, before)
    return contact


def get_customer(session: Session, actor: User, customer_id: int) -> Customer:
    """The customer, or the one it was merged into: old cards, links and drafts keep working."""
    customer = session.get(Customer, customer_id)
    seen = set()
    while customer is not None and customer.merged_into_id is not None and customer.id not in seen:
        seen.add(customer.id)
        customer = session.get(Customer, customer.merged_into_id)
    if customer is None:
        raise NotFound("客户不存在")
    check_access(session, actor, customer.org_id, customer.owner_id, "客户")
    return customer


def visible_customers(session: Session, actor: User) -> Select:
    query = select(Customer).where(Customer.org_id == actor.org_id, Customer.merged_into_id.is_(None))
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
        # autoescape: a typed % or _ is a character, not a wildcard (q=% listed everything in scope);
        # a q that normalises to nothing (punctuation only) matches no name instead of every name
        name = normalize_name(q)
        conditions = [Customer.normalized_name.contains(name, autoescape=True)] if name else []
        conditions.append(Customer.name_initials.startswith(q.lower(), autoescape=True))
        letters = q.replace(" ", "").lower()
        if letters.isascii() and letters.isalpha():   # pinyin: initials or full, of any part of a name
            conditions.append(Customer.pinyin_keys.contains(f"|{letters}", autoescape=True))
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 4:
            conditions.append(Customer.mobile.contains(digits, autoescape=True))
            conditions.append(Customer.id.in_(select(Contact.customer_id).where(or_(
                Contact.mobile.contains(digits, autoescape=True),
                Contact.mobile2.contains(digits, autoescape=True)))))
        conditions.append(Customer.id.in_(select(Contact.customer_id)
                                          .where(Contact.name.contains(q, autoescape=True))))
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
                 company: str | None = None, name: str | None = None, mobiles: tuple[str, ...] = (),
                 playbook: Playbook | None = None) -> list[Customer]:
    """Existing customers that look like the same one, best first (storage.dedupe's check).
    `mobiles`: more numbers of the same person (a second mobile)."""
    if not any(_clean(v) for v in (mobile, company, name, *mobiles)):
        return []
    candidate = dedupe.Candidate(name=company or name, kind="company" if company else "person",
                                 mobile=mobile, mobiles=tuple(mobiles), contact_name=name if company else None)
    matches = dedupe.find_duplicates(session, org_id, candidate, playbook=playbook)
    return [session.get(Customer, m.customer_id) for m in matches]
