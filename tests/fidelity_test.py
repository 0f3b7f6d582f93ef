#!/usr/bin/env python3
"""The fidelity tables stay true to the code they describe.

Every `// Models <kernel file>:<function>() ...` comment under harness/,
fs_adapters/ and workloads/ must name the version it models (within the
comment's first lines: "as of vX" or a release such as v2.6.30 / v5.15), and
its kernel function must appear in harness/mm/FIDELITY.md or
fs_adapters/FIDELITY.md.  Every table row that names a model location
(`file.cc:Class::function`) must name a file that exists and a symbol that is
in it.

  fidelity_test.py [REPO]             check the tree (exit 1 on a problem)
  fidelity_test.py --self-test [REPO] check that a Models comment missing
                                      from the tables, and one without a
                                      version, are caught in a copy
"""
import glob
import os
import re
import shutil
import sys
import tempfile

TABLES = ("harness/mm/FIDELITY.md", "fs_adapters/FIDELITY.md")
SOURCE_ROOTS = ("harness", "fs_adapters", "workloads")
MODELS = re.compile(r"//\s*Models\s+([\w/.-]+\.[ch]):(\w+)\(\)")
VERSION = re.compile(r"\bv\d+\.\d+|as of v")
ROW = re.compile(r"^\|\s*([\w./]+\.(?:cc|h)):([\w:~]+)", re.M)


def sources(repo):
    for root in SOURCE_ROOTS:
        for p in sorted(glob.glob(os.path.join(repo, root, "**", "*"), recursive=True)):
            if p.endswith((".cc", ".h")):
                yield p


def check(repo):
    problems = []
    tables = "".join(open(os.path.join(repo, t), encoding="utf-8").read() for t in TABLES)
    for p in sources(repo):
        lines = open(p, encoding="utf-8").read().split("\n")
        for i, line in enumerate(lines):
            m = MODELS.search(line)
            if not m:
                continue
            where = f"{os.path.relpath(p, repo)}:{i + 1}"
            comment = " ".join(lines[i:i + 4])
            if not VERSION.search(comment):
                problems.append(f"{where}: Models {m.group(1)}:{m.group(2)}() names no version")
            if m.group(2) not in tables:
                problems.append(f"{where}: {m.group(2)} ({m.group(1)}) is in no fidelity table")
    by_name = {}
    for p in sources(repo):
        by_name.setdefault(os.path.basename(p), []).append(p)
    for t in TABLES:
        for m in ROW.finditer(open(os.path.join(repo, t), encoding="utf-8").read()):
            files = by_name.get(os.path.basename(m.group(1)), [])
            if not files:
                problems.append(f"{t}: row {m.group(1)}:{m.group(2)}: no such file")
                continue
            sym = m.group(2).split("::")[-1]
            if not any(sym in open(f, encoding="utf-8").read() for f in files):
                problems.append(f"{t}: row {m.group(1)}:{m.group(2)}: {sym} is not in that file")
    return problems


def self_test(repo):
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "repo")
        for d in SOURCE_ROOTS:
            shutil.copytree(os.path.join(repo, d), os.path.join(copy, d))
        with open(os.path.join(copy, "harness/mm/page.cc"), "a", encoding="utf-8") as f:
            f.write("\n// Models mm/nowhere.c:no_such_function_xyz() as of v2.6.30.\n")
            f.write("// Models mm/filemap.c:unlock_page().\nint unused_fidelity_probe;\n")
        problems = check(copy)
        caught_table = any("no_such_function_xyz" in p and "no fidelity table" in p for p in problems)
        caught_version = any("unlock_page() names no version" in p for p in problems)
        if not (caught_table and caught_version):
            print("self-test: the check missed an injected problem:", problems)
            return 1
        if check(repo):
            print("self-test: the tree itself has problems; run without --self-test")
            return 1
        print("self-test: both injected problems caught")
        return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test(argv[2] if len(argv) > 2 else ".")
    repo = argv[1] if len(argv) > 1 else "."
    problems = check(repo)
    for p in problems:
        print(p)
    if problems:
        return 1
    print("fidelity tables: every Models comment versioned and tabled; every row in the code")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
