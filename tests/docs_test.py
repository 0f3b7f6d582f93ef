#!/usr/bin/env python3
"""The manual holds together on a clone: every link in README.md, CONTRIBUTING.md
and docs/ names a file of the repository; none of them points outside it
(../shared) or names an issue number; README.md fits on about two screens;
and docs/models.md's tables match the registries (scripts/docs --check).

  tests/docs_test.py PATH/TO/pagerace
"""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
ISSUE = re.compile(r"\bissues? #?\d+\b", re.IGNORECASE)
README_MAX_LINES = 130


def main():
    if len(sys.argv) != 2:
        print("usage: docs_test.py PATH/TO/pagerace", file=sys.stderr)
        return 2
    problems = []
    pages = ["README.md", "CONTRIBUTING.md"] + sorted(
        os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    if "docs/design.md" not in pages:
        problems.append("docs/design.md is missing")
    for page in pages:
        text = open(os.path.join(ROOT, page), encoding="utf-8").read()
        for target in LINK.findall(text):
            if re.match(r"[a-z]+://", target):
                continue
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), target))
            if not path.startswith(ROOT + os.sep) or not os.path.exists(path):
                problems.append(f"{page}: link to {target}: no such file in the repository")
        if "../shared" in text:
            problems.append(f"{page}: points outside the repository (../shared)")
        for m in ISSUE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            problems.append(f"{page}:{line}: names an issue number ({m.group(0)})")
    lines = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().count("\n")
    if lines > README_MAX_LINES:
        problems.append(f"README.md: {lines} lines, over {README_MAX_LINES} (about two screens)")
    check = subprocess.run([os.path.join(ROOT, "scripts", "docs"), "--check", "--bin", sys.argv[1]],
                           capture_output=True, text=True)
    if check.returncode != 0:
        problems.append(f"scripts/docs --check: {check.stderr.strip()}")
    for p in problems:
        print(f"FAIL: {p}")
    print(f"docs_test: {len(pages)} pages, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
