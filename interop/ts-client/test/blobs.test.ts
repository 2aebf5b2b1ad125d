import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { LightspeedError, blobRefOf } from "../src/index.js";
import { liveTest, newClient } from "./support/live.js";

const sha = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

liveTest("a small blob goes inline and comes back", async () => {
  const client = newClient();
  const bytes = new TextEncoder().encode(`small blob ${Date.now()}`);
  const ref = await client.uploadBlob(bytes);
  assert.equal(ref, sha(bytes));
  assert.equal(await blobRefOf(bytes), ref);
  assert.deepEqual(await client.downloadBlob(ref), bytes);
  assert.deepEqual(await client.readBlobInline(ref), bytes);
});

liveTest("a large blob (> 64 KiB) goes through PUT /blobs and comes back", async () => {
  const client = newClient();
  const bytes = new Uint8Array(randomBytes(300 * 1024));
  const calls: string[] = [];
  const spying = newClient({
    fetch: (input, init) => {
      calls.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    },
  });
  const ref = await spying.uploadBlob(bytes);
  assert.equal(ref, sha(bytes));
  assert.ok(calls.includes(`PUT /blobs/${ref}`), `calls: ${calls.join(", ")}`);
  const back = await spying.downloadBlob(ref);
  assert.ok(calls.includes(`GET /blobs/${ref}`), `calls: ${calls.join(", ")}`);
  assert.equal(back.byteLength, bytes.byteLength);
  assert.deepEqual(back, bytes);
  // Uploading it again finds it already stored.
  calls.length = 0;
  assert.equal(await spying.uploadBlob(bytes), ref);
  assert.ok(!calls.some((c) => c.startsWith("PUT")), `calls: ${calls.join(", ")}`);
  // And a plain client reads it too.
  assert.deepEqual(await client.downloadBlob(ref), bytes);
});

liveTest("a missing blob is a typed notFound", async () => {
  const client = newClient();
  await assert.rejects(client.downloadBlob(`sha256:${"ab".repeat(32)}`), (err: unknown) => {
    assert.ok(err instanceof LightspeedError, String(err));
    assert.equal(err.kind, "notFound");
    assert.equal(err.code, -32004);
    return true;
  });
});
