#!/usr/bin/env python3
"""Checks the engine stays small enough to read at once: no file in Sources over 400 lines, and
no function over 70 lines (from its `func` or `init` line to its closing brace, found by
indentation: the formatter puts the closing brace at the declaration's indentation).

    tools/check-size.py            exits 1, listing what is too long
"""
import glob
import re
import sys

FILE_LIMIT = 400
FUNCTION_LIMIT = 70
DECLARATION = re.compile(r"^(\s*)(?:[@\w()]+\s+)*(?:func\s|init[?(<]|deinit\s)")

problems = []
for path in sorted(glob.glob("Sources/**/*.swift", recursive=True)):
    lines = open(path, encoding="utf-8").read().split("\n")
    if len(lines) - 1 > FILE_LIMIT:
        problems.append(f"{path}: {len(lines) - 1} lines (at most {FILE_LIMIT})")
    for start, line in enumerate(lines):
        match = DECLARATION.match(line)
        if not match or line.lstrip().startswith("//"):
            continue
        indent = match.group(1)
        for end in range(start + 1, len(lines)):
            text = lines[end]
            if text.startswith(indent + "}") and len(text) - len(text.lstrip()) == len(indent):
                if end - start + 1 > FUNCTION_LIMIT:
                    problems.append(f"{path}:{start + 1}: a function of {end - start + 1} lines (at most {FUNCTION_LIMIT})")
                break
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
