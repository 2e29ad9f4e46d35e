"""The design's rules that a reader cannot see from one file: handlers and jobs never branch on
the platform, and business code never reads the wall clock. (The import table is checked by
`lint-imports`, configured in pyproject.toml.) Paths are absolute so the checks run from any
directory, and each fails when it finds nothing to check."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = {"wecom", "dingtalk"}


def _files(*folders: str) -> list[Path]:
    found = sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))
    assert found, f"no Python files under {folders}: the check would pass vacuously"
    return found


def _platform_branches(path: Path) -> list[str]:
    offenders = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        consts = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        if consts & PLATFORMS:  # e.g. `message.platform == "wecom"`; comparing two platforms is neutral
            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return offenders


@pytest.mark.parametrize("folder", ["bot/handlers", "jobs"])
def test_handlers_and_jobs_never_branch_on_the_platform(folder):
    """A neutral Event in, a neutral card out: the per-platform parts live in bot/<platform>/."""
    offenders = [o for path in _files(folder) for o in _platform_branches(path)]
    assert offenders == []


# Transport-level time (signature windows, token and webhook expiry) is the platforms' wall clock,
# not business time; fakes and the simulator stand in for the platforms.
WALL_CLOCK_ALLOWED = {"bot/wecom/adapter.py", "bot/dingtalk/adapter.py", "bot/dingtalk/sender.py",
                      "bot/wecom/fake.py", "bot/dingtalk/fake.py", "bot/wecom/client.py", "bot/dingtalk/client.py",
                      "miniapp/api.py", "config/clock.py", "storage/models.py"}


def _wall_clock_reads(path: Path) -> list[str]:
    offenders = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = getattr(f.value, "id", getattr(f.value, "attr", "")) if isinstance(f, ast.Attribute) else ""
            if name == "utcnow" or (name == "now" and owner == "datetime") or (name == "time" and owner == "time") \
                    or name in ("today",) and owner in ("date", "datetime"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return offenders


def test_business_code_reads_the_runtime_clock_not_the_wall_clock():
    offenders = [o for path in _files("bot", "jobs", "storage", "miniapp", "cards", "config")
                 if str(path.relative_to(ROOT)) not in WALL_CLOCK_ALLOWED for o in _wall_clock_reads(path)]
    assert offenders == []
