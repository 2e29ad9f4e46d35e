"""Who may see and change what: a rep their own records, a manager their team's subtree,
a director or admin the whole org; nothing ever crosses orgs."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFound, PermissionDenied
from .models import Team, User

WHOLE_ORG_ROLES = {"director", "admin"}


def team_subtree(session: Session, org_id: int, root_team_id: int) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for team_id, parent_id in session.execute(
            select(Team.id, Team.parent_id).where(Team.org_id == org_id)):
        children.setdefault(parent_id, []).append(team_id)
    found, stack = set(), [root_team_id]
    while stack:
        team_id = stack.pop()
        if team_id not in found:
            found.add(team_id)
            stack.extend(children.get(team_id, ()))
    return found


def visible_user_ids(session: Session, actor: User) -> set[int] | None:
    """The owners whose records `actor` may see; None means the whole org."""
    if actor.role in WHOLE_ORG_ROLES:
        return None
    if actor.role == "manager":
        ids = {actor.id}
        if actor.team_id is not None:
            teams = team_subtree(session, actor.org_id, actor.team_id)
            ids |= set(session.scalars(select(User.id).where(User.org_id == actor.org_id,
                                                             User.team_id.in_(teams))))
        # direct and indirect reports, wherever their team is
        frontier = {actor.id}
        while frontier:
            frontier = set(session.scalars(select(User.id).where(
                User.org_id == actor.org_id, User.reports_to_id.in_(frontier)))) - ids
            ids |= frontier
        return ids
    return {actor.id}


def check_access(session: Session, actor: User, org_id: int, owner_id: int | None,
                 what: str = "记录") -> None:
    """Raise unless `actor` may see a record of `org_id` owned by `owner_id`.

    Another org's record is reported as not found: its existence is none of the actor's business.
    """
    if org_id != actor.org_id:
        raise NotFound(f"{what}不存在")
    visible = visible_user_ids(session, actor)
    if visible is not None and owner_id not in visible:
        raise PermissionDenied(f"无权查看或修改该{what}：它不属于你或你的团队")
