import assert from "node:assert/strict";
import { dirname } from "node:path";
import { describe, it } from "node:test";
import { onPath, SSHD_PATH } from "../../src/shared/core/login-path.js";
import { loginPathNote } from "../../src/features/setup/setup.js";

/** What a login's bare PATH finds: setup warns when it finds no node for the rc line to run. */
describe("sshd's bare PATH", () => {
  it("finds an executable in the first directory holding it, and nothing where none does", async () => {
    assert.equal(await onPath("sh", "/nonexistent:/bin:/usr/bin"), "/bin/sh");
    assert.equal(await onPath("sh", "::/nonexistent"), undefined);
    assert.equal(await onPath("no-such-command-anywhere"), undefined);
    assert.match(SSHD_PATH, /^\/usr\/local\/bin:\/usr\/bin:\/bin/);
  });

  it("setup's note: said where that PATH has no node (nvm, ~/.local/bin), not where it has", async () => {
    const note = await loginPathNote("/nonexistent");
    assert.match(note ?? "", /^note: sshd's PATH \(\/nonexistent\) has no node, so the rc line cannot start the daemon in a login: put your PATH line above it/);
    assert.equal(await loginPathNote(dirname(process.execPath)), undefined);
  });
});
