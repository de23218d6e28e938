# ssh-anchor shell integration for bash, zsh and POSIX sh: eval "$(ssh-anchor init bash)".
# Points SSH_AUTH_SOCK at one stable socket that always reaches a live forwarded agent, and
# starts the daemon behind it when it is not running. Silent unless something is wrong.
__ssh_anchor_sock=
[ -z "$__ssh_anchor_dir" ] || __ssh_anchor_sock=${SSH_ANCHOR_SOCKET:-$__ssh_anchor_dir/agent.sock}
if [ -n "${SSH_AUTH_SOCK:-}" ] && [ "$SSH_AUTH_SOCK" != "$__ssh_anchor_sock" ]; then
  # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
  SSH_ANCHOR_ORIGINAL_SOCK="$SSH_AUTH_SOCK"
  export SSH_ANCHOR_ORIGINAL_SOCK
fi
# Running already? Only what is provably ours counts (the rule of src/shared/core/trust.ts, in
# built-ins): the directory, the socket and the pid file owned by us and not symlinks, and the
# pid's process ours (the owner of /proc/PID) and named ssh-anchor (a reused pid is not).
__ssh_anchor_pid=
if [ -n "$__ssh_anchor_sock" ] && [ -d "$__ssh_anchor_dir" ] && [ ! -L "$__ssh_anchor_dir" ] && [ -O "$__ssh_anchor_dir" ] &&
  [ -S "$__ssh_anchor_sock" ] && [ ! -L "$__ssh_anchor_sock" ] && [ -O "$__ssh_anchor_sock" ] &&
  [ -f "$__ssh_anchor_sock.pid" ] && [ ! -L "$__ssh_anchor_sock.pid" ] && [ -O "$__ssh_anchor_sock.pid" ]; then
  read -r __ssh_anchor_pid <"$__ssh_anchor_sock.pid" || __ssh_anchor_pid=
fi
case $__ssh_anchor_pid in '' | *[!0-9]*) __ssh_anchor_pid= ;; esac
__ssh_anchor_name=
if [ -z "$__ssh_anchor_pid" ]; then
  :
elif [ -r "/proc/$__ssh_anchor_pid/comm" ]; then
  [ -O "/proc/$__ssh_anchor_pid" ] && read -r __ssh_anchor_name <"/proc/$__ssh_anchor_pid/comm" || __ssh_anchor_name=
elif [ ! -d /proc/self ] && kill -0 "$__ssh_anchor_pid" 2>/dev/null; then
  # Without /proc, signal 0 succeeds only for a process of ours.
  __ssh_anchor_name=ssh-anchor
fi
# Running already: plain shell, no Node start-up. Otherwise start it, fully detached; it says
# where it serves (it makes the choice of location.sh again, with the checks a shell cannot make).
case $__ssh_anchor_name in
  ssh-anchor*) __ssh_anchor_name=running ;;
  *)
    if [ -n "$__ssh_anchor_dir" ] && __ssh_anchor_sock=$(command "$__ssh_anchor_bin" start --print-socket </dev/null) && [ -n "$__ssh_anchor_sock" ]; then
      __ssh_anchor_name=running
    fi
    ;;
esac
if [ "$__ssh_anchor_name" = running ]; then
  SSH_AUTH_SOCK="$__ssh_anchor_sock"
  export SSH_AUTH_SOCK
fi
unset __ssh_anchor_dir __ssh_anchor_sock __ssh_anchor_pid __ssh_anchor_name __ssh_anchor_bin
