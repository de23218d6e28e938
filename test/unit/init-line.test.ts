import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runsInit } from "../../src/shared/core/init-line.js";
import { SHELL_RECORDS, type InitMode } from "../../src/shared/core/shells.js";

const MODES: readonly InitMode[] = ["init", "init --link", "init --per-identity"];

describe("doctor: the init line", () => {
  it("is recognised in every form setup writes, link mode and per-identity included", () => {
    for (const shell of SHELL_RECORDS) for (const mode of MODES) assert.ok(runsInit(`# mine\n${shell.rcLine(mode)}\n`), shell.rcLine(mode));
  });

  it("is recognised written by hand, or as a sourced file of init's output", () => {
    assert.ok(runsInit('eval "$(ssh-anchor init)"'));
    assert.ok(runsInit(". ~/.ssh-anchor.sh"));
  });

  it("is not ssh-anchor's other commands, nor a word that only begins like init", () => {
    assert.ok(!runsInit("ssh-anchor rc > ~/.ssh/rc"));
    assert.ok(!runsInit("ssh-anchor initialise"));
    assert.ok(!runsInit("alias sa=ssh-anchor"));
  });

  it("in its per-identity form is only the line of shared accounts", () => {
    for (const shell of SHELL_RECORDS) {
      assert.ok(runsInit(shell.rcLine("init --per-identity"), "per-identity"));
      assert.ok(!runsInit(shell.rcLine("init"), "per-identity"));
      assert.ok(!runsInit(shell.rcLine("init --link"), "per-identity"));
    }
  });
});
