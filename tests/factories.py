"""A small realistic org in one call (Redash's factories idea)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from storage.models import Org, Team, User

# The tests' "now": Wednesday 2026-03-04 10:00 in Shanghai, a working day outside quiet hours.
# Services take `now` from their caller; tests pass this one, never the wall clock.
NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


@dataclass
class World:
    org: Org
    other_org: Org
    director: User
    manager: User      # manages group A (rep1, rep2)
    manager_b: User    # manages group B (rep3)
    rep1: User
    rep2: User
    rep3: User
    outsider: User     # a rep of another org
    team_a: Team
    team_b: Team


def build_world(session: Session) -> World:
    org = Org(name="华东机电销售公司", wecom_corp_id="wwcorp001", dingtalk_corp_id="dingcorp001")
    other = Org(name="别家公司", wecom_corp_id="wwother", dingtalk_corp_id="dingother")
    session.add_all([org, other])
    session.flush()
    region = Team(org_id=org.id, name="华东大区", kind="region")
    session.add(region)
    session.flush()
    team_a = Team(org_id=org.id, name="华东一组", parent_id=region.id)
    team_b = Team(org_id=org.id, name="大客户组", parent_id=region.id)
    session.add_all([team_a, team_b])
    session.flush()

    def user(name, role, team, boss, uid, org_=org):
        u = User(org_id=org_.id, name=name, role=role, team_id=team.id if team else None,
                 reports_to_id=boss.id if boss else None, wecom_userid=uid, dingtalk_userid=uid,
                 start_date=date(2025, 3, 1))
        session.add(u)
        session.flush()
        return u

    director = user("赵总监", "director", region, None, "director")
    manager = user("钱经理", "manager", team_a, director, "manager")
    manager_b = user("孙经理", "manager", team_b, director, "manager_b")
    rep1 = user("李明", "rep", team_a, manager, "rep1")
    rep2 = user("王芳", "rep", team_a, manager, "rep2")
    rep3 = user("张伟", "rep", team_b, manager_b, "rep3")
    outsider = user("外人", "rep", None, None, "rep1", org_=other)
    return World(org, other, director, manager, manager_b, rep1, rep2, rep3, outsider, team_a, team_b)
