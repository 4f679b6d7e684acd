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

: "${HM_BIN:?set HM_BIN to the folder with the built tools}"
: "${HM_TESTS:?set HM_TESTS to the tests folder of the repository}"
root=$(cd "$HM_TESTS/.." && pwd)
bin=$HM_BIN/hm-moe
man_page=$root/man/hm-moe.1
bash_file=$root/completions/bash/hm-moe
zsh_file=$root/completions/zsh/_hm-moe
fish_file=$root/completions/fish/hm-moe.fish

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

[[ -x $bin ]] || { echo "FAIL: no executable at $bin (build it first)" >&2; exit 1; }
for file in "$man_page" "$bash_file" "$zsh_file" "$fish_file"; do
    [[ -f $file ]] || { echo "FAIL: missing $file" >&2; exit 1; }
done

# The long flags a man page documents: those in the tag line after each .TP.
man_flags() {
    awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' "$1" |
        sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' |
        grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' || true
}
# The long flags that stand as whole words in a bash completion file.
word_flags() {
    grep -oE -- '(^|[^A-Za-z0-9_-])--[A-Za-z0-9][A-Za-z0-9-]*' "$1" | sed -E 's/^[^-]//' || true
}
# The long flags offered in zsh _arguments specs ('--flag[...]', '*--flag=',
# {-f+,--flag=}, '(...)--flag'), not those only named in an exclusion list.
zsh_flags() {
    grep -oE -- "[')*{,]--[A-Za-z0-9][A-Za-z0-9-]*([=+},']|\\[|\$)" "$1" |
        sed -E "s/^.//; s/[^A-Za-z0-9]\$//" || true
}
# The long flags of the "complete -c ... -l NAME" lines of a fish file.
fish_flags() {
    grep -E -- '^[[:space:]]*complete[[:space:]]' "$1" |
        grep -oE -- "[[:space:]](-l|--long-option)[[:space:]]+['\"]?[A-Za-z0-9][A-Za-z0-9-]*" |
        sed -E "s/^[[:space:]]*(-l|--long-option)[[:space:]]+['\"]?/--/" || true
}

declare -A in_man=() in_bash=() in_zsh=() in_fish=()
while read -r f; do in_man[$f]=1; done < <(man_flags "$man_page")
while read -r f; do in_bash[$f]=1; done < <(word_flags "$bash_file")
while read -r f; do in_zsh[$f]=1; done < <(zsh_flags "$zsh_file")
while read -r f; do in_fish[$f]=1; done < <(fish_flags "$fish_file")

total=0
for command in "" forward backward train; do
    # shellcheck disable=SC2086
    if ! help=$("$bin" $command --help 2>&1); then
        fail "hm-moe $command --help exited non-zero: $help"
        continue
    fi
    mapfile -t flags < <(grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' <<<"$help" | sort -u)
    [[ " ${flags[*]} " == *" --help "* ]] || fail "hm-moe $command --help printed no flags we recognise"
    for flag in "${flags[@]}"; do
        total=$((total + 1))
        [[ -v in_man[$flag] ]] || fail "hm-moe $command: $flag is not documented in $man_page (add a .TP entry)"
        [[ -v in_bash[$flag] ]] || fail "hm-moe $command: $flag is missing from $bash_file"
        [[ -v in_zsh[$flag] ]] || fail "hm-moe $command: $flag is missing from $zsh_file"
        [[ -v in_fish[$flag] ]] || fail "hm-moe $command: $flag is missing from $fish_file"
    done
    # Every subcommand is named in the page and in every completion file.
    if [[ -n $command ]]; then
        for file in "$man_page" "$bash_file" "$zsh_file" "$fish_file"; do
            grep -qw -- "$command" "$file" || fail "$file never names '$command'"
        done
    fi
done

# The keys of train's JSON lines: the '{"key", e.' pairs of main.cpp's
# nlohmann::json row, each a .TP tag of its own in the page.
main_cpp=$root/tools/hm-moe/main.cpp
if [[ -f $main_cpp ]]; then
    mapfile -t json_keys < <(grep -oE -- '\{"[a-z_]+", *e\.' "$main_cpp" | grep -oE -- '"[a-z_]+"' | tr -d '"')
    ((${#json_keys[@]} > 0)) || fail "found no JSON keys in $main_cpp (update this test)"
    man_tags=$(awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' "$man_page")
    for key in "${json_keys[@]}"; do
        total=$((total + 1))
        grep -qxE -- "\.B $key" <<<"$man_tags" ||
            fail "hm-moe train --json: key '$key' has no .TP entry ('.B $key') in $man_page"
    done
fi

bash -n "$bash_file" || fail "bash -n $bash_file"
if ! registered=$(bash -c 'source "$1" && complete -p hm-moe' _ "$bash_file" 2>&1); then
    fail "sourcing $bash_file registers no completion: $registered"
elif [[ $registered != "complete -F "* ]]; then
    fail "$bash_file registers '$registered', expected 'complete -F ...'"
fi
# The bash completion offers the subcommands first, and a subcommand's own
# flags after it: -g/--grad only after backward.
complete_words() {  # complete_words WORD...: what _hm_moe offers for the last word
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hm_moe
             echo "${COMPREPLY[*]}"' _ "$bash_file" "$@"
}
words=$(complete_words hm-moe "")
[[ $words == *forward* && $words == *backward* && $words == *train* ]] ||
    fail "bash completion offers '$words' for a first word"
words=$(complete_words hm-moe --log-level warn backward --)
[[ $words == *--grad* && $words == *--k-min* && $words != *--version* ]] ||
    fail "bash completion offers '$words' after 'backward --'"
words=$(complete_words hm-moe forward --)
[[ $words == *--dht* && $words != *--grad* && $words != *--data* ]] ||
    fail "bash completion offers '$words' after 'forward --'"
words=$(complete_words hm-moe train --)
[[ $words == *--dht* && $words == *--data* && $words == *--resume* && $words == *--json* &&
   $words != *--grad* && $words != *--gate* && $words != *--format* ]] ||
    fail "bash completion offers '$words' after 'train --'"
# train --data completes directories, --save files (in a scratch directory).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/fashion"
touch "$scratch/model.pt"
words=$(cd "$scratch" && complete_words hm-moe train --data "")
[[ $words == fashion ]] || fail "bash completion offers '$words' after 'train --data' (expected the directory only)"
words=$(cd "$scratch" && complete_words hm-moe train --save "")
[[ $words == *model.pt* ]] || fail "bash completion offers '$words' after 'train --save' (expected files)"

if command -v zsh >/dev/null; then
    zsh -n "$zsh_file" || fail "zsh -n $zsh_file"
fi
if command -v fish >/dev/null; then
    fish --no-execute "$fish_file" || fail "fish --no-execute $fish_file"
fi
if command -v groff >/dev/null; then
    warnings=$(groff -man -Tutf8 -ww -z "$man_page" 2>&1) || fail "groff failed on $man_page: $warnings"
    [[ -z $warnings ]] || fail "groff warns on $man_page: $warnings"
fi

if ((failures > 0)); then
    echo "docs_hm_moe_test: $failures problem(s)" >&2
    exit 1
fi
echo "docs_hm_moe_test: ok ($total flags and JSON keys in hm-moe.1, flags in the bash, zsh and fish completions)"
