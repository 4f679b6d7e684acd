#!/usr/bin/env bash
# load-order.sh: which shared libraries an hm torch tool loads, and in which
# order it lists them, so that it starts fast while every symbol it uses binds
# where a plain link binds it.
#
# Why: Debian's LibTorch loads ~290 shared libraries. Debian linked
# libtorch_cpu without --as-needed, so it names OpenCV, ffmpeg, ZeroMQ,
# LevelDB... although it uses no symbol of theirs, and they bring GDAL, Qt,
# GStreamer and ~200 more. Loading, relocating and initializing those was
# about half of every start of hm-serve, hm-moe and hm-bench.
#
# Unused libraries: a library is needed when the tool's own libraries (the
# probe's DT_NEEDED) bind a symbol to it, or a needed library does, or a
# needed library names it in its version needs. Bindings are read from ld.so
# with LD_BIND_NOW, so calls the loader would bind lazily count too. A binding
# of a vague-linkage symbol (nm types V, W, u: inline functions, template
# instances, typeinfo) does not make a library needed: by the one-definition
# rule every copy is the same code, and the binding library has its own (the
# link check below verifies that each such binding still resolves). For every
# other library the build makes a stand-in: an empty shared library with the
# same SONAME, listed in the tool's DT_NEEDED and found through the tool's
# RUNPATH. ld.so takes an already loaded library for any later DT_NEEDED entry
# of that SONAME, so the real one is never opened. Where the stand-ins are not
# found (a tool copied without them), the real libraries load as before.
#
# Load order: the loader resolves each symbolic relocation by walking the
# global scope (the program, its DT_NEEDED in order, then their dependencies
# breadth first) until a library defines the symbol. The plan lists every
# needed library in the program's own DT_NEEDED, those that receive the most
# bindings first, which makes the scope exactly that list.
#
# What may move: a symbol defined by two libraries binds to the first one in
# the scope. Vague-linkage definitions may change hands. For any other symbol
# defined twice (libblas.so.3 and libopenblas.so.0 both define dgemm_), the
# plan moves the library that wins in the natural order in front of the one
# that would win instead, and keeps an unused library that would win, until no
# such symbol changes hands; `check` verifies a built program against the
# natural order of the reference program, binding by binding.
#
# usage:
#   load-order.sh plan PROBE DIR            write DIR/order (the needed
#                                           libraries, in load order) and
#                                           DIR/unused (the others), one path
#                                           per line
#   load-order.sh ld-args PROBE FILE STANDINS
#                                           write GNU ld options listing the
#                                           needed libraries in order, then a
#                                           stand-in for each unused one, to
#                                           FILE (read with -Wl,@FILE), after
#                                           building the stand-ins in the
#                                           folder STANDINS with $CC (default
#                                           cc); where no plan can be made, a
#                                           warning and an empty FILE
#   load-order.sh check PROBE PROGRAM...    exit 1 unless each PROGRAM loads
#                                           PROBE's needed libraries in a
#                                           planned order, stand-ins for the
#                                           rest, and binds every symbol of
#                                           the needed libraries as PROBE does
#   load-order.sh conflicts REF NEW         the symbols that change hands
#                                           between two lists of libraries
# PROBE: a program linked (without --as-needed) against the same libraries as
# the tools, in the same order, and not reordered. Needs ld.so's LD_DEBUG and
# binutils' nm and readelf.
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

# binding_counts BINDINGS SCOPE_FILE: "count path" per library of the scope,
# the bindings it receives (each binding library and symbol once), most first.
binding_counts() {
  awk 'FILENAME == ARGV[1] { in_scope[$0] = 1; count[$0] = 0; next }
       $2 in in_scope { count[$2]++ }
       END { for (lib in count) print count[lib], lib }' "$2" "$1" | sort -k1,1nr -k2,2
}

# bindings PROGRAM: "file library symbol" of every symbol binding PROGRAM's
# start makes, lazy ones included (LD_BIND_NOW), each once.
bindings() {
  local dir
  dir=$(mktemp -d)
  LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dir/log" "$1" --help > /dev/null 2>&1 || true
  cat "$dir"/log.* 2> /dev/null | awk '
    $2 == "binding" && match($0, /`[^'\'']*'\''/) {
      line = $4 " " $7 " " substr($0, RSTART + 1, RLENGTH - 2)
      if (!(line in seen)) { seen[line] = 1; print line }
    }'
  rm -rf "$dir"
}

# definitions SCOPE_FILE: "path type name" of every dynamic symbol each
# library defines (names without their version).
definitions() {
  command -v nm > /dev/null || die "nm (binutils) not found"
  xargs nm -D --defined-only -A < "$1" 2> /dev/null |
    awk '{ path = $1; sub(/:[0-9a-fA-F]*$/, "", path); name = $3; sub(/@.*/, "", name)
           print path, $2, name }' || true
}

# sonames SCOPE_FILE: "path soname" of each library that has one.
sonames() {
  command -v readelf > /dev/null || die "readelf (binutils) not found"
  local lib soname
  while read -r lib; do
    soname=$(readelf -d "$lib" 2> /dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ -z "$soname" ] || echo "$lib $soname"
  done < "$1"
}

# edges PROGRAM SCOPE_FILE: "library needed-soname" for each library that
# PROGRAM names in its DT_NEEDED ("root" as the first field) or that a library
# of the scope names in its version needs.
edges() {
  readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/root \1/p'
  local lib
  while read -r lib; do
    readelf -V "$lib" 2> /dev/null | sed -n "s|.*File: \([^ ]*\).*|$lib \1|p"
  done < "$2"
}

# needed DEFS BINDINGS LINKS SONAMES: the libraries reached from the roots
# through non-vague bindings and version needs, and through vague bindings
# that no reached library and not the binding one itself could take over
# (header: "Unused libraries").
needed() {
  awk '
    function reach(lib,    i, k, targets) {
      if (lib in kept) return
      kept[lib] = 1
      print lib
      k = split(to[lib], targets, " ")
      for (i = 1; i <= k; i++) reach(targets[i])
    }
    function covered(name,    lib) {
      for (lib in kept) if ((lib " " name) in type) return 1
      return 0
    }
    FILENAME == ARGV[1] { type[$1 " " $3] = $2; next }
    FILENAME == ARGV[2] {
      t = type[$2 " " $3]
      if (t !~ /^[VWu]$/) to[$1] = to[$1] " " $2
      else if (!(($1 " " $3) in type)) vague[++nv] = $0
      next
    }
    FILENAME == ARGV[3] { from[++nl] = $1; link[nl] = $2; next }
    FILENAME == ARGV[4] { path[$2] = $1 }
    END {
      for (i = 1; i <= nl; i++)
        if (link[i] in path) to[from[i]] = to[from[i]] " " path[link[i]]
        else if (link[i] ~ /^\//) to[from[i]] = to[from[i]] " " link[i]  # a path
      k = split(to["root"], roots, " ")
      kept["root"] = 1
      for (i = 1; i <= k; i++) reach(roots[i])
      do {
        grown = 0
        for (i = 1; i <= nv; i++) {
          split(vague[i], v, " ")
          if ((v[1] in kept) && !(v[2] in kept) && !covered(v[3])) { reach(v[2]); grown = 1 }
        }
      } while (grown)
    }' "$1" "$2" "$3" "$4"
}

# conflicts REF NEW DEFS: "symbol ref_winner new_winner" for every symbol
# whose first definer differs between the scope files REF and NEW and is not a
# vague-linkage definition on both sides; the ref_winner may be missing from
# NEW. Symbol versions are ignored, which only adds candidates.
conflicts() {
  awk '
    FILENAME == ARGV[1] { ref[$0] = FNR; next }
    FILENAME == ARGV[2] { new[$0] = FNR; next }
    $2 == "A" { next }  # version markers
    {
      name = $3
      if (($1 in ref) && (!(name in ref_lib) || ref[$1] < ref[ref_lib[name]])) { ref_lib[name] = $1; ref_type[name] = $2 }
      if (($1 in new) && (!(name in new_lib) || new[$1] < new[new_lib[name]])) { new_lib[name] = $1; new_type[name] = $2 }
    }
    END {
      for (name in ref_lib)
        if ((name in new_lib) && ref_lib[name] != new_lib[name] &&
            (ref_type[name] !~ /^[VWu]$/ || new_type[name] !~ /^[VWu]$/))
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

# analyse PROBE DIR: the probe's scope (ref), definitions (defs), sonames,
# bindings (binds), binding counts (counts) and the roots and version needs
# (links) in DIR.
analyse() {
  local probe=$1 dir=$2
  scope "$probe" > "$dir/ref"
  definitions "$dir/ref" > "$dir/defs"
  [ -s "$dir/defs" ] || die "$probe: nm listed no symbols"
  sonames "$dir/ref" > "$dir/sonames"
  bindings "$probe" > "$dir/binds"
  [ -s "$dir/binds" ] || die "$probe: ld.so printed no bindings (LD_DEBUG=bindings unsupported?)"
  binding_counts "$dir/binds" "$dir/ref" > "$dir/counts"
  edges "$probe" "$dir/ref" > "$dir/links"
  # Libraries without a SONAME cannot be stood in for: they stay needed.
  awk 'FILENAME == ARGV[1] { named[$1] = 1; next } !($0 in named) { print "root", $0 }' \
    "$dir/sonames" "$dir/ref" >> "$dir/links"
}

# order_needed DIR: DIR/needed (in scope order) and DIR/order: the needed
# libraries with the most bindings first, those with none in natural order.
order_needed() {
  local dir=$1
  needed "$dir/defs" "$dir/binds" "$dir/links" "$dir/sonames" > "$dir/reached"
  awk 'FILENAME == ARGV[1] { reached[$0] = 1; next } $0 in reached' "$dir/reached" "$dir/ref" > "$dir/needed"
  awk 'FILENAME == ARGV[1] { needed[$0] = 1; next }
       FILENAME == ARGV[2] { if ($2 in needed) { listed[$2] = 1; print $2 } next }
       ($0 in needed) && !($0 in listed)' "$dir/needed" "$dir/counts" "$dir/ref" > "$dir/order"
}

# plan PROBE DIR: analyse's files, needed, order and unused in DIR.
plan() {
  local probe=$1 dir=$2 round
  analyse "$probe" "$dir"
  order_needed "$dir"
  for round in $(seq 100); do
    conflicts "$dir/ref" "$dir/order" "$dir/defs" > "$dir/conflicts"
    if [ ! -s "$dir/conflicts" ]; then
      awk 'FILENAME == ARGV[1] { listed[$0] = 1; next } !($0 in listed)' \
        "$dir/order" "$dir/ref" > "$dir/unused"
      echo "load-order: $(wc -l < "$dir/ref") libraries, $(wc -l < "$dir/unused") unused;" \
        "mean lookup depth $(mean_depth "$dir/counts" "$dir/ref") ->" \
        "$(mean_depth "$dir/counts" "$dir/order") ($((round - 1)) repairs)" >&2
      return 0
    fi
    # An unused library that would win a non-vague symbol becomes needed.
    awk 'FILENAME == ARGV[1] { listed[$0] = 1; next } !($2 in listed) { print "root", $2 }' \
      "$dir/order" "$dir/conflicts" | sort -u > "$dir/winners"
    if [ -s "$dir/winners" ]; then
      cat "$dir/winners" >> "$dir/links"
      order_needed "$dir"
      continue
    fi
    repair "$dir/order" < "$dir/conflicts" > "$dir/order.next"
    mv "$dir/order.next" "$dir/order"
  done
  die "$probe: no order without conflicts after 100 repairs"
}

# stand_ins UNUSED SONAMES DIR: an empty shared library in DIR for each
# unused library, named and SONAMEd as it; prints their paths.
stand_ins() {
  local cc=${CC:-cc}
  rm -rf "$3"
  mkdir -p "$3"
  : > "$3/empty.c"
  awk 'FILENAME == ARGV[1] { unused[$0] = 1; next } $1 in unused { print $2 }' "$1" "$2" |
    xargs -r -P 4 -I '{}' "$cc" -shared -nostdlib -Wl,-soname,'{}' -o "$3/{}" "$3/empty.c" ||
    die "$cc could not build the stand-ins in $3"
  rm "$3/empty.c"
  awk -v dir="$3" 'FILENAME == ARGV[1] { unused[$0] = 1; next } $1 in unused { print dir "/" $2 }' "$1" "$2"
}

# moved_bindings REF_BINDS NEW_BINDS NEEDED DEFS: "lost N moved M" over the
# bindings REF makes from needed libraries: lost when NEW does not make it,
# moved when NEW binds a non-vague symbol to another library.
moved_bindings() {
  awk '
    FILENAME == ARGV[3] { needed[$0] = 1; next }
    FILENAME == ARGV[4] { type[$1 " " $3] = $2; next }
    FILENAME == ARGV[1] { if ($1 in needed) ref[$1 " " $3] = $2; next }
    { got[$1 " " $3] = $2 }
    END {
      for (key in ref) {
        split(key, k, " ")
        if (!(key in got)) { lost++; if (lost == 1) first_lost = key }
        else if (got[key] != ref[key] && type[ref[key] " " k[2]] !~ /^[VWu]$/) {
          moved++; if (moved == 1) first_moved = key " " ref[key] " -> " got[key]
        }
      }
      printf "lost %d moved %d %s %s\n", lost, moved, first_lost, first_moved
    }' "$3" "$4" "$1" "$2"
}

check() {
  local probe=$1 dir program failed=0
  shift
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  (plan "$probe" "$dir") 2> "$dir/plan.log" || { cat "$dir/plan.log" >&2; return 2; }
  awk 'FILENAME == ARGV[1] { unused[$0] = 1; next } $1 in unused { print $2 }' \
    "$dir/unused" "$dir/sonames" | sort > "$dir/unused.sonames"
  for program in "$@"; do
    scope "$program" > "$dir/scope"
    if cmp -s "$dir/ref" "$dir/scope"; then
      echo "$program: libraries in their natural order (not planned)" >&2
      failed=1
      continue
    fi
    # The real libraries it loads, and the others, which must be stand-ins.
    awk 'FILENAME == ARGV[1] { ref[$0] = 1; next } $0 in ref' "$dir/ref" "$dir/scope" > "$dir/new"
    awk 'FILENAME == ARGV[1] { ref[$0] = 1; next } !($0 in ref)' "$dir/ref" "$dir/scope" > "$dir/others"
    if ! cmp -s <(sort "$dir/needed") <(sort "$dir/new"); then
      echo "$program: loads other libraries than the needed ones of $probe:" >&2
      diff <(sort "$dir/needed") <(sort "$dir/new") | grep '^[<>]' | head -5 >&2
      failed=1
      continue
    fi
    local other bad=""
    while read -r other; do
      nm -D --defined-only "$other" 2> /dev/null | grep -q . && bad=$other
      grep -qxF "$(basename "$other")" "$dir/unused.sonames" || bad=$other
    done < "$dir/others"
    if [ -n "$bad" ]; then
      echo "$program: $bad is neither a needed library of $probe nor an empty stand-in" >&2
      failed=1
      continue
    fi
    conflicts "$dir/ref" "$dir/new" "$dir/defs" > "$dir/conflicts"
    if [ -s "$dir/conflicts" ]; then
      echo "$program: $(wc -l < "$dir/conflicts") symbols bind elsewhere than in $probe, e.g.:" >&2
      head -3 "$dir/conflicts" >&2
      failed=1
      continue
    fi
    bindings "$program" > "$dir/program.binds"
    local lost moved example
    read -r _ lost _ moved example < <(moved_bindings "$dir/binds" "$dir/program.binds" \
      "$dir/needed" "$dir/defs")
    if [ "$lost" -ne 0 ] || [ "$moved" -ne 0 ]; then
      echo "$program: of the bindings of $probe's needed libraries, $lost are not made and" \
        "$moved non-vague ones bind elsewhere, e.g.: $example" >&2
      failed=1
    else
      echo "$program: $(wc -l < "$dir/new") libraries in a planned order and" \
        "$(wc -l < "$dir/others") stand-ins; every binding of theirs made as in $probe"
    fi
  done
  return "$failed"
}

case "${1:-}" in
  plan)
    [ $# -eq 3 ] || die "usage: load-order.sh plan PROBE DIR"
    plan "$2" "$3" ;;
  ld-args)
    [ $# -eq 4 ] || die "usage: load-order.sh ld-args PROBE FILE STANDINS"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    if (plan "$2" "$work" && stand_ins "$work/unused" "$work/sonames" "$4" > "$work/stand-ins"); then
      printf '%s\n' --push-state --no-as-needed > "$3.new"
      cat "$work/order" "$work/stand-ins" >> "$3.new"
      echo --pop-state >> "$3.new"
    else
      echo "load-order: warning: no plan; the tools load every library in the natural order" >&2
      : > "$3.new"
      rm -rf "$4" && mkdir -p "$4"  # no stand-ins, but a folder to install
    fi
    mv "$3.new" "$3" ;;
  check) [ $# -ge 3 ] || die "usage: load-order.sh check PROBE PROGRAM..."; shift; check "$@" ;;
  conflicts)
    [ $# -eq 3 ] || die "usage: load-order.sh conflicts REF NEW"
    conflicts "$2" "$3" <(definitions <(sort -u "$2" "$3")) ;;
  *) die "usage: load-order.sh plan PROBE DIR | ld-args PROBE FILE STANDINS | check PROBE PROGRAM... | conflicts REF NEW" ;;
esac
