import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { closest, editDistance, unknownOption, usageMessage } from "../../src/shared/core/usage.js";

describe("usage errors: one shape, a suggestion by edit distance", () => {
  it("counts insertions, deletions, substitutions and swaps of neighbours as one edit each", () => {
    assert.equal(editDistance("fix", "fix"), 0);
    assert.equal(editDistance("fixx", "fix"), 1);
    assert.equal(editDistance("fxi", "fix"), 1);
    assert.equal(editDistance("sesion", "session"), 1);
    assert.equal(editDistance("", "abc"), 3);
  });

  it("suggests the closest known word only when it is close", () => {
    assert.equal(closest("--fixx", ["--fix", "--json"]), "--fix");
    assert.equal(closest("--sesion=work", ["--session", "--screen"]), "--session");
    assert.equal(closest("--jsno", ["--json", "--socket"]), "--json");
    assert.equal(closest("--zzzzzz", ["--fix", "--json"]), undefined);
    assert.equal(closest("--ab", ["--fix"]), undefined, "two letters of three changed is another word");
    assert.equal(closest("--", ["--fix"]), undefined);
    assert.equal(closest("stauts", ["status", "start", "stop"]), "status");
  });

  it("makes the one line: what, the suggestion, the help to read; exit status 2", () => {
    assert.equal(usageMessage("unknown option '--fixx'", "doctor", "--fix"), "unknown option '--fixx' (did you mean --fix?); see ssh-anchor doctor --help");
    assert.equal(usageMessage("unknown command 'x'", ""), "unknown command 'x'; see ssh-anchor --help");
    const error = unknownOption("--sesion=work", ["--session"], "connect");
    assert.equal(error.message, "unknown option '--sesion' (did you mean --session?); see ssh-anchor connect --help");
    assert.equal(error.exitCode, 2);
  });
});
