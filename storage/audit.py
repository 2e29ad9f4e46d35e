"""The audit log: every change writes a row in the same transaction as the change itself."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from .models import AuditLog, User


def snapshot(obj: Any, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A JSON-safe copy of the mapped columns of `obj` (or just `fields`)."""
    names = fields or tuple(attr.key for attr in inspect(obj).mapper.column_attrs)
    return {name: _json_safe(getattr(obj, name)) for name in names}


def _json_safe(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def record(session: Session, actor: User | None, action: str, obj: Any,
           before: dict[str, Any] | None = None, org_id: int | None = None) -> AuditLog:
    session.flush()  # the entity needs its id before we point at it
    row = AuditLog(org_id=org_id or obj.org_id, actor_id=actor.id if actor else None, action=action,
                   entity=obj.__tablename__, entity_id=obj.id if hasattr(obj, "id") else None,
                   before=before, after=snapshot(obj))
    session.add(row)
    return row
