#!/usr/bin/env python3
"""The code's shape, as "One clear house" set it: no source file over 900 lines and no
function over 150, tests not counted (test directories, `tests.rs` files, and a file's
`#[cfg(test)]` module at its end). A function is measured from its `fn` line to the
closing brace at the same indentation (rustfmt's layout). Exits 1 naming each offender."""

import os
import re
import sys

MAX_FILE = 900
MAX_FN = 150
FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def non_test_lines(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]"):
            return lines[:i]
    return lines


def offenders(root):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("tests", "target", "benches")]
        for name in filenames:
            if not name.endswith(".rs") or name == "tests.rs":
                continue
            path = os.path.join(dirpath, name)
            lines = non_test_lines(path)
            if len(lines) > MAX_FILE:
                found.append(f"{path}: {len(lines)} lines (at most {MAX_FILE})")
            for i, line in enumerate(lines):
                m = FN.match(line)
                if not m or line.rstrip().endswith(";"):
                    continue
                end = m.group(1) + "}"
                for j in range(i + 1, len(lines)):
                    if lines[j] == end:
                        if j - i > MAX_FN:
                            found.append(
                                f"{path}:{i + 1}: fn {m.group(7)} is {j - i} lines (at most {MAX_FN})"
                            )
                        break
    return found


if __name__ == "__main__":
    found = offenders(sys.argv[1] if len(sys.argv) > 1 else "crates")
    for line in found:
        print(f"shape: {line}")
    sys.exit(1 if found else 0)
