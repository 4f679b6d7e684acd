#!/usr/bin/env bash
# load-order.sh: the order in which an hm tool lists its shared libraries, so
# that the dynamic loader finds each symbol early, with every symbol that can
# differ between libraries still bound where a plain link binds it.
#
# Why: Debian's LibTorch loads ~290 shared libraries (libtorch_cpu needs
# OpenCV, which needs GDAL, ffmpeg, Qt, ...). The loader resolves each
# symbolic relocation by walking the global scope (the program, its DT_NEEDED
# in order, then their dependencies breadth first) until a library defines the
# symbol. Libraries deep in that list that bind thousands of symbols to
# themselves (libopenblas, xerces, GDAL, GEOS) walk ~100 libraries for each
# one: about 0.15 s of every start of hm-serve, hm-moe and hm-bench (perf:
# do_lookup_x was a quarter of the CPU time of a LibTorch program that does
# nothing). Listing every library in the program's own DT_NEEDED, those that
# receive the most bindings first, makes the scope exactly that list.
#
# What may move: a symbol defined by two libraries binds to the first one in
# the scope. Vague-linkage definitions (nm types V, W, u: inline functions,
# template instances, typeinfo) are the same code in every copy by the
# one-definition rule, so which copy wins does not matter. For any other
# symbol defined twice (libblas.so.3 and libopenblas.so.0 both define dgemm_),
# the plan moves the library that wins in the natural order in front of the one
# that would win instead, until no such symbol changes hands; `check` verifies
# a built program against the natural order of the reference program.
#
# usage:
#   load-order.sh plan PROBE                print the libraries to list first,
#                                           one path per line
#   load-order.sh ld-args PROBE FILE        write the same as options for GNU
#                                           ld to FILE (read with -Wl,@FILE);
#                                           where no plan can be made, a warning
#                                           and an empty FILE: the natural order
#   load-order.sh check PROBE PROGRAM...    exit 1 unless each PROGRAM loads
#                                           PROBE's libraries in a planned order
#   load-order.sh conflicts REF NEW         the symbols that change hands
#                                           between two lists of libraries
# PROBE: a program linked (without --as-needed) against the same libraries as
# the tools, in the same order, and not reordered. Needs ld.so's LD_DEBUG and
# binutils' nm.
set -euo pipefail

die() { echo "load-order: $*" >&2; exit 2; }

# scope PROGRAM: the libraries of PROGRAM's global scope in search order, one
# path per line (the program itself and the vDSO left out). PROGRAM runs with
# --help, which every hm tool and GoogleTest program answers at once.
scope() {
  local dir
  dir=$(mktemp -d)
  LD_DEBUG=scopes LD_DEBUG_OUTPUT="$dir/log" "$1" --help > /dev/null 2>&1 || true
  local line
  line=$(cat "$dir"/log.* 2> /dev/null | grep -m1 'scope 0:' || true)
  rm -rf "$dir"
  [ -n "$line" ] || die "$1: ld.so printed no scope (LD_DEBUG=scopes unsupported?)"
  echo "${line#*scope 0:}" | tr ' ' '\n' | awk 'NF && seen++'
}

# binding_counts PROGRAM SCOPE_FILE: "count path" per library of the scope,
# the number of symbol bindings it received while PROGRAM started, most first.
binding_counts() {
  local dir
  dir=$(mktemp -d)
  LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dir/log" "$1" --help > /dev/null 2>&1 || true
  cat "$dir"/log.* | awk -v scope="$2" '
    BEGIN { while ((getline lib < scope) > 0) { in_scope[lib] = 1; count[lib] = 0 } }
    $2 == "binding" && ($7 in in_scope) { count[$7]++ }
    END { for (lib in count) print count[lib], lib }' | sort -k1,1nr -k2,2
  rm -rf "$dir"
}

# definitions SCOPE_FILE: "path type name" of every dynamic symbol each
# library defines.
definitions() {
  command -v nm > /dev/null || die "nm (binutils) not found"
  xargs nm -D --defined-only -A < "$1" 2> /dev/null |
    awk '{ path = $1; sub(/:[0-9a-fA-F]*$/, "", path); print path, $2, $3 }' || true
}

# conflicts REF NEW DEFS: "symbol ref_winner new_winner" for every symbol
# whose first definer differs between the scope files REF and NEW and is not a
# vague-linkage definition on both sides. Symbol versions are ignored, which
# only adds candidates.
conflicts() {
  awk '
    FILENAME == ARGV[1] { ref[$0] = FNR; next }
    FILENAME == ARGV[2] { new[$0] = FNR; next }
    $2 == "A" || !($1 in ref) || !($1 in new) { next }  # A: version markers
    {
      name = $3; sub(/@.*/, "", name)
      if (!(name in ref_lib) || ref[$1] < ref[ref_lib[name]]) { ref_lib[name] = $1; ref_type[name] = $2 }
      if (!(name in new_lib) || new[$1] < new[new_lib[name]]) { new_lib[name] = $1; new_type[name] = $2 }
    }
    END {
      for (name in ref_lib)
        if (ref_lib[name] != new_lib[name] && (ref_type[name] !~ /^[VWu]$/ || new_type[name] !~ /^[VWu]$/))
          print name, ref_lib[name], new_lib[name]
    }' "$1" "$2" "$3"
}

# repair ORDER_FILE: reads "symbol ref_winner new_winner" lines on stdin and
# prints ORDER with each ref_winner moved just in front of its new_winner.
repair() {
  awk '
    FILENAME == ARGV[1] { order[++n] = $0; next }
    { pair[$2 " " $3] = 1 }
    END {
      for (p in pair) {
        split(p, lib, " ")
        from = to = 0
        for (i = 1; i <= n; i++) { if (order[i] == lib[1]) from = i; if (order[i] == lib[2]) to = i }
        if (from < to) continue  # an earlier move fixed it
        for (i = from; i > to; i--) order[i] = order[i - 1]
        order[to] = lib[1]
      }
      for (i = 1; i <= n; i++) print order[i]
    }' "$1" -
}

# mean_depth COUNTS ORDER: the mean scope position of a binding.
mean_depth() {
  awk 'FILENAME == ARGV[1] { count[$2] = $1; next }
       { depth += count[$0] * FNR; total += count[$0] }
       END { printf "%.1f", total ? depth / total : 0 }' "$1" "$2"
}

plan() {
  local probe=$1 dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  scope "$probe" > "$dir/ref"
  binding_counts "$probe" "$dir/ref" > "$dir/counts"
  definitions "$dir/ref" > "$dir/defs"
  [ -s "$dir/defs" ] || die "$probe: nm listed no symbols"
  # Most bindings first; libraries with none keep their natural order.
  awk '{ print $2 }' "$dir/counts" | awk 'FILENAME == ARGV[1] { count[$0] = 1; print; next }
                                        !($0 in count)' - "$dir/ref" > "$dir/order"
  local round
  for round in $(seq 100); do
    conflicts "$dir/ref" "$dir/order" "$dir/defs" > "$dir/conflicts"
    if [ ! -s "$dir/conflicts" ]; then
      echo "load-order: $(wc -l < "$dir/order") libraries; mean lookup depth" \
        "$(mean_depth "$dir/counts" "$dir/ref") -> $(mean_depth "$dir/counts" "$dir/order")" \
        "($((round - 1)) repairs)" >&2
      cat "$dir/order"
      return 0
    fi
    repair "$dir/order" < "$dir/conflicts" > "$dir/order.next"
    mv "$dir/order.next" "$dir/order"
  done
  die "$probe: no order without conflicts after 100 repairs"
}

check() {
  local probe=$1 dir program failed=0
  shift
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  scope "$probe" > "$dir/ref"
  definitions "$dir/ref" > "$dir/defs"
  for program in "$@"; do
    scope "$program" > "$dir/new"
    if ! cmp -s <(sort "$dir/ref") <(sort "$dir/new"); then
      echo "$program: loads other libraries than $probe:" >&2
      diff <(sort "$dir/ref") <(sort "$dir/new") | grep '^[<>]' | head -5 >&2
      failed=1
      continue
    fi
    conflicts "$dir/ref" "$dir/new" "$dir/defs" > "$dir/conflicts"
    if [ -s "$dir/conflicts" ]; then
      echo "$program: $(wc -l < "$dir/conflicts") symbols bind elsewhere than in $probe, e.g.:" >&2
      head -3 "$dir/conflicts" >&2
      failed=1
    elif cmp -s "$dir/ref" "$dir/new"; then
      echo "$program: libraries in their natural order (not reordered)" >&2
      failed=1
    else
      echo "$program: $(wc -l < "$dir/new") libraries reordered, every non-vague symbol bound as in $probe"
    fi
  done
  return "$failed"
}

case "${1:-}" in
  plan) [ $# -eq 2 ] || die "usage: load-order.sh plan PROBE"; plan "$2" ;;
  ld-args)
    [ $# -eq 3 ] || die "usage: load-order.sh ld-args PROBE FILE"
    if libraries=$(plan "$2"); then
      printf '%s\n' --push-state --no-as-needed $libraries --pop-state > "$3.new"
    else
      echo "load-order: warning: no plan; the tools keep the natural library order" >&2
      : > "$3.new"
    fi
    mv "$3.new" "$3" ;;
  check) [ $# -ge 3 ] || die "usage: load-order.sh check PROBE PROGRAM..."; shift; check "$@" ;;
  conflicts)
    [ $# -eq 3 ] || die "usage: load-order.sh conflicts REF NEW"
    conflicts "$2" "$3" <(definitions "$3") ;;
  *) die "usage: load-order.sh plan PROBE | ld-args PROBE FILE | check PROBE PROGRAM... | conflicts REF NEW" ;;
esac
