#!/usr/bin/env python3
"""Checks the object files of the avx2 and avx512 CPU levels: every function in them that does not
belong to a level's namespace (isa_avx2::, isa_avx512::; e.g. a standard-library template the linker
may keep from this file for the whole program) must use baseline x86-64 instructions only, or a
machine without that level would fault on it. Also checks that the level's own kernels do use the
level (ymm/zmm registers). Usage: check_level_objects.py LEVEL OBJECT..."""
import re
import subprocess
import sys

# Mnemonics beyond the x86-64 baseline: VEX/EVEX encodings and the v3 scalar extensions.
BEYOND = re.compile(r"^(v[a-z0-9]+|andn|bextr|blsi|blsmsk|blsr|bzhi|lzcnt|tzcnt|mulx|pdep|pext|rorx|sarx|shlx|shrx|movbe|popcnt|kmov[a-z]*|k[a-z]+)$")


def functions(obj):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", obj], check=True,
                         capture_output=True, text=True).stdout
    name, body = None, []
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            if name:
                yield name, body
            name, body = m.group(1), []
        elif name and "\t" in line:
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1].strip():
                body.append(parts[1].split()[0])
    if name:
        yield name, body


def main():
    level, objs = sys.argv[1], sys.argv[2:]
    own = f"isa_{level}::"
    bad, used = [], 0
    for obj in objs:
        for name, body in functions(obj):
            beyond = [op for op in body if BEYOND.match(op)]
            if own in name:
                used += sum(1 for op in body if op.startswith("v"))
            elif beyond:
                bad.append(f"{obj}: {name}: {sorted(set(beyond))[:5]}")
    if bad:
        print(f"{len(bad)} function(s) outside isa_{level} use instructions beyond x86-64:")
        print("\n".join(bad[:20]))
        return 1
    if used == 0:
        print(f"no vector instructions in the isa_{level} kernels: the level was not compiled for")
        return 1
    print(f"{len(objs)} object files of level {level}: shared code is baseline, {used} vector instructions in the kernels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
