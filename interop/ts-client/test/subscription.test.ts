import assert from "node:assert/strict";
import { WebSocket as WsWebSocket } from "ws";
import {
  RUN_FINISHED_KIND,
  isRunFinished,
  type EventView,
  type LightspeedClient,
  type SessionNotification,
  type WebSocketConstructor,
} from "../src/index.js";
import { eventually, liveTest, newClient, sessionConfig, sleep, uniqueId } from "./support/live.js";

/** Every committed event of the session, read over HTTP. */
async function allEvents(client: LightspeedClient, sessionId: string): Promise<EventView[]> {
  const events: EventView[] = [];
  let cursor = 0;
  for (;;) {
    const page = await client.sessionEventsRead({ sessionId, cursor, limit: 500 });
    events.push(...page.events);
    if (page.events.length === 0 || page.nextCursor >= page.headCursor) return events;
    cursor = page.nextCursor;
  }
}

liveTest("a subscription resumes after its socket drops, each committed event exactly once", async (t) => {
  const client = newClient();
  const sessionId = uniqueId("ts-sub");
  await client.sessionStart({ sessionId, config: sessionConfig() });
  const received: SessionNotification[] = [];
  const errors: Error[] = [];
  const subscription = client.subscribe(
    sessionId,
    { cursor: 0, deltas: true, onError: (err) => errors.push(err), reconnectDelayMs: 100 },
    (n) => received.push(n),
  );
  await subscription.ready;
  const events = () => received.filter((n) => n.type === "event").map((n) => (n as { event: EventView }).event);

  // Drop before anything runs, then start a run while the socket is down.
  await eventually("the session's first events", async () => (events().length > 0 ? true : undefined));
  subscription.dropConnectionForTest();
  const first = await client.startRun({ sessionId, input: "first while disconnected" });
  await eventually("the first run's end", async () =>
    events().some((e) => isRunFinished(e, first.runId)) ? true : undefined,
  );

  // Drop in the middle of a second run.
  const second = await client.startRun({ sessionId, input: "second, dropped midway" });
  await eventually("a committed event of the second run", async () =>
    events().some((e) => e.runId === second.runId) ? true : undefined,
  );
  subscription.dropConnectionForTest();
  await sleep(20);
  subscription.dropConnectionForTest();
  const third = await client.startRun({ sessionId, input: "third after drops" });
  const lastEnd = await eventually("the third run's end", async () =>
    events().find((e) => isRunFinished(e, third.runId)),
  );
  t.diagnostic(`reconnects: ${subscription.reconnects}, events: ${events().length}, deltas: ${received.length - events().length}`);
  assert.ok(subscription.reconnects >= 2, `reconnects: ${subscription.reconnects}`);
  assert.equal(subscription.cursor, Math.max(...events().map((e) => e.cursor)));
  subscription.close();
  assert.equal(await subscription.done, undefined);

  const got = events();
  const expected = (await allEvents(client, sessionId)).filter((e) => e.cursor <= lastEnd.cursor);
  assert.deepEqual(
    got.map((e) => e.cursor),
    expected.map((e) => e.cursor),
    "the subscription delivered every committed event once, in order",
  );
  assert.deepEqual(got.map((e) => e.kind), expected.map((e) => e.kind));
  assert.deepEqual(got, expected, "the same events, field for field");
  assert.ok(got.some((e) => e.kind === RUN_FINISHED_KIND && e.runId === second.runId));
  assert.ok(errors.length >= 2, "the drops were reported to onError");
});

for (const auth of ["header", "message"] as const) {
  liveTest(`subscriptions authenticate with webSocketAuth: ${auth}`, async () => {
    const client = newClient({ WebSocket: WsWebSocket as unknown as WebSocketConstructor, webSocketAuth: auth });
    const sessionId = uniqueId(`ts-auth-${auth}`);
    await client.sessionStart({ sessionId, config: sessionConfig() });
    const run = await client.startRun({ sessionId, input: `auth by ${auth}` });
    const seen: EventView[] = [];
    const subscription = client.subscribe(sessionId, { deltas: false }, (n) => {
      if (n.type === "event") seen.push(n.event);
    });
    await subscription.ready;
    await eventually("the run's end", async () => (seen.some((e) => isRunFinished(e, run.runId)) ? true : undefined));
    subscription.close();
    client.close();
  });
}

liveTest("subscribing to an unknown session ends with a typed error", async () => {
  const client = newClient();
  const subscription = client.subscribe(uniqueId("ts-nosuch"), () => {});
  const error = await subscription.done;
  assert.ok(error, "the subscription ended with an error");
  assert.equal((error as { kind?: string }).kind, "notFound");
  await assert.rejects(subscription.ready);
  client.close();
});

liveTest("a subscription with a wrong key ends with a typed unauthorized error", async () => {
  for (const auth of ["header", "message"] as const) {
    const client = newClient({
      apiKey: "lsk_live_wrong",
      WebSocket: WsWebSocket as unknown as WebSocketConstructor,
      webSocketAuth: auth,
    });
    const subscription = client.subscribe(uniqueId("ts-wrong-key"), () => {});
    const error = await subscription.done;
    assert.equal((error as { kind?: string } | undefined)?.kind, "unauthorized", `${auth}: ${error}`);
    client.close();
  }
});
