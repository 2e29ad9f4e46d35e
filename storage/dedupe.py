"""Duplicate check: is this new (or changed) customer one we already have?

One function, `find_duplicates`, used by every path that writes a customer (chat 新客户, card photo,
voice note, mini-app create and 关联, the lead webhook, the importer). It never decides alone: it
returns the likely existing customers with their owners and the reasons, and the caller shows them.

- Exact: unified social credit code, mobile (normalized with phonenumbers, on the customer or any
  contact, as a contact's mobile or second mobile, either way round), e-mail, WeCom external_userid / DingTalk ids (contacts and chat links) → score 1.0.
- Fuzzy: the company name without province/city prefix, legal suffix, brackets, full-width forms,
  punctuation and spaces (`normalize_company`), compared by rapidfuzz on the characters and on the
  pinyin (typing errors in Chinese are mostly homophones), plus a 简称-inside-全称 rule. The city is
  kept apart (`CompanyName.city`): the same brand in two different cities is not the same customer.
  A contact with the same name at a similar company raises the score.
- Cost: the name pre-filter is the brand's head (the first two characters of `customer.name_key`,
  through its pg_trgm GIN index on PostgreSQL, migration 0003) or the same pinyin
  (`customer.name_pinyin`, a b-tree); rapidfuzz then scores at most `[dedupe].prefilter_limit`
  rows in process. The same query runs on SQLite (demo).
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz
from sqlalchemy import func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from config.playbook import Playbook, cached_playbook
from config.settings import DEFAULT_PLAYBOOK

from . import places
from .errors import InvalidInput
from .models import ChatLink, Contact, Customer, User
from .validators import normalize_credit_code, normalize_email, normalize_mobile

# Legal forms at the end of a name, longest first; removed repeatedly ("集团" + "有限公司").
LEGAL_SUFFIXES = (
    "集团股份有限公司", "集团有限责任公司", "集团有限公司", "股份有限公司", "有限责任公司", "股份合作公司",
    "有限合伙", "合伙企业", "有限公司", "股份公司", "集团公司", "总公司", "公司", "集团", "有限",
    "corporation", "company", "limited", "coltd", "corp", "ltd", "inc", "co",
)
BRANCH_SUFFIXES = ("分公司", "办事处", "分厂", "分部", "分店")
_BRACKETS = re.compile(r"[(\[（【〔［{<《]([^)\]）】〕］}>》]*)[)\]）】〕］}>》]")
_BRACKET_WORDS = ("集团", "股份", "有限", "有限合伙", "普通合伙", "控股")


@dataclass(frozen=True)
class CompanyName:
    """A company name taken apart: `core` compares, `city` separates, `pinyin` forgives typos."""
    core: str
    city: str | None = None
    pinyin: str = ""
    branch: bool = False


def _fold(name: str) -> str:
    """Full-width forms folded (NFKC), lower case, outer spaces gone."""
    return unicodedata.normalize("NFKC", name or "").strip().lower()


def _strip_punct(value: str) -> str:
    """Only letters, digits and CJK characters stay (brackets, dots, dashes, spaces go)."""
    return "".join(ch for ch in value if ch.isalnum())


def _place(word: str) -> str | None:
    """'上海' / '上海市' / '浙江省' / '宁波' → the short place name, else None."""
    for suffix in places.PROVINCE_SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix):
            word = word[: -len(suffix)]
            break
    return word if word in places.CITY_PROVINCE or word in places.PROVINCE_CITIES else None


def _take_prefix(text: str, names: tuple[str, ...], suffixes: tuple[str, ...]) -> tuple[str | None, str]:
    for name in names:
        if text.startswith(name):
            rest = text[len(name):]
            for suffix in suffixes:
                if rest.startswith(suffix):
                    rest = rest[len(suffix):]
                    break
            return name, rest
    return None, text


def _trailing_place(text: str) -> tuple[str | None, int]:
    for name in places.CITIES + places.PROVINCES:
        for tail in (name + "市", name + "省", name):
            if text.endswith(tail) and len(text) > len(tail) + 1:
                return name, len(tail)
    return None, 0


def _strip_legal(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for suffix in LEGAL_SUFFIXES:
            if text.endswith(suffix) and len(text) - len(suffix) >= 2:
                text, changed = text[: -len(suffix)], True
                break
    return text


def pinyin_key(value: str) -> str:
    """Toneless pinyin of the CJK characters, other letters and digits as they are: 华东机电 → huadongjidian."""
    return "".join(lazy_pinyin(value, errors=lambda chars: list(chars))).lower()[:400]


def parse_company(name: str) -> CompanyName:
    """'上海华东机电设备有限公司', '华东机电设备（上海）有限公司' and '华东机电设备有限公司上海分公司' all give
    core 华东机电设备 and city 上海."""
    text = _fold(name)
    city: str | None = None

    def bracket(match: re.Match) -> str:
        nonlocal city
        inner = _strip_punct(match.group(1))
        place = _place(inner)
        if place:
            city = city or place
            return ""
        if inner in places.COUNTRY_WORDS or inner in _BRACKET_WORDS:
            return ""
        return inner

    text = _strip_punct(_BRACKETS.sub(bracket, text))
    branch = False
    for suffix in BRANCH_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 2:
            text, branch = text[: -len(suffix)], True
            # the branch's place sits right before 分公司: 华东机电有限公司宁波分公司
            place, tail = _trailing_place(text)
            if place:
                text, city = text[: -tail], place
            break
    text = _strip_legal(text)
    for country in places.COUNTRY_WORDS:
        if text.startswith(country) and len(text) - len(country) >= 2:
            text = text[len(country):]
    province, rest = _take_prefix(text, places.PROVINCES, places.PROVINCE_SUFFIXES)
    if province and len(rest) >= 2:
        text = rest
    else:
        province = None
    prefix_city, rest = _take_prefix(text, places.CITIES, places.CITY_SUFFIXES)
    if prefix_city and len(rest) >= 2:
        text = rest
    else:
        prefix_city = None
    # a branch's own city wins over the head office's prefix ("上海华东…宁波分公司" is in 宁波)
    city = city or prefix_city or province
    text = _strip_legal(text)
    return CompanyName(core=text[:200], city=city, pinyin=pinyin_key(text), branch=branch)


def normalize_company(name: str) -> str:
    """The comparable part of a company name: no place prefix, legal suffix, brackets or punctuation."""
    return parse_company(name).core


def normalize_person(name: str) -> str:
    return _strip_punct(_fold(name))[:200]


def name_keys(kind: str, name: str) -> tuple[str, str | None, str]:
    """The (name_key, name_city, name_pinyin) columns stored on a customer."""
    if kind == "person":
        key = normalize_person(name)
        return key, None, pinyin_key(key)
    parsed = parse_company(name)
    return parsed.core, parsed.city, parsed.pinyin


def name_score(a: CompanyName, b: CompanyName) -> float:
    """0..1: how likely two company names are the same customer. Different cities score 0."""
    if not a.core or not b.core or not places.compatible(a.city, b.city):
        return 0.0
    if a.core == b.core:
        return 1.0
    score = _likeness(a.core, b.core, a.pinyin, b.pinyin)
    shared = _common_suffix(a.core, b.core)
    if len(shared) >= 2 and len(a.core) > len(shared) and len(b.core) > len(shared):
        # Same trade words, so the brand in front decides: 华东机电设备 / 华南机电设备 are two
        # companies, 华东 / 华冬 (same sound) are one company typed twice.
        head_a, head_b = a.core[: -len(shared)], b.core[: -len(shared)]
        return min(score, _likeness(head_a, head_b, pinyin_key(head_a), pinyin_key(head_b)))
    short, long_ = sorted((a.core, b.core), key=len)
    if len(short) >= 2 and long_.startswith(short):
        # 简称 at the start of the 全称: 华东机电 / 华东机电设备
        score = max(score, 0.75 + 0.25 * len(short) / len(long_))
    elif len(short) >= 3 and short in long_:
        score = max(score, 0.7 + 0.25 * len(short) / len(long_))
    return min(score, 1.0)


def _likeness(a: str, b: str, pinyin_a: str, pinyin_b: str) -> float:
    score = fuzz.ratio(a, b) / 100
    if pinyin_a and pinyin_b:
        # same sound, other characters (IME typo): nearly as good as the same characters
        score = max(score, 0.97 * fuzz.ratio(pinyin_a, pinyin_b) / 100)
    return score


def _common_suffix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return a[len(a) - n:]


# ------------------------------------------------------------------ the check


@dataclass
class Candidate:
    """What is about to be written. `name` is the customer's name as typed (a company, or a person
    when kind is "person"); `company` the company when the name is a person's."""
    name: str | None = None
    company: str | None = None
    kind: str | None = None
    credit_code: str | None = None
    mobile: str | None = None
    mobiles: tuple[str, ...] = ()          # more contact mobiles (second mobiles included)
    email: str | None = None
    wecom_external_userid: str | None = None
    dingtalk_userid: str | None = None     # a DingTalk customer id as linked in chat_link
    contact_name: str | None = None

    def company_name(self) -> str | None:
        if self.company:
            return self.company
        return self.name if self.kind != "person" else None


@dataclass
class Match:
    customer_id: int
    customer_name: str
    owner_id: int
    owner_name: str
    score: float                            # 0..1; 1.0 for an identical identifier
    reasons: list[str] = field(default_factory=list)
    exact: bool = False                     # an identifier (not only the name) is the same

    def label(self) -> str:
        return f"{self.customer_name}（负责人：{self.owner_name}）"


def default_playbook() -> Playbook:
    return cached_playbook(str(os.environ.get("CRMBOT_PLAYBOOK") or DEFAULT_PLAYBOOK))


def _quiet(normalize, value: str | None) -> str | None:
    """A value we did not type ourselves may be malformed: then it is simply no identifier."""
    if not (value or "").strip():
        return None
    try:
        return normalize(value)
    except InvalidInput:
        return None


def find_duplicates(session: Session, org_id: int, candidate: Candidate, *,
                    exclude_id: int | None = None, limit: int = 5,
                    playbook: Playbook | None = None) -> list[Match]:
    """The existing customers of `org_id` that look like `candidate`, best first (exact identifier
    hits before name likeness). Merged tombstones are never returned. Writes nothing."""
    rules = (playbook or default_playbook()).dedupe
    hits: dict[int, tuple[float, list[str], bool]] = {}
    known: dict[int, tuple[str, int, str]] = {}   # id → (name, owner id, owner name)

    def hit(customer_id: int, score: float, reason: str, exact: bool = False) -> None:
        if customer_id == exclude_id:
            return
        old_score, reasons, old_exact = hits.get(customer_id, (0.0, [], False))
        if reason not in reasons:
            reasons = [*reasons, reason]
        hits[customer_id] = (max(old_score, score), reasons, old_exact or exact)

    live = (Customer.org_id == org_id, Customer.merged_into_id.is_(None))
    exact = _exact_ids(org_id, candidate, live)
    company = candidate.company_name()
    wanted = parse_company(company) if company else None
    if wanted is not None and len(wanted.core) < 2:
        wanted = None
    contact_key = normalize_person(candidate.contact_name) if candidate.contact_name else ""
    # ONE round trip whatever was given (the check runs inside a write path's transaction, where
    # every round trip waits for the database): the identifier hits with their owners, and the
    # rows the name pre-filter hands to the scorer, each with "a contact of the same name" answered.
    same_contact = (select(Contact.id).where(Contact.customer_id == Customer.id,
                                             func.lower(Contact.name) == contact_key)
                    .exists() if contact_key else literal(False))
    columns = (Customer.id, Customer.name_key, Customer.name_city, Customer.name_pinyin, Customer.name,
               Customer.owner_id, User.name.label("owner_name"), same_contact.label("same_contact"))
    parts = []
    if exact is not None:
        ids = exact.subquery()
        parts.append(select(*columns, ids.c.reason).join(User, User.id == Customer.owner_id)
                     .join(ids, ids.c.customer_id == Customer.id).where(*live))
    if wanted is not None:
        near = (select(*columns).join(User, User.id == Customer.owner_id)
                .where(*live, Customer.kind == "company",
                       or_(Customer.name_key.like(f"{_like(wanted.core[:2])}%", escape="\\"),
                           Customer.name_pinyin == wanted.pinyin)))
        if session.get_bind().dialect.name == "postgresql":
            near = near.order_by(func.similarity(Customer.name_key, wanted.core).desc())
        near = near.limit(rules.prefilter_limit).subquery()
        parts.append(select(near, literal(None).label("reason")))
    if not parts:
        return []
    for row in session.execute(union_all(*parts) if len(parts) > 1 else parts[0]):
        cid, core, city, pinyin, name, owner_id, owner_name, same, reason = row
        known[cid] = (name, owner_id, owner_name)
        if reason is not None:
            hit(cid, 1.0, reason, True)
            continue
        score = name_score(wanted, CompanyName(core=core, city=city, pinyin=pinyin or ""))
        if same and score >= rules.name_threshold - 0.15:
            score = min(1.0, score + 0.15)
            hit(cid, score, "联系人同名")
        if score >= rules.name_threshold:
            hit(cid, score, "名称相同" if score >= 0.999 else "名称相近")
    matches = [Match(customer_id=cid, customer_name=known[cid][0], owner_id=known[cid][1],
                     owner_name=known[cid][2], score=round(score, 3), reasons=reasons, exact=is_exact)
               for cid, (score, reasons, is_exact) in hits.items()]
    matches.sort(key=lambda m: (not m.exact, -m.score, m.customer_id))
    return matches[:limit]


def _exact_ids(org_id: int, candidate: Candidate, live):
    """(customer_id, reason) for every identifier given, as one UNION ALL, or None."""
    def by(column, reason: str):
        return select(column.label("customer_id"), literal(reason).label("reason"))

    exact = []
    code = _quiet(normalize_credit_code, candidate.credit_code)
    if code:
        exact.append(by(Customer.id, "信用代码相同").where(*live, Customer.identifier == f"uscc:{code}"))
    mobiles = sorted({m for m in (_quiet(normalize_mobile, v) for v in (candidate.mobile, *candidate.mobiles)) if m})
    if mobiles:
        exact.append(by(Customer.id, "手机号相同").where(
            *live, Customer.identifier.in_([f"mobile:{m}" for m in mobiles])))
        # each column through its own index (a union part each, not one OR the planner may scan)
        for column in (Contact.mobile, Contact.mobile2):
            exact.append(by(Contact.customer_id, "手机号相同").where(Contact.org_id == org_id, column.in_(mobiles)))
    email = _quiet(normalize_email, candidate.email)
    if email:
        exact.append(by(Contact.customer_id, "邮箱相同").where(Contact.org_id == org_id, Contact.email == email))
    for platform, external, reason in (("wecom", candidate.wecom_external_userid, "企业微信客户相同"),
                                       ("dingtalk", candidate.dingtalk_userid, "钉钉客户相同")):
        external = (external or "").strip()
        if not external:
            continue
        exact.append(by(ChatLink.customer_id, reason).where(
            ChatLink.org_id == org_id, ChatLink.platform == platform, ChatLink.external_id == external))
        if platform == "wecom":
            exact.append(by(Contact.customer_id, reason).where(
                Contact.org_id == org_id, Contact.wecom_external_userid == external))
    if not exact:
        return None
    return union_all(*exact) if len(exact) > 1 else exact[0]


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def candidate_for(kind: str, name: str, *, credit_code: str | None = None, mobile: str | None = None,
                  contacts=()) -> Candidate:
    """A Candidate from a customer about to be created (its contacts' mobiles, e-mails, ids)."""
    contacts = list(contacts)
    first = contacts[0] if contacts else None
    return Candidate(
        name=name, kind=kind, credit_code=credit_code, mobile=mobile,
        mobiles=tuple(m for c in contacts for m in (getattr(c, "mobile", None), getattr(c, "mobile2", None)) if m),
        email=next((c.email for c in contacts if getattr(c, "email", None)), None),
        wecom_external_userid=next((c.wecom_external_userid for c in contacts
                                    if getattr(c, "wecom_external_userid", None)), None),
        contact_name=first.name if first is not None and kind != "person" else None)
