#!/usr/bin/env bash
# Builds the firmware example (release, thumbv7em-none-eabihf) and prints its footprint on
# one line:
#
#   flash=N ram=N text=N rodata=N data=N bss=N vector_table=N [stack_est=N]
#
#   flash = .vector_table + .text + .rodata + .data   (what is programmed)
#   ram   = .data + .bss                               (static RAM; the stack is extra)
#   stack_est: worst path of a static call graph of the disassembly (firmware/stack.py), an
#   estimate printed only when llvm-objdump and python3 are found.
#
# Installs nothing. Needs the target (`rustup target add thumbv7em-none-eabihf`) and one
# size tool, first found of: $SIZE, llvm-size[-NN] (Debian `llvm`), rust-size (cargo-binutils
# with `rustup component add llvm-tools`), arm-none-eabi-size (`binutils-arm-none-eabi`),
# size (Debian `binutils`: GNU size reads the ARM ELF's section table too).
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --quiet "$@"
# Where cargo put it: CARGO_TARGET_DIR when set (else this crate's target/), so a build
# into another directory is never read as a stale ELF here.
elf=${CARGO_TARGET_DIR:-target}/thumbv7em-none-eabihf/release/sipwire-firmware
if [ ! -f "$elf" ]; then
  echo "size.sh: $elf was not built" >&2
  exit 1
fi

find_tool() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

# Versioned LLVM binaries (llvm-size-14 ...) when the unversioned link is missing.
versioned() {
  compgen -c "$1-" 2>/dev/null | grep -E "^$1-[0-9]+$" | sort -t- -k3 -n -r | head -n 1 || true
}

size_tool=${SIZE:-}
if [ -z "$size_tool" ]; then
  size_tool=$(find_tool llvm-size $(versioned llvm-size) rust-size arm-none-eabi-size size) || {
    echo "size.sh: no size tool found (install Debian 'llvm' or 'binutils')" >&2
    exit 1
  }
fi

# `-A` (System V format) is understood by llvm-size and GNU size alike: "name size addr".
read -r vt text rodata data bss < <(
  "$size_tool" -A "$elf" | awk '
    $1 == ".vector_table" { vt = $2 }
    $1 == ".text"         { text = $2 }
    $1 == ".rodata"       { rodata = $2 }
    $1 == ".data"         { data = $2 }
    $1 == ".bss"          { bss = $2 }
    END { print vt + 0, text + 0, rodata + 0, data + 0, bss + 0 }'
)

line="flash=$((vt + text + rodata + data)) ram=$((data + bss))"
line+=" text=$text rodata=$rodata data=$data bss=$bss vector_table=$vt"

objdump=$(find_tool llvm-objdump $(versioned llvm-objdump) rust-objdump) || objdump=
if [ -n "$objdump" ] && command -v python3 >/dev/null 2>&1; then
  if est=$("$objdump" -d --no-show-raw-insn -C "$elf" | python3 stack.py --quiet); then
    line+=" stack_est=$est"
  fi
fi

echo "$line"
