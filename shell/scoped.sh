# ssh-anchor per-identity shell integration for bash, zsh and POSIX sh, for accounts several
# people log in to: eval "$(ssh-anchor init --per-identity bash)".
# At login (SSH_AUTH_SOCK is the login's own forwarded socket) it asks ssh-anchor for the socket
# of this person's scope, the keys their agent offers, and exports it. A shell that already holds
# a scoped socket (a new pane in that person's tmux session) keeps it: no Node start-up. If the
# login cannot be scoped, one line says why and SSH_AUTH_SOCK stays the login's own socket:
# never the shared stable socket, which would reach whoever logged in last.
case ${SSH_AUTH_SOCK:-} in
  "") ;;
  */id-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].sock)
    # The daemon serves it again after a restart (it remembers its scopes).
    [ -S "$SSH_AUTH_SOCK" ] || command "$__ssh_anchor_bin" start --quiet </dev/null >/dev/null
    ;;
  *)
    # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
    SSH_ANCHOR_ORIGINAL_SOCK=$SSH_AUTH_SOCK
    export SSH_ANCHOR_ORIGINAL_SOCK
    if __ssh_anchor_scoped=$(command "$__ssh_anchor_bin" scope </dev/null) && [ -n "$__ssh_anchor_scoped" ]; then
      SSH_AUTH_SOCK=$__ssh_anchor_scoped
      export SSH_AUTH_SOCK
    fi
    unset __ssh_anchor_scoped
    ;;
esac
# gpg's redirect on this account leads to the daemon's ${SSH_ANCHOR_SCOPE_PREFIX}gpg.sock (libassuan
# expands it from gpg's environment): this shell's scope's gpg socket, or the shared one.
case ${SSH_AUTH_SOCK:-} in
  */id-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].sock)
    SSH_ANCHOR_SCOPE_PREFIX=${SSH_AUTH_SOCK##*/}
    SSH_ANCHOR_SCOPE_PREFIX=${SSH_ANCHOR_SCOPE_PREFIX%sock}
    export SSH_ANCHOR_SCOPE_PREFIX
    ;;
  *) unset SSH_ANCHOR_SCOPE_PREFIX ;;
esac
# Inside tmux: the server's global environment is its starter's, prefix and all, and a session
# made later without a shell (a window's command) would carry that person's prefix beside its
# own SSH_AUTH_SOCK. So the prefix leaves the global environment, and joins update-environment
# (beside SSH_AUTH_SOCK, which tmux copies from the client by default): a session gets the prefix
# of the login that made or attached it, or none. Errors ignored, bounded where timeout exists.
if [ -n "${TMUX:-}" ] && command -v tmux >/dev/null 2>&1; then
  __ssh_anchor_tmux() { if command -v timeout >/dev/null 2>&1; then timeout 2 tmux "$@"; else tmux "$@"; fi; }
  case " $(__ssh_anchor_tmux show-options -gv update-environment \; set-environment -gu SSH_ANCHOR_SCOPE_PREFIX 2>/dev/null </dev/null | tr '\n' ' ') " in
    *" SSH_ANCHOR_SCOPE_PREFIX "*) ;;
    *) __ssh_anchor_tmux set-option -ga update-environment " SSH_ANCHOR_SCOPE_PREFIX" >/dev/null 2>&1 </dev/null ;;
  esac
  unset -f __ssh_anchor_tmux
fi
unset __ssh_anchor_bin
