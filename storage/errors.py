"""Refusals from the domain services. Each carries the Chinese sentence the user reads."""
from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)
        self.field = field


class NotFound(DomainError):
    status = 404


class PermissionDenied(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class DuplicateCustomer(Conflict):
    """Same identifier already in the org: never a silent merge, never 撞单."""

    def __init__(self, existing_id: int, existing_name: str, owner_name: str, identifier: str):
        super().__init__(
            f"客户已存在：{existing_name}（负责人：{owner_name}），请勿重复创建",
            existing_id=existing_id, owner=owner_name, identifier=identifier)
        self.existing_id = existing_id
        self.owner_name = owner_name


class CustomerCollision(DuplicateCustomer):
    """撞单: the identifier belongs to another rep's customer. Ownership never moves by typing it
    first; the caller raises a review to the manager (storage/duplicate_reviews.py)."""

    def __init__(self, existing_id: int, existing_name: str, owner_name: str, identifier: str,
                 owner_id: int | None = None):
        super().__init__(existing_id, existing_name, owner_name, identifier)
        self.message = f"客户已存在：{existing_name}（负责人：{owner_name}），负责人不会因此变更"
        self.args = (self.message,)
        self.owner_id = owner_id


class PossibleDuplicate(Conflict):
    """Likely the same customer as existing ones: shown before create, never created silently.
    `matches` are storage.dedupe.Match rows; the rep may open one, ask for it, or create anyway
    with a reason (which raises a review to the manager)."""

    def __init__(self, matches: list, reasons: tuple[str, ...] = ()):
        labels = "；".join(m.label() for m in matches[:3])
        super().__init__(f"可能重复：{labels}", reasons=list(reasons),
                         matches=[{"customer_id": m.customer_id, "name": m.customer_name,
                                   "owner": m.owner_name, "score": m.score, "reasons": m.reasons}
                                  for m in matches])
        self.matches = matches
