#!/usr/bin/env python3
# Net-SNMP pass_persist script: serves the emulated firewall's tunnel table
# (SOPHOS-XG-MIB sfosIPSecVpnTunnelTable) from a data file the emulator
# rewrites atomically (write a temporary file, then rename), so snmpd always
# reads a whole table. The file's path is the first argument.
#
# Data file: one object per line, "OID TYPE VALUE" (OID numeric with a
# leading dot, TYPE as pass_persist spells it: integer, string, octet, ...).
# A line "@after N" ends a phase: after N get/getnext requests answered from
# it, the next phase is served (a table that changes or vanishes mid-walk).
import bisect
import os
import sys

path = sys.argv[1]
ident = None
phases = [[]]
phase = 0
served = 0
limits = []
keysets = [[]]


def load():
    global ident, phases, phase, served, limits
    try:
        st = os.stat(path)
    except OSError:
        phases, limits, ident = [[]], [], None
        keysets[:] = [[]]
        return
    now = (st.st_ino, st.st_mtime_ns, st.st_size)
    if now == ident:
        return
    ident = now
    phases, limits, phase, served = [[]], [], 0, 0
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("@after "):
                limits.append(int(line.split()[1]))
                phases.append([])
                continue
            oid, typ, value = (line.split(" ", 2) + ["", ""])[:3]
            key = tuple(int(x) for x in oid.strip(".").split("."))
            phases[-1].append((key, oid, typ, value))
    for p in phases:
        p.sort()
    keysets[:] = [[r[0] for r in p] for p in phases]


def current():
    global phase, served
    while phase < len(limits) and served >= limits[phase]:
        phase += 1
        served = 0
    served += 1
    return phases[phase], keysets[phase]


def key_of(oid):
    try:
        return tuple(int(x) for x in oid.strip().strip(".").split("."))
    except ValueError:
        return None


def answer(entry):
    if entry is None:
        out.write("NONE\n")
    else:
        _, oid, typ, value = entry
        out.write("%s\n%s\n%s\n" % (oid, typ, value))


out = sys.stdout
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "PING":
        out.write("PONG\n")
    elif cmd in ("get", "getnext"):
        want = key_of(sys.stdin.readline())
        load()
        rows, keys = current()
        if want is None:
            answer(None)
        elif cmd == "get":
            i = bisect.bisect_left(keys, want)
            answer(rows[i] if i < len(rows) and keys[i] == want else None)
        else:
            i = bisect.bisect_right(keys, want)
            answer(rows[i] if i < len(rows) else None)
    elif cmd == "set":
        sys.stdin.readline()
        sys.stdin.readline()
        out.write("not-writable\n")
    elif cmd == "":
        break
    else:
        out.write("NONE\n")
    out.flush()
