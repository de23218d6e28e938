# ssh-anchor per-identity shell integration for fish, for accounts several people log in to:
# ssh-anchor init --per-identity fish | source
# At login (SSH_AUTH_SOCK is the login's own forwarded socket) it asks ssh-anchor for the socket
# of this person's scope, the keys their agent offers, and exports it. A shell that already holds
# a scoped socket (a new pane in that person's tmux session) keeps it: no Node start-up. If the
# login cannot be scoped, one line says why and SSH_AUTH_SOCK stays the login's own socket:
# never the shared stable socket, which would reach whoever logged in last.
if set -q SSH_AUTH_SOCK; and test -n "$SSH_AUTH_SOCK"
    if string match -q -r '/id-[0-9a-f]{16}\.sock$' -- $SSH_AUTH_SOCK
        # The daemon serves it again after a restart (it remembers its scopes).
        test -S $SSH_AUTH_SOCK; or command $__ssh_anchor_bin start --quiet </dev/null >/dev/null
    else
        # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
        set -gx SSH_ANCHOR_ORIGINAL_SOCK $SSH_AUTH_SOCK
        set -l __ssh_anchor_scoped (command $__ssh_anchor_bin scope </dev/null)
        and test -n "$__ssh_anchor_scoped"
        and set -gx SSH_AUTH_SOCK $__ssh_anchor_scoped
    end
end
# gpg's redirect on this account leads to the daemon's ${SSH_ANCHOR_SCOPE_PREFIX}gpg.sock (libassuan
# expands it from gpg's environment): this shell's scope's gpg socket, or the shared one.
if set -q SSH_AUTH_SOCK; and string match -q -r '/id-[0-9a-f]{16}\.sock$' -- $SSH_AUTH_SOCK
    set -gx SSH_ANCHOR_SCOPE_PREFIX (string replace -r '^.*/(id-[0-9a-f]{16}\.)sock$' '$1' -- $SSH_AUTH_SOCK)
else
    set -e SSH_ANCHOR_SCOPE_PREFIX
end
# Inside tmux: the prefix leaves the server's global environment (its starter's) and joins
# update-environment beside SSH_AUTH_SOCK (see scoped.sh). Errors ignored, bounded.
if set -q TMUX; and test -n "$TMUX"; and command -q tmux
    set -l __ssh_anchor_tmux tmux
    command -q timeout; and set __ssh_anchor_tmux timeout 2 tmux
    set -l __ssh_anchor_update ($__ssh_anchor_tmux show-options -gv update-environment \; set-environment -gu SSH_ANCHOR_SCOPE_PREFIX 2>/dev/null </dev/null)
    contains -- SSH_ANCHOR_SCOPE_PREFIX $__ssh_anchor_update
    or $__ssh_anchor_tmux set-option -ga update-environment " SSH_ANCHOR_SCOPE_PREFIX" >/dev/null 2>&1 </dev/null
end
set -e __ssh_anchor_bin
