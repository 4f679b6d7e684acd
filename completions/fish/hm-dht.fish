# fish completion for hm-dht(1). Keep in step with tools/hm-dht/main.cpp
# (tests/e2e/dht_docs_test.sh checks that every flag of "hm-dht --help" and
# of each subcommand's --help is here). Install in ~/.config/fish/completions/.
#
#   hm-dht [--listen HOST:PORT] [--peers ADDR...] [--nodes N] [--report-every S] [--allow-alone]
#   hm-dht store --peers ADDR KEY VALUE [--subkey S] [--ttl SECONDS]
#   hm-dht get --peers ADDR KEY [--latest] [--json]
#   hm-dht ping ADDR
#   hm-dht experts --peers ADDR TARGET... [--grid AxB] [--json]

set -l commands store get ping experts

complete -c hm-dht -f

# Subcommands
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -a store -d 'Store KEY = VALUE in the DHT'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -a get -d 'Print the value of KEY'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -a ping -d "Print a node's id and the round-trip time"
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -a experts -d 'Print uid and address of every live expert under a uid or prefix'

# Options of hm-dht itself (running nodes)
complete -c hm-dht -s h -l help -d 'Print a summary of the options and exit'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version and exit'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l log-level -x -a 'trace debug info warn error off' -d 'Log verbosity on stderr'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l log-format -x -a 'text json' -d 'Log lines as text, or as json (one object per line)'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l config -r -F -d 'Read options from a TOML/INI file'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l listen -x -d 'UDP address of the (first) node (HOST:PORT)'
complete -c hm-dht -l peers -x -d 'Join the swarm through these nodes (HOST:PORT)'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l nodes -x -d 'Run this many nodes in this process'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l report-every -x -d 'Log routing-table size and stored keys every this many seconds'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l allow-alone -d 'When no --peers node answers, start a swarm of our own'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l dht-max-rps -x -d 'Requests per second served to one peer address (0 = no limit)'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l dht-max-value-bytes -x -d 'Largest value stored for others'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l dht-max-keys -x -d 'Keys stored for others'
complete -c hm-dht -n "not __fish_seen_subcommand_from $commands" -l metrics -x -d 'Serve Prometheus metrics at http://HOST:PORT/metrics (port 0 = any free port)'

# store
complete -c hm-dht -n '__fish_seen_subcommand_from store' -l subkey -x -d 'Store VALUE under this subkey of a dictionary value'
complete -c hm-dht -n '__fish_seen_subcommand_from store' -l ttl -x -d 'Seconds until the value expires'

# get
complete -c hm-dht -n '__fish_seen_subcommand_from get' -l latest -d 'Ask every replica and print the newest value'
complete -c hm-dht -n '__fish_seen_subcommand_from get' -l json -d 'Print JSON: value and expiration, or subkeys'

# experts
complete -c hm-dht -n '__fish_seen_subcommand_from experts' -l grid -x -a '4x4 8x8 16x16 8x8x8' -d 'Grid size: needed for a bare prefix such as ffn.'
complete -c hm-dht -n '__fish_seen_subcommand_from experts' -l json -d 'Print a JSON list of {uid, address}'
