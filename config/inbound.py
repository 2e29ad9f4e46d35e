"""Checks every inbound body passes BEFORE a parser sees it: size, encoding and nesting depth.

It lives in config/ (the bottom layer, standard library and pydantic only) so that every edge
shares one set of checks: the platform adapters and the lead webhook in bot/, the mini-app API.

Why before: Python's json and our XML-to-dict recursion blow up (RecursionError) on bodies nested a
few thousand levels deep, and expat raises a bare ValueError for XML declaring a multi-byte legacy
encoding (GBK, Shift_JIS, Big5). Those reached the platforms as 500s, which they retry forever.
Here each becomes `BodyRejected` (a 400 with the reason), so a refusal writes nothing.

After these checks, the body is parsed into a pydantic model bounded by the columns it ends up in
(`bot/dingtalk/payloads.py`, `bot/wecom/payloads.py`, `bot/lead_webhook.py`,
`miniapp/bodies.py`);
`field_errors` turns pydantic's errors into one sentence naming the field.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import Field, StrictStr, ValidationError

MAX_JSON_DEPTH = 32        # the deepest real payload (a card callback's params) is 4
MAX_XML_DEPTH = 8          # WeCom's deepest: xml/SelectedItems/SelectedItem/OptionIds/OptionId = 5

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._\-]+)[\"']", re.I)
_UTF8_NAMES = {"utf-8", "utf8"}


# PostgreSQL text columns cannot hold NUL: refuse it at the edge instead of failing the INSERT.
NO_NUL = r"^[^\x00]*$"


def bounded_str(max_length: int, min_length: int = 0):
    """A strict string type (no int → str coercion) that fits a column of `max_length` characters."""
    return Annotated[StrictStr, Field(min_length=min_length, max_length=max_length, pattern=NO_NUL)]


class BodyRejected(ValueError):
    """The body is malformed; `reason` names the field or the check (English, for logs and the
    platform; the mini-app and lead webhook add a Chinese sentence)."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field


def utf8_text(body: bytes, what: str = "body") -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRejected(f"{what} is not UTF-8") from None


def json_depth_ok(text: str, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `max_depth` without recursing (strings do not count)."""
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise BodyRejected(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1


def _no_constant(name: str) -> Any:
    raise BodyRejected(f"JSON constant {name} is not allowed")


def load_json(body: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """UTF-8, depth-checked JSON without NaN/Infinity (they are not JSON and no column holds them)."""
    text = utf8_text(body) if isinstance(body, bytes) else body
    json_depth_ok(text, max_depth)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except BodyRejected:
        raise
    except (ValueError, RecursionError):
        raise BodyRejected("body is not JSON") from None


def load_json_object(body: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    data = load_json(body, max_depth)
    if not isinstance(data, dict):
        raise BodyRejected("body is not a JSON object")
    return data


def xml_encoding_ok(raw: bytes, what: str = "XML") -> None:
    """Only UTF-8 XML: WeCom sends nothing else, and expat cannot read multi-byte legacy encodings."""
    match = _XML_DECLARATION.match(raw[:200])
    if match and match.group(1).decode("ascii").lower() not in _UTF8_NAMES:
        raise BodyRejected(f"{what} declares encoding {match.group(1).decode('ascii')}; only UTF-8")
    utf8_text(raw, what)


def xml_depth_ok(root, max_depth: int = MAX_XML_DEPTH, what: str = "XML") -> None:
    """Iterative walk: refuse before any recursive conversion runs."""
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise BodyRejected(f"{what} nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in element)


def field_errors(exc: ValidationError) -> BodyRejected:
    """The first pydantic error as one line naming the field, e.g. "msgId: String should have at
    most 160 characters"."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or "body"
    return BodyRejected(f"{field}: {err['msg']}", field=field)
