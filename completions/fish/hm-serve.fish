# fish completion for hm-serve(1). Keep in step with tools/hm-serve/main.cpp
# (tests/e2e/docs_hm_serve_call_test.sh checks that every flag of
# "hm-serve --help" is here). Install in ~/.config/fish/completions/.

complete -c hm-serve -f

# Common options
complete -c hm-serve -s h -l help -d 'Print a summary of the options and exit'
complete -c hm-serve -l version -d 'Print the version and exit'
complete -c hm-serve -l log-level -x -a 'trace debug info warn error off' -d 'Log verbosity on stderr'
complete -c hm-serve -l log-format -x -a 'text json' -d 'Log lines as text, or as json (one object per line)'
complete -c hm-serve -l config -r -F -d 'Read options from a TOML/INI file'

# Address
complete -c hm-serve -s l -l listen -x -d 'HOST:PORT to listen on (port 0 = any free port)'

# Experts
complete -c hm-serve -l expert-uids -x -d 'Host exactly these uids (e.g. ffn.0.0 ffn.0.1)'
complete -c hm-serve -s n -l num-experts -x -d 'Host this many experts'
complete -c hm-serve -l expert-pattern -x -d "Pick uids from a grid, e.g. 'ffn.[0:4].[0:4]'"
complete -c hm-serve -l expert-cls -x -a 'ffn transformer det_dropout nop nop_delay' -d 'Built-in expert kind'
complete -c hm-serve -l hidden-dim -x -d 'Hidden size of the built-in experts'
complete -c hm-serve -l module -r -F -d 'Host this TorchScript module file under every uid'
complete -c hm-serve -l module-inputs -x -d "Inputs of --module, e.g. 'float32[*,64]'"

# Batching
complete -c hm-serve -l max-batch-size -x -d 'Most rows in one batch'
complete -c hm-serve -l min-batch-size -x -d 'Wait for this many rows before running a batch'
complete -c hm-serve -l max-wait-ms -x -d 'Longest a request waits for --min-batch-size rows'
complete -c hm-serve -l device -x -a 'cpu cuda' -d 'Device to run the experts on (cpu, cuda, cuda:N)'

# Training
complete -c hm-serve -l optimizer -x -a 'adam sgd none' -d 'Optimizer stepped on every backward batch'
complete -c hm-serve -l lr -x -d 'Learning rate (default 0.001 for adam, 0.01 for sgd)'
complete -c hm-serve -l clip-grad-norm -x -d 'Clip the gradient norm before a step (0 = off)'
complete -c hm-serve -l seed -x -d 'Seed for expert weights and for --expert-pattern'

# Compression
complete -c hm-serve -l compression -x -a 'none float16 meanstd16 uniform8 quantile8 blockwise8' -d 'Compress the outputs and input gradients it sends'
complete -c hm-serve -l compression-min-bytes -x -d 'With --compression: send tensors smaller than N bytes raw (default 4096)'

# Monitoring and limits
complete -c hm-serve -l stats-every -x -d 'Log throughput per pool every SECONDS (0 = off)'
complete -c hm-serve -l metrics -x -d 'Serve Prometheus metrics at http://HOST:PORT/metrics (port 0 = any free port)'
complete -c hm-serve -l busy-idle -d 'Keep idle CPUs polling (lower latency; root)'
complete -c hm-serve -l busy-poll -x -d 'Poll for a task result or the next call for up to USEC microseconds (0 = off)'
complete -c hm-serve -l max-connections -x -d 'Connections open at once (default 1024)'
complete -c hm-serve -l max-message-mb -x -d 'Refuse requests larger than this many MiB'
complete -c hm-serve -l max-tensor-elements -x -d 'Refuse a tensor with more elements'
complete -c hm-serve -l max-tensor-mb -x -d 'Refuse a tensor larger than this many MiB'
complete -c hm-serve -l max-tensors -x -d 'Refuse requests with more tensors'
complete -c hm-serve -l max-in-flight -x -d 'Unanswered calls allowed per connection'
complete -c hm-serve -l allow-nonfinite -d 'Serve inputs and gradients holding NaN or Inf'
complete -c hm-serve -l dht-max-rps -x -d 'With --dht: DHT requests per second served to one peer'
complete -c hm-serve -l dht-max-value-bytes -x -d 'With --dht: largest DHT value stored for others'
complete -c hm-serve -l dht-max-keys -x -d 'With --dht: DHT keys stored for others'

# DHT
complete -c hm-serve -l dht -x -d 'Join the DHT through these peers (HOST:PORT...) and declare every expert'
complete -c hm-serve -l update-period -x -d 'With --dht: re-declare the experts every SECONDS (default 30)'
complete -c hm-serve -l announce -x -a '(__fish_print_hostnames)' -d 'With --dht: the host clients should call'
complete -c hm-serve -l checkpoint-dir -x -a '(__fish_complete_directories)' -d 'Save experts to DIR/UID.pt; restore those found there at start'
complete -c hm-serve -l checkpoint-every -x -d 'With --checkpoint-dir: also save every SECONDS (0 = only at shutdown)'
