"""Throughput and accuracy of the follow-up note parser.

    /work/venv/bin/python bench/bench_parse_note.py [--misses] [--rounds 20] [--book-size 1000]

Prints notes/s over every corpus note, and date / amount / tag / customer accuracy per corpus:
the development set (tuned on) and the three held-out sets (never tuned on).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.playbook import load_playbook  # noqa: E402
from ocr_asr.note_eval import load_corpus, load_customers, score  # noqa: E402
from ocr_asr.note_parser import CustomerRef, parse_note  # noqa: E402

CORPORA = ROOT / "tests" / "ocr_asr"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="print every note with a wrong field")
    parser.add_argument("--rounds", type=int, default=20, help="passes over all corpora for the throughput")
    parser.add_argument("--book-size", type=int, default=1000,
                        help="made-up customers added to the corpus customers for the big-book throughput")
    args = parser.parse_args()
    show_misses = args.misses
    playbook = load_playbook(ROOT / "config" / "playbook.toml")
    customers = load_customers(CORPORA / "notes_corpus_customers.jsonl")
    sets = {"development": "notes_corpus.jsonl", "held-out 1": "notes_corpus_heldout.jsonl",
            "held-out 2": "notes_corpus_heldout2.jsonl", "held-out 3": "notes_corpus_heldout3.jsonl"}
    everything = []
    for label, name in sets.items():
        corpus = load_corpus(CORPORA / name)
        everything += corpus
        result = score(corpus, playbook, customers)
        print(f"{label:12s} {result.summary()}")
        if show_misses:
            print("\n".join(result.misses))

    parse_note("预热 明天", datetime.fromisoformat(everything[0]["now"]), playbook, customers)
    rounds = args.rounds
    start = time.perf_counter()
    for _ in range(rounds):
        for row in everything:
            parse_note(row["text"], datetime.fromisoformat(row["now"]), playbook, customers)
    elapsed = time.perf_counter() - start
    count = rounds * len(everything)
    print(f"throughput   {count / elapsed:,.0f} notes/s ({elapsed / count * 1e3:.2f} ms/note, "
          f"{len(customers)} customers, {count} parses)")

    # A busy rep's book: the corpus customers plus 1,000 made-up companies to match against.
    many = customers + _made_up_customers(args.book_size)
    start = time.perf_counter()
    for row in everything:
        parse_note(row["text"], datetime.fromisoformat(row["now"]), playbook, many)
    first = time.perf_counter() - start   # includes building each customer's short forms once
    start = time.perf_counter()
    for row in everything:
        parse_note(row["text"], datetime.fromisoformat(row["now"]), playbook, many)
    elapsed = time.perf_counter() - start
    print(f"throughput   {len(everything) / elapsed:,.0f} notes/s with {len(many)} customers "
          f"(first pass {len(everything) / first:,.0f} notes/s)")


def _made_up_customers(count: int) -> list[CustomerRef]:
    cities = ["无锡", "常州", "嘉兴", "绍兴", "温州", "徐州"]
    brands = "瑞丰 泰和 宏达 金鼎 永信 鑫源 德润 恒远 嘉诚 博远 昌盛 华泰 天成 中科 汇通 立信 凯达 远航 东升 新兴".split()
    trades = ["机械有限公司", "科技有限公司", "电子有限公司", "贸易有限公司", "化工集团有限公司"]
    surnames = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许"
    return [CustomerRef(10_000 + i, surnames[i % 20] + "先生",
                        f"{cities[i % 6]}{brands[i % 20]}{brands[(i // 20) % 20]}{trades[i % 5]}")
            for i in range(count)]


if __name__ == "__main__":
    main()
