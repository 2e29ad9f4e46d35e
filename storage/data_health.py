"""Data health: how complete each rep's customers are, field by field, plus open duplicate reviews
and how long 待补全 customers have waited. Read by the manager dashboard, the monthly data-quality
card and the coaching rule; writes nothing.

Completeness of a rep = the mean of the per-field rates over their live customers (merged
tombstones excluded), so one empty field on every customer costs as much as one customer empty
everywhere. Fields: identifier (credit code / mobile), a contact mobile, industry, grade, a next
follow-up date.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .duplicate_reviews import KIND as REVIEW_KIND
from .models import Contact, Customer, Task, Team, User

FIELDS: tuple[tuple[str, str], ...] = (("identifier", "唯一标识"), ("contact_mobile", "联系人手机"),
                                       ("industry", "行业"), ("grade", "等级"), ("next_followup", "下次跟进"))
AGEING = (("7天内", 0, 7), ("8–30天", 8, 30), ("30天以上", 31, None))


@dataclass
class HealthRow:
    user_id: int
    name: str
    team: str
    customers: int = 0
    filled: dict[str, int] = field(default_factory=lambda: {key: 0 for key, _ in FIELDS})

    def rate(self, key: str) -> float:
        return self.filled[key] / self.customers if self.customers else 1.0

    @property
    def completeness(self) -> float:
        return sum(self.rate(key) for key, _ in FIELDS) / len(FIELDS)

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "name": self.name, "team": self.team, "customers": self.customers,
                "completeness": round(self.completeness, 3),
                "fields": {key: round(self.rate(key), 3) for key, _ in FIELDS}}


@dataclass
class DataHealth:
    reps: list[HealthRow]            # ranked, most complete first
    teams: list[HealthRow]           # the same sums per team
    open_reviews: int
    ageing: list[tuple[str, int]]    # 待补全 customers by how long they have waited

    def as_dict(self) -> dict:
        return {"reps": [r.as_dict() for r in self.reps], "teams": [t.as_dict() for t in self.teams],
                "open_reviews": self.open_reviews, "ageing": dict(self.ageing),
                "fields": dict(FIELDS)}


def _reps(session: Session, org_id: int, owners: set[int] | None) -> list[User]:
    query = select(User).where(User.org_id == org_id, User.role == "rep", User.active.is_(True)).order_by(User.id)
    if owners is not None:
        query = query.where(User.id.in_(owners))
    return list(session.scalars(query))


def data_health(session: Session, org_id: int, owners: set[int] | None, now: datetime) -> DataHealth:
    """`owners`: whose customers count (storage.permissions.visible_user_ids), None = the org."""
    reps = _reps(session, org_id, owners)
    teams = dict(session.execute(select(Team.id, Team.name).where(Team.org_id == org_id)).all())
    rows = {u.id: HealthRow(u.id, u.name, teams.get(u.team_id, "未分组")) for u in reps}
    customers = session.execute(select(
        Customer.id, Customer.owner_id, Customer.identifier, Customer.industry, Customer.grade,
        Customer.next_followup_at, Customer.status, Customer.created_at).where(
        Customer.org_id == org_id, Customer.merged_into_id.is_(None), Customer.owner_id.in_(list(rows)))).all()
    with_mobile = set(session.scalars(select(Contact.customer_id).where(
        Contact.org_id == org_id, Contact.mobile.is_not(None),
        Contact.customer_id.in_([c.id for c in customers])))) if customers else set()
    ageing = {label: 0 for label, _, _ in AGEING}
    for c in customers:
        row = rows[c.owner_id]
        row.customers += 1
        for key, value in (("identifier", c.identifier), ("contact_mobile", c.id in with_mobile),
                           ("industry", c.industry), ("grade", c.grade), ("next_followup", c.next_followup_at)):
            row.filled[key] += bool(value)
        if c.status == "incomplete":
            days = max((now - c.created_at).days, 0)
            for label, low, high in AGEING:
                if days >= low and (high is None or days <= high):
                    ageing[label] += 1
    team_rows: dict[str, HealthRow] = {}
    for row in rows.values():
        team = team_rows.setdefault(row.team, HealthRow(0, row.team, row.team))
        team.customers += row.customers
        for key, _ in FIELDS:
            team.filled[key] += row.filled[key]
    reviews = select(Task.id).where(Task.org_id == org_id, Task.kind == REVIEW_KIND, Task.status == "open")
    if owners is not None:
        reviews = reviews.where(Task.assignee_id.in_(owners | set()))
    ranked = sorted(rows.values(), key=lambda r: (-r.completeness, r.user_id))
    return DataHealth(reps=ranked, teams=sorted(team_rows.values(), key=lambda r: -r.completeness),
                      open_reviews=len(session.scalars(reviews).all()), ageing=list(ageing.items()))
