import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execWord, unitFiles } from "../../src/features/service/units.js";

describe("systemd units", () => {
  it("quotes ExecStart words only when needed, and escapes specifiers and variables", () => {
    assert.equal(execWord("/usr/bin/node"), "/usr/bin/node");
    assert.equal(execWord("--max-semi-space-size=1"), "--max-semi-space-size=1");
    assert.equal(execWord("/home/a b/agent.sock"), '"/home/a b/agent.sock"');
    assert.equal(execWord("/tmp/100%/x"), "/tmp/100%%/x");
    assert.equal(execWord("/tmp/$HOME"), '"/tmp/$$HOME"');
    assert.equal(execWord('a"b\\c'), '"a\\"b\\\\c"');
  });

  it("names the socket in both units and passes the idle period only when there is one", () => {
    const units = unitFiles({ socket: "/tmp/ssh-anchor-1000/agent.sock", command: ["/opt/ssh-anchor"], idleExitSeconds: 600 });
    assert.match(units.socketUnit, /^ListenStream=\/tmp\/ssh-anchor-1000\/agent\.sock$/m);
    assert.match(units.serviceUnit, /^ExecStart=\/opt\/ssh-anchor run --socket \/tmp\/ssh-anchor-1000\/agent\.sock --idle-exit 600$/m);
    assert.match(units.serviceUnit, /^Requires=ssh-anchor\.socket$/m);
    const forever = unitFiles({ socket: "/s/agent.sock", command: ["/opt/ssh-anchor"], idleExitSeconds: 0 });
    assert.match(forever.serviceUnit, /^ExecStart=\/opt\/ssh-anchor run --socket \/s\/agent\.sock$/m);
    assert.throws(() => unitFiles({ socket: "relative.sock", command: ["/opt/x"], idleExitSeconds: 0 }), /absolute/);
  });
});
