#!/bin/sh
# Shows ssh-anchor at work in a sandbox of its own (it does not touch your real setup): two
# "logins" come and go, and one stable socket keeps reaching whichever agent is alive.
set -eu
command -v ssh-agent >/dev/null || { echo "demo: needs OpenSSH's ssh-agent (apt-get install openssh-client)" >&2; exit 1; }
sandbox=$(mktemp -d /tmp/ssh-anchor-demo.XXXXXX)
socket=$sandbox/anchor/agent.sock
agents=$sandbox/tmp
mkdir -m 700 "$agents"
cleanup() {
  ssh-anchor stop --socket "$socket" >/dev/null 2>&1 || true
  [ -n "${first_pid:-}" ] && kill "$first_pid" 2>/dev/null || true
  [ -n "${second_pid:-}" ] && kill "$second_pid" 2>/dev/null || true
  rm -rf "$sandbox"
}
trap cleanup EXIT INT TERM

# A stand-in for a login's forwarded agent: a real ssh-agent where sshd would put one.
login() { # name -> starts an agent holding a key named after the login
  mkdir -m 700 "$agents/ssh-$1"
  ssh-agent -D -a "$agents/ssh-$1/agent.9000000" >/dev/null 2>&1 &
  pid=$!
  ssh-keygen -q -t ed25519 -N '' -C "key-of-$1" -f "$sandbox/$1.key"
  while ! SSH_AUTH_SOCK="$agents/ssh-$1/agent.9000000" ssh-add "$sandbox/$1.key" 2>/dev/null; do sleep 0.05; done
  sleep 0.1 # the daemon notices new sockets within milliseconds; a human types slower
}
# Bold headings only on a terminal, never with NO_COLOR.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$(printf '\033[1m'); plain=$(printf '\033[0m'); else bold=; plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
anchored() { echo "\$ ssh-add -l"; SSH_AUTH_SOCK=$socket ssh-add -l || true; }

step "ssh-anchor $(ssh-anchor --version): start the daemon on a stable socket"
ssh-anchor start --socket "$socket" --tmp-dir "$agents"

step "login 1 arrives with a forwarded agent"
login first; first_pid=$pid
anchored

step "login 2 arrives: the newest login is used"
login second; second_pid=$pid
anchored

step "login 2 ends: the same socket now reaches login 1"
kill "$second_pid"; second_pid=
anchored

step "login 1 ends too: an immediate, clean 'no identities' instead of a hang"
kill "$first_pid"; first_pid=
anchored

step "status (connections: each ssh-add -l above, and start's check; requests: what ssh-add sent)"
ssh-anchor status --socket "$socket"
