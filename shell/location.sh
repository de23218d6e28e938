# Where ssh-anchor's private directory is, the same choice as src/shared/core/location.ts: the
# directory of $SSH_ANCHOR_SOCKET; else ~/.ssh/anchor-<hostname>, where no other user can make
# a name; else (no home of ours, a path too long to bind, a ~/.ssh that is not ours)
# $XDG_RUNTIME_DIR/ssh-anchor; else /tmp/ssh-anchor-$UID, but only when it is missing or a real
# directory of ours. Sets __ssh_anchor_dir (empty when there is no usable place, said in one
# line). Built-ins only: it runs at every shell start.
__ssh_anchor_dir=
if [ -n "${SSH_ANCHOR_SOCKET:-}" ]; then
  case $SSH_ANCHOR_SOCKET in
    /*) __ssh_anchor_dir=${SSH_ANCHOR_SOCKET%/*} ;;
    *) printf 'ssh-anchor: SSH_ANCHOR_SOCKET must be an absolute path, not "%s"; SSH_AUTH_SOCK left as it was\n' "$SSH_ANCHOR_SOCKET" >&2 ;;
  esac
else
  __ssh_anchor_host=
  [ -r /proc/sys/kernel/hostname ] && read -r __ssh_anchor_host </proc/sys/kernel/hostname
  [ -n "$__ssh_anchor_host" ] || __ssh_anchor_host=$(uname -n)
  case ${HOME:-}:$__ssh_anchor_host in
    /*:*/* | /*:) ;;
    /*:*)
      # 92 bytes leave room for /agent.sock.ctl in a socket address (107 bytes).
      if [ "${#HOME}" -le $((92 - 13 - ${#__ssh_anchor_host})) ] && [ -d "$HOME" ] && [ -O "$HOME" ] &&
        { [ ! -e "$HOME/.ssh" ] && [ ! -L "$HOME/.ssh" ] ||
        { [ -d "$HOME/.ssh" ] && [ ! -L "$HOME/.ssh" ] && [ -O "$HOME/.ssh" ]; }; }; then
        __ssh_anchor_dir=$HOME/.ssh/anchor-$__ssh_anchor_host
      fi
      ;;
  esac
  unset __ssh_anchor_host
  # No home for it: XDG_RUNTIME_DIR, when it is a real directory of ours (logind makes it 0700).
  if [ -z "$__ssh_anchor_dir" ] && [ -n "${XDG_RUNTIME_DIR:-}" ]; then
    case $XDG_RUNTIME_DIR in
      /*) if [ "${#XDG_RUNTIME_DIR}" -le 81 ] && [ -d "$XDG_RUNTIME_DIR" ] && [ ! -L "$XDG_RUNTIME_DIR" ] && [ -O "$XDG_RUNTIME_DIR" ]; then
        __ssh_anchor_dir=$XDG_RUNTIME_DIR/ssh-anchor
      fi ;;
    esac
  fi
  __ssh_anchor_tmp=/tmp/ssh-anchor-${UID:-$(id -u)}
  if { [ -e "$__ssh_anchor_tmp" ] || [ -L "$__ssh_anchor_tmp" ]; } &&
    { [ -L "$__ssh_anchor_tmp" ] || [ ! -d "$__ssh_anchor_tmp" ] || [ ! -O "$__ssh_anchor_tmp" ]; }; then
    # Someone else got to the name first: it is never used or looked into. Said once per login.
    if [ -z "$__ssh_anchor_dir" ]; then
      printf 'ssh-anchor: %s is not yours (another user made it) and your home cannot hold the socket; set SSH_ANCHOR_SOCKET to a path of your own (ssh-anchor doctor names the owner)\n' "$__ssh_anchor_tmp" >&2
    elif [ -z "${SSH_ANCHOR_SQUAT_SEEN:-}" ]; then
      printf 'ssh-anchor: warning: %s was made by another user, perhaps to intercept agents; it is not used (ssh-anchor doctor names the owner)\n' "$__ssh_anchor_tmp" >&2
      SSH_ANCHOR_SQUAT_SEEN=1
      export SSH_ANCHOR_SQUAT_SEEN
    fi
  elif [ -z "$__ssh_anchor_dir" ]; then
    __ssh_anchor_dir=$__ssh_anchor_tmp
  fi
  unset __ssh_anchor_tmp
fi
