# Where ssh-anchor's private directory is (the same choice as src/core/location.ts): the
# directory of $SSH_ANCHOR_SOCKET, else /tmp/ssh-anchor-$UID, else, when someone else got to that
# name first, ~/.ssh/anchor-<hostname>. Sets __ssh_anchor_dir (empty when there is none) and
# __ssh_anchor_squat (non-empty when the default is someone else's). Built-ins only.
__ssh_anchor_dir=/tmp/ssh-anchor-${UID:-$(id -u)}
__ssh_anchor_squat=
if [ -n "${SSH_ANCHOR_SOCKET:-}" ]; then
  case $SSH_ANCHOR_SOCKET in
    /*) __ssh_anchor_dir=${SSH_ANCHOR_SOCKET%/*} ;;
    *)
      printf 'ssh-anchor: SSH_ANCHOR_SOCKET must be an absolute path, not "%s"; SSH_AUTH_SOCK left as it was\n' "$SSH_ANCHOR_SOCKET" >&2
      __ssh_anchor_dir=
      ;;
  esac
elif [ -e "$__ssh_anchor_dir" ] || [ -L "$__ssh_anchor_dir" ]; then
  # Ours only if a real directory owned by us: anything else is never looked into.
  if [ -L "$__ssh_anchor_dir" ] || [ ! -d "$__ssh_anchor_dir" ] || [ ! -O "$__ssh_anchor_dir" ]; then
    __ssh_anchor_squat=$__ssh_anchor_dir
    __ssh_anchor_host=
    [ -r /proc/sys/kernel/hostname ] && read -r __ssh_anchor_host </proc/sys/kernel/hostname
    [ -n "$__ssh_anchor_host" ] || __ssh_anchor_host=$(uname -n)
    case $__ssh_anchor_host in
      */* | '') __ssh_anchor_dir= ;;
      *) case ${HOME:-} in /*) __ssh_anchor_dir=$HOME/.ssh/anchor-$__ssh_anchor_host ;; *) __ssh_anchor_dir= ;; esac ;;
    esac
    unset __ssh_anchor_host
  fi
fi
