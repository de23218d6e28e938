# ssh-anchor shell integration for fish: ssh-anchor init fish | source
# Points SSH_AUTH_SOCK at one stable socket that always reaches a live forwarded agent, and
# starts the daemon behind it when it is not running. Silent unless something is wrong.
set -l __ssh_anchor_sock $SSH_ANCHOR_SOCKET
test -n "$__ssh_anchor_sock"; or set __ssh_anchor_sock /tmp/ssh-anchor-(id -u)/agent.sock
if test -n "$SSH_AUTH_SOCK"; and test "$SSH_AUTH_SOCK" != "$__ssh_anchor_sock"
    # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
    set -gx SSH_ANCHOR_ORIGINAL_SOCK $SSH_AUTH_SOCK
end
set -l __ssh_anchor_pid
if test -S "$__ssh_anchor_sock"; and test -r "$__ssh_anchor_sock.pid"
    read -l __ssh_anchor_line < "$__ssh_anchor_sock.pid"; and set __ssh_anchor_pid $__ssh_anchor_line
end
# Is that process the daemon? Its name says so (a reused pid does not); without /proc, the
# pid alone has to do.
set -l __ssh_anchor_name
if test -z "$__ssh_anchor_pid"
else if test -r /proc/$__ssh_anchor_pid/comm
    read -l __ssh_anchor_line < /proc/$__ssh_anchor_pid/comm; and set __ssh_anchor_name $__ssh_anchor_line
else if not test -d /proc/self; and kill -0 $__ssh_anchor_pid 2>/dev/null
    set __ssh_anchor_name ssh-anchor
end
# Running already: no Node start-up (and on Linux no fork at all). Otherwise start it, detached.
if string match -q 'ssh-anchor*' -- "$__ssh_anchor_name"
    set -gx SSH_AUTH_SOCK $__ssh_anchor_sock
else if command ssh-anchor start --quiet --socket $__ssh_anchor_sock </dev/null >/dev/null
    set -gx SSH_AUTH_SOCK $__ssh_anchor_sock
end
