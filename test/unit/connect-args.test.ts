import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConnectArgs } from "../../src/features/connect/args.js";
import { Backoff } from "../../src/features/connect/backoff.js";
import { remoteCommand } from "../../src/features/connect/remote-command.js";
import { UserError } from "../../src/shared/core/errors.js";

describe("parseConnectArgs", () => {
  it("separates ssh-anchor's options, ssh's options with their values, and the destination", () => {
    const request = parseConnectArgs(["--session", "work", "-p", "2222", "-At", "-o", "ForwardAgent=yes", "-J", "bastion", "--log=/tmp/x.log", "me@host"]);
    assert.deepEqual(request.sshOptions, ["-p", "2222", "-At", "-o", "ForwardAgent=yes", "-J", "bastion"]);
    assert.equal(request.destination, "me@host");
    assert.equal(request.session, "work");
    assert.equal(request.logFile, "/tmp/x.log");
    assert.equal(request.multiplexer, "tmux");
    assert.deepEqual(request.command, []);
  });

  it("keeps attached values (-p2222) and bundles ending in a value option (-Ap 22)", () => {
    assert.deepEqual(parseConnectArgs(["-p2222", "h"]).sshOptions, ["-p2222"]);
    assert.deepEqual(parseConnectArgs(["-Ap", "22", "h"]).sshOptions, ["-Ap", "22"]);
  });

  it("takes a command after --, even one that looks like options", () => {
    const request = parseConnectArgs(["--screen", "host", "--", "htop", "--help"]);
    assert.deepEqual(request.command, ["htop", "--help"]);
    assert.equal(request.multiplexer, "screen");
  });

  it("rejects what ssh would reject, with a usage status of 2", () => {
    for (const argv of [[], ["-p"], ["-Z", "h"], ["host", "extra"], ["--bogus", "h"], ["h", "--"], ["--session", "a b", "h"], ["--max-time", "-3", "h"]]) {
      assert.throws(() => parseConnectArgs(argv), (error: unknown) => error instanceof UserError && error.exitCode === 2, argv.join(" "));
    }
  });

  it("takes whole seconds and counts for ssh's keepalive, which rejects fractions", () => {
    for (const flag of ["--alive-interval", "--alive-count-max"]) {
      assert.throws(() => parseConnectArgs([flag, "1.5", "h"]), /takes a positive whole number, not "1\.5"/);
    }
    assert.equal(parseConnectArgs(["--alive-interval", "5", "h"]).aliveInterval, 5);
    assert.equal(parseConnectArgs(["--max-time", "1.5", "h"]).maxTimeSeconds, 1.5);
  });
});

describe("parseConnectArgs: forwards", () => {
  it("takes --gpg and repeated --forward NAME=SOCKET (also --forward=...), ~/ as the laptop's home", () => {
    const request = parseConnectArgs(["--gpg", "--forward", "opener=~/.opener.sock", "--forward=clip=/run/clip.sock", "-A", "h"], "/home/me");
    assert.equal(request.gpg, true);
    assert.deepEqual(request.forwards, [
      { name: "opener", local: "/home/me/.opener.sock" },
      { name: "clip", local: "/run/clip.sock" },
    ]);
    assert.deepEqual(request.sshOptions, ["-A"]);
    const plain = parseConnectArgs(["h"]);
    assert.equal(plain.gpg, false);
    assert.deepEqual(plain.forwards, []);
    // Another socket as gpg (the full one) is said explicitly.
    assert.deepEqual(parseConnectArgs(["--forward", "gpg=/run/g/S.gpg-agent", "h"]).forwards, [{ name: "gpg", local: "/run/g/S.gpg-agent" }]);
  });

  it("rejects bad names, reserved ones, relative sockets, a name twice and two gpg sockets, as usage errors", () => {
    for (const argv of [
      ["--forward", "Opener=/s", "h"],
      ["--forward", "1x=/s", "h"],
      ["--forward", "agent=/s", "h"],
      ["--forward", "a".repeat(33) + "=/s", "h"],
      ["--forward", "opener", "h"],
      ["--forward", "=/s", "h"],
      ["--forward", "opener=s.sock", "h"],
      ["--forward", "x=/a", "--forward", "x=/b", "h"],
      ["--gpg", "--forward", "gpg=/s", "h"],
      ["--forward"],
    ]) {
      assert.throws(() => parseConnectArgs(argv, "/home/me"), (error: unknown) => error instanceof UserError && error.exitCode === 2, argv.join(" "));
    }
  });
});

describe("remoteCommand", () => {
  it("attaches or creates the session and detaches other clients", () => {
    assert.match(remoteCommand(parseConnectArgs(["h"])), /exec tmux new-session -A -D -s main "\$@"'$/);
    // screen matches names by prefix: the exact <pid>.<name>, or a new session of that name.
    const screen = remoteCommand(parseConnectArgs(["--screen", "--session", "w.x", "h"]));
    assert.match(screen, /^exec sh -c 't=\$\(screen -ls 2>\/dev\/null \| sed -n "s\/\^\[\[:space:\]\]\*\\\(\[0-9\]\[0-9\]\*\\\.w\\\.x\\\)\[\[:space:\]\]\.\*\/\\1\/p" \| head -n 1\); /);
    assert.match(screen, /if \[ -n "\$t" \]; then exec screen -D -R "\$t"; fi; exec screen -S w\.x'$/);
    assert.equal(remoteCommand(parseConnectArgs(["h", "--", "top", "-d", "1"])), "top -d 1");
  });

  it("asks ssh-anchor on the host (PATH, then ~/.local/bin) for the one session's socket, in one sh -c any login shell passes on", () => {
    for (const [command, what] of [
      [remoteCommand(parseConnectArgs(["h"])), "tmux main"],
      [remoteCommand(parseConnectArgs(["--screen", "--session", "w", "h"])), "screen w $t"],
    ] as const) {
      const script = /^exec sh -c '(.*)'$/.exec(command)?.[1];
      assert.ok(script, command);
      assert.doesNotMatch(script, /['!\n]/, "no quote, no history expansion (csh), one line");
      assert.ok(
        script.includes(`command -v ssh-anchor >/dev/null 2>&1 || PATH=$PATH:$HOME/.local/bin; if command -v ssh-anchor >/dev/null 2>&1; then eval "$(ssh-anchor session-env ${what})"; else printf `),
        script,
      );
      assert.match(script, /ssh-anchor: not found on the host \(PATH, ~\/\.local\/bin\): the (tmux|screen) session keeps the socket of this login/);
      // Nothing global, nothing for other sessions: that is session-env's, for one session only.
      assert.doesNotMatch(script, /set-environment|setenv|list-sessions|init sh/);
    }
  });

  it("says what it has to say once: reconnects are quiet", () => {
    const again = remoteCommand(parseConnectArgs(["h"]), { quiet: true });
    assert.match(again, /eval "\$\(ssh-anchor session-env --quiet tmux main\)"; fi; exec tmux/);
    assert.doesNotMatch(again, /printf/);
  });
});

describe("remoteCommand: forwards", () => {
  it("says in one line which of this login's forwards did not bind, and makes a missing directory for the next", () => {
    const paths = ["/home/me/.ssh/anchor-forwards/gpg.Ab12.sock", "/home/me/.ssh/anchor-forwards/opener.Ab12.sock"];
    const command = remoteCommand(parseConnectArgs(["h"]), { forwards: { directory: "/home/me/.ssh/anchor-forwards", paths } });
    const script = /^exec sh -c '(.*)'$/.exec(command)?.[1] as string;
    assert.doesNotMatch(script, /['!\n]/);
    assert.ok(script.startsWith(`m=; for f in ${paths.join(" ")}; do [ -S "$f" ] || `), script);
    assert.match(script, /\(umask 077; mkdir -p \/home\/me\/\.ssh\/anchor-forwards\)/);
    assert.match(script, /exec tmux new-session -A -D -s main "\$@"$/);
    assert.doesNotMatch(remoteCommand(parseConnectArgs(["h"])), /for f in/);
  });
});

describe("Backoff", () => {
  it("retries at once, then doubles from one second up to the cap", () => {
    const backoff = new Backoff(1000, 15_000);
    assert.deepEqual(Array.from({ length: 7 }, () => backoff.next()), [0, 1000, 2000, 4000, 8000, 15_000, 15_000]);
  });

  it("retries at once after every lost connection, even a short-lived one", () => {
    const backoff = new Backoff(1000, 15_000, 30_000);
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [0, 1000, 2000]);
    backoff.connectionEnded(5_000);
    assert.equal(backoff.next(), 0, "the first retry after a short-lived connection is at once");
  });

  it("carries the doubling over a short-lived connection, and starts over after a stable one", () => {
    const backoff = new Backoff(1000, 15_000, 30_000);
    backoff.next();
    backoff.next();
    backoff.connectionEnded(5_000);
    assert.deepEqual([backoff.next(), backoff.next()], [0, 2000]);
    backoff.connectionEnded(30_000);
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [0, 1000, 2000]);
  });
});
