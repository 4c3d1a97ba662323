"""How validating a large rule file scales: seconds and peak RSS for two sizes, and the ratios.

Generates a rule file of N rules and validates it the way ``tagger validate``
does (:func:`tagger.rules.check_rule_files`), each size in a fresh process so
its peak RSS is its own. Two rule shapes:

* ``compact`` (default): one condition and one tag, about 140 bytes a rule,
  so 40,000 rules make a 5.6 MB file (the size of a real generated rule file);
* ``rich``: a search, nested ``all``/``any``/``not`` conditions, an
  ``unless`` and two tags, about 520 bytes a rule (40,000 rules: 21 MB).

Prints wall and CPU seconds and peak RSS per size, and the ratios; the exit
status is non-zero when the larger size takes more than ``--max-seconds``
(wall) or grows worse than linearly (time ratio above ``--max-ratio`` times
the size ratio). Thresholds live here only, never in the tests.

    .venv/bin/python -m bench.rules_validate                 # 4,000 and 40,000 compact rules
    .venv/bin/python -m bench.rules_validate --shape rich --sizes 2000 8000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

COMPACT = """\
  - id: rule-{n}
    description: sender {n}
    match: {{field: sender.domain, domain: example{n}.com}}
    tags: [Senders/Group{tag}]
"""

RICH = """\
  - id: rule-{n}
    description: generated rule {n}
    priority: {priority}
    search:
      route: [inbound]
    match:
      all:
        - not: {{field: sender.domain, domain: example{n}.com}}
        - any:
            - {{field: dmarc.result, equals: fail}}
            - {{field: spf.result, equals: fail}}
            - {{field: subject, contains: "invoice {n}"}}
        - {{field: spam.score, gte: {score}}}
    unless:
      field: permitted_sender.result
      equals: allow
    tags: [Generated/Tag{tag}, Generated/Other{tag}]
"""
SHAPES = {"compact": COMPACT, "rich": RICH}

CHILD = """
import json, resource, sys, time
from pathlib import Path
from tagger.rules import check_rule_files
path = Path(sys.argv[1])
start, cpu = time.perf_counter(), time.process_time()
ruleset, problems = check_rule_files([path])
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
errors = [str(p) for p in problems if p.severity == "error"]
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rules = len(ruleset.all_rules()) if ruleset is not None else 0
figures = {"seconds": seconds, "cpu": cpu, "rss_mb": rss_mb, "rules": rules}
print(json.dumps({**figures, "errors": errors[:3]}))
"""


def write_rules(path: Path, n: int, shape: str = "compact") -> int:
    """Write ``n`` generated rules of ``shape`` to ``path``; return the file size in bytes."""
    rule = SHAPES[shape]
    parts = ["rules:\n"]
    for i in range(n):
        parts.append(rule.format(n=i, priority=i % 1000, score=i % 10, tag=i % 50))
    path.write_text("".join(parts), encoding="utf-8")
    return path.stat().st_size


def measure(n: int, shape: str, directory: Path) -> dict[str, float]:
    """Validate ``n`` generated rules in a fresh process; return its figures."""
    path = directory / f"rules-{n}.yaml"
    size = write_rules(path, n, shape)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"validation of {n} rules failed:\n{done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["errors"] or figures["rules"] != n:
        raise SystemExit(f"{n} generated rules did not validate: {figures['errors']}")
    figures["mb"] = size / 1e6
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[4_000, 40_000], metavar="N")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="compact")
    parser.add_argument("--max-seconds", type=float, default=5.0)
    parser.add_argument("--max-ratio", type=float, default=2.0)
    args = parser.parse_args()
    small, large = sorted(args.sizes)
    with tempfile.TemporaryDirectory(prefix="tagger-bench-") as tmp:
        a = measure(small, args.shape, Path(tmp))
        b = measure(large, args.shape, Path(tmp))
    print(f"{args.shape} rules, validated as by 'tagger validate' (one process per size)")
    for n, f in ((small, a), (large, b)):
        size, seconds, cpu, rss = f["mb"], f["seconds"], f["cpu"], f["rss_mb"]
        print(
            f"{n:>7} rules  {size:6.2f} MB  {seconds:7.2f} s  (cpu {cpu:6.2f} s)"
            f"  peak RSS {rss:7.1f} MB"
        )
    size_ratio = large / small
    time_ratio = b["seconds"] / max(a["seconds"], 1e-9)
    print(
        f"size x{size_ratio:.1f}: time x{time_ratio:.1f}, peak RSS x{b['rss_mb'] / a['rss_mb']:.1f}"
    )
    ok = time_ratio <= args.max_ratio * size_ratio and b["seconds"] <= args.max_seconds
    print("ok" if ok else f"FAIL: want <= {args.max_seconds:g} s and at most linear growth")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
