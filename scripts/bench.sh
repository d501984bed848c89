#!/usr/bin/env bash
# make bench: runs every scripts/bench/*.sh (each prints a Markdown section
# with its figures, the same-run baseline and the command) and writes them
# to BENCHMARKS.md. BENCH=name runs only scripts/bench/name.sh and replaces
# that section in place.
set -euo pipefail
cd "$(dirname "$0")/.."
out=BENCHMARKS.md
only="${BENCH:-}"

header() {
  echo "# Bulwark benchmarks"
  echo
  echo "Written by \`make bench\` (\`scripts/bench.sh\`). Each section says the command that"
  echo "produced it and the baseline measured in the same run; machines here are shared"
  echo "and noisy, so compare ratios, not absolute figures."
  echo
}

machine() {
  echo "_Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB), $(go version | cut -d' ' -f3)._"
  echo
}

run_section() {
  local script=$1 name
  name=$(basename "$script" .sh)
  echo "bench: $name" >&2
  echo "<!-- section:$name -->"
  if ! "$script"; then
    echo
    echo "_The $name benchmark failed in this run; see the output of \`make bench\`._"
  fi
  machine
  echo "<!-- end:$name -->"
  echo
}

if [ -n "$only" ]; then
  section=$(run_section "scripts/bench/$only.sh")
  if [ -f "$out" ] && grep -q "<!-- section:$only -->" "$out"; then
    python3 - "$out" "$only" "$section" <<'PY'
import sys, re
path, name, section = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
pat = re.compile(r"<!-- section:%s -->.*?<!-- end:%s -->\n" % (re.escape(name), re.escape(name)), re.S)
open(path, "w").write(pat.sub(lambda m: section + "\n", text))
PY
  else
    { [ -f "$out" ] || header; [ -f "$out" ] && cat "$out"; echo "$section"; echo; } > "$out.tmp" && mv "$out.tmp" "$out"
  fi
  exit 0
fi

# kept_sections: the sections of the current file that no script writes
# (evaluations recorded by hand with their commands, such as the learned
# model's and the public dataset's): a full run must not drop them.
kept_sections() {
  [ -f "$out" ] || return 0
  python3 - "$out" scripts/bench <<'PY'
import os, re, sys
path, scripts = sys.argv[1], sys.argv[2]
ran = {f[:-3] for f in os.listdir(scripts) if f.endswith(".sh")}
text = open(path).read()
for m in re.finditer(r"<!-- section:([\w.-]+) -->.*?<!-- end:\1 -->\n", text, re.S):
    if m.group(1) not in ran:
        print(m.group(0))
PY
}

{
  header
  for s in scripts/bench/*.sh; do
    run_section "$s"
  done
  kept_sections
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench: wrote $out" >&2
