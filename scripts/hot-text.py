#!/usr/bin/env python3
"""Writes link/hot-text.ld from callgrind profiles of a release daemon.

    scripts/hot-text.py BINARY CALLGRIND.OUT... > link/hot-text.ld

Every function the profiles ran, found in BINARY's symbol table, becomes a
section pattern; the rust hash of a symbol (17h<16 hex>E) is a wildcard,
because it changes with the set of packages built together (the package
build and the benchmark build give the same function different hashes).
Patterns that match one symbol go to `.text.hot`, ordered by the cost the
profiles gave them; patterns that match several (generic functions, whose
type parameters legacy mangling keeps only in the hash, and closures) go to
`.text.warm` right after it. Within each, functions are grouped by the
profiles that ran them (CALLGRIND files are named cg-LABEL-PID.out): first
what the idle daemon ran, the code every profile ran at the front, so that a
plain running daemon touches one packed stretch; then the rest (large
scale, the page), most used first. `-ffunction-sections` is rustc's default on
Linux, and LLVM may prefix a section `.text.unlikely.`, hence `.text.*`.
See docs/memory.md, "Hot code first"; scripts/hot-text.sh runs the profiles.
"""
import collections
import re
import subprocess
import sys

HASH = re.compile(r"17h[0-9a-f]{16}E$")


def pattern(name):
    return HASH.sub("17h*E", name)


def profiled(files):
    """Self cost by pattern of every function the callgrind files name, and
    the labels of the profiles that ran each."""
    cost = collections.Counter()
    ran_in = collections.defaultdict(set)
    for path in files:
        m = re.match(r"cg-([a-z]+)-\d+\.out$", path.rsplit("/", 1)[-1])
        label = m.group(1) if m else "run"
        names, cur = {}, None
        with open(path, errors="replace") as f:
            for line in f:
                m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
                if m:
                    if m.group(3):
                        names[m.group(2)] = m.group(3)
                    if m.group(1) == "fn":
                        cur = names.get(m.group(2))
                        if cur:
                            cost[pattern(cur)] += 0
                            ran_in[pattern(cur)].add(label)
                    continue
                if cur and line[:1].isdigit():
                    parts = line.split()
                    if len(parts) >= 2 and parts[1].isdigit():
                        cost[pattern(cur)] += int(parts[1])
    return cost, ran_in


def symbols(binary):
    """How many code symbols of BINARY each pattern matches."""
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    count = collections.Counter()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            count[pattern(parts[2])] += 1
    return count


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cost, ran_in = profiled(sys.argv[2:])
    count = symbols(sys.argv[1])

    def order(p):
        labels = ran_in[p]
        return ("idle" not in labels, -len(labels), sorted(labels), -cost[p])

    ran = sorted((p for p in cost if count[p] > 0), key=order)
    hot = [p for p in ran if count[p] == 1]
    warm = [p for p in ran if count[p] > 1]
    print("/* Written by scripts/hot-text.py: the code a profiled failoverd ran, packed")
    print("   together (docs/memory.md, \"Hot code first\"). Do not edit by hand. */")
    print("SECTIONS\n{")
    for name, pats in ((".text.hot", hot), (".text.warm", warm)):
        print(f"  {name} :\n  {{")
        for p in pats:
            print(f"    *(.text.*{p})")
        print("  }")
    print("}\nINSERT BEFORE .text;")
    print(f"hot-text: {len(hot)} single and {len(warm)} shared patterns", file=sys.stderr)


main()
