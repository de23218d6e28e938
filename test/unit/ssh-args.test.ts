import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConnectArgs } from "../../src/features/connect/args.js";
import { remoteCommand } from "../../src/features/connect/remote-command.js";
import { sshArgs } from "../../src/features/connect/ssh-args.js";
import { TIMING } from "../../src/shared/core/timing.js";

const MARKER = "/tmp/ssh-anchor-connect-test/connected.1";

/** The value of every `-o Name=value` in `args`, in order, for one name. */
function options(args: readonly string[], name: string): string[] {
  return args.flatMap((arg, i) => (args[i - 1] === "-o" && arg.startsWith(`${name}=`) ? [arg.slice(name.length + 1)] : []));
}

describe("ssh's command line for one attempt", () => {
  it("puts the marker first, the user's options next, the destination and remote command last", () => {
    const request = parseConnectArgs(["-A", "-p", "2222", "me@devbox"]);
    const args = sshArgs(request, new Map(), MARKER);
    assert.deepEqual(args.slice(0, 5), ["-t", "-o", "PermitLocalCommand=yes", "-o", `LocalCommand=touch '${MARKER}'`]);
    assert.deepEqual(args.slice(5, 8), ["-A", "-p", "2222"]);
    assert.deepEqual(args.slice(-2), ["me@devbox", remoteCommand(request)]);
    assert.deepEqual(options(args, "ControlPath"), ["none"]);
  });

  it("runs the user's own LocalCommand after the marker, when their settings run one", () => {
    const settings = new Map([["permitlocalcommand", "yes"], ["localcommand", "echo hi"]]);
    assert.deepEqual(options(sshArgs(parseConnectArgs(["h"]), settings, MARKER), "LocalCommand"), [`touch '${MARKER}'; echo hi`]);
    const off = new Map([["permitlocalcommand", "no"], ["localcommand", "echo hi"]]);
    assert.deepEqual(options(sshArgs(parseConnectArgs(["h"]), off, MARKER), "LocalCommand"), [`touch '${MARKER}'`]);
  });

  it("keeps a configured keepalive only when it is the quicker one; --alive-interval always wins", () => {
    const quick = sshArgs(parseConnectArgs(["h"]), new Map([["serveraliveinterval", "1"]]), MARKER);
    assert.deepEqual(options(quick, "ServerAliveInterval"), []);
    const slow = sshArgs(parseConnectArgs(["h"]), new Map([["serveraliveinterval", "300"]]), MARKER);
    assert.deepEqual(options(slow, "ServerAliveInterval"), ["2"]);
    assert.deepEqual(options(slow, "ServerAliveCountMax"), ["3"]);
    const asked = sshArgs(parseConnectArgs(["--alive-interval", "5", "--alive-count-max", "4", "h"]), new Map([["serveraliveinterval", "1"]]), MARKER);
    assert.deepEqual(options(asked, "ServerAliveInterval"), ["5"]);
    assert.deepEqual(options(asked, "ServerAliveCountMax"), ["4"]);
  });

  it("bounds the connection attempt when the config does not", () => {
    assert.deepEqual(options(sshArgs(parseConnectArgs(["h"]), new Map(), MARKER), "ConnectTimeout"), [String(TIMING.sshConnectTimeoutSeconds)]);
    assert.deepEqual(options(sshArgs(parseConnectArgs(["h"]), new Map([["connecttimeout", "30"]]), MARKER), "ConnectTimeout"), []);
  });

  it("forwards each socket to ~/.ssh/anchor-forwards/NAME.TOKEN.sock of the remote home, absolute, and a failed forward does not end ssh", () => {
    const request = parseConnectArgs(["-o", "ExitOnForwardFailure=yes", "me@devbox"]);
    const forwarding = { forwards: [{ name: "gpg", local: "/run/user/1000/gnupg/S.gpg-agent.extra" }, { name: "opener", local: "/home/me/.opener.sock" }], home: "/srv/me", token: "Tok3n_x-12ab" };
    const args = sshArgs(request, new Map(), MARKER, {}, forwarding);
    const remote = args.flatMap((arg, i) => (args[i - 1] === "-R" ? [arg] : []));
    assert.deepEqual(remote, [
      "/srv/me/.ssh/anchor-forwards/gpg.Tok3n_x-12ab.sock:/run/user/1000/gnupg/S.gpg-agent.extra",
      "/srv/me/.ssh/anchor-forwards/opener.Tok3n_x-12ab.sock:/home/me/.opener.sock",
    ]);
    // The user's own -o (first) still wins; the config's yes would lose to ours.
    assert.deepEqual(options(args, "ExitOnForwardFailure"), ["yes", "no"]);
    assert.ok(args.indexOf("-R") < args.indexOf("me@devbox"));
    assert.match(args.at(-1) as string, /for f in \/srv\/me\/\.ssh\/anchor-forwards\/gpg\.Tok3n_x-12ab\.sock \/srv\/me\/\.ssh\/anchor-forwards\/opener\.Tok3n_x-12ab\.sock;/);
  });

  it("adds nothing for forwards when there are none", () => {
    const args = sshArgs(parseConnectArgs(["h"]), new Map(), MARKER, {}, undefined);
    assert.ok(!args.includes("-R"));
    assert.deepEqual(options(args, "ExitOnForwardFailure"), []);
  });
});
