#!/bin/sh
# Shows the problem ssh-anchor solves, then the same steps through ssh-anchor, in a sandbox of
# its own (it does not touch your real setup, and needs no root): "logins" come and go, each
# with a forwarded agent (a real ssh-agent where sshd would put one), and a tmux pane started
# during the first keeps the SSH_AUTH_SOCK it was started with.
set -eu
command -v ssh-agent >/dev/null || { echo "demo: needs OpenSSH's ssh-agent (apt-get install openssh-client)" >&2; exit 1; }
# ssh-anchor from PATH, or this checkout's (after npm run build).
anchor=$(command -v ssh-anchor || true)
[ -n "$anchor" ] || anchor=$(cd "$(dirname "$0")/.." && pwd)/bin/ssh-anchor
[ -x "$anchor" ] || { echo "demo: no ssh-anchor on PATH, and none built here (npm run build)" >&2; exit 1; }
sandbox=$(mktemp -d /tmp/ssh-anchor-demo.XXXXXX)
socket=$sandbox/anchor/agent.sock
agents=$sandbox/tmp
mkdir -m 700 "$agents" "$sandbox/home"
# A home of its own too: the daemon reads ~/.ssh/agent and makes its directories there.
HOME=$sandbox/home
export HOME
agent_pids=
cleanup() {
  "$anchor" stop --socket "$socket" >/dev/null 2>&1 || true
  for p in $agent_pids; do kill "$p" 2>/dev/null || true; done
  rm -rf "$sandbox"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A stand-in for a login's forwarded agent: a real ssh-agent where sshd would put one.
login() { # name -> starts an agent holding a key named after the login; $pid, $sock
  mkdir -m 700 "$agents/ssh-$1"
  sock=$agents/ssh-$1/agent.9000000
  ssh-agent -D -a "$sock" >/dev/null 2>&1 &
  pid=$!
  agent_pids="$agent_pids $pid"
  ssh-keygen -q -t ed25519 -N '' -C "key-of-$1" -f "$sandbox/$1.key"
  while ! SSH_AUTH_SOCK=$sock ssh-add "$sandbox/$1.key" 2>/dev/null; do sleep 0.05; done
  # Nothing to wait for: the daemon looks for new logins when a connection asks (the first
  # request after a login finds it).
}
logout() { # name pid: the login ends, sshd removes its socket
  kill "$2"
  while kill -0 "$2" 2>/dev/null; do sleep 0.05; done
  rm -rf "$agents/ssh-$1"
}
# Bold headings only on a terminal, never with NO_COLOR.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$(printf '\033[1m'); plain=$(printf '\033[0m'); else bold=; plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
in_pane() { # the SSH_AUTH_SOCK the pane was started with
  echo "pane\$ ssh-add -l"
  SSH_AUTH_SOCK=$1 ssh-add -l 2>&1 || true
}

printf '%sWITHOUT ssh-anchor%s\n' "$bold" "$plain"
step "login 1 arrives with a forwarded agent; you start tmux, and its pane copies login 1's SSH_AUTH_SOCK"
login one; one_pid=$pid
pane=$sock
in_pane "$pane"

step "login 1 ends (the laptop slept, the Wi-Fi dropped); you log in again and attach the same tmux"
logout one "$one_pid"
login two; two_pid=$pid
echo "(login 2's agent is at $sock, but the pane still holds $pane)"
in_pane "$pane"
echo "^ the failure: every ssh, git push or scp in that pane fails until you fix SSH_AUTH_SOCK by hand"
logout two "$two_pid"

printf '\n%sTHE SAME STEPS WITH ssh-anchor%s\n' "$bold" "$plain"
step "ssh-anchor $("$anchor" --version): the daemon serves one stable socket (the init line in your rc points SSH_AUTH_SOCK there)"
"$anchor" start --socket "$socket" --tmp-dir "$agents"

step "login 1 arrives; you start tmux, and its pane copies the stable socket"
login first; first_pid=$pid
pane=$socket
in_pane "$pane"

step "login 1 ends; you log in again and attach the same tmux: the pane reaches login 2's agent"
logout first "$first_pid"
login second; second_pid=$pid
in_pane "$pane"

step "login 3 arrives while login 2 stays: the newest login is used; when it ends, login 2 again"
login third; third_pid=$pid
in_pane "$pane"
logout third "$third_pid"
in_pane "$pane"

step "every login ends: an immediate, clean 'no identities' instead of an error or a hang"
logout second "$second_pid"
in_pane "$pane"

step "status (connections: each ssh-add -l above, and start's check; requests: what ssh-add sent)"
"$anchor" status --socket "$socket"
