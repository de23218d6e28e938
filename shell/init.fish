# ssh-anchor shell integration for fish: ssh-anchor init fish | source
# Points SSH_AUTH_SOCK at one stable socket that always reaches a live forwarded agent, and
# starts the daemon behind it when it is not running. Silent unless something is wrong.
set -l __ssh_anchor_sock
if test -n "$__ssh_anchor_dir"
    set __ssh_anchor_sock $__ssh_anchor_dir/agent.sock
    test -n "$SSH_ANCHOR_SOCKET"; and set __ssh_anchor_sock $SSH_ANCHOR_SOCKET
end
if test -n "$SSH_AUTH_SOCK"; and test "$SSH_AUTH_SOCK" != "$__ssh_anchor_sock"
    # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
    set -gx SSH_ANCHOR_ORIGINAL_SOCK $SSH_AUTH_SOCK
end
# Running already? Only what is provably ours counts (the rule of src/shared/core/trust.ts): the
# directory, the socket and the pid file owned by us and not symlinks, and the pid's process
# ours (the owner of /proc/PID) and named ssh-anchor (a reused pid is not).
set -l __ssh_anchor_pid
if test -n "$__ssh_anchor_sock" && test -d $__ssh_anchor_dir && ! test -L $__ssh_anchor_dir && test -O $__ssh_anchor_dir &&
    test -S $__ssh_anchor_sock && ! test -L $__ssh_anchor_sock && test -O $__ssh_anchor_sock &&
    test -f $__ssh_anchor_sock.pid && ! test -L $__ssh_anchor_sock.pid && test -O $__ssh_anchor_sock.pid
    read -l __ssh_anchor_line <$__ssh_anchor_sock.pid; and string match -qr '^[0-9]+$' -- $__ssh_anchor_line; and set __ssh_anchor_pid $__ssh_anchor_line
end
set -l __ssh_anchor_name
if test -z "$__ssh_anchor_pid"
else if test -r /proc/$__ssh_anchor_pid/comm
    test -O /proc/$__ssh_anchor_pid; and read -l __ssh_anchor_line </proc/$__ssh_anchor_pid/comm; and set __ssh_anchor_name $__ssh_anchor_line
else if not test -d /proc/self; and kill -0 $__ssh_anchor_pid 2>/dev/null
    # Without /proc, signal 0 succeeds only for a process of ours.
    set __ssh_anchor_name ssh-anchor
end
# Running already: no Node start-up (and on Linux no fork at all). Otherwise start it, detached;
# it says where it serves (it makes the choice of location.fish again, with the checks a shell
# cannot make).
set -l __ssh_anchor_running
if string match -q 'ssh-anchor*' -- "$__ssh_anchor_name"
    set __ssh_anchor_running 1
else if test -n "$__ssh_anchor_dir"
    set -l __ssh_anchor_started (command $__ssh_anchor_bin start --print-socket </dev/null)
    and test -n "$__ssh_anchor_started"
    and set __ssh_anchor_sock $__ssh_anchor_started
    and set __ssh_anchor_running 1
end
if test -n "$__ssh_anchor_running"
    set -gx SSH_AUTH_SOCK $__ssh_anchor_sock
end
set -e __ssh_anchor_dir
set -e __ssh_anchor_bin
