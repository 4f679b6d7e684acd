# fish completion for hm-moe(1). Keep in step with tools/hm-moe/main.cpp
# (tests/e2e/docs_hm_moe_test.sh checks that every flag of "hm-moe --help"
# and of each subcommand's --help is here). Install in ~/.config/fish/completions/.
#
#   hm-moe [--log-level L] [--config FILE] forward --dht ADDR --prefix P --grid AxB [options]
#   hm-moe [--log-level L] [--config FILE] backward --dht ADDR --prefix P --grid AxB -g FILE [options]
#   hm-moe [--log-level L] [--config FILE] train --dht ADDR --prefix P --grid AxB [--data DIR] [options]

set -l commands forward backward train
set -l swarm "__fish_seen_subcommand_from $commands"
set -l layer "__fish_seen_subcommand_from forward backward"
set -l train "__fish_seen_subcommand_from train"

complete -c hm-moe -f

# Subcommands
complete -c hm-moe -n "not __fish_seen_subcommand_from $commands" -a forward -d 'Run the layer on -i, print its output'
complete -c hm-moe -n "not __fish_seen_subcommand_from $commands" -a backward -d 'Run forward, then backward with -g; print the input gradient'
complete -c hm-moe -n "not __fish_seen_subcommand_from $commands" -a train -d 'Train a classifier of remote mixtures with asynchronous trainers'

# Options of hm-moe itself (before the subcommand)
complete -c hm-moe -s h -l help -d 'Print a summary of the options and exit'
complete -c hm-moe -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version and exit'
complete -c hm-moe -n "not __fish_seen_subcommand_from $commands" -l log-level -x -a 'trace debug info warn error off' -d 'Log verbosity on stderr'
complete -c hm-moe -n "not __fish_seen_subcommand_from $commands" -l log-format -x -a 'text json' -d 'Log lines as text, or as json (one object per line)'
complete -c hm-moe -n "not __fish_seen_subcommand_from $commands" -l config -r -F -d 'Read options from a TOML/INI file'

# The layer (forward, backward and train)
complete -c hm-moe -n $swarm -l dht -x -d 'A DHT node to join through (HOST:PORT, repeat for several)'
complete -c hm-moe -n $swarm -l prefix -x -d 'Expert uid prefix, e.g. ffn (uids ffn.i.j)'
complete -c hm-moe -n $swarm -l grid -x -a '4x4 8x8 16x16 8x8x8' -d 'Grid size per dimension, e.g. 4x4'
complete -c hm-moe -n $swarm -l k-best -x -d 'Experts per sample'

# Failures and timeouts
complete -c hm-moe -n $swarm -l k-min -x -d 'Answers needed (in all) for forward to succeed'
complete -c hm-moe -n $swarm -l forward-timeout -x -d 'Seconds for the whole forward, beam search included (0 = none)'
complete -c hm-moe -n $swarm -l timeout-after-k-min -x -d 'Once every sample has k-min answers, wait at most this much more'
complete -c hm-moe -n $swarm -l backward-k-min -x -d 'Gradients needed for backward to succeed'
complete -c hm-moe -n $swarm -l backward-timeout -x -d 'Seconds for backward (0 = none)'
complete -c hm-moe -n $swarm -l allow-zero-outputs -d 'Return zeros instead of failing when no expert answers'
complete -c hm-moe -n $swarm -l detect-anomalies -d 'Refuse non-finite inputs/gradients; drop experts with non-finite outputs'
complete -c hm-moe -n $swarm -l busy-poll -x -d 'Poll for expert replies for up to USEC microseconds instead of sleeping (0 = off)'

# Wire compression
complete -c hm-moe -n $swarm -l compression -x -a 'none float16 meanstd16 uniform8 quantile8 blockwise8' -d 'Compress the tensors sent to experts'
complete -c hm-moe -n $swarm -l compression-min-bytes -x -d 'With --compression: send tensors smaller than N bytes raw (default 4096)'

# The gate
complete -c hm-moe -n $layer -l gate -r -F -d 'Gating weights: .npy with weight then bias'
complete -c hm-moe -n $layer -l seed -x -d 'Seed for a fresh gate (without --gate)'
complete -c hm-moe -n $layer -l save-gate -r -F -d 'Write the gate used to this .npy file'

# Tensors
complete -c hm-moe -n $layer -s i -l input -r -F -d 'Input tensor (default: stdin)'
complete -c hm-moe -n $layer -s o -l output -r -F -d 'Write the result here instead of stdout'
complete -c hm-moe -n $layer -s f -l format -x -a 'npy text capnp' -d 'Tensor format'
complete -c hm-moe -n '__fish_seen_subcommand_from backward' -s g -l grad -r -F -d 'Gradient of the output (same shape)'

# Training (train)
complete -c hm-moe -n $train -s d -l hidden-dim -x -d 'Width d of the model (the experts\' --hidden-dim)'
complete -c hm-moe -n $train -s L -l blocks -x -d 'Mixture-of-experts blocks'
complete -c hm-moe -n $train -l steps -x -d 'Optimizer steps in all'
complete -c hm-moe -n $train -l batch-size -x -d 'Samples per step'
complete -c hm-moe -n $train -l trainers -x -d 'Trainer threads sharing the model'
complete -c hm-moe -n $train -l eval-every -x -d 'Steps between test evaluations (0 = only at the end)'
complete -c hm-moe -n $train -l eval-samples -x -d 'Test samples per evaluation (0 = the whole test set)'
complete -c hm-moe -n $train -l lr -x -d 'Adam learning rate of the local layers and gates'
complete -c hm-moe -n $train -l seed -x -d 'Seed for the local layers, gates and batches'
complete -c hm-moe -n $train -l data -x -a '(__fish_complete_directories)' -d 'Dataset directory ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz])'
complete -c hm-moe -n $train -l save -r -F -d 'Checkpoint here after every evaluation'
complete -c hm-moe -n $train -l resume -r -F -d 'Start from a --save checkpoint'
complete -c hm-moe -n $train -l json -d 'One JSON object per evaluation on stdout'
complete -c hm-moe -n $train -l metrics -x -d 'Serve Prometheus metrics at http://HOST:PORT/metrics (port 0 = any free port)'
complete -c hm-moe -n $train -l inject-failures -x -d 'Drop this fraction of expert calls (0..1)'
complete -c hm-moe -n $train -l latency-ms -x -d 'Mean of an exponential delay added to each expert call'
