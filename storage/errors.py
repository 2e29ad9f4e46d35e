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
