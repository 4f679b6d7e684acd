#!/usr/bin/env bash
# hm-dht's docs and completions keep up with the binary: every long flag
# that "hm-dht --help" or "hm-dht store|get|ping|experts --help" prints must
# have an entry (a .TP tag) in man/hm-dht.1 and appear in the bash, zsh and
# fish completions, and every subcommand must be named in each of them. The
# bash completion must parse, register with `complete` and offer a
# subcommand's own flags after it; zsh and fish must parse theirs where
# installed, and groff must render the page without warnings where installed.
#
# Env (set by ctest): HM_BIN = <build>/tools, HM_TESTS = <repo>/tests.
# Runs the binary only for --help: no network.
set -euo pipefail
source "$HM_TESTS/e2e/docs_lib.sh"

docs_check_flags hm-dht store get ping experts
docs_check_syntax hm-dht

# The bash completion offers the subcommands, and a subcommand's own flags after it.
words=$(docs_complete hm-dht "")
[[ $words == *store* && $words == *ping* ]] || docs_fail "bash completion offers '$words' for a first word"
words=$(docs_complete hm-dht get --)
[[ $words == *--latest* && $words != *--nodes* ]] || docs_fail "bash completion offers '$words' after 'get --'"

docs_finish "$DOCS_CHECKED flags in hm-dht.1 and the bash, zsh and fish completions"
