# fish completion for hm-bench(1). Keep in step with tools/hm-bench/main.cpp
# (tests/e2e/bench_docs_test.sh checks that every flag of "hm-bench --help"
# and of each subcommand's --help is here). Install in ~/.config/fish/completions/.
#
#   hm-bench throughput [--preset NAME] [--experts N] [--clients N] ... [--vs-local] [--json]
#   hm-bench latency [--calls N] [--call forward|backward|info] [--server HOST:PORT] [--vs-tcp]
#   hm-bench dht [--peers N] [--experts N] [--batch N] [--failure-rate F]
#   hm-bench chain [--blocks L] [--jobs J] [--ping S...] [--backprop]
#   hm-bench compression [--size N] [--repeats N] [--kinds KIND...]

set -l commands throughput latency dht chain compression
set -l kinds 'ffn transformer det_dropout nop nop_delay'
set -l compressions 'none float16 meanstd16 uniform8 quantile8 blockwise8'

complete -c hm-bench -f

# Subcommands
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -a throughput -d 'Server throughput against local compute (hivemind presets)'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -a latency -d 'Sequential round trips of one small call'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -a dht -d 'A DHT swarm in this process: store and get rates and times'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -a chain -d 'A chain of remote blocks with simulated latency, per ping'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -a compression -d 'Every wire compression kind on a randn tensor: bytes, error, speed'

# hm-bench itself
complete -c hm-bench -s h -l help -d 'Print a summary of the options and exit'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version and exit'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -l log-level -x -a 'trace debug info warn error off' -d 'Log verbosity on stderr'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -l log-format -x -a 'text json' -d 'Log lines as text, or as json (one object per line)'
complete -c hm-bench -n "not __fish_seen_subcommand_from $commands" -l config -r -F -d 'Read options from a TOML/INI file'

# Every subcommand
complete -c hm-bench -n "__fish_seen_subcommand_from $commands" -l json -d 'Print one JSON object instead of the report'
complete -c hm-bench -n "__fish_seen_subcommand_from $commands" -l no-progress -d 'Never draw the progress bar'
complete -c hm-bench -n "__fish_seen_subcommand_from $commands" -l busy-idle -d 'Keep idle CPUs polling while measuring (needs root)'
complete -c hm-bench -n "__fish_seen_subcommand_from $commands" -l seed -x -d 'Seed for inputs, choices and delays'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput latency dht chain' -l timeout -x -d 'Give up after this many seconds'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput latency chain' -l busy-poll -x -d 'Poll for a reply for up to USEC microseconds instead of sleeping (0 = off)'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput latency chain' -l server -x -d 'A running hm-serve (HOST:PORT)'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput latency chain' -l expert-cls -x -a "$kinds" -d 'Kind of expert'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput latency chain' -l hidden-dim -x -d 'Hidden size of the experts'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput latency chain' -l batch-size -x -d 'Rows per batch'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput latency' -l warmup -x -d 'Untimed batches or round trips first'

# throughput
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l preset -x -a 'default ffn_forward_backward ffn_forward ffn_small_batch ffn_small_batch_512clients ffn_massive minimalistic nop' -d "hivemind's preset"
complete -c hm-bench -n '__fish_seen_subcommand_from throughput dht' -l experts -x -d 'Experts on the server, or uids to declare'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l clients -x -d 'Concurrent clients'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l batches-per-client -x -d 'Timed batches per client'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l max-batch-size -x -d 'Largest batch of the server'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l no-backprop -d 'Forward calls only'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput chain' -l backprop -d 'Forward then backward for every batch'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l device -x -a 'cpu cuda' -d 'Where the experts run'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l client-processes -d 'One process per client'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l vs-local -d 'Also run the work without the network'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l rounds -x -d 'Client runs, alternating with the local one'
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l compression -x -a "$compressions" -d "Compress the requests (and the in-process server's responses)"
complete -c hm-bench -n '__fish_seen_subcommand_from throughput' -l compression-min-bytes -x -d 'With --compression: send tensors smaller than N bytes raw (default 4096)'

# latency
complete -c hm-bench -n '__fish_seen_subcommand_from latency' -l calls -x -d 'Timed round trips'
complete -c hm-bench -n '__fish_seen_subcommand_from latency' -l call -x -a 'forward backward info' -d 'Which call to time'
complete -c hm-bench -n '__fish_seen_subcommand_from latency' -l vs-tcp -d 'Also time plain TCP round trips between two threads: the floor'

# dht
complete -c hm-bench -n '__fish_seen_subcommand_from dht' -l peers -x -d 'DHT nodes'
complete -c hm-bench -n '__fish_seen_subcommand_from dht' -l batch -x -d 'Uids per store and get'
complete -c hm-bench -n '__fish_seen_subcommand_from dht' -l expiration -x -d 'Seconds the declarations live'
complete -c hm-bench -n '__fish_seen_subcommand_from dht' -l failure-rate -x -d 'Fraction of peers stopped before the reads'

# chain
complete -c hm-bench -n '__fish_seen_subcommand_from chain' -l blocks -x -d 'Blocks in the chain'
complete -c hm-bench -n '__fish_seen_subcommand_from chain' -l jobs -x -d 'Concurrent trainers'
complete -c hm-bench -n '__fish_seen_subcommand_from chain' -l batches -x -d 'Batches per trainer'
complete -c hm-bench -n '__fish_seen_subcommand_from chain' -l latency-batches -x -d 'Batches of the sequential phase'
complete -c hm-bench -n '__fish_seen_subcommand_from chain' -l ping -x -d 'Mean delay per hop in seconds (several: a sweep)'

# compression
complete -c hm-bench -n '__fish_seen_subcommand_from compression' -l size -x -d 'Values in the tensor (default 10000000)'
complete -c hm-bench -n '__fish_seen_subcommand_from compression' -l repeats -x -d 'Encodes and decodes per kind; the fastest counts'
complete -c hm-bench -n '__fish_seen_subcommand_from compression' -l kinds -x -a "$compressions" -d 'Only these kinds (several values)'
