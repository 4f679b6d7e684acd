#!/usr/bin/env bash
# Docs and completions keep up with the binaries: every long flag that
# "hm-serve --help" and "hm-call --help" print must have an entry (a .TP tag)
# in the tool's man page and appear in its bash, zsh and fish completions.
# The bash completions must parse and register with `complete`.
#
# Env (set by ctest): HM_BIN = <build>/tools, HM_TESTS = <repo>/tests.
# Runs the binaries only for --help: no network, well under a second.
set -euo pipefail

: "${HM_BIN:?set HM_BIN to the folder with the built tools}"
: "${HM_TESTS:?set HM_TESTS to the tests folder of the repository}"
root=$(cd "$HM_TESTS/.." && pwd)

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# Each helper prints a set of long flags, one per line, with their dashes.
# Few processes on purpose: the test must stay well under a second.

# The long flags a man page documents: those in the tag line after each .TP.
man_flags() {
    awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' "$1" |
        sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' |
        grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' || true
}

# The long flags that stand as whole words in a bash completion file.
word_flags() {
    grep -oE -- '(^|[^A-Za-z0-9_-])--[A-Za-z0-9][A-Za-z0-9-]*' "$1" |
        sed -E 's/^[^-]//' || true
}

# The long flags that a zsh completion file offers: those in an _arguments
# option spec ('--flag[...]', '*--flag=', {-f+,--flag=}, '(...)--flag'),
# not those that are only named in an exclusion list or a description.
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

for tool in hm-serve hm-call; do
    bin=$HM_BIN/$tool
    failures_before=$failures
    man_page=$root/man/$tool.1
    bash_file=$root/completions/bash/$tool
    zsh_file=$root/completions/zsh/_$tool
    fish_file=$root/completions/fish/$tool.fish

    if [[ ! -x $bin ]]; then
        fail "$tool: no executable at $bin (build it first)"
        continue
    fi
    for file in "$man_page" "$bash_file" "$zsh_file" "$fish_file"; do
        [[ -f $file ]] || fail "$tool: missing $file"
    done
    [[ -f $man_page && -f $bash_file && -f $zsh_file && -f $fish_file ]] || continue

    if ! help=$("$bin" --help 2>&1); then
        fail "$tool --help exited non-zero: $help"
        continue
    fi
    mapfile -t flags < <(grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' <<<"$help" | sort -u)
    # Sanity: a help text that lists no --help is not one we can read.
    if [[ " ${flags[*]} " != *" --help "* ]]; then
        fail "$tool --help printed no flags we recognise: $help"
        continue
    fi

    declare -A in_man=() in_bash=() in_zsh=() in_fish=()
    while read -r f; do in_man[$f]=1; done < <(man_flags "$man_page")
    while read -r f; do in_bash[$f]=1; done < <(word_flags "$bash_file")
    while read -r f; do in_zsh[$f]=1; done < <(zsh_flags "$zsh_file")
    while read -r f; do in_fish[$f]=1; done < <(fish_flags "$fish_file")
    for flag in "${flags[@]}"; do
        [[ -v in_man[$flag] ]] ||
            fail "$tool: $flag is not documented in $man_page (add a .TP entry)"
        [[ -v in_bash[$flag] ]] || fail "$tool: $flag is missing from $bash_file"
        [[ -v in_zsh[$flag] ]] || fail "$tool: $flag is missing from $zsh_file"
        [[ -v in_fish[$flag] ]] || fail "$tool: $flag is missing from $fish_file"
    done
    unset in_man in_bash in_zsh in_fish

    # The bash completion parses, and registers a function for the tool.
    bash -n "$bash_file" || fail "$tool: bash -n $bash_file"
    if ! registered=$(bash -c 'source "$1" && complete -p "$2"' _ "$bash_file" "$tool" 2>&1); then
        fail "$tool: sourcing $bash_file registers no completion: $registered"
    elif [[ $registered != "complete -F "* ]]; then
        fail "$tool: $bash_file registers '$registered', expected 'complete -F ...'"
    fi

    # Where groff is installed, the man page renders without warnings.
    if command -v groff >/dev/null; then
        warnings=$(groff -man -Tutf8 -ww -z "$man_page" 2>&1) ||
            fail "$tool: groff failed on $man_page: $warnings"
        [[ -z $warnings ]] || fail "$tool: groff warns on $man_page: $warnings"
    fi

    if ((failures == failures_before)); then
        echo "$tool: ${#flags[@]} flags, all in $tool.1 and the bash, zsh and fish completions"
    fi
done

if ((failures > 0)); then
    echo "docs_hm_serve_call_test: $failures problem(s)" >&2
    exit 1
fi
echo "docs_hm_serve_call_test: ok"
