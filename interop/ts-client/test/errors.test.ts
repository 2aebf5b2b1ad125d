import assert from "node:assert/strict";
import { LightspeedClient, LightspeedError, ERROR_CODES } from "../src/index.js";
import { API_URL, liveTest, newClient, uniqueId } from "./support/live.js";

liveTest("an unknown session surfaces as a typed notFound error", async () => {
  const client = newClient();
  const sessionId = uniqueId("ts-missing");
  await assert.rejects(client.sessionRead({ sessionId }), (err: unknown) => {
    assert.ok(err instanceof LightspeedError, `not a LightspeedError: ${err}`);
    assert.equal(err.code, -32004);
    assert.equal(err.code, ERROR_CODES.notFound);
    assert.equal(err.kind, "notFound");
    assert.equal(typeof err.reason, "string", `reason: ${JSON.stringify(err.data)}`);
    assert.ok(err.reason!.length > 0);
    assert.equal(err.data?.kind, "notFound");
    assert.equal(err.method, "session/read");
    return true;
  });
});

liveTest("a wrong API key is unauthorized", async () => {
  const client = new LightspeedClient({ url: API_URL!, apiKey: "lsk_live_not_a_key" });
  await assert.rejects(client.initialize(), (err: unknown) => {
    assert.ok(err instanceof LightspeedError);
    assert.equal(err.code, -32000);
    assert.equal(err.kind, "unauthorized");
    assert.equal(err.reason, "unknownKey");
    return true;
  });
});

liveTest("bad params are invalidParams", async () => {
  const client = newClient();
  // Deliberately wrong at runtime: `limit` out of range.
  await assert.rejects(client.sessionEventsRead({ sessionId: uniqueId("ts-x"), limit: 100_000 }), (err: unknown) => {
    assert.ok(err instanceof LightspeedError);
    assert.ok(["invalidParams", "notFound"].includes(err.kind), err.kind);
    return true;
  });
  await assert.rejects(client.call("session/read", {} as never), (err: unknown) => {
    assert.ok(err instanceof LightspeedError);
    assert.equal(err.code, -32602);
    assert.equal(err.kind, "invalidParams");
    return true;
  });
});
