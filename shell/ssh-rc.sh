# ~/.ssh/rc from ssh-anchor (ssh-anchor rc > ~/.ssh/rc): sshd runs it with /bin/sh at every
# login. It points ssh-anchor's link at this login's agent, then does what sshd does itself when
# no ~/.ssh/rc exists: hands the X11 cookie to xauth. It must write nothing to stdout.
if [ -n "$__ssh_anchor_dir" ] && [ -S "${SSH_AUTH_SOCK:-}" ] && [ ! -L "$SSH_AUTH_SOCK" ] && [ -O "$SSH_AUTH_SOCK" ] &&
  [ ! -L "${SSH_AUTH_SOCK%/*}" ] && [ -O "${SSH_AUTH_SOCK%/*}" ]; then
  case $__ssh_anchor_dir in "${HOME:-}"/.ssh/*) [ -d "$HOME/.ssh" ] || mkdir -m 700 "$HOME/.ssh" ;; esac
  [ -d "$__ssh_anchor_dir" ] || mkdir -m 700 "$__ssh_anchor_dir"
  if [ -d "$__ssh_anchor_dir" ] && [ -O "$__ssh_anchor_dir" ] && [ ! -L "$__ssh_anchor_dir" ]; then
    # The target beside the link, for the shell's check (shell/link.sh) to read without a fork.
    printf '%s\n' "$SSH_AUTH_SOCK" >"$__ssh_anchor_dir/link.sock.target" && ln -sfn "$SSH_AUTH_SOCK" "$__ssh_anchor_dir/link.sock"
  else
    printf 'ssh-anchor: cannot keep the link in %s: it is not a directory of yours\n' "$__ssh_anchor_dir" >&2
  fi
fi
unset __ssh_anchor_dir
# X11 forwarding: sshd passes "protocol cookie" on standard input (see sshd(8), SSHRC).
if read proto cookie && [ -n "${DISPLAY:-}" ]; then
  case $DISPLAY in
    localhost:*) echo add "unix:${DISPLAY#localhost:}" "$proto" "$cookie" ;;
    *) echo add "$DISPLAY" "$proto" "$cookie" ;;
  esac | xauth -q -
fi
