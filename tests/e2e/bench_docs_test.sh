#!/usr/bin/env bash
# hm-bench's docs and completions keep up with the binary: every long flag
# that "hm-bench --help" or "hm-bench throughput|latency|dht|chain --help"
# prints must have an entry (a .TP tag) in man/hm-bench.1 and appear in the
# bash, zsh and fish completions, and every subcommand must be named in each
# of them. The bash completion must parse, register with `complete`, offer a
# subcommand's own flags after it and the preset names after --preset; zsh
# and fish must parse theirs where installed, and groff must render the page
# without warnings where installed.
#
# Env (set by ctest): HM_BIN = <build>/tools, HM_TESTS = <repo>/tests.
# Runs the binary only for --help: no network.
set -euo pipefail
source "$HM_TESTS/e2e/docs_lib.sh"

docs_check_flags hm-bench throughput latency dht chain compression
docs_check_syntax hm-bench

words=$(docs_complete hm-bench "")
[[ $words == *throughput* && $words == *chain* ]] ||
    docs_fail "bash completion offers '$words' for a first word"
words=$(docs_complete hm-bench dht --)
[[ $words == *--failure-rate* && $words != *--vs-local* ]] ||
    docs_fail "bash completion offers '$words' after 'dht --'"
words=$(docs_complete hm-bench throughput --preset "")
[[ $words == *minimalistic* && $words == *ffn_small_batch_512clients* ]] ||
    docs_fail "bash completion offers '$words' after '--preset'"

docs_finish "$DOCS_CHECKED flags in hm-bench.1 and the bash, zsh and fish completions"
