# ssh-anchor link mode (no daemon) for fish: ssh-anchor init --link fish | source
# Keeps a symlink pointing at the newest live forwarded agent and points SSH_AUTH_SOCK at it.
# Repaired at every login, before every prompt and before every command; silent unless something
# is wrong.
set -g __ssh_anchor_link /tmp/ssh-anchor-(id -u)/link.sock
set -l __ssh_anchor_dir (string replace -r '/[^/]*$' '' -- $__ssh_anchor_link)
if test -n "$SSH_AUTH_SOCK"; and test "$SSH_AUTH_SOCK" != "$__ssh_anchor_link"
    # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
    set -gx SSH_ANCHOR_ORIGINAL_SOCK $SSH_AUTH_SOCK
    if test -S "$SSH_AUTH_SOCK"; and mkdir -p -m 700 $__ssh_anchor_dir; and test -O $__ssh_anchor_dir; and not test -L $__ssh_anchor_dir
        ln -sfn $SSH_AUTH_SOCK $__ssh_anchor_link
    end
end
function __ssh_anchor_check
    test -S "$__ssh_anchor_link"; and return 0
    set -q __ssh_anchor_retry_at; and test (date +%s) -lt $__ssh_anchor_retry_at; and return 0
    command ssh-anchor link --quiet </dev/null >/dev/null; or set -g __ssh_anchor_retry_at (math (date +%s) + 30)
end
__ssh_anchor_check
set -gx SSH_AUTH_SOCK $__ssh_anchor_link
# ssh-anchor: prompt hook
function __ssh_anchor_prompt --on-event fish_prompt --on-event fish_preexec
    __ssh_anchor_check
end
# ssh-anchor: end of prompt hook
