#!/usr/bin/env bash
# hm-moe's docs and completions keep up with the binary: every long flag
# that "hm-moe --help", "hm-moe forward --help", "hm-moe backward --help" or
# "hm-moe train --help" prints must have an entry (a .TP tag) in
# man/hm-moe.1 and appear in the bash, zsh and fish completions, and every
# subcommand must be named in each of them; every key of train's --json
# objects (read from tools/hm-moe/main.cpp) must have a .TP entry in the
# page. The bash completion must parse, register with `complete` and offer
# a subcommand's own flags after it (directories after --data, files after
# --save); zsh and fish must parse theirs where installed, and groff must
# render the page without warnings where installed.
#
# Env (set by ctest): HM_BIN = <build>/tools, HM_TESTS = <repo>/tests.
# Runs the binary only for --help: no network, no dataset (a few seconds:
# hm-moe loads LibTorch at every start).
set -euo pipefail
source "$HM_TESTS/e2e/docs_lib.sh"

docs_check_flags hm-moe forward backward train
docs_check_syntax hm-moe
docs_paths hm-moe

# The keys of train's JSON lines: the '{"key", e.' pairs of main.cpp's
# nlohmann::json row, each a .TP tag of its own in the page.
main_cpp=$DOCS_ROOT/tools/hm-moe/main.cpp
if [[ -f $main_cpp && -f $DOCS_MAN ]]; then
    mapfile -t json_keys < <(grep -oE -- '\{"[a-z_]+", *e\.' "$main_cpp" | grep -oE -- '"[a-z_]+"' | tr -d '"')
    ((${#json_keys[@]} > 0)) || docs_fail "found no JSON keys in $main_cpp (update this test)"
    man_tags=$(awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' "$DOCS_MAN")
    for key in "${json_keys[@]}"; do
        DOCS_CHECKED=$((DOCS_CHECKED + 1))
        grep -qxE -- "\.B $key" <<<"$man_tags" ||
            docs_fail "hm-moe train --json: key '$key' has no .TP entry ('.B $key') in $DOCS_MAN"
    done
fi

# The bash completion offers the subcommands first, and a subcommand's own
# flags after it: -g/--grad only after backward.
words=$(docs_complete hm-moe "")
[[ $words == *forward* && $words == *backward* && $words == *train* ]] ||
    docs_fail "bash completion offers '$words' for a first word"
words=$(docs_complete hm-moe --log-level warn backward --)
[[ $words == *--grad* && $words == *--k-min* && $words != *--version* ]] ||
    docs_fail "bash completion offers '$words' after 'backward --'"
words=$(docs_complete hm-moe forward --)
[[ $words == *--dht* && $words != *--grad* && $words != *--data* ]] ||
    docs_fail "bash completion offers '$words' after 'forward --'"
words=$(docs_complete hm-moe train --)
[[ $words == *--dht* && $words == *--data* && $words == *--resume* && $words == *--json* &&
   $words != *--grad* && $words != *--gate* && $words != *--format* ]] ||
    docs_fail "bash completion offers '$words' after 'train --'"
# train --data completes directories, --save files (in a scratch directory).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/fashion"
touch "$scratch/model.pt"
words=$(cd "$scratch" && docs_complete hm-moe train --data "")
[[ $words == fashion ]] || docs_fail "bash completion offers '$words' after 'train --data' (expected the directory only)"
words=$(cd "$scratch" && docs_complete hm-moe train --save "")
[[ $words == *model.pt* ]] || docs_fail "bash completion offers '$words' after 'train --save' (expected files)"

docs_finish "$DOCS_CHECKED flags and JSON keys in hm-moe.1, flags in the bash, zsh and fish completions"
