import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { likelyStale } from "../../src/shared/discovery/stale-sockets.js";
import { parseListeners } from "../../src/shared/discovery/unix-listeners.js";

const parseListening = (text: string): Set<string> => new Set(parseListeners(text).values());

const LISTING = [
  "Num       RefCount Protocol Flags    Type St Inode Path",
  "000000004155fe73: 00000002 00000000 00010000 0001 01 6245473 /home/me/.ssh/agent/s.AbCdEfGhIj.sshd.live",
  "000000006d388f45: 00000003 00000000 00000000 0001 03 6256685 /home/me/.ssh/agent/s.AbCdEfGhIj.sshd.connected",
  "000000006d388f46: 00000003 00000000 00000000 0001 03 6256686",
  "000000006d388f47: 00000002 00000000 00010000 0001 01 6256687 @abstract-name",
  "000000006d388f48: 00000002 00000000 00010000 0001 01 6256688 /tmp/with space/agent.1",
  "",
].join("\n");

describe("stale sockets: the listening set and the hint", () => {
  it("takes only listening sockets with a path from /proc/net/unix (a path may hold a space), by inode", () => {
    assert.deepEqual([...parseListening(LISTING)].sort(), ["/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.live", "/tmp/with space/agent.1"]);
    assert.equal(parseListeners(LISTING).get(6245473), "/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.live");
  });

  it("believes neither line of an inode listed twice (another user's abstract name holding a forged copy of a line)", () => {
    // The red team's forgery: rtA's two logins' sockets (inodes 11 and 12), and another user's
    // abstract names whose newlines start lines that give 11 the path of 12's socket and 12 none.
    const forged = [
      "Num       RefCount Protocol Flags    Type St Inode Path",
      "0000000000000000: 00000002 00000000 00010000 0001 01 11 /home/me/.ssh/agent/s.AbCdEfGhIj.sshd.L1",
      "0000000000000000: 00000002 00000000 00010000 0001 01 12 /home/me/.ssh/agent/s.AbCdEfGhIj.sshd.L2",
      "0000000000000000: 00000002 00000000 00010000 0001 01 13 @",
      "0000000000000000: 00000002 00000000 00010000 0001 01 11 /home/me/.ssh/agent/s.AbCdEfGhIj.sshd.L2",
      "0000000000000000: 00000002 00000000 00010000 0001 01 14 @",
      "0000000000000000: 00000002 00000000 00010000 0001 01 12 /nonexistent",
      "",
    ].join("\n");
    const listeners = parseListeners(forged);
    assert.equal(listeners.has(11), false, "the socket whose line was copied with another path");
    assert.equal(listeners.has(12), false);
    // Their paths stay as "maybe listening", under keys no socket has: a forgery never makes a
    // live socket read as gone (red team, second wave: a forward redialled every 250 ms).
    assert.deepEqual(
      [...listeners].sort(([a], [b]) => b - a),
      [
        [-1, "/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.L1"],
        [-2, "/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.L2"],
        [-3, "/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.L2"],
        [-4, "/nonexistent"],
      ],
    );
    assert.equal(likelyStale("/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.L1", new Set(listeners.values())), false);
  });

  it("suspects a socket nobody listens on; without a listening set, a /tmp socket whose pid is gone", () => {
    const listening = parseListening(LISTING);
    assert.equal(likelyStale("/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.live", listening), false);
    assert.equal(likelyStale("/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.stale", listening), true);
    // The listening set decides when there is one: a listener whose pid says nothing (ssh-agent
    // names its socket after the pid it had before it forked, gone at once) is not suspected.
    assert.equal(likelyStale("/tmp/with space/agent.1", listening), false);
    assert.equal(likelyStale(`/tmp/ssh-x/agent.${process.pid}`, listening), true);
    // No listening set (no /proc): only the pid says anything.
    assert.equal(likelyStale("/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.stale", undefined), false);
    assert.equal(likelyStale(`/tmp/ssh-x/agent.${4_194_304 + 5}`, undefined), true);
    assert.equal(likelyStale(`/tmp/ssh-x/agent.${process.pid}`, undefined), false);
    // ...and not in ssh-agent's own directories (twelve characters), where it never does.
    assert.equal(likelyStale(`/tmp/ssh-AbCdEfGh1234/agent.${4_194_304 + 5}`, undefined), false);
    assert.equal(likelyStale(`/tmp/ssh-AbCdEfGh12/agent.${4_194_304 + 5}`, undefined), true);
  });
});
