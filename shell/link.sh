# ssh-anchor link mode (no daemon) for bash, zsh and POSIX sh: eval "$(ssh-anchor init --link bash)".
# Keeps a symlink pointing at the newest live forwarded agent and points SSH_AUTH_SOCK at it.
# Repaired at every login, before every prompt and (bash 4.4+, zsh) before every command; silent
# unless something is wrong.
__ssh_anchor_link=
[ -z "$__ssh_anchor_dir" ] || __ssh_anchor_link=$__ssh_anchor_dir/link.sock
unset __ssh_anchor_dir
# A socket of ours in a real directory of ours, neither a symlink: another user can make neither,
# nor swap what is inside (the rule of src/shared/core/trust.ts, in built-ins).
__ssh_anchor_own_socket() {
  [ -d "${1%/*}" ] && [ ! -L "${1%/*}" ] && [ -O "${1%/*}" ] && [ -S "$1" ] && [ ! -L "$1" ] && [ -O "$1" ]
}
# Any socket in ssh-anchor's own directory (the link, the daemon's stable or a scoped socket,
# which a tmux session or connect may have handed this shell) is not a login's agent.
if [ -n "$__ssh_anchor_link" ] && [ -n "${SSH_AUTH_SOCK:-}" ] && [ "${SSH_AUTH_SOCK%/*}" != "${__ssh_anchor_link%/*}" ]; then
  # The login's own (forwarded) socket, kept for `ssh-anchor doctor` and for debugging.
  SSH_ANCHOR_ORIGINAL_SOCK="$SSH_AUTH_SOCK"
  export SSH_ANCHOR_ORIGINAL_SOCK
  # A new login: its socket is the newest, so the link follows it, in a directory of ours. Its
  # target is written beside it (link.sock.target), for the check below to read without a fork.
  if __ssh_anchor_own_socket "$SSH_AUTH_SOCK"; then
    __ssh_anchor_dir=${__ssh_anchor_link%/*}
    case $__ssh_anchor_dir in "${HOME:-}"/.ssh/*) [ -d "$HOME/.ssh" ] || mkdir -m 700 "$HOME/.ssh" ;; esac
    [ -d "$__ssh_anchor_dir" ] || mkdir -m 700 "$__ssh_anchor_dir"
    if [ -d "$__ssh_anchor_dir" ] && [ ! -L "$__ssh_anchor_dir" ] && [ -O "$__ssh_anchor_dir" ]; then
      printf '%s\n' "$SSH_AUTH_SOCK" >"$__ssh_anchor_link.target" && ln -sfn "$SSH_AUTH_SOCK" "$__ssh_anchor_link"
    fi
    unset __ssh_anchor_dir
  fi
fi
# The link works when its directory is ours and its target (as written beside it) is a socket of
# ours in a directory of ours. Otherwise, as when its login has ended or someone re-created that
# login's directory, remove it, then point it at another live one if there is one. Looking again costs a Node start, so after a
# failed look the next one waits 30 s.
__ssh_anchor_check() {
  [ -n "$__ssh_anchor_link" ] || return 0
  __ssh_anchor_target=
  [ -d "${__ssh_anchor_link%/*}" ] && [ ! -L "${__ssh_anchor_link%/*}" ] && [ -O "${__ssh_anchor_link%/*}" ] &&
    [ -f "$__ssh_anchor_link.target" ] && [ ! -L "$__ssh_anchor_link.target" ] && [ -O "$__ssh_anchor_link.target" ] &&
    read -r __ssh_anchor_target <"$__ssh_anchor_link.target"
  if [ -n "$__ssh_anchor_target" ] && __ssh_anchor_own_socket "$__ssh_anchor_target" && [ -L "$__ssh_anchor_link" ]; then
    unset __ssh_anchor_target
    return 0
  fi
  unset __ssh_anchor_target
  # Not proven the user's: the link must lead nowhere until a live agent of the user's is found
  # (its old target's name is anyone's to re-create once a login has ended). One fork, only when
  # there is something to remove, and only in a directory of ours.
  if { [ -L "$__ssh_anchor_link" ] || [ -e "$__ssh_anchor_link.target" ]; } &&
    [ -d "${__ssh_anchor_link%/*}" ] && [ ! -L "${__ssh_anchor_link%/*}" ] && [ -O "${__ssh_anchor_link%/*}" ]; then
    command rm -f -- "$__ssh_anchor_link" "$__ssh_anchor_link.target"
  fi
  [ "${SECONDS:-0}" -ge "${__ssh_anchor_retry_at:-0}" ] || return 0
  command "$__ssh_anchor_bin" link --quiet </dev/null >/dev/null || __ssh_anchor_retry_at=$((${SECONDS:-0} + 30))
}
__ssh_anchor_check
if [ -n "$__ssh_anchor_link" ]; then
  SSH_AUTH_SOCK="$__ssh_anchor_link"
  export SSH_AUTH_SOCK
fi
# ssh-anchor: prompt hook
if [ -n "${BASH_VERSION:-}" ]; then
  PROMPT_COMMAND="__ssh_anchor_check${PROMPT_COMMAND:+; $PROMPT_COMMAND}"
  # bash 4.4 and later also expand PS0 after reading a command, before running it: the same
  # check there, so a command typed at an old prompt finds the link repaired. It runs in a
  # subshell (one fork per command), which is enough: the link is a file.
  case ${PS0:-} in
    *__ssh_anchor_check*) ;;
    *) PS0='$(__ssh_anchor_check)'"${PS0:-}" ;;
  esac
elif [ -n "${ZSH_VERSION:-}" ]; then
  # zsh can also look just before each command runs, so even a command typed at an old prompt
  # finds the link repaired.
  eval 'precmd_functions+=(__ssh_anchor_check); preexec_functions+=(__ssh_anchor_check)'
fi
# ssh-anchor: end of prompt hook
