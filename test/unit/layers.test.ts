import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

// The architecture as rules over src/'s imports (docs/architecture.md draws the same picture),
// and as its folders: src/cli/ and src/index.ts are the entry points, src/features/ the
// features, src/shared/ the layer they stand on. Nothing imports upward, no feature imports
// another, and within the shared layer each folder may use only those listed for it.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");
const ENTRY_POINTS = ["cli", "index.ts"];
const FEATURES = ["daemon", "link", "connect", "doctor", "setup", "service", "completion", "shell", "install"];
const SHARED: Record<string, readonly string[]> = {
  control: ["scope", "discovery", "protocol", "core"],
  discovery: ["protocol", "core"],
  scope: ["protocol", "core"],
  protocol: ["core"],
  core: [],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

/** The layer (entry, features, shared) and the area in it (cli, daemon, core...) of a path. */
function placeOf(path: string): { layer: string; area: string } {
  const [top, second] = relative(SRC, path).split("/") as [string, string | undefined];
  return top === "features" || top === "shared" ? { layer: top, area: second ?? "" } : { layer: "entry", area: top };
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import\()\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) => resolve(dirname(file), match[1] as string));
}

function allowed(from: string, to: string): boolean {
  if (from === to || ENTRY_POINTS.includes(from)) return true;
  if (FEATURES.includes(from)) return to in SHARED;
  return SHARED[from]?.includes(to) ?? false;
}

describe("the layers of src/", () => {
  const files = sourceFiles(SRC);

  it("keeps every folder in its layer's folder: entry points in src/, features in src/features/, shared ones in src/shared/", () => {
    for (const file of files) {
      const { layer, area } = placeOf(file);
      const expected = ENTRY_POINTS.includes(area) ? "entry" : FEATURES.includes(area) ? "features" : area in SHARED ? "shared" : "nowhere";
      assert.equal(layer, expected, `src/${relative(SRC, file)}: ${area} belongs to ${expected === "nowhere" ? "no layer yet (give it one here)" : expected}`);
    }
  });

  it("has no import running upward or sideways", () => {
    const wrong = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => !allowed(placeOf(file).area, placeOf(target).area))
        .map((target) => `${relative(SRC, file)} imports ${relative(SRC, target)}`),
    );
    assert.deepEqual(wrong, []);
  });

  it("would catch a feature importing another", () => {
    assert.equal(allowed("doctor", "daemon"), false);
    assert.equal(allowed("protocol", "discovery"), false);
    assert.equal(allowed("cli", "daemon"), true);
  });
});
