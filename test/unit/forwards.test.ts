import assert from "node:assert/strict";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { destinationHost, hostMatches, parseForwardDefaults } from "../../src/features/connect/forward-defaults.js";
import { forwardsBlockLines } from "../../src/features/setup/forwards.js";
import { planSetup } from "../../src/features/setup/setup.js";
import { UserError } from "../../src/shared/core/errors.js";
import { FORWARD_TOKEN, forwardPathRefusal, newForwardToken, parseForwardSpec } from "../../src/shared/core/forwards.js";
import { cacheFile, factsKey, factsProbeScript, parseFacts, readCachedFacts, writeCachedFacts } from "../../src/shared/core/remote-facts.js";

const uid = process.getuid?.() ?? 0;

describe("forward names, tokens and paths", () => {
  it("makes a fresh token per connection in the contract's form", () => {
    const tokens = new Set(Array.from({ length: 200 }, () => newForwardToken()));
    assert.equal(tokens.size, 200);
    for (const token of tokens) assert.match(token, /^[A-Za-z0-9]{12}$/), assert.ok(FORWARD_TOKEN.test(token));
  });

  it("lets through only paths ssh and the prelude read as they are", () => {
    assert.equal(forwardPathRefusal("/run/user/1000/gnupg/S.gpg-agent.extra"), undefined);
    for (const bad of ["relative", "/a b", "/a:b", "/a%C", "/${HOME}", "/a'b", "/a!b", "/a\nb", "/a\"b"]) assert.ok(forwardPathRefusal(bad), bad);
    assert.equal(typeof parseForwardSpec("x=/a b", "/h"), "object", "the spec parses; the socket check refuses it later");
  });
});

describe("connect.conf: forwards by host", () => {
  it("matches Host patterns as ssh does: * ?, ! excludes, case-insensitive, the host as given", () => {
    assert.equal(destinationHost("me@DevBox"), "devbox");
    assert.equal(destinationHost("ssh://me@devbox:2222"), "devbox");
    assert.equal(destinationHost("a@b@host"), "host");
    assert.ok(hostMatches("web1.corp", ["*.corp"]));
    assert.ok(hostMatches("web1.corp", ["web?.corp"]));
    assert.ok(!hostMatches("old.corp", ["*.corp", "!old.corp"]));
    assert.ok(!hostMatches("old.corp", ["!old.corp", "*.corp"]));
    assert.ok(!hostMatches("x", ["!y"]), "a negation alone matches nothing");
    assert.ok(!hostMatches("a.b", ["a?b.c"]));
  });

  it("adds the forwards of every matching block, the first value of a name counting; lines before any Host apply everywhere", () => {
    const text = [
      "# defaults",
      "Forward clip=/run/clip.sock",
      "Host devbox *.corp",
      "    Gpg yes",
      "    Forward opener=~/.opener.sock",
      "Host other",
      "    Forward never=/never.sock",
      "Host *",
      "    Gpg=no",
      "    Forward opener /elsewhere.sock",
      "    Forward rsub /rsub.sock",
    ].join("\n");
    assert.deepEqual(parseForwardDefaults(text, "me@devbox", "/home/me"), {
      gpg: true,
      forwards: [
        { name: "clip", local: "/run/clip.sock" },
        { name: "opener", local: "/home/me/.opener.sock" },
        { name: "rsub", local: "/rsub.sock" },
      ],
    });
    assert.deepEqual(parseForwardDefaults(text, "plain", "/home/me").gpg, false);
  });

  it("refuses what it does not know, naming the line", () => {
    for (const [text, line] of [["Host", 1], ["Gpg maybe", 1], ["\nForwardAgent yes", 2], ["Forward agent=/x", 1], ["Forward gpg=/x", 1], ["Forward a b c", 1]] as const) {
      assert.throws(() => parseForwardDefaults(text, "h", "/home/me", "f.conf"), (error: unknown) => error instanceof UserError && error.message.startsWith(`f.conf line ${line}:`), text);
    }
  });
});

describe("what connect learns of a host, and keeps", () => {
  it("reads only its own lines of the probe's output, and checks them", () => {
    const ok = "motd\nssh-anchor-forwards:home=/home/me\nssh-anchor-forwards:directory=ok\nssh-anchor-forwards:end=yes\n";
    assert.deepEqual(parseFacts(ok), { home: "/home/me", directory: "ok" });
    assert.equal(typeof parseFacts(ok.replace("end=yes", "")), "string");
    assert.equal(typeof parseFacts(ok.replace("/home/me", "/home/a b")), "string");
    assert.equal(typeof parseFacts(ok.replace("/home/me", "relative")), "string");
    assert.equal(typeof parseFacts(ok.replace("directory=ok", "directory=maybe")), "string");
    // A repeated key: the first counts.
    assert.deepEqual(parseFacts(ok.replace("ssh-anchor-forwards:end", "ssh-anchor-forwards:home=/evil\nssh-anchor-forwards:end")), { home: "/home/me", directory: "ok" });
    const script = factsProbeScript();
    assert.doesNotMatch(script, /\\\\/, "no backslash pair (fish)");
    assert.match(script, /umask 077/);
  });

  it("keeps the facts in a 0600 file of the user's own, per destination, and treats a tampered file as none", async () => {
    const home = join(tmpdir(), `anchor-facts-${process.pid}`);
    const options = { uid, home, env: {} };
    try {
      const key = factsKey(new Map([["user", "me"], ["hostname", "devbox.example"], ["port", "22"]]), "devbox");
      assert.equal(key, "me@devbox.example:22");
      assert.equal(await readCachedFacts(key, options), undefined);
      assert.equal(await writeCachedFacts(key, { home: "/home/me", directory: "ok" }, options), undefined);
      const file = cacheFile(key, options);
      assert.ok(file.startsWith(join(home, ".local", "state", "ssh-anchor", "hosts")));
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(await readCachedFacts(key, options), { home: "/home/me", directory: "ok" });
      assert.equal(await readCachedFacts("other@devbox:22", options), undefined);
      const text = await readFile(file, "utf8");
      for (const tampered of [text.replace("/home/me", "/home/me;rm -rf ~"), text.replace(`key=${key}`, "key=x"), "home=/x\n"]) {
        await writeFile(file, tampered);
        assert.equal(await readCachedFacts(key, options), undefined, tampered);
      }
      await writeFile(file, text);
      await chmod(join(home, ".local", "state", "ssh-anchor", "hosts"), 0o777);
      assert.equal(await readCachedFacts(key, options), undefined, "a directory others may write to vouches for nothing");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe("setup --forwards: the block for plain ssh", () => {
  const forwards = { host: "devbox", home: "/home/me", forwards: [{ name: "gpg", local: "/run/user/1000/gnupg/S.gpg-agent.extra" }] };

  it("writes RemoteForward to the remote home with %C, keeps the login up, and ends with Match all", () => {
    const lines = forwardsBlockLines(forwards);
    assert.ok(lines.includes("Host devbox"));
    assert.ok(lines.includes("    RemoteForward /home/me/.ssh/anchor-forwards/gpg.%C.sock /run/user/1000/gnupg/S.gpg-agent.extra"));
    assert.ok(lines.includes("    ExitOnForwardFailure no"));
    assert.equal(lines.at(-1), "Match all");
    assert.ok(forwardsBlockLines({ ...forwards, host: "me@devbox" }).includes("Match originalhost devbox user me"));
  });

  it("puts one block per host first in ~/.ssh/config, replaces it when run again, and --undo removes it alone", async () => {
    const home = join(tmpdir(), `anchor-setup-fw-${process.pid}`);
    await mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    const config = join(home, ".ssh", "config");
    try {
      await writeFile(config, "Host *\n    ServerAliveInterval 30\n");
      const plan = async (options: Partial<Parameters<typeof planSetup>[0]>, undo = false) => {
        const changes = await planSetup({ shell: "sh", home, uid, ...options }, undo);
        for (const change of changes) await writeFile(change.target, change.after);
        return readFile(config, "utf8");
      };
      const one = await plan({ forwards });
      assert.ok(one.startsWith("# >>> ssh-anchor forwards devbox >>>\n"), one);
      assert.ok(one.endsWith("# <<< ssh-anchor forwards devbox <<<\nHost *\n    ServerAliveInterval 30\n"), one);
      const other = await plan({ forwards: { ...forwards, host: "web", forwards: [{ name: "opener", local: "/o.sock" }] } });
      assert.equal(other.match(/# >>> ssh-anchor forwards/g)?.length, 2);
      const replaced = await plan({ forwards: { ...forwards, forwards: [{ name: "clip", local: "/c.sock" }] } });
      assert.equal(replaced.match(/# >>> ssh-anchor forwards devbox >>>/g)?.length, 1);
      assert.match(replaced, /clip\.%C\.sock \/c\.sock/);
      assert.doesNotMatch(replaced, /gpg\.%C/);
      assert.equal(await plan({ forwards: { ...forwards, forwards: [{ name: "clip", local: "/c.sock" }] } }), replaced, "the same again changes nothing");
      const undone = await plan({ forwards: { host: "devbox", home: "/", forwards: [] } }, true);
      assert.doesNotMatch(undone, /forwards devbox/);
      assert.match(undone, /forwards web/);
      const all = await plan({}, true);
      assert.equal(all, "Host *\n    ServerAliveInterval 30\n", "setup --undo removes every host's block");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
