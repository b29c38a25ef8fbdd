#!/usr/bin/env python3
"""Worst-case stack estimate for the firmware, from its disassembly.

    llvm-objdump -d --no-show-raw-insn -C ELF | python3 stack.py [--quiet]

Stable Rust has no `-Z emit-stack-sizes`, so this reads the Thumb-2 code instead: a
function's frame is its prologue (`push`, `vpush`, `sub sp`), a call is a `bl`/`blx` to a
symbol or a `b`/`b.w` to another function's first instruction (a tail call). The estimate is
the deepest path from `Reset`, plus the deepest exception handler and the 104-byte exception
frame of a Cortex-M4F (8 core + 18 FP words, with the alignment word).

It is an estimate, not a proof: calls through function pointers (`blx rN`, e.g. core::fmt's
`dyn Write`) are not followed, a path the program can never take counts like any other, and
recursion is cut at the first repeat. Prints the bytes, and without --quiet the path.
"""

import re
import sys

FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
PUSH = re.compile(r"\b(v?push)(?:\.w)?\s+\{([^}]*)\}")
SUB_SP = re.compile(r"\bsubw?(?:\.w)?\s+sp,\s*(?:sp,\s*)?#(0x[0-9a-f]+|\d+)")
CALL = re.compile(r"\b(bl|blx|b|b\.w)\s+0x[0-9a-f]+\s+<([^>]+)>")
EXCEPTION_FRAME = 104
EXCEPTIONS = ("SysTick", "PendSV", "SVCall", "DefaultHandler", "HardFault")


def registers(spec):
    n = 0
    for r in spec.split(","):
        r = r.strip()
        if "-" in r:
            a, b = r.split("-")
            n += int(b[1:]) - int(a[1:]) + 1
        elif r:
            n += 1
    return n


def parse(lines):
    frame, calls, cur = {}, {}, None
    for line in lines:
        line = line.rstrip("\n")
        m = FUNC.match(line)
        if m:
            if m.group(2).startswith("$"):  # ARM mapping symbols ($t, $d): same function
                continue
            cur = m.group(2)
            frame[cur], calls[cur] = 0, set()
            continue
        if cur is None:
            continue
        m = PUSH.search(line)
        if m:
            frame[cur] += registers(m.group(2)) * (8 if m.group(1) == "vpush" else 4)
        m = SUB_SP.search(line)
        if m:
            frame[cur] += int(m.group(1), 0)
        m = CALL.search(line)
        if m:
            target = m.group(2)
            if m.group(1).startswith("bl") or ("+" not in target and target != cur):
                calls[cur].add(target.split("+")[0])
    return frame, calls


def worst(root, frame, calls):
    memo = {}

    def go(f, seen):
        if f in memo:
            return memo[f]
        best = (0, [])
        for c in calls.get(f, ()):
            if c in frame and c not in seen:
                w = go(c, seen | {c})
                if w[0] > best[0]:
                    best = w
        memo[f] = (frame[f] + best[0], [f] + best[1])
        return memo[f]

    return go(root, {root})


def main():
    quiet = "--quiet" in sys.argv
    frame, calls = parse(sys.stdin)
    # cortex-m-rt's reset handler is `Reset`, which the disassembler may label `__stext`.
    roots = [r for r in ("Reset", "__stext", "main") if r in frame]
    if not roots:
        sys.exit("stack.py: no Reset, __stext or main symbol in the disassembly")
    total, path = worst(roots[0], frame, calls)
    handlers = [
        worst(f, frame, calls) for f in frame if any(f == e or f.endswith(e) for e in EXCEPTIONS)
    ]
    irq = max(handlers, default=(0, []))
    total += irq[0] + EXCEPTION_FRAME
    if quiet:
        print(total)
        return
    print(f"{total} bytes: thread {total - irq[0] - EXCEPTION_FRAME}, "
          f"exception {irq[0]} + frame {EXCEPTION_FRAME}")
    for f in path:
        print(f"  {frame[f]:6d} {f[:120]}")
    if irq[1]:
        print("  exception:")
        for f in irq[1]:
            print(f"  {frame[f]:6d} {f[:120]}")


if __name__ == "__main__":
    main()
