import assert from "node:assert/strict";
import { mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Cleanup, REPO, run, sleep, tempDir } from "../helpers/process.js";

describe("the shipped tmpfiles.d rule", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("keeps systemd-tmpfiles' age-based cleaning away from ssh-anchor's directories and nothing else", async () => {
    const tmp = await tempDir("anchor-tmpfiles-");
    cleanup.add(() => run("rm", ["-rf", tmp]));
    // The shipped rule, pointed at a stand-in for /tmp that is cleaned of everything a second old.
    const rule = (await readFile(join(REPO, "contrib", "tmpfiles.d", "ssh-anchor.conf"), "utf8")).replaceAll("/tmp/", `${tmp}/`);
    const config = join(tmp, "test.conf");
    await writeFile(config, `e ${tmp} - - - 1s\n${rule}`);
    const old = new Date(Date.now() - 30 * 86_400_000);
    for (const name of ["ssh-anchor-1000", "someone-elses"]) {
      await mkdir(join(tmp, name));
      await writeFile(join(tmp, name, "agent.sock.log"), "");
      await utimes(join(tmp, name, "agent.sock.log"), old, old);
      await utimes(join(tmp, name), old, old);
    }
    // Change and birth times cannot be set back: let them pass the one-second threshold.
    await sleep(1500);
    const cleaned = await run("systemd-tmpfiles", ["--clean", config]);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.equal((await run("test", ["-e", join(tmp, "ssh-anchor-1000", "agent.sock.log")])).code, 0, "ssh-anchor's directory is kept");
    assert.notEqual((await run("test", ["-e", join(tmp, "someone-elses", "agent.sock.log")])).code, 0, "the cleaner still cleans the rest");
  });
});
