"""Score the note parser on a labelled corpus (JSON lines), for the tests and the benchmark.

A corpus line: {"now": ISO-8601, "text": "...", "expect": {"tags": [...], "next_followup_at": ISO or null,
"amount": number or null, "customer_id": int or null, "pause_reason": optional}}.
Customers come from a second JSON-lines file: {"id", "name", "company", "aliases"}.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from config.playbook import Playbook
from ocr_asr.note_parser import CustomerRef, parse_note


@dataclass
class Score:
    notes: int = 0
    dates_ok: int = 0
    amounts_ok: int = 0
    customers_ok: int = 0
    tag_tp: int = 0
    tag_fp: int = 0
    tag_fn: int = 0
    misses: list[str] = field(default_factory=list)   # one line per note with any wrong field

    @property
    def date_accuracy(self) -> float:
        return self.dates_ok / self.notes if self.notes else 0.0

    @property
    def amount_accuracy(self) -> float:
        return self.amounts_ok / self.notes if self.notes else 0.0

    @property
    def customer_accuracy(self) -> float:
        return self.customers_ok / self.notes if self.notes else 0.0

    @property
    def tag_f1(self) -> float:
        # Micro-averaged over all (note, tag) pairs; a note with no tags expected and none found
        # adds nothing, so F1 measures only the tagging that happened.
        denominator = 2 * self.tag_tp + self.tag_fp + self.tag_fn
        return 2 * self.tag_tp / denominator if denominator else 1.0

    def summary(self) -> str:
        return (f"{self.notes} notes: dates {self.date_accuracy:.1%}, amounts {self.amount_accuracy:.1%}, "
                f"tag F1 {self.tag_f1:.3f}, customers {self.customer_accuracy:.1%}")


def load_customers(path: Path | str) -> list[CustomerRef]:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [CustomerRef(r["id"], r["name"], r.get("company"), tuple(r.get("aliases", ()))) for r in rows]


def load_corpus(path: Path | str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def score(corpus: list[dict], playbook: Playbook, customers: list[CustomerRef]) -> Score:
    result = Score()
    for row in corpus:
        expect = row["expect"]
        parsed = parse_note(row["text"], datetime.fromisoformat(row["now"]), playbook, customers)
        got = parsed.to_json()
        result.notes += 1
        date_ok = got["next_followup_at"] == expect["next_followup_at"]
        amount_ok = got["amount"] == expect["amount"]
        customer_ok = parsed.customer_id == expect.get("customer_id")
        result.dates_ok += date_ok
        result.amounts_ok += amount_ok
        result.customers_ok += customer_ok
        found, wanted = set(parsed.tags), set(expect["tags"])
        result.tag_tp += len(found & wanted)
        result.tag_fp += len(found - wanted)
        result.tag_fn += len(wanted - found)
        if not (date_ok and amount_ok and customer_ok and found == wanted):
            result.misses.append(
                f"{row['text']}\n    got  {parsed.tags} {got['next_followup_at']} {got['amount']} "
                f"#{parsed.customer_id}\n    want {expect['tags']} {expect['next_followup_at']} "
                f"{expect['amount']} #{expect.get('customer_id')}")
    return result
