"""How validating a large rule file scales: seconds and peak RSS for two sizes, and the ratios.

Generates a rule file of N rules (each with a search, nested conditions, an
``unless`` and two tags) and validates it the way ``tagger validate`` does
(:func:`tagger.rules.check_rule_files`), each size in a fresh process so its
peak RSS is its own. Prints the figures; the exit status is non-zero when
the larger size takes more than ``--max-seconds`` or grows worse than
linearly (time ratio above ``--max-ratio`` times the size ratio).

    .venv/bin/python bench/rules_validate.py                 # 4,000 and 40,000 rules
    .venv/bin/python bench/rules_validate.py --sizes 200 2000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RULE = """\
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

CHILD = """
import json, resource, sys, time
from pathlib import Path
from tagger.rules import check_rule_files
path = Path(sys.argv[1])
start = time.perf_counter()
ruleset, problems = check_rule_files([path])
seconds = time.perf_counter() - start
errors = [str(p) for p in problems if p.severity == "error"]
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rules = len(ruleset.all_rules()) if ruleset is not None else 0
print(json.dumps({"seconds": seconds, "rss_mb": rss_mb, "rules": rules, "errors": errors[:3]}))
"""


def write_rules(path: Path, n: int) -> int:
    """Write ``n`` generated rules to ``path``; return the file size in bytes."""
    parts = ["rules:\n"]
    for i in range(n):
        parts.append(RULE.format(n=i, priority=i % 1000, score=i % 10, tag=i % 50))
    path.write_text("".join(parts), encoding="utf-8")
    return path.stat().st_size


def measure(n: int, directory: Path) -> dict[str, float]:
    """Validate ``n`` generated rules in a fresh process; return its figures."""
    path = directory / f"rules-{n}.yaml"
    size = write_rules(path, n)
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
    parser.add_argument("--max-seconds", type=float, default=5.0)
    parser.add_argument("--max-ratio", type=float, default=2.0)
    args = parser.parse_args()
    small, large = sorted(args.sizes)
    with tempfile.TemporaryDirectory(prefix="tagger-bench-") as tmp:
        a = measure(small, Path(tmp))
        b = measure(large, Path(tmp))
    for n, f in ((small, a), (large, b)):
        size, seconds, rss = f["mb"], f["seconds"], f["rss_mb"]
        print(f"{n:>7} rules  {size:6.2f} MB  {seconds:7.2f} s  peak RSS {rss:7.1f} MB")
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
