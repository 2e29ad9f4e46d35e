"""The playbook: tags, stages, reminder rules and assignment rules, loaded from TOML.

The file is validated with pydantic so a mistake stops start-up with the file, the key path
and the reason (`PlaybookError`), instead of a KeyError in a job at 3 a.m.
"""
from __future__ import annotations

import re
import tomllib
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class PlaybookError(ValueError):
    def __init__(self, path: Path | str, key: str, reason: str):
        self.path, self.key, self.reason = str(path), key, reason
        super().__init__(f"{path}: {key}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc}): {value!r}") from None
    return value


class Tag(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=10)
    synonyms: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # e.g. 暂缓原因; empty for most tags
    # How reps say it beyond the synonyms: regular expressions over the note with spaces removed
    # (ocr_asr/note_parser.py). A company's own phrasing goes here, not into code.
    phrases: tuple[str, ...] = ()
    reported_fact: bool = False    # "已拜访": after a date still ahead it is a plan, not a fact
    customer_side: bool = False    # "老板未拍板" means the customer's boss, never ours
    reason_phrases: dict[str, str] = Field(default_factory=dict)  # reason → regex

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_regex(v) for v in values)

    @model_validator(mode="after")
    def _reason_phrases(self):
        for reason, phrase in self.reason_phrases.items():
            if reason not in self.reasons:
                raise ValueError(f"reason_phrases: {reason!r} is not one of this tag's reasons")
            _regex(phrase)
        return self


class FollowupPolicy(_Strict):
    note_max_chars: int = Field(gt=0)
    default_next_days: int = Field(ge=0)
    default_time: time
    # A part of the day named without an hour ("明天下午再打") sets this time of that day.
    period_times: dict[str, time] = Field(default_factory=lambda: {
        "早上": time(9), "上午": time(9), "中午": time(12), "下午": time(14), "傍晚": time(17),
        "晚上": time(19)})


class Stage(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    max_days: int = Field(gt=0)
    checklist: tuple[str, ...] = Field(min_length=1)
    locked_fields: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()


class FirstContactRule(_Strict):
    within_minutes: int = Field(gt=0)


class ClaimTimeoutRule(_Strict):
    minutes: int = Field(gt=0)


class SilentCustomerRule(_Strict):
    days: int = Field(gt=0)
    snooze_days: int = Field(gt=0)
    message_template: str = Field(min_length=1)


class FollowupDueRule(_Strict):
    overdue_days: int = Field(gt=0)


class EscalationRule(_Strict):
    manager_after_hours: int = Field(gt=0)
    director_after_hours: int = Field(gt=0)

    @model_validator(mode="after")
    def _director_later(self):
        if self.director_after_hours <= self.manager_after_hours:
            raise ValueError("director_after_hours must be later than manager_after_hours")
        return self


class DataCompletionRule(_Strict):
    due_days: int = Field(gt=0)


class Rules(_Strict):
    first_contact: FirstContactRule
    claim_timeout: ClaimTimeoutRule
    silent_customer: SilentCustomerRule
    followup_due: FollowupDueRule
    escalation: EscalationRule
    data_completion: DataCompletionRule


class Dedupe(_Strict):
    """Duplicate detection (storage/dedupe.py): when two names are "the same customer"."""
    # A fuzzy name score (0..1) at or above this is shown as 可能重复.
    name_threshold: float = Field(gt=0, le=1)
    # How many rows the pre-filter hands to the scorer at most.
    prefilter_limit: int = Field(gt=0, le=1000)
    # Reasons a rep can give for 仍然创建 (one tap each); the manager reviews them.
    create_anyway_reasons: tuple[str, ...] = Field(min_length=1)
    # A duplicate review (撞单 or 仍然创建) is due with the manager after this many hours.
    review_hours: int = Field(gt=0)


class Identifiers(_Strict):
    """Per customer kind: `block` (no save without the identifier: credit code for a company,
    mobile for a person) or `incomplete` (saved as 待补全, listed in the rep's weekly 补全 digest)."""
    company: Literal["block", "incomplete"]
    person: Literal["block", "incomplete"]
    digest_weekday: int = Field(ge=0, le=6)   # the weekly 补全 digest to each rep (0 = Monday)
    digest_at: time
    digest_max_items: int = Field(gt=0, le=20)

    def policy(self, kind: str) -> str:
        return self.company if kind == "company" else self.person


class DataHealthRules(_Strict):
    """storage/data_health.py and jobs/rules/data_quality.py."""
    # A rep whose completeness (mean per-field fill rate) stays under this for `coaching_weeks`
    # weekly checks running gets a coaching task for their manager.
    coaching_threshold: float = Field(gt=0, le=1)
    coaching_weeks: int = Field(ge=1, le=8)
    coaching_due_days: int = Field(gt=0)
    monthly_day: int = Field(ge=1, le=28)     # the monthly data-quality card to each manager
    monthly_at: time


class Integration(_Strict):
    """The ERP guard (miniapp/integration.py): another system's view never overwrites ours."""
    mismatch_due_hours: int = Field(gt=0)   # the owner's data task when the views differ


class QuietHours(_Strict):
    start: time
    end: time


class WorkingHours(_Strict):
    """The team's working day in the playbook's time zone. Timers (claim timeout, first contact,
    escalations, overdue) count only this time, on China's working days (config/worktime.py)."""
    start: time
    end: time
    lunch_start: time | None = None  # optional break that timers skip too
    lunch_end: time | None = None

    @model_validator(mode="after")
    def _order(self):
        if self.start >= self.end:
            raise ValueError("start must be before end on the same day (no overnight shifts)")
        if (self.lunch_start is None) != (self.lunch_end is None):
            raise ValueError("give both lunch_start and lunch_end, or neither")
        if self.lunch_start is not None and not (self.start < self.lunch_start < self.lunch_end < self.end):
            raise ValueError("lunch must lie strictly inside the working day (start < lunch_start < lunch_end < end)")
        return self


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _quiet_at(minute: int, quiet: QuietHours) -> bool:
    start, end = _minutes(quiet.start), _minutes(quiet.end)
    return start <= minute < end if start <= end else (minute >= start or minute < end)


class Delivery(_Strict):
    max_cards_per_hour: int = Field(gt=0)


class Reports(_Strict):
    daily_at: time
    weekly_weekday: int = Field(ge=0, le=6)
    weekly_at: time
    activation_hours: int = Field(gt=0)


class KpiThreshold(_Strict):
    """Colour of a dashboard tile: at or better than `good` green, at or better than `warn` orange,
    else red. Better is higher for rates (higher_is_better) and lower for counts like overdue tasks."""
    good: float
    warn: float
    higher_is_better: bool = True

    @model_validator(mode="after")
    def _ordered(self):
        if (self.good < self.warn) if self.higher_is_better else (self.good > self.warn):
            raise ValueError("good must be better than warn")
        return self

    def level(self, value: float | None) -> str:
        if value is None:
            return "none"
        better = (lambda a, b: a >= b) if self.higher_is_better else (lambda a, b: a <= b)
        return "good" if better(value, self.good) else "warn" if better(value, self.warn) else "bad"


def _default_kpis() -> dict[str, KpiThreshold]:
    return {"activation": KpiThreshold(good=80, warn=50), "conversion": KpiThreshold(good=50, warn=20),
            "completeness": KpiThreshold(good=90, warn=60),
            "overdue_tasks": KpiThreshold(good=0, warn=3, higher_is_better=False)}


class Dashboard(_Strict):
    stuck_top: int = Field(default=5, gt=0, le=20)         # deals stuck longest shown to a manager
    loss_reasons_top: int = Field(default=3, gt=0, le=10)
    kpi: dict[str, KpiThreshold] = Field(default_factory=_default_kpis)


class OnboardingStep(_Strict):
    day: int = Field(ge=1, le=7)
    key: Literal["record_customer", "tag_followup", "advance_stage", "lost_deal_drill"]
    text: str


class Onboarding(_Strict):
    steps: tuple[OnboardingStep, ...]


ROLES = Literal["rep", "manager", "director"]


class DiscountTier(_Strict):
    """Discounts up to `up_to_percent` are decided by `approver`; on a deal worth more than
    `copy_above_amount` yuan, `copy_to` (the other level of the chain) gets a copy of the card."""
    up_to_percent: float = Field(gt=0, le=100)
    approver: ROLES
    copy_above_amount: int | None = Field(default=None, ge=0)
    copy_to: ROLES | None = None


class Approvals(_Strict):
    """Discount tiers, stage skips and what happens to a request nobody answers."""
    discount_tiers: tuple[DiscountTier, ...] = Field(min_length=1)
    skip_approver: Literal["manager", "director"] = "manager"
    reopen_roles: tuple[ROLES, ...] = ("manager", "director")
    reject_reasons: tuple[str, ...] = Field(min_length=1, max_length=5)  # WeCom: ≤6 buttons with 同意
    escalate_after_working_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self):
        limits = [t.up_to_percent for t in self.discount_tiers]
        if limits != sorted(limits) or len(set(limits)) != len(limits):
            raise ValueError("discount_tiers: up_to_percent must increase from tier to tier")
        if limits[-1] != 100:
            raise ValueError("discount_tiers: the last tier must reach 100 (every discount has an approver)")
        for tier in self.discount_tiers:
            if (tier.copy_to is None) != (tier.copy_above_amount is None):
                raise ValueError("discount_tiers: copy_to and copy_above_amount go together")
        return self

    def tier_for(self, percent: float) -> DiscountTier:
        return next(t for t in self.discount_tiers if percent <= t.up_to_percent)


class Targets(_Strict):
    """What a rep should do in a week (seed 001): below it two weeks running → 安排辅导;
    above it → a word of praise. Effective follow-ups are ones with at least one tag."""
    weekly_effective_followups: int = Field(gt=0)
    weekly_stage_advances: int = Field(ge=0)
    coaching_after_weeks: int = Field(ge=1)


class AssignmentRule(_Strict):
    source: tuple[str, ...] = ()
    industry: tuple[str, ...] = ()
    budget_min: int | None = Field(default=None, ge=0)
    budget_max: int | None = Field(default=None, ge=0)
    team: str = Field(min_length=1)
    strategy: Literal["round_robin", "least_load"] = "round_robin"

    def matches(self, source: str | None, industry: str | None, budget: int | None) -> bool:
        if self.source and source not in self.source:
            return False
        if self.industry and industry not in self.industry:
            return False
        if self.budget_min is not None and (budget is None or budget < self.budget_min):
            return False
        if self.budget_max is not None and (budget is None or budget > self.budget_max):
            return False
        return True


IMPORT_FIELDS = {
    # sheet kind → the fields a column can be mapped to (storage/imports.py reads them)
    "customers": ("customer_name", "kind", "credit_code", "contact_name", "contact_title", "mobile",
                  "phone", "email", "owner", "industry", "grade", "source", "address", "created_at",
                  "mobile2", "fax", "english_name", "english_title"),
    "contacts": ("customer_name", "contact_name", "contact_title", "mobile", "phone", "email",
                 "mobile2", "fax", "english_name", "english_title"),
    "followups": ("customer_name", "occurred_at", "author", "note", "tags", "next_followup_at"),
    "opportunities": ("customer_name", "opportunity_name", "amount", "stage", "owner", "created_at"),
}
TERM_CATEGORIES = ("kind", "grade", "stage", "tags", "industry", "source")


class ImportRules(_Strict):
    """Migration from Excel: how legacy headers and values map onto the store and this playbook."""
    header_scan_rows: int = Field(default=20, gt=0, le=200)
    batch_rows: int = Field(default=1000, gt=0, le=10000)
    total_row_words: tuple[str, ...] = ("合计", "总计", "小计")
    # sheet kind → words in a sheet's name that say what it holds
    sheet_names: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # field → header names seen in the wild (compared without spaces, case-insensitive)
    columns: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # category → legacy value → playbook value (grade A-D, stage key, tag label, …)
    terms: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self):
        fields = {f for names in IMPORT_FIELDS.values() for f in names}
        for name in self.columns:
            if name not in fields:
                raise ValueError(f"columns.{name}: not an importable field ({', '.join(sorted(fields))})")
        for kind in self.sheet_names:
            if kind not in IMPORT_FIELDS:
                raise ValueError(f"sheet_names.{kind}: expected one of {', '.join(IMPORT_FIELDS)}")
        for category in self.terms:
            if category not in TERM_CATEGORIES:
                raise ValueError(f"terms.{category}: expected one of {', '.join(TERM_CATEGORIES)}")
        seen: dict[str, str] = {}
        for name, synonyms in self.columns.items():
            for synonym in synonyms:
                key = synonym.replace(" ", "").lower()
                if key in seen and seen[key] != name:
                    raise ValueError(f"columns.{name}: header {synonym!r} is also a synonym of {seen[key]}")
                seen[key] = name
        return self


def _parse_hhmm(value):
    if isinstance(value, str):
        hours, _, minutes = value.partition(":")
        return time(int(hours), int(minutes or 0))
    return value


class Handover(_Strict):
    undo_minutes: int = Field(default=5, ge=1, le=60)   # 转交 can be taken back this long


class Playbook(_Strict):
    timezone: str = "Asia/Shanghai"
    tags: tuple[Tag, ...] = Field(min_length=1)
    followup: FollowupPolicy
    stages: tuple[Stage, ...] = Field(min_length=1)
    stuck_reasons: tuple[str, ...] = Field(min_length=1)
    lost_reasons: tuple[str, ...] = Field(min_length=1)
    rules: Rules
    quiet_hours: QuietHours
    working_hours: WorkingHours
    delivery: Delivery
    reports: Reports
    dashboard: Dashboard = Field(default_factory=Dashboard)
    onboarding: Onboarding
    assignment: tuple[AssignmentRule, ...] = Field(min_length=1)
    approvals: Approvals
    targets: Targets
    handover: Handover = Handover()
    dedupe: Dedupe
    identifiers: Identifiers
    data_health: DataHealthRules
    integration: Integration
    # `import` is a Python keyword: the TOML section [import] fills `imports`
    imports: ImportRules = Field(default_factory=ImportRules, alias="import")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone such as Asia/Shanghai") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _times(cls, data):
        if isinstance(data, dict):
            for section, keys in (("quiet_hours", ("start", "end")), ("reports", ("daily_at", "weekly_at")),
                                   ("followup", ("default_time",)), ("identifiers", ("digest_at",)),
                                   ("data_health", ("monthly_at",)),
                                   ("working_hours", ("start", "end", "lunch_start", "lunch_end"))):
                block = data.get(section)
                if isinstance(block, dict):
                    for key in keys:
                        if key in block:
                            try:
                                block[key] = _parse_hhmm(block[key])
                            except ValueError:
                                raise ValueError(f"{section}.{key}: expected HH:MM") from None
        return data

    @model_validator(mode="after")
    def _unique(self):
        for kind, items in (("tags", self.tags), ("stages", self.stages)):
            keys = [item.key for item in items]
            labels = [item.label for item in items]
            for name, values in (("key", keys), ("label", labels)):
                dupes = sorted({v for v in values if values.count(v) > 1})
                if dupes:
                    raise ValueError(f"{kind}: duplicate {name} {dupes[0]!r}")
        return self

    @model_validator(mode="after")
    def _import_terms(self):
        """Dictionary targets must be values this playbook knows, or the import writes junk."""
        targets = {"grade": {"A", "B", "C", "D"}, "kind": {"company", "person"},
                   "stage": {s.key for s in self.stages} | {"lost"},
                   "tags": {t.label for t in self.tags}}
        for category, allowed in targets.items():
            for legacy, value in self.imports.terms.get(category, {}).items():
                if value not in allowed:
                    raise ValueError(f"import.terms.{category}.{legacy}: {value!r} is not one of "
                                     f"{', '.join(sorted(allowed))}")
        return self

    @model_validator(mode="after")
    def _working_outside_quiet(self):
        # A timer must never run while the cards that announce its task are held for quiet hours.
        hours = self.working_hours
        for minute in range(_minutes(hours.start), _minutes(hours.end)):
            if _quiet_at(minute, self.quiet_hours):
                raise ValueError(f"working_hours: overlap quiet_hours at {minute // 60:02d}:{minute % 60:02d}; "
                                 "timers would run while reminder cards are held")
        return self

    # ---- lookups used across the code base
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def tag(self, key_or_label: str) -> Tag | None:
        for tag in self.tags:
            if key_or_label in (tag.key, tag.label):
                return tag
        return None

    def stage(self, key: str) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)

    def stage_index(self, key: str) -> int:
        return [s.key for s in self.stages].index(key)

    def next_stage(self, key: str) -> Stage | None:
        keys = [s.key for s in self.stages]
        index = keys.index(key) if key in keys else -1
        return self.stages[index + 1] if 0 <= index < len(keys) - 1 else None

    def assignment_for(self, source: str | None, industry: str | None,
                       budget: int | None) -> AssignmentRule | None:
        return next((r for r in self.assignment if r.matches(source, industry, budget)), None)


def load_playbook(path: Path | str) -> Playbook:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlaybookError(path, "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(path, "-", f"not valid TOML: {exc}") from None
    try:
        return Playbook.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        reason = err["msg"].removeprefix("Value error, ")
        head, _, rest = reason.partition(": ")
        if rest and re.fullmatch(r"[\w.]+", head):  # a model's own check names its key: "key: reason"
            key, reason = (f"{key}.{head}" if key else head), rest
        raise PlaybookError(path, key or "-", reason) from None


@lru_cache(maxsize=8)
def cached_playbook(path: str) -> Playbook:
    return load_playbook(path)
