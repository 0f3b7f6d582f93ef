#!/usr/bin/env python3
"""The include graph runs one way: a file under a layer may include its own
layer and the layers below it, never one above.

The order is written once, in docs/layout.md's "Layout" section, on the line
starting "Layers, lowest first:".  Every quoted #include under harness/,
fs_adapters/ and workloads/ is checked against it; a folder under harness/
that the order does not name is an error too (a new layer must be placed).

  layering_test.py [REPO]             check the tree (exit 1 on a violation)
  layering_test.py --self-test [REPO] check that an upward include added to a
                                      copy of harness/mm is caught
"""
import os
import re
import shutil
import sys
import tempfile

SOURCE_ROOTS = ("harness", "fs_adapters", "workloads")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layers(repo):
    with open(os.path.join(repo, "docs", "layout.md"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*Layers, lowest first:\s*(.+)$", line)
            if m:
                order = [x.strip().rstrip("/") for x in m.group(1).split("<")]
                if len(order) < 2 or any(not x for x in order):
                    sys.exit(f"layering_test: docs/layout.md: cannot read the layer order: {line!r}")
                return order
    sys.exit('layering_test: docs/layout.md has no "Layers, lowest first:" line')


def layer_of(path, order):
    """Index of the layer holding `path` (longest prefix), or None."""
    best = None
    for i, layer in enumerate(order):
        if path == layer or path.startswith(layer + "/"):
            if best is None or len(layer) > len(order[best]):
                best = i
    return best


def violations(repo, order):
    out = []
    for root in SOURCE_ROOTS:
        for dirpath, _, files in os.walk(os.path.join(repo, root)):
            for name in sorted(files):
                if not name.endswith((".h", ".cc", ".def")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, repo)
                mine = layer_of(rel, order)
                if mine is None:
                    out.append(f"{rel}: in no layer (add its folder to docs/layout.md's layer order)")
                    continue
                with open(full, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m or not m.group(1).startswith(SOURCE_ROOTS):
                            continue
                        theirs = layer_of(m.group(1), order)
                        if theirs is None:
                            out.append(f"{rel}:{lineno}: includes {m.group(1)}, in no layer")
                        elif theirs > mine:
                            out.append(f"{rel}:{lineno}: includes {m.group(1)} "
                                       f"({order[theirs]} is above {order[mine]})")
    return out


def main(argv):
    self_test = "--self-test" in argv
    args = [a for a in argv[1:] if a != "--self-test"]
    repo = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    if self_test:
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "repo")
            os.mkdir(copy)
            os.mkdir(os.path.join(copy, "docs"))
            shutil.copy(os.path.join(repo, "docs", "layout.md"), os.path.join(copy, "docs"))
            for root in SOURCE_ROOTS:
                shutil.copytree(os.path.join(repo, root), os.path.join(copy, root))
            victim = os.path.join(copy, "harness", "mm", "page.cc")
            with open(victim, "a", encoding="utf-8") as f:
                f.write('#include "harness/run/result_json.h"\n')
            found = violations(copy, layers(copy))
            if not any("harness/mm/page.cc" in v and "harness/run/result_json.h" in v
                       for v in found):
                print("FAIL: an upward include in harness/mm went unnoticed")
                return 1
            print("ok: caught", [v for v in found if "harness/mm/page.cc" in v][0])
            return 0
    order = layers(repo)
    found = violations(repo, order)
    for v in found:
        print("layering:", v)
    print(f"layers: {' < '.join(order)}; {len(found)} violation(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
