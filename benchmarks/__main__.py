"""`make bench`: every benchmark, one after the other, printed as a table.

Compare the ratios, not the seconds: these machines are noisy, and each benchmark measures
its own floor (the 200 ms endpoint latency, a plain pandas groupby) in the same run.
"""

from __future__ import annotations

import importlib
import json
import sys

BENCHMARKS = ["benchmarks.monitor_200", "benchmarks.cost_pricing", "benchmarks.canary_and_budgets"]


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        try:
            result = importlib.import_module(name).run()
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            failed += 1
            continue
        for key, value in result.items():
            shown = json.dumps(value) if isinstance(value, (dict, list)) else value
            print(f"   {key}: {shown}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
