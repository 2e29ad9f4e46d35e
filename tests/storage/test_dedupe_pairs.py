"""The labelled name pairs (tests/storage/dedupe_pairs.jsonl, built by make_dedupe_pairs.py):
precision and recall of the name score at the playbook's threshold, and the bench's --tiny run
(the same pairs through find_duplicates on a real store) as CI runs it."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from storage.dedupe import name_score, parse_company

PAIRS = Path(__file__).with_name("dedupe_pairs.jsonl")
ROOT = Path(__file__).resolve().parents[2]


def _pairs():
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_set_is_large_and_mixed():
    rows = _pairs()
    kinds = Counter(r["kind"] for r in rows)
    assert len(rows) >= 300 and sum(r["dup"] for r in rows) >= 100 and sum(not r["dup"] for r in rows) >= 100
    assert {"short_with_city", "fullwidth_brackets", "ascii_brackets", "homophone_typo", "branch_same_city",
            "same_brand_other_city", "same_brand_other_trade", "neighbour_brand_same_trade"} <= set(kinds)


def test_recall_and_precision_at_the_playbook_threshold(playbook):
    tp = fp = fn = 0
    for row in _pairs():
        predicted = name_score(parse_company(row["a"]), parse_company(row["b"])) >= playbook.dedupe.name_threshold
        tp += predicted and row["dup"]
        fp += predicted and not row["dup"]
        fn += (not predicted) and row["dup"]
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95, (tp, fp, fn)


def test_bench_tiny_runs_and_meets_the_targets(tmp_path):
    out = subprocess.run([sys.executable, "bench/bench_dedupe.py", "--tiny"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "p99" in out.stdout and "targets (recall >= 0.95 at precision >= 0.95): met" in out.stdout
