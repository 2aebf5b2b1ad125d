import assert from "node:assert/strict";
import { LightspeedError, RUN_FINISHED_KIND, type DeltaView, type EventView } from "../src/index.js";
import { liveTest, newClient, sessionConfig, uniqueId } from "./support/live.js";

liveTest("startRun + awaitRun: a text turn with the echo provider", async () => {
  const client = newClient();
  const sessionId = uniqueId("ts-run");
  await client.sessionStart({ sessionId, config: sessionConfig() });
  const run = await client.startRun({ sessionId, input: "hello there" });
  assert.equal(run.duplicate, false);
  assert.match(run.submissionId, /^[0-9a-f-]{36}$/);
  const outcome = await client.awaitRun(sessionId, run.runId, { timeoutMs: 60_000 });
  assert.equal(outcome.status, "completed");
  assert.equal(outcome.run.runId, run.runId);
  assert.match(outcome.text, /echo: hello there/);
  assert.equal(outcome.events.at(-1)?.kind, RUN_FINISHED_KIND);
  // From the start cursor, the same answer.
  const again = await client.awaitRun(sessionId, run.runId, { cursor: run.startCursor });
  assert.equal(again.text, outcome.text);
  assert.equal(again.cursor, outcome.cursor);

  // The same submission is the same run.
  const repeat = await client.startRun({ sessionId, input: "hello there", submissionId: run.submissionId });
  assert.equal(repeat.duplicate, true);
  assert.equal(repeat.runId, run.runId);

  await assert.rejects(client.awaitRun(sessionId, "run_999"), (err: unknown) => {
    assert.ok(err instanceof LightspeedError);
    assert.equal(err.kind, "notFound");
    assert.equal(err.reason, "runNotFound");
    return true;
  });
});

liveTest("streamRun yields the run's deltas and committed events and ends after run.finished", async (t) => {
  const client = newClient();
  const sessionId = uniqueId("ts-stream");
  await client.sessionStart({ sessionId, config: sessionConfig() });
  const run = await client.startRun({ sessionId, input: "stream this please" });
  const events: EventView[] = [];
  const deltas: DeltaView[] = [];
  for await (const item of client.streamRun(sessionId, run.runId, { cursor: run.startCursor })) {
    if (item.type === "event") events.push(item.event);
    else deltas.push(item.delta);
  }
  client.close();
  assert.ok(events.length >= 2, `events: ${events.map((e) => e.kind).join(", ")}`);
  assert.equal(events.at(-1)?.kind, RUN_FINISHED_KIND);
  assert.equal(events.at(-1)?.run?.status, "completed");
  for (const event of events) assert.equal(event.runId, run.runId);
  const cursors = events.map((e) => e.cursor);
  assert.deepEqual(cursors, [...cursors].sort((a, b) => a - b));
  assert.equal(new Set(cursors).size, cursors.length);
  const text = events
    .flatMap((e) => e.items ?? [])
    .filter((i) => i.type === "assistantMessage")
    .map((i) => (i as { text: string }).text)
    .join("");
  assert.match(text, /echo: stream this please/);
  for (const delta of deltas) assert.equal(delta.runId, run.runId);
  t.diagnostic(`${events.length} events, ${deltas.length} deltas`);
  const streamed = deltas.filter((d) => d.kind === "text").map((d) => d.text).join("");
  // Deltas are best-effort: whatever arrived is part of the final text.
  assert.ok(text.includes(streamed), `deltas ${JSON.stringify(streamed)} vs ${JSON.stringify(text)}`);

  // A finished run is replayed from the log, ending the same way.
  const replayed: EventView[] = [];
  for await (const item of client.streamRun(sessionId, run.runId)) {
    if (item.type === "event") replayed.push(item.event);
  }
  assert.deepEqual(
    replayed.map((e) => e.cursor).filter((c) => c > run.startCursor),
    cursors,
  );
  assert.equal(replayed.at(-1)?.kind, RUN_FINISHED_KIND);
});
