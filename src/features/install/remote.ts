import { shellQuote } from "../../shared/core/ssh-options.js";
import { printable } from "../../shared/core/text.js";
import { TIMING } from "../../shared/core/timing.js";

/**
 * The shell scripts install runs on the host, one per ssh round trip, and what they print back.
 * Each is POSIX sh, run as `sh -c '<script>'` so that the account's own login shell (bash, zsh,
 * fish...) only has to pass one quoted word on. They never contain a backslash pair (fish reads
 * `\\` inside single quotes as one backslash). Everything meant for install is a line
 * `ssh-anchor-install:<key>=<value>`; anything else (a start-up file that prints) is ignored,
 * and every value is treated as hostile: checked against what it may be, printed through
 * printable().
 */

const P = "ssh-anchor-install:";
/** Where install puts ssh-anchor on the host (npm's layout under the prefix ~/.local). */
export const REMOTE_PREFIX = "$HOME/.local";
export const REMOTE_BIN = `${REMOTE_PREFIX}/bin/ssh-anchor`;

/** The command line ssh sends: the script as one word for sh. */
export function remoteCommand(script: string): string {
  if (script.includes("\\\\")) throw new Error("a remote script must not contain a backslash pair (fish reads it as one)");
  return `sh -c ${shellQuote(script)}`;
}

const PRELUDE = [
  `P=${P}`,
  `b="${REMOTE_BIN}"`,
  `fail() { printf '%sfail=%s\\n' "$P" "$1"; [ -z "\${2:-}" ] || printf '%sdetail=%s\\n' "$P" "$2"; exit 1; }`,
  `d=$(mktemp -d "\${TMPDIR:-/tmp}/ssh-anchor-install.XXXXXX") || fail tmp`,
  `trap 'rm -rf "$d"' EXIT`,
];

function setupArgs(shell: string | undefined): string {
  return shell === undefined ? "" : ` --shell ${shellQuote(shell)}`;
}

/**
 * The probe: system, architecture, the Node on sshd's PATH, the tools install may use, the
 * account's shell, and the ssh-anchor already in ~/.local/bin (its version, its kind, whether
 * its setup is in place).
 */
export function probeScript(shell: string | undefined): string {
  return [
    ...PRELUDE,
    `printf '%sos=%s\\n' "$P" "$(uname -s 2>/dev/null)"`,
    `printf '%sarch=%s\\n' "$P" "$(uname -m 2>/dev/null)"`,
    `printf '%snode=%s\\n' "$P" "$(node --version 2>/dev/null </dev/null)"`,
    `for t in npm tar gzip ssh-add timeout; do command -v "$t" >/dev/null 2>&1 && printf '%shas=%s\\n' "$P" "$t"; done`,
    `printf '%sshell=%s\\n' "$P" "\${SHELL:-}"`,
    `o=$(command -v ssh-anchor 2>/dev/null) && printf '%sother=%s\\n' "$P" "$o"`,
    `if [ -e "$b" ] || [ -L "$b" ]; then`,
    `  printf '%sinstalled=%s\\n' "$P" "$("$b" --version 2>/dev/null </dev/null | head -n 1)"`,
    `  if [ -L "$b" ]; then printf '%skind=package\\n' "$P"; else printf '%skind=executable\\n' "$P"; fi`,
    `  s=$("$b" setup${setupArgs(shell)} --dry-run 2>&1 </dev/null)`,
    `  printf '%ssetup-status=%s\\n' "$P" "$?"`,
    `  printf '%ssetup=%s\\n' "$P" "$(printf '%s\\n' "$s" | tail -n 1)"`,
    `fi`,
    `printf '%send=yes\\n' "$P"`,
  ].join("\n");
}

/** What trip 2 installs. */
export type Payload =
  | { readonly kind: "package"; readonly size: number; readonly npm: boolean }
  | { readonly kind: "executable"; readonly size: number; readonly gzip: boolean };

/**
 * The copy (the payload on standard input), the install, a daemon of the old version stopped
 * (an upgrade), and setup: one round trip. Without a payload, setup only.
 */
export function installScript(payload: Payload | undefined, version: string, options: { restart: boolean; shell: string | undefined }): string {
  const v = shellQuote(version);
  const lines = [...PRELUDE, "umask 022", `l="${REMOTE_PREFIX}"`, `mkdir -p "$l/bin" || fail mkdir`];
  const sizeCheck = (file: string, size: number) => `[ "$(wc -c < "${file}" | tr -d ' ')" = ${size} ] || fail short`;
  if (payload?.kind === "package") {
    lines.push(`cat > "$d/ssh-anchor.tgz" || fail copy`, sizeCheck("$d/ssh-anchor.tgz", payload.size));
    if (payload.npm) {
      lines.push(
        // npm will not replace a file it did not make: a single executable there is moved aside (and back if npm fails).
        `if [ -e "$b" ] && [ ! -L "$b" ]; then mv -f "$b" "$d/old" || fail replace; fi`,
        `if ! npm install -g --prefix "$l" --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=error "$d/ssh-anchor.tgz" >"$d/log" 2>&1 </dev/null; then`,
        `  [ -e "$d/old" ] && mv -f "$d/old" "$b"`,
        `  fail npm "$(grep -v '^ *$' "$d/log" | tail -n 1)"`,
        `fi`,
      );
    } else {
      lines.push(
        `m="$l/lib/node_modules"`,
        `mkdir -p "$m" "$d/x" || fail mkdir`,
        `gzip -dc < "$d/ssh-anchor.tgz" | tar -xf - -C "$d/x" || fail unpack`,
        `rm -rf "$m/.ssh-anchor.old"`,
        `if [ -e "$m/ssh-anchor" ]; then mv "$m/ssh-anchor" "$m/.ssh-anchor.old" || fail replace; fi`,
        `mv "$d/x/package" "$m/ssh-anchor" || fail replace`,
        `rm -rf "$m/.ssh-anchor.old" "$l/bin/.ssh-anchor.new"`,
        `ln -s ../lib/node_modules/ssh-anchor/bin/ssh-anchor "$l/bin/.ssh-anchor.new" && mv -f "$l/bin/.ssh-anchor.new" "$b" || fail link`,
        `mkdir -p "$l/share/man/man1" && ln -sf ../../../lib/node_modules/ssh-anchor/man/ssh-anchor.1 "$l/share/man/man1/ssh-anchor.1"`,
      );
    }
  } else if (payload?.kind === "executable") {
    lines.push(
      `n="$l/bin/.ssh-anchor.new"`,
      `${payload.gzip ? "gzip -dc" : "cat"} > "$n" || fail copy`,
      sizeCheck("$n", payload.size),
      `chmod 755 "$n" || fail copy`,
      // It must run here (a musl system, a home mounted noexec) before it replaces anything.
      `r=$("$n" --version 2>"$d/err" </dev/null)`,
      `[ "$r" = ${v} ] || { rm -f "$n"; fail run "$(head -n 1 "$d/err")$r"; }`,
      `mv -f "$n" "$b" || fail replace`,
    );
  }
  lines.push(
    `r=$("$b" --version 2>"$d/err" </dev/null)`,
    payload ? `[ "$r" = ${v} ] || fail version "$(head -n 1 "$d/err")$r"` : `[ -n "$r" ] || fail version "$(head -n 1 "$d/err")"`,
    `printf '%sinstalled=%s\\n' "$P" "$r"`,
  );
  if (options.restart) lines.push(`[ "$("$b" stop 2>/dev/null </dev/null)" = "ssh-anchor stopped" ] && printf '%srestarted=yes\\n' "$P"`);
  lines.push(
    `s=$("$b" setup${setupArgs(options.shell)} 2>&1 </dev/null) || fail setup "$(printf '%s\\n' "$s" | tail -n 1)"`,
    `printf '%s\\n' "$s" | sed -n "s/^--- /\${P}changed=/p"`,
    `printf '%ssetup=%s\\n' "$P" "$(printf '%s\\n' "$s" | tail -n 1)"`,
    `printf '%send=yes\\n' "$P"`,
  );
  return lines.join("\n");
}

/**
 * The check, in a fresh `ssh -A` login: the daemon started (or found) by the installed binary,
 * `ssh-add -l` through the stable socket, and one interactive login shell of the account's own
 * (what an `ssh host` login and a tmux pane start) saying which socket its start-up files gave it.
 */
export function verifyScript(): string {
  return [
    ...PRELUDE,
    `s=$("$b" start --print-socket 2>"$d/err" </dev/null) || fail start "$(head -n 1 "$d/err")"`,
    `printf '%ssocket=%s\\n' "$P" "$s"`,
    `printf '%sforwarded=%s\\n' "$P" "\${SSH_AUTH_SOCK:-}"`,
    `if command -v ssh-add >/dev/null 2>&1; then`,
    `  k=$(SSH_AUTH_SOCK=$s ssh-add -l 2>&1 </dev/null)`,
    `  printf '%skeys-status=%s\\n' "$P" "$?"`,
    `  printf '%s\\n' "$k" | sed "s/^/\${P}key=/"`,
    `fi`,
    `case \${SHELL##*/} in`,
    `  bash | zsh | sh | dash | ksh | mksh | ash | fish)`,
    `    t=; command -v timeout >/dev/null 2>&1 && t="timeout ${TIMING.installShellCheckSeconds}"`,
    `    o=$($t "$SHELL" -l -i -c 'printf "ssh-anchor-install:shell-sock=%s\\n" "$SSH_AUTH_SOCK"' </dev/null 2>"$d/serr")`,
    `    printf '%sshell-status=%s\\n' "$P" "$?"`,
    `    printf '%s\\n' "$o" | grep "^\${P}shell-sock=" | tail -n 1`,
    `    grep -i 'ssh-anchor\\|not found' "$d/serr" | head -n 1 | sed "s/^/\${P}shell-error=/"`,
    `    ;;`,
    `esac`,
    `printf '%send=yes\\n' "$P"`,
  ].join("\n");
}

/** The lines a script printed for install: each key's values, in order. */
export type Answers = ReadonlyMap<string, readonly string[]>;

/**
 * The `ssh-anchor-install:` lines of a script's output (at most 200, each value made printable
 * and bounded); everything else is ignored.
 * @example answers("motd\nssh-anchor-install:arch=x86_64\n").get("arch") // ["x86_64"]
 */
export function answers(stdout: string): Answers {
  const found = new Map<string, string[]>();
  let count = 0;
  for (const line of stdout.split("\n")) {
    const match = /^ssh-anchor-install:([a-z-]+)=(.*)$/.exec(line);
    if (!match || ++count > 200) continue;
    const [, key, value] = match as unknown as [string, string, string];
    found.set(key, [...(found.get(key) ?? []), printable(value, 300)]);
  }
  return found;
}

/** The last value of `key`, or undefined. */
export function answer(found: Answers, key: string): string | undefined {
  return found.get(key)?.at(-1);
}
