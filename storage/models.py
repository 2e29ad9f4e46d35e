"""The store: SQLAlchemy 2.0 models. Alembic migrations in storage/migrations must match these
(tests/storage/test_migrations.py compares them).

Rows that periodic scans read keep their scan columns on the row and indexed
(customer.last_interaction_at / next_followup_at, lead.status + assigned_at, task.status + due_at),
so a rule is one indexed range query, not a join over follow-ups.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer,
                        MetaData, Numeric, String, Text, UniqueConstraint, event, inspect)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on both SQLite (which drops the zone) and PostgreSQL."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store; pass an aware one")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON,
                           Decimal: Numeric(14, 2)}


# ------------------------------------------------------------------ organisation


class Org(Base):
    __tablename__ = "org"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    wecom_corp_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    dingtalk_corp_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Team(Base):
    """A tree: region → group. A manager sees the subtree under their team."""
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("org_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="group")  # region | group
    # round-robin cursor for lead assignment inside the team
    last_assigned_user_id: Mapped[int | None] = mapped_column(Integer)


class User(Base):
    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("org_id", "wecom_userid"),
                      UniqueConstraint("org_id", "dingtalk_userid"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16))  # rep | manager | director | admin
    reports_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    wecom_userid: Mapped[str | None] = mapped_column(String(64))
    dingtalk_userid: Mapped[str | None] = mapped_column(String(64))
    # where the user last talked to the bot: pushes (reminders, escalations) go there
    preferred_platform: Mapped[str | None] = mapped_column(String(16))
    mobile: Mapped[str | None] = mapped_column(String(20))
    start_date: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Mini-app cookies carry this number; bumping it (logout, role/team/manager change, switched
    # off) makes every cookie issued before invalid at its next request. See storage/users.py.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    team: Mapped[Team | None] = relationship()
    reports_to: Mapped["User | None"] = relationship(remote_side="User.id")


# Who a user is for the permission checks: changing any of these revokes their mini-app sessions.
SESSION_REVOKING_FIELDS = ("role", "team_id", "reports_to_id", "org_id", "active")


@event.listens_for(User, "before_update")
def _revoke_sessions_on_access_change(_mapper, _connection, user: User) -> None:
    # A mapper event, not a service call, so no code path (admin script, import, future service)
    # can change a role or team and forget to log the user out.
    state = inspect(user)
    if any(state.attrs[name].history.has_changes() for name in SESSION_REVOKING_FIELDS):
        user.session_version = (user.session_version or 0) + 1


# ------------------------------------------------------------------ customers


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (
        # one identifier per customer: credit code for companies, mobile for persons
        UniqueConstraint("org_id", "identifier"),
        Index("ix_customer_org_owner", "org_id", "owner_id"),
        Index("ix_customer_org_norm_name", "org_id", "normalized_name"),
        Index("ix_customer_last_interaction", "org_id", "status", "last_interaction_at"),
        Index("ix_customer_next_followup", "org_id", "next_followup_at"),
        # duplicate check (storage/dedupe.py): the name's head by prefix through a trigram GIN
        # index on PostgreSQL (pg_trgm, migration 0003; a plain index on SQLite), the pinyin by equality
        Index("ix_customer_name_key_trgm", "name_key", postgresql_using="gin",
              postgresql_ops={"name_key": "gin_trgm_ops"}),
        Index("ix_customer_org_name_pinyin", "org_id", "name_pinyin"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    kind: Mapped[str] = mapped_column(String(16))  # company | person
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200))
    name_initials: Mapped[str] = mapped_column(String(100), default="")  # pinyin initials for search
    # storage/dedupe.py: the comparable name (no city, legal suffix, brackets), its city, its pinyin
    name_key: Mapped[str] = mapped_column(String(200), default="")
    name_city: Mapped[str | None] = mapped_column(String(20))
    name_pinyin: Mapped[str] = mapped_column(String(400), default="")
    # "|hd|huadong|ljh|liujianhua|…": pinyin of every part of its name and its contacts' (name_search)
    pinyin_keys: Mapped[str] = mapped_column(String(1000), default="|")
    credit_code: Mapped[str | None] = mapped_column(String(18))
    mobile: Mapped[str | None] = mapped_column(String(20))
    identifier: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | incomplete | lost
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[str | None] = mapped_column(String(50))
    industry: Mapped[str | None] = mapped_column(String(50))
    grade: Mapped[str | None] = mapped_column(String(4))
    address: Mapped[str | None] = mapped_column(String(300))
    last_interaction_at: Mapped[datetime | None] = mapped_column()
    last_interaction_summary: Mapped[str | None] = mapped_column(String(200))
    next_followup_at: Mapped[datetime | None] = mapped_column()
    lost_reason: Mapped[str | None] = mapped_column(String(100))
    # a merged customer stays as a tombstone pointing at the one it was merged into (storage/merge.py)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    merged_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship()
    contacts: Mapped[list["Contact"]] = relationship(back_populates="customer",
                                                     order_by="Contact.id")


class Contact(Base):
    __tablename__ = "contact"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(20), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(120), index=True)
    wecom_external_userid: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # From cards that print more (migration 0008): a second mobile is a second way to reach the
    # person and an identifier like `mobile` (indexed for the duplicate check); the fax is never
    # the phone or the mobile; the English name and title are the person's, printed beside the Chinese.
    mobile2: Mapped[str | None] = mapped_column(String(20), index=True)
    fax: Mapped[str | None] = mapped_column(String(40))
    english_name: Mapped[str | None] = mapped_column(String(100))
    english_title: Mapped[str | None] = mapped_column(String(100))

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class ChatLink(Base):
    """A platform chat or external contact linked to a customer (关联客户)."""
    __tablename__ = "chat_link"
    __table_args__ = (UniqueConstraint("org_id", "platform", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))  # external_userid or chat id
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    linked_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------ pipeline


class Lead(Base):
    __tablename__ = "lead"
    __table_args__ = (
        UniqueConstraint("org_id", "source", "external_ref"),
        Index("ix_lead_status_assigned", "status", "assigned_at"),
        Index("ix_lead_status_claimed", "status", "claimed_at"),
        Index("ix_lead_org_assignee", "org_id", "assignee_id"),
        Index("ix_lead_org_created", "org_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    source: Mapped[str] = mapped_column(String(50))
    external_ref: Mapped[str | None] = mapped_column(String(128))  # the form's submission id
    attribution: Mapped[dict[str, Any]] = mapped_column(default=dict)  # frozen at creation
    name: Mapped[str] = mapped_column(String(100))
    company: Mapped[str | None] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(20))
    industry: Mapped[str | None] = mapped_column(String(50))
    budget: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(500))
    # new → assigned → claimed → contacted → qualified / disqualified → converted
    status: Mapped[str] = mapped_column(String(16), default="new")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    assignment_count: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[datetime | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()
    contacted_at: Mapped[datetime | None] = mapped_column()
    qualified_at: Mapped[datetime | None] = mapped_column()
    converted_at: Mapped[datetime | None] = mapped_column()
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignee: Mapped[User | None] = relationship()


class Opportunity(Base):
    __tablename__ = "opportunity"
    __table_args__ = (Index("ix_opportunity_status_stage_entered", "status", "stage", "stage_entered_at"),
                      Index("ix_opportunity_org_owner", "org_id", "owner_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column()
    stage: Mapped[str] = mapped_column(String(32))
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    checklist: Mapped[dict[str, Any]] = mapped_column(default=dict)  # stage key → ticked items
    won_steps: Mapped[list[Any]] = mapped_column(default=list)       # ticked 赢单 steps
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | won | lost
    lost_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # closing (storage/opportunities.py close_won / close_lost; reopen clears them)
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # the approved discount
    won_amount: Mapped[Decimal | None] = mapped_column()      # final contract amount
    signed_on: Mapped[date | None] = mapped_column(Date)
    lost_competitor: Mapped[str | None] = mapped_column(String(100))
    lost_note: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column()

    customer: Mapped[Customer] = relationship()
    owner: Mapped[User] = relationship()


class Approval(Base):
    """A request only someone above the rep may grant: a discount beyond the rep's tier or a stage
    skipped (storage/approvals.py). While one is pending, the opportunity's amount and discount
    are locked. `escalate_at` is working time after the request (or the last escalation)."""
    __tablename__ = "approval"
    __table_args__ = (Index("ix_approval_status_escalate", "status", "escalate_at"),
                      Index("ix_approval_opportunity_status", "opportunity_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunity.id"))
    kind: Mapped[str] = mapped_column(String(16))            # discount | stage_skip
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected | withdrawn
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    approver_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    copy_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    level: Mapped[str] = mapped_column(String(16))           # rep | manager | director
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount: Mapped[Decimal | None] = mapped_column()          # the deal's amount when asked
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(200))     # why the rep asks
    reason: Mapped[str | None] = mapped_column(String(200))   # why it was rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    requested_at: Mapped[datetime] = mapped_column()
    escalate_at: Mapped[datetime | None] = mapped_column()
    escalations: Mapped[int] = mapped_column(Integer, default=0)


class StageChange(Base):
    __tablename__ = "stage_change"
    __table_args__ = (Index("ix_stage_change_by_changed", "changed_by_id", "changed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunity.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reason: Mapped[str | None] = mapped_column(String(200))


class FollowUp(Base):
    __tablename__ = "follow_up"
    __table_args__ = (UniqueConstraint("org_id", "source_event_id"),
                      Index("ix_follow_up_customer_occurred", "customer_id", "occurred_at"),
                      Index("ix_follow_up_author_occurred", "author_id", "occurred_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    channel: Mapped[str] = mapped_column(String(16))  # chat | voice | sidebar | card | app
    tags: Mapped[list[Any]] = mapped_column(default=list)  # playbook tag keys
    note: Mapped[str | None] = mapped_column(String(200))
    transcript: Mapped[str | None] = mapped_column(Text)
    pause_reason: Mapped[str | None] = mapped_column(String(50))
    amount: Mapped[Decimal | None] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_followup_at: Mapped[datetime | None] = mapped_column()
    source_event_id: Mapped[str | None] = mapped_column(String(128))  # makes retries idempotent


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("org_id", "dedupe_key"),
                      Index("ix_task_status_created", "status", "created_at"),
                      Index("ix_task_assignee_status", "assignee_id", "status"),
                      # the escalation scan: open tasks at a level, by how long they are overdue
                      Index("ix_task_status_level_due", "status", "escalation_level", "due_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    kind: Mapped[str] = mapped_column(String(32))     # rule name: first_contact, silent_customer, …
    subject_type: Mapped[str] = mapped_column(String(16))  # customer | lead | opportunity | user
    subject_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(1000))
    due_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | closed
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # 0 rep, 1 manager, 2 director
    escalated_at: Mapped[datetime | None] = mapped_column()
    dedupe_key: Mapped[str] = mapped_column(String(160))  # rule + subject + window
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    result: Mapped[str | None] = mapped_column(String(200))

    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id])


class RuleCursor(Base):
    """How far a periodic rule has scanned its time column, so each scan reads only the rows that
    crossed its threshold since the last one (a steady scan stays small on a large store).
    The position is (time, id) of the last row handled; it only moves forward."""
    __tablename__ = "rule_cursor"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # rule + org + slice
    position_at: Mapped[datetime] = mapped_column()
    position_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------ messaging


class InboxEvent(Base):
    """Every platform event, written before the platform gets its answer."""
    __tablename__ = "inbox_event"
    __table_args__ = (UniqueConstraint("platform", "event_id"),
                      Index("ix_inbox_event_status_received", "status", "received_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(32))
    event: Mapped[dict[str, Any]] = mapped_column()            # the neutral Event
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)  # decrypted platform payload
    status: Mapped[str] = mapped_column(String(16), default="received")  # received | done | failed | ignored
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()


class OutboxMessage(Base):
    """Anything to say to a person; delivered by a job with retries, never twice per dedupe key."""
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),
                      Index("ix_outbox_message_recipient_created", "recipient_user_id", "created_at"),
                      # a group chat's cards, whoever caused them (an ActionCard tap in a group)
                      Index("ix_outbox_message_chat_created", "recipient", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    platform: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(128))  # platform user id (or conversation id)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(16), default="send")  # send | update
    card_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column()  # neutral card or {"text": …}
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # reply webhook, response_code…
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed | held
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class CardRecord(Base):
    """What a card sent to a person is about, so a click can find its task or draft."""
    __tablename__ = "card_record"
    card_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    platform: Mapped[str] = mapped_column(String(16))
    recipient_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    subject_type: Mapped[str] = mapped_column(String(16))  # task | draft | lead | contact | customer
    subject_id: Mapped[int] = mapped_column(Integer)
    card: Mapped[dict[str, Any]] = mapped_column()  # the neutral card as last rendered
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MediaAsset(Base):
    __tablename__ = "media_asset"
    __table_args__ = (UniqueConstraint("org_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaptureDraft(Base):
    """A customer or follow-up proposed from a photo or voice note, waiting for one confirm tap."""
    __tablename__ = "capture_draft"
    __table_args__ = (UniqueConstraint("org_id", "source_event_id"),
                      Index("ix_capture_draft_user_status", "user_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(16))  # customer | followup
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_asset.id"))
    source_event_id: Mapped[str | None] = mapped_column(String(160))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | confirmed | discarded | failed
    error: Mapped[str | None] = mapped_column(String(300))
    result_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    result_followup_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------ migration from Excel


class ImportJob(Base):
    """One run of the importer over one file: its plan (sheets and column mapping), its progress
    (the page polls it) and its summary. A dry run is a job too; it writes nothing else."""
    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_org_created", "org_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_path: Mapped[str] = mapped_column(String(400))
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)     # sheets, kinds, column → field
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    # draft (mapping to confirm) | queued | running | done | failed
    status: Mapped[str] = mapped_column(String(16), default="draft")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)    # an estimate until the run ends
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result_path: Mapped[str | None] = mapped_column(String(400))   # the result sheet (.xlsx)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class ImportRow(Base):
    """A sheet row already written to the store, keyed by a fingerprint of its kind and raw cells:
    importing the same rows again (a rerun, a crash's restart, the same sheet saved as CSV) finds
    the key and writes nothing. Written in the same transaction as the rows it created."""
    __tablename__ = "import_row"
    __table_args__ = (UniqueConstraint("org_id", "row_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    row_key: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("import_job.id"), index=True)
    sheet_kind: Mapped[str] = mapped_column(String(16))  # customers | contacts | followups | opportunities
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportMapping(Base):
    """An org's confirmed header → field mapping per kind of sheet, offered again on the next file."""
    __tablename__ = "import_mapping"
    __table_args__ = (UniqueConstraint("org_id", "sheet_kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    sheet_kind: Mapped[str] = mapped_column(String(16))
    columns: Mapped[dict[str, Any]] = mapped_column(default=dict)  # header text → field ("" = ignore)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
