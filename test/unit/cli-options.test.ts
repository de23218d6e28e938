import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { collect, positiveInteger, wholeSeconds } from "../../src/cli/options.js";
import { UserError } from "../../src/shared/core/errors.js";

/** The one-line usage error a parser throws for `value`. */
function refusal(parse: (value: string) => number, value: string): string {
  try {
    parse(value);
  } catch (error) {
    assert.ok(error instanceof UserError);
    assert.equal(error.exitCode, 2);
    return error.message;
  }
  assert.fail(`"${value}" was accepted`);
}

describe("the CLI's option parsers", () => {
  it("take a positive whole number, and refuse 0, fractions, words and blanks in one line", () => {
    const parse = positiveInteger("--probe-timeout");
    assert.equal(parse("1500"), 1500);
    for (const value of ["0", "-1", "1.5", "soon", "", " "]) {
      assert.equal(refusal(parse, value), `--probe-timeout takes a positive whole number, not "${value}"`);
    }
  });

  it("take whole seconds with 0 allowed (it turns the wait off), and refuse a blank rather than read it as 0", () => {
    const parse = wholeSeconds("--idle-exit");
    assert.equal(parse("0"), 0);
    assert.equal(parse("600"), 600);
    for (const value of ["-1", "2.5", "ten", "", " "]) {
      assert.equal(refusal(parse, value), `--idle-exit takes a whole number of seconds, not "${value}"`);
    }
  });

  it("collect a repeatable option in the order given", () => {
    assert.deepEqual(collect("/b", collect("/a")), ["/a", "/b"]);
  });
});
