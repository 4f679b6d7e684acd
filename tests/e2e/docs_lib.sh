# shellcheck shell=bash
# Shared checks for the docs tests (sourced, not run: ctest runs *_test.sh
# only): a tool's docs and completions keep up with its binary.
#
# Env (set by ctest): HM_BIN = <build>/tools, HM_TESTS = <repo>/tests. The
# docs are read from the repository above HM_TESTS: man/TOOL.1,
# completions/bash/TOOL, completions/zsh/_TOOL, completions/fish/TOOL.fish.
#
#   docs_check_flags TOOL [SUBCOMMAND...]
#       every long flag that "TOOL --help" and "TOOL SUBCOMMAND --help"
#       print has a .TP tag in the man page and is offered by the bash, zsh
#       and fish completions; every SUBCOMMAND is named in all four files.
#   docs_check_syntax TOOL
#       the bash completion parses and registers "complete -F ..." for TOOL;
#       zsh -n and fish --no-execute accept theirs, and groff renders the
#       page without warnings (each where installed).
#   docs_paths TOOL
#       sets DOCS_BIN, DOCS_MAN, DOCS_BASH, DOCS_ZSH and DOCS_FISH to TOOL's
#       binary and files, for a test's own extra checks.
#   docs_complete TOOL WORD...
#       prints what TOOL's bash completion offers for the last WORD of the
#       command line "TOOL WORD..." (the COMPREPLY words, space separated).
#   docs_fail MESSAGE...
#       reports a problem and counts it; the test goes on.
#   docs_finish [SUMMARY]
#       exits 1 with the count if any problem was reported, else prints
#       "<test>: ok (SUMMARY)". DOCS_CHECKED counts the flags checked; a
#       test may add its own checks to it.
#
# A missing binary or file ends the test at once (exit 1) in
# docs_check_flags and docs_check_syntax. DOCS_ROOT is the repository.
#
# Few processes on purpose: a test should stay around a second.
set -euo pipefail

: "${HM_BIN:?set HM_BIN to the folder with the built tools}"
: "${HM_TESTS:?set HM_TESTS to the tests folder of the repository}"
DOCS_ROOT=$(cd "$HM_TESTS/.." && pwd)
DOCS_FAILURES=0
DOCS_CHECKED=0

docs_fail() {
    echo "FAIL: $*" >&2
    DOCS_FAILURES=$((DOCS_FAILURES + 1))
}

docs_paths() {
    DOCS_BIN=$HM_BIN/$1
    DOCS_MAN=$DOCS_ROOT/man/$1.1
    DOCS_BASH=$DOCS_ROOT/completions/bash/$1
    DOCS_ZSH=$DOCS_ROOT/completions/zsh/_$1
    DOCS_FISH=$DOCS_ROOT/completions/fish/$1.fish
}

# Each extractor prints a set of long flags, one per line, with their dashes.

# The long flags a man page documents: those in the tag line after each .TP.
docs_man_flags() {
    awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' "$1" |
        sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' |
        grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' || true
}

# The long flags that stand as whole words in a bash completion file.
docs_word_flags() {
    grep -oE -- '(^|[^A-Za-z0-9_-])--[A-Za-z0-9][A-Za-z0-9-]*' "$1" |
        sed -E 's/^[^-]//' || true
}

# The long flags that a zsh completion file offers: those in an _arguments
# option spec ('--flag[...]', '*--flag=', {-f+,--flag=}, '(...)--flag'),
# not those that are only named in an exclusion list or a description.
docs_zsh_flags() {
    grep -oE -- "[')*{,]--[A-Za-z0-9][A-Za-z0-9-]*([=+},']|\\[|\$)" "$1" |
        sed -E "s/^.//; s/[^A-Za-z0-9]\$//" || true
}

# The long flags of the "complete -c ... -l NAME" lines of a fish file.
docs_fish_flags() {
    grep -E -- '^[[:space:]]*complete[[:space:]]' "$1" |
        grep -oE -- "[[:space:]](-l|--long-option)[[:space:]]+['\"]?[A-Za-z0-9][A-Za-z0-9-]*" |
        sed -E "s/^[[:space:]]*(-l|--long-option)[[:space:]]+['\"]?/--/" || true
}

# docs_require TOOL: TOOL's binary and its four files exist; each one that
# does not is reported, and the test ends there (nothing else can be read).
docs_require() {
    docs_paths "$1"
    local file before=$DOCS_FAILURES
    [[ -x $DOCS_BIN ]] || docs_fail "$1: no executable at $DOCS_BIN (build it first)"
    for file in "$DOCS_MAN" "$DOCS_BASH" "$DOCS_ZSH" "$DOCS_FISH"; do
        [[ -f $file ]] || docs_fail "$1: missing $file"
    done
    # shellcheck disable=SC2119 # it exits here: no summary to give
    ((DOCS_FAILURES == before)) || docs_finish
}

docs_check_flags() {
    local tool=$1; shift
    local before=$DOCS_FAILURES count=0 command flag f help file
    docs_require "$tool"
    local -A in_man=() in_bash=() in_zsh=() in_fish=()
    while read -r f; do in_man[$f]=1; done < <(docs_man_flags "$DOCS_MAN")
    while read -r f; do in_bash[$f]=1; done < <(docs_word_flags "$DOCS_BASH")
    while read -r f; do in_zsh[$f]=1; done < <(docs_zsh_flags "$DOCS_ZSH")
    while read -r f; do in_fish[$f]=1; done < <(docs_fish_flags "$DOCS_FISH")

    for command in "" "$@"; do
        local -a argv=("$DOCS_BIN") flags=()
        [[ -z $command ]] || argv+=("$command")
        local name="$tool${command:+ $command}"
        if ! help=$("${argv[@]}" --help 2>&1); then
            docs_fail "$name --help exited non-zero: $help"
            continue
        fi
        mapfile -t flags < <(grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' <<<"$help" | sort -u)
        # Sanity: a help text that lists no --help is not one we can read.
        [[ " ${flags[*]} " == *" --help "* ]] ||
            docs_fail "$name --help printed no flags we recognise: $help"
        for flag in "${flags[@]}"; do
            count=$((count + 1))
            [[ -v in_man[$flag] ]] ||
                docs_fail "$name: $flag is not documented in $DOCS_MAN (add a .TP entry)"
            [[ -v in_bash[$flag] ]] || docs_fail "$name: $flag is missing from $DOCS_BASH"
            [[ -v in_zsh[$flag] ]] || docs_fail "$name: $flag is missing from $DOCS_ZSH"
            [[ -v in_fish[$flag] ]] || docs_fail "$name: $flag is missing from $DOCS_FISH"
        done
        # Every subcommand is named in the page and in every completion file.
        if [[ -n $command ]]; then
            for file in "$DOCS_MAN" "$DOCS_BASH" "$DOCS_ZSH" "$DOCS_FISH"; do
                grep -qw -- "$command" "$file" || docs_fail "$file never names '$command'"
            done
        fi
    done
    DOCS_CHECKED=$((DOCS_CHECKED + count))
    if ((DOCS_FAILURES == before)); then
        echo "$tool: $count flags from $(($# + 1)) --help texts, all in $tool.1 and the bash, zsh and fish completions"
    fi
}

docs_check_syntax() {
    local tool=$1 registered warnings
    docs_require "$tool"
    bash -n "$DOCS_BASH" || docs_fail "$tool: bash -n $DOCS_BASH"
    if ! registered=$(bash -c 'source "$1" && complete -p "$2"' _ "$DOCS_BASH" "$tool" 2>&1); then
        docs_fail "$tool: sourcing $DOCS_BASH registers no completion: $registered"
    elif [[ $registered != "complete -F "* ]]; then
        docs_fail "$tool: $DOCS_BASH registers '$registered', expected 'complete -F ...'"
    fi
    if command -v zsh >/dev/null; then
        zsh -n "$DOCS_ZSH" || docs_fail "$tool: zsh -n $DOCS_ZSH"
    fi
    if command -v fish >/dev/null; then
        fish --no-execute "$DOCS_FISH" || docs_fail "$tool: fish --no-execute $DOCS_FISH"
    fi
    if command -v groff >/dev/null; then
        warnings=$(groff -man -Tutf8 -ww -z "$DOCS_MAN" 2>&1) ||
            docs_fail "$tool: groff failed on $DOCS_MAN: $warnings"
        [[ -z $warnings ]] || docs_fail "$tool: groff warns on $DOCS_MAN: $warnings"
    fi
}

docs_complete() {
    local tool=$1
    docs_paths "$tool"
    # shellcheck disable=SC2016 # expanded by the inner bash
    bash -c 'source "$1"; shift
             function=$(complete -p "$1" | sed -nE "s/.*-F ([^ ]+) .*/\1/p")
             COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); "$function"
             echo "${COMPREPLY[*]}"' _ "$DOCS_BASH" "$@"
}

# shellcheck disable=SC2120 # SUMMARY is optional
docs_finish() {
    local test
    test=$(basename "$0" .sh)
    if ((DOCS_FAILURES > 0)); then
        echo "$test: $DOCS_FAILURES problem(s)" >&2
        exit 1
    fi
    echo "$test: ok (${1:-$DOCS_CHECKED flags checked})"
}
