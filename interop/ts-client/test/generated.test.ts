import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LightspeedClient, METHODS, METHOD_NAMES } from "../src/index.js";

// .test-build/test/ -> the package directory
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

test("the generated files match the contract (npm run check:generated)", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(packageDir, "scripts/generate.mjs"), "--check"], {
    cwd: packageDir,
  });
  assert.match(stdout, /fresh/);
});

test("the method table covers methods.json, one client function each", async () => {
  const contract = JSON.parse(await readFile(join(packageDir, "../contract/methods.json"), "utf8"));
  assert.deepEqual(
    METHOD_NAMES,
    contract.methods.map((m: { name: string }) => m.name),
  );
  const client = new LightspeedClient({ url: "http://127.0.0.1:9", apiKey: "k" });
  for (const method of METHODS) {
    assert.equal(typeof (client as unknown as Record<string, unknown>)[method.functionName], "function", method.functionName);
  }
  const names = Object.fromEntries(METHODS.map((m) => [m.name, m.functionName]));
  assert.equal(names["session/start"], "sessionStart");
  assert.equal(names["session/wake-ups/cancel"], "sessionWakeUpsCancel");
  assert.equal(names["blob/has_many"], "blobHasMany");
  assert.equal(names["blob/pins/list"], "blobPinsList");
});
