"""Mapping platform identities to crmbot users and orgs."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Org, User


def org_for_platform(session: Session, platform: str, corp_id: str) -> Org | None:
    column = Org.wecom_corp_id if platform == "wecom" else Org.dingtalk_corp_id
    return session.scalars(select(Org).where(column == corp_id)).first()


def user_for_platform(session: Session, platform: str, corp_id: str | None,
                      platform_userid: str) -> User | None:
    """The active user behind a platform user id. `corp_id` narrows it to one org when known."""
    column = User.wecom_userid if platform == "wecom" else User.dingtalk_userid
    query = select(User).where(column == platform_userid, User.active.is_(True))
    if corp_id:
        org = org_for_platform(session, platform, corp_id)
        if org is None:
            return None
        query = query.where(User.org_id == org.id)
    users = session.scalars(query.limit(2)).all()
    return users[0] if len(users) == 1 else None


def platform_userid(user: User, platform: str) -> str | None:
    return user.wecom_userid if platform == "wecom" else user.dingtalk_userid


def manager_of(session: Session, user: User) -> User | None:
    return session.get(User, user.reports_to_id) if user.reports_to_id else None


def director_of(session: Session, user: User) -> User | None:
    """Walk up reports_to to the first director (or the org's director when the chain ends)."""
    seen, current = set(), manager_of(session, user)
    while current is not None and current.id not in seen:
        if current.role == "director":
            return current
        seen.add(current.id)
        current = manager_of(session, current)
    return session.scalars(select(User).where(User.org_id == user.org_id, User.role == "director",
                                              User.active.is_(True)).order_by(User.id)).first()
