import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { StateStore } from "../src/state.js";
import { tempDir } from "./helpers.js";

test("every save() persists the changes made before it, however they interleave", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, "state.json");
    const s = new StateStore(file);
    await s.load();
    const pending = [];
    for (let i = 1; i <= 40; i++) {
      s.data.telegram.offset = i;
      const p = s.save();
      if (i % 4 === 0) {
        await p;
        assert.equal(JSON.parse(readFileSync(file, "utf8")).telegram.offset, i);
      } else pending.push(p);
    }
    await Promise.all(pending);
    assert.equal(JSON.parse(readFileSync(file, "utf8")).telegram.offset, 40);
    const again = new StateStore(file);
    assert.equal((await again.load()).telegram.offset, 40);
  } finally {
    cleanup();
  }
});
