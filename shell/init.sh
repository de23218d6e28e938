# ssh-anchor shell integration for bash, zsh and POSIX sh: eval "$(ssh-anchor init bash)".
# Points SSH_AUTH_SOCK at one stable socket that always reaches a live forwarded agent, and
# starts the daemon behind it when it is not running. Silent unless something is wrong.
__ssh_anchor_sock="${SSH_ANCHOR_SOCKET:-/tmp/ssh-anchor-${UID:-$(id -u)}/agent.sock}"
if [ -n "${SSH_AUTH_SOCK:-}" ] && [ "$SSH_AUTH_SOCK" != "$__ssh_anchor_sock" ]; then
  # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
  SSH_ANCHOR_ORIGINAL_SOCK="$SSH_AUTH_SOCK"
  export SSH_ANCHOR_ORIGINAL_SOCK
fi
__ssh_anchor_pid=
if [ -S "$__ssh_anchor_sock" ] && [ -r "$__ssh_anchor_sock.pid" ]; then
  read -r __ssh_anchor_pid < "$__ssh_anchor_sock.pid" || __ssh_anchor_pid=
fi
# Is that process the daemon? Its name says so (a reused pid does not); without /proc, the
# pid alone has to do.
__ssh_anchor_name=
if [ -z "$__ssh_anchor_pid" ]; then
  :
elif [ -r "/proc/$__ssh_anchor_pid/comm" ]; then
  read -r __ssh_anchor_name < "/proc/$__ssh_anchor_pid/comm" || __ssh_anchor_name=
elif [ ! -d /proc/self ] && kill -0 "$__ssh_anchor_pid" 2>/dev/null; then
  __ssh_anchor_name=ssh-anchor
fi
# Running already: plain shell, no Node start-up. Otherwise start it, fully detached.
case $__ssh_anchor_name in
  ssh-anchor*) __ssh_anchor_name=running ;;
  *) command ssh-anchor start --quiet --socket "$__ssh_anchor_sock" </dev/null >/dev/null && __ssh_anchor_name=running ;;
esac
if [ "$__ssh_anchor_name" = running ]; then
  SSH_AUTH_SOCK="$__ssh_anchor_sock"
  export SSH_AUTH_SOCK
fi
unset __ssh_anchor_sock __ssh_anchor_pid __ssh_anchor_name
