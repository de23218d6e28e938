# ssh-anchor link mode (no daemon) for fish: ssh-anchor init --link fish | source
# Keeps a symlink pointing at the newest live forwarded agent and points SSH_AUTH_SOCK at it.
# Repaired at every login, before every prompt and before every command; silent unless something
# is wrong.
set -g __ssh_anchor_link
test -n "$__ssh_anchor_dir"; and set __ssh_anchor_link $__ssh_anchor_dir/link.sock
# A socket of ours in a real directory of ours, neither a symlink: another user can make neither,
# nor swap what is inside (the rule of src/shared/core/trust.ts, in built-ins).
function __ssh_anchor_own_socket
    set -l dir (string replace -r '/[^/]*$' '' -- $argv[1])
    test -d "$dir" && ! test -L "$dir" && test -O "$dir" && test -S "$argv[1]" && ! test -L "$argv[1]" && test -O "$argv[1]"
end
# Any socket in ssh-anchor's own directory (the link, the daemon's stable or a scoped socket,
# which a tmux session or connect may have handed this shell) is not a login's agent.
if test -n "$__ssh_anchor_link"; and test -n "$SSH_AUTH_SOCK"; and test (string replace -r '/[^/]*$' '' -- $SSH_AUTH_SOCK) != (string replace -r '/[^/]*$' '' -- $__ssh_anchor_link)
    # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
    set -gx SSH_ANCHOR_ORIGINAL_SOCK $SSH_AUTH_SOCK
    # A new login: its socket is the newest, so the link follows it, in a directory of ours. Its
    # target is written beside it (link.sock.target), for the check below to read without a fork.
    if __ssh_anchor_own_socket $SSH_AUTH_SOCK
        string match -q "$HOME/.ssh/*" -- $__ssh_anchor_dir && ! test -d $HOME/.ssh && mkdir -m 700 $HOME/.ssh
        test -d $__ssh_anchor_dir; or mkdir -m 700 $__ssh_anchor_dir
        if test -d $__ssh_anchor_dir && ! test -L $__ssh_anchor_dir && test -O $__ssh_anchor_dir
            printf '%s\n' $SSH_AUTH_SOCK >$__ssh_anchor_link.target && ln -sfn $SSH_AUTH_SOCK $__ssh_anchor_link
        end
    end
end
set -e __ssh_anchor_dir
# The link works when its directory is ours and its target (as written beside it) is a socket of
# ours in a directory of ours. Otherwise remove it, then point it at another live one if there is
# one; after a failed look the next one waits 30 s.
function __ssh_anchor_check
    test -n "$__ssh_anchor_link"; or return 0
    set -l dir (string replace -r '/[^/]*$' '' -- $__ssh_anchor_link)
    set -l target
    if test -d $dir && ! test -L $dir && test -O $dir && test -f $__ssh_anchor_link.target &&
            ! test -L $__ssh_anchor_link.target && test -O $__ssh_anchor_link.target
        read target <$__ssh_anchor_link.target
    end
    test -n "$target" && __ssh_anchor_own_socket $target && test -L $__ssh_anchor_link && return 0
    # Not proven the user's: the link leads nowhere until a live agent of the user's is found
    # (its old target's name is anyone's to re-create once a login has ended).
    if begin; test -L $__ssh_anchor_link; or test -e $__ssh_anchor_link.target; end
        and test -d $dir && ! test -L $dir && test -O $dir
        command rm -f -- $__ssh_anchor_link $__ssh_anchor_link.target
    end
    set -q __ssh_anchor_retry_at; and test (date +%s) -lt $__ssh_anchor_retry_at; and return 0
    command $__ssh_anchor_bin link --quiet </dev/null >/dev/null; or set -g __ssh_anchor_retry_at (math (date +%s) + 30)
end
__ssh_anchor_check
test -n "$__ssh_anchor_link"; and set -gx SSH_AUTH_SOCK $__ssh_anchor_link
# ssh-anchor: prompt hook
function __ssh_anchor_prompt --on-event fish_prompt --on-event fish_preexec
    __ssh_anchor_check
end
# ssh-anchor: end of prompt hook
