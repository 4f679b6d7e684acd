#!/usr/bin/env bash
# The planned load order (libcommon/link/load-order.sh) of the torch tools:
# every non-vague symbol binds where the natural order binds it, the order is
# in effect, and the conflict finder tells a strong duplicate (which must keep
# its winner) from a vague one (which may move).
# usage: load_order_test.sh LOAD_ORDER_SH PROBE PROGRAM...
set -euo pipefail
script=$1 probe=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The built tools against the probe.
bash "$script" check "$probe" "$@" || fail "the tools' load order"
# The probe itself is in its natural order: check must say so.
if bash "$script" check "$probe" "$probe" 2> "$work/natural.err"; then
  fail "check accepted a program in the natural order"
fi
grep -q "natural order" "$work/natural.err" || fail "check: $(cat "$work/natural.err")"

# Two libraries that both define a strong and a weak symbol: swapping them
# changes the strong one's winner (a conflict), never the weak one's.
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
bash "$script" conflicts "$work/ab" "$work/ba" > "$work/conflicts"
[ "$(cat "$work/conflicts")" = "hm_strong $work/liba.so $work/libb.so" ] ||
  fail "conflicts of a swapped pair: '$(cat "$work/conflicts")'"
bash "$script" conflicts "$work/ab" "$work/ab" > "$work/none"
[ ! -s "$work/none" ] || fail "conflicts of an unchanged order: '$(cat "$work/none")'"
echo "load order: ok"
