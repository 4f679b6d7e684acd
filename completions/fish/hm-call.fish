# fish completion for hm-call(1). Keep in step with tools/hm-call/main.cpp
# (tests/e2e/docs_hm_serve_call_test.sh checks that every flag of
# "hm-call --help" is here). Install in ~/.config/fish/completions/.
#
#   hm-call --server HOST:PORT UID info|forward|backward [options]
#   hm-call --dht PEER [--dht PEER]... UID info|forward|backward [options]
#   hm-call --server HOST:PORT list
#
# With --server on the line, the uid is completed from the server's own list
# (one "hm-call list" call, given one second).

# Prints the positional words typed so far (uid, action), one per line.
# Every option takes one value (-i/-g/--dht: one per option, as in the binary).
function __hm_call_positionals
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for token in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $token
            case -s --server --dht -i --input -g --grad -o --output -f --format --timeout --compression --compression-min-bytes --log-level --log-format --config
                set skip 1
            case '-*'
            case '*'
                echo $token
        end
    end
end

# True when exactly $argv[1] positionals have been typed.
function __hm_call_npos
    test (count (__hm_call_positionals)) -eq $argv[1]
end

# True before the uid, when --dht is not on the line ('list' asks one server).
function __hm_call_can_list
    __hm_call_npos 0; or return 1
    not string match -q -r -- '^--dht' (commandline -opc)
end

function __hm_call_needs_action
    set -l positionals (__hm_call_positionals)
    test (count $positionals) -eq 1; and test "$positionals[1]" != list
end

# The uids of the server named by --server/-s on the line, if any.
function __hm_call_uids
    set -l tokens (commandline -opc)
    set -l server
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case -s --server
                set -l next (math $i + 1)
                if test $next -le (count $tokens)
                    set server $tokens[$next]
                end
            case '--server=*'
                set server (string replace -- '--server=' '' $tokens[$i])
        end
    end
    if test -n "$server"
        command hm-call --server $server --timeout 1 list 2>/dev/null
    end
end

complete -c hm-call -f

# Positionals: the uid (or list), then the action
complete -c hm-call -n __hm_call_can_list -a list -d 'Print every uid the server hosts'
complete -c hm-call -n '__hm_call_npos 0' -a '(__hm_call_uids)' -d 'Expert uid'
complete -c hm-call -n __hm_call_needs_action -a info -d "Print the expert's description"
complete -c hm-call -n __hm_call_needs_action -a forward -d 'Run the expert on input tensors'
complete -c hm-call -n __hm_call_needs_action -a backward -d 'Get input gradients (trains the expert)'

# Options
complete -c hm-call -s h -l help -d 'Print a summary of the options and exit'
complete -c hm-call -l version -d 'Print the version and exit'
complete -c hm-call -l log-level -x -a 'trace debug info warn error off' -d 'Log verbosity on stderr'
complete -c hm-call -l log-format -x -a 'text json' -d 'Log lines as text, or as json (one object per line)'
complete -c hm-call -l config -r -F -d 'Read options from a TOML/INI file'
complete -c hm-call -s s -l server -x -d 'Address of the hm-serve process (HOST:PORT)'
complete -c hm-call -l dht -x -d 'Find the server through the DHT, joining through this peer (repeatable)'
complete -c hm-call -s i -l input -r -F -d 'Input tensor file, one per option (- = stdin)'
complete -c hm-call -s g -l grad -r -F -d 'backward: gradient of an output, one file per option'
complete -c hm-call -s o -l output -r -F -d 'Write result tensors here instead of stdout'
complete -c hm-call -s f -l format -x -a 'npy text capnp' -d 'Tensor format in and out'
complete -c hm-call -l timeout -x -d 'Give up after this many seconds per call (0 = wait forever)'
complete -c hm-call -l compression -x -a 'none float16 meanstd16 uniform8 quantile8 blockwise8' -d 'Compress the request tensors it sends'
complete -c hm-call -l compression-min-bytes -x -d 'With --compression: send tensors smaller than N bytes raw (default 4096)'
complete -c hm-call -l json -d 'info and list: print JSON'
