#!/usr/bin/env bash
# The load plan (libcommon/link/load-order.sh) of the torch tools: they load
# only the probe's needed libraries, in a planned order, with stand-ins for
# the rest, and bind every symbol of those libraries as the probe does. On a
# family of small libraries made here: which ones the plan finds unused, that
# a program linked with the plan runs as the natural one, and that check
# refuses a program missing a needed library or left in the natural order.
# The conflict finder tells a strong duplicate (which must keep its winner)
# from a vague one (which may move).
# usage: load_order_test.sh LOAD_ORDER_SH PROBE PROGRAM...
set -euo pipefail
script=$1 probe=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The built tools against the probe.
bash "$script" check "$probe" "$@" || fail "the tools' load plan"

# shared NAME SOURCE [LIBRARY...]: lib/libNAME.so from SOURCE, linked with
# the LIBRARIES, finding them at run time in lib/.
shared() {
  local name=$1 source=$2
  shift 2
  printf '%s\n' "$source" > "$work/src/$name.c"
  cc -shared -fPIC -o "$work/lib/lib$name.so" -Wl,-soname,"lib$name.so" "$work/src/$name.c" \
    -L"$work/lib" -Wl,-rpath,"$work/lib" "$@"
}
mkdir "$work/src" "$work/lib"
# user needs used (strong binding); used calls a vague function that vague
# defines earlier in the scope (used has its own copy: vague is unused) and
# an inline-like one that only template defines (template is needed); idle
# is named but never used, and it alone needs deep.
shared template '__attribute__((weak)) int hm_inline_only(void) { return 2; }'
shared vague '__attribute__((weak)) int hm_vague(void) { return 1; }'
shared deep 'int hm_deep(void) { return 100; }'
shared idle 'int hm_deep(void); int hm_idle(void) { return hm_deep(); }' -ldeep
shared used '__attribute__((weak)) int hm_vague(void) { return 1; }
int hm_inline_only(void);
int hm_used(void) { return 40 + hm_vague() + hm_inline_only(); }' -Wl,--no-as-needed -ltemplate
shared user 'int hm_used(void); int hm_user(void) { return hm_used(); }' \
  -Wl,--no-as-needed -lvague -lused -lidle
printf '%s\n' '#include <stdio.h>' 'int hm_user(void);' \
  'int main(void) { printf("%d\n", hm_user()); return 0; }' > "$work/src/main.c"
cc -o "$work/probe" "$work/src/main.c" -L"$work/lib" -Wl,-rpath,"$work/lib" -luser
[ "$("$work/probe")" = 43 ] || fail "the natural program prints $("$work/probe")"

mkdir "$work/plan"
bash "$script" plan "$work/probe" "$work/plan" 2> /dev/null
unused=$(xargs -n1 basename < "$work/plan/unused" | sort | tr '\n' ' ')
[ "$unused" = "libdeep.so libidle.so libvague.so " ] || fail "unused libraries: $unused"
for lib in libuser.so libused.so libtemplate.so; do
  grep -q "/$lib\$" "$work/plan/order" || fail "$lib missing from the order"
done

bash "$script" ld-args "$work/probe" "$work/plan.rsp" "$work/stand-ins" 2> /dev/null
[ "$(head -2 "$work/plan.rsp" | tr '\n' ' ')" = "--push-state --no-as-needed " ] ||
  fail "ld options: $(head -2 "$work/plan.rsp")"
for lib in libdeep.so libidle.so libvague.so; do
  grep -qx "$work/stand-ins/$lib" "$work/plan.rsp" || fail "no stand-in for $lib"
  [ -z "$(nm -D --defined-only "$work/stand-ins/$lib" 2> /dev/null)" ] || fail "stand-in $lib defines symbols"
done
cc -o "$work/planned" "$work/src/main.c" -Wl,@"$work/plan.rsp" \
  -Wl,-rpath,"$work/stand-ins:$work/lib" -L"$work/lib" -luser
[ "$("$work/planned")" = 43 ] || fail "the planned program prints $("$work/planned")"
bash "$script" check "$work/probe" "$work/planned" > "$work/check.out" ||
  fail "check refused the planned program"
grep -q "3 stand-ins" "$work/check.out" || fail "check: $(cat "$work/check.out")"

# A stand-in for a needed library, and the natural order: both refused.
mkdir "$work/wrong"
: > "$work/src/empty.c"
cc -shared -nostdlib -Wl,-soname,libused.so -o "$work/wrong/libused.so" "$work/src/empty.c"
cc -o "$work/missing" "$work/src/main.c" -Wl,-rpath,"$work/wrong:$work/lib" -Wl,--no-as-needed \
  "$work/wrong/libused.so" -L"$work/lib" -luser -Wl,--allow-shlib-undefined
if bash "$script" check "$work/probe" "$work/missing" 2> "$work/missing.err"; then
  fail "check accepted a program without a needed library"
fi
grep -q "other libraries than the needed" "$work/missing.err" || fail "check: $(cat "$work/missing.err")"
if bash "$script" check "$probe" "$probe" 2> "$work/natural.err"; then
  fail "check accepted a program in the natural order"
fi
grep -q "natural order" "$work/natural.err" || fail "check: $(cat "$work/natural.err")"

# Two libraries that both define a strong and a weak symbol: swapping them
# changes the strong one's winner (a conflict), never the weak one's; and
# leaving out the one that wins the strong symbol is a conflict too.
for side in a b; do
  cat > "$work/$side.c" << C
int hm_strong_$side(void) { return 1; }
int hm_strong(void) { return '$side'; }
__attribute__((weak)) int hm_weak(void) { return '$side'; }
C
  cc -shared -fPIC -o "$work/lib$side.so" "$work/$side.c"
done
printf '%s\n' "$work/liba.so" "$work/libb.so" > "$work/ab"
printf '%s\n' "$work/libb.so" "$work/liba.so" > "$work/ba"
printf '%s\n' "$work/libb.so" > "$work/b"
bash "$script" conflicts "$work/ab" "$work/ba" > "$work/conflicts"
[ "$(cat "$work/conflicts")" = "hm_strong $work/liba.so $work/libb.so" ] ||
  fail "conflicts of a swapped pair: '$(cat "$work/conflicts")'"
bash "$script" conflicts "$work/ab" "$work/b" > "$work/dropped"
[ "$(cat "$work/dropped")" = "hm_strong $work/liba.so $work/libb.so" ] ||
  fail "conflicts with the winner left out: '$(cat "$work/dropped")'"
bash "$script" conflicts "$work/ab" "$work/ab" > "$work/none"
[ ! -s "$work/none" ] || fail "conflicts of an unchanged order: '$(cat "$work/none")'"
echo "load plan: ok"
