#!/usr/bin/env bash
# hm-dht's docs and completions keep up with the binary: every long flag
# that "hm-dht --help" or "hm-dht store|get|ping --help" prints must have an
# entry (a .TP tag) in man/hm-dht.1 and appear in the bash, zsh and fish
# completions. The bash completion must parse and register with `complete`,
# zsh and fish must parse it where installed, and groff must render the
# page without warnings where installed.
#
# Env (set by ctest): HM_BIN = <build>/tools, HM_TESTS = <repo>/tests.
# Runs the binary only for --help: no network.
set -euo pipefail

: "${HM_BIN:?set HM_BIN to the folder with the built tools}"
: "${HM_TESTS:?set HM_TESTS to the tests folder of the repository}"
root=$(cd "$HM_TESTS/.." && pwd)
bin=$HM_BIN/hm-dht
man_page=$root/man/hm-dht.1
bash_file=$root/completions/bash/hm-dht
zsh_file=$root/completions/zsh/_hm-dht
fish_file=$root/completions/fish/hm-dht.fish

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
# The long flags offered in zsh _arguments specs.
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
for command in "" store get ping experts; do
    # shellcheck disable=SC2086
    if ! help=$("$bin" $command --help 2>&1); then
        fail "hm-dht $command --help exited non-zero: $help"
        continue
    fi
    mapfile -t flags < <(grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' <<<"$help" | sort -u)
    [[ " ${flags[*]} " == *" --help "* ]] || fail "hm-dht $command --help printed no flags we recognise"
    for flag in "${flags[@]}"; do
        total=$((total + 1))
        [[ -v in_man[$flag] ]] || fail "hm-dht $command: $flag is not documented in $man_page"
        [[ -v in_bash[$flag] ]] || fail "hm-dht $command: $flag is missing from $bash_file"
        [[ -v in_zsh[$flag] ]] || fail "hm-dht $command: $flag is missing from $zsh_file"
        [[ -v in_fish[$flag] ]] || fail "hm-dht $command: $flag is missing from $fish_file"
    done
    # Every subcommand is named in every completion file.
    if [[ -n $command ]]; then
        for file in "$bash_file" "$zsh_file" "$fish_file"; do
            grep -qw -- "$command" "$file" || fail "$file never offers '$command'"
        done
    fi
done

bash -n "$bash_file" || fail "bash -n $bash_file"
if ! registered=$(bash -c 'source "$1" && complete -p hm-dht' _ "$bash_file" 2>&1); then
    fail "sourcing $bash_file registers no completion: $registered"
elif [[ $registered != "complete -F "* ]]; then
    fail "$bash_file registers '$registered', expected 'complete -F ...'"
fi
# The bash completion offers the subcommands, and a subcommand's own flags after it.
words=$(bash -c 'source "$1"; COMP_WORDS=(hm-dht ""); COMP_CWORD=1; _hm_dht; echo "${COMPREPLY[*]}"' _ "$bash_file")
[[ $words == *store* && $words == *ping* ]] || fail "bash completion offers '$words' for a first word"
words=$(bash -c 'source "$1"; COMP_WORDS=(hm-dht get --); COMP_CWORD=2; _hm_dht; echo "${COMPREPLY[*]}"' _ "$bash_file")
[[ $words == *--latest* && $words != *--nodes* ]] || fail "bash completion offers '$words' after 'get --'"
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
    echo "dht_docs_test: $failures problem(s)" >&2
    exit 1
fi
echo "dht_docs_test: ok ($total flags in hm-dht.1 and the bash, zsh and fish completions)"
