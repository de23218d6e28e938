import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Log } from "../../src/shared/core/log.js";
import { run, sleep, tempDir } from "../helpers/process.js";

describe("Log", () => {
  let dir = "";
  after(() => run("rm", ["-rf", dir]));

  it("rotates its file to <file>.1 past the size limit, so the log never grows without bound", async () => {
    dir = await tempDir();
    const file = join(dir, "daemon.log");
    const log = new Log({ file, maxBytes: 4096 });
    for (let i = 0; i < 400; i++) log.info(`routing decision number ${i} with its reason`);
    log.close();
    await sleep(200);
    const current = await stat(file);
    const rotated = await stat(`${file}.1`);
    assert.ok(current.size <= 4096 + 200, `current log is ${current.size} bytes`);
    assert.ok(rotated.size <= 4096 + 200 && rotated.size > 0, `rotated log is ${rotated.size} bytes`);
    assert.equal(current.mode & 0o777, 0o600);
    assert.match(await readFile(file, "utf8"), /routing decision number 399 with its reason\n$/);
  });

  it("keeps detail lines for --verbose only", async () => {
    const file = join(dir, "quiet.log");
    const log = new Log({ file });
    log.detail("per-connection detail");
    log.info("a change of route");
    log.close();
    await sleep(100);
    const text = await readFile(file, "utf8");
    assert.doesNotMatch(text, /per-connection detail/);
    assert.match(text, /^\S+Z a change of route\n$/);
  });
});
