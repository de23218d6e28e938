import assert from "node:assert/strict";
import { rename, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Cleanup, run, tempDir } from "../helpers/process.js";
import { boundFileAt, letGo, sameFile } from "../../src/features/daemon/bound-file.js";

describe("the file a socket path holds", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("is told from one put at the same path since", async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const path = join(base, "a");
    await writeFile(path, "x");
    const first = await boundFileAt(path);
    assert.ok(sameFile(await boundFileAt(path), first));
    await writeFile(join(base, "b"), "y");
    await rename(join(base, "b"), path);
    assert.equal(sameFile(await boundFileAt(path), first), false);
    assert.equal(await boundFileAt(join(base, "missing")), undefined);
    assert.equal(sameFile(undefined, undefined), false);
  });

  it("is removed on letting go only while it is still the one bound", async () => {
    const base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const path = join(base, "s.sock");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const bound = await boundFileAt(path);
    // Someone else's file takes the path: letting go must leave it where it is.
    await writeFile(join(base, "other"), "theirs");
    await rename(join(base, "other"), path);
    await letGo([server], path, bound);
    assert.notEqual(await boundFileAt(path), undefined);
    assert.equal(server.listening, true, "abandoned, not closed");
    server.close();
  });
});
