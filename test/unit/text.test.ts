import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { escapeRegExp, printable } from "../../src/shared/core/text.js";

describe("text", () => {
  it("prints text from others without control characters", () => {
    assert.equal(printable("ok\u001b[2J\u0007 done\n"), "ok?[2J? done?");
    assert.equal(printable("x".repeat(600)).length, 515);
  });

  it("escapes every character a regular expression gives a meaning to", () => {
    const literal = "# >>> a.b*c+d?e^f$g{h}i(j)k|l[m]n\\o <<<";
    assert.equal(new RegExp(`^${escapeRegExp(literal)}$`).test(literal), true);
    assert.equal(new RegExp(`^${escapeRegExp("a.b")}$`).test("axb"), false);
  });
});
