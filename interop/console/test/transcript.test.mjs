// The transcript fold (src/transcript.ts), without a browser or a server: bundled
// with esbuild into a temporary module, then driven with events and deltas shaped
// like the API's.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const FINISHED = "lightspeed.core.run.finished";
const STARTED = "lightspeed.core.run.started";
const ITEMS = "lightspeed.core.context.item_upserted";
const ASKED = "lightspeed.core.tool.approval_requested";
const DECIDED = "lightspeed.core.tool.approval_decided";

let dir;
let fold;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "console-transcript-"));
  const outfile = join(dir, "transcript.mjs");
  await build({
    entryPoints: [fileURLToPath(new URL("../src/transcript.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "neutral",
    outfile,
    logLevel: "warning",
    alias: { ws: fileURLToPath(new URL("../src/no-ws.ts", import.meta.url)) },
  });
  fold = await import(pathToFileURL(outfile).href);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const run = (runId, status) => ({ runId, status, turns: 0, usage: {} });
let nextCursor = 0;
const event = (kind, fields) => ({ atMs: 0, cursor: ++nextCursor, kind, ...fields });
const delta = (runId, text, fields = {}) => ({ runId, turn: 1, outputIndex: 0, kind: "text", text, ...fields });
const replay = (events, deltas = []) => {
  let state = fold.EMPTY;
  for (const e of events) state = fold.applyEvent(state, e);
  for (const d of deltas) state = fold.applyDelta(state, d);
  return state;
};

test("runs are tracked from start to finish, and the active one is known", () => {
  const started = event(STARTED, { runId: "run_1", run: run("run_1", "running") });
  let state = replay([started]);
  assert.equal(state.activeRunId, "run_1");
  assert.deepEqual(state.entries, [{ type: "run", runId: "run_1", status: "running" }]);
  state = fold.applyEvent(state, event(FINISHED, { runId: "run_1", run: { ...run("run_1", "cancelled"), failure: { code: "c", reason: "cancelled", message: "by the user" } } }));
  assert.equal(state.activeRunId, undefined);
  assert.deepEqual(state.entries, [{ type: "run", runId: "run_1", status: "cancelled", failure: "cancelled: by the user" }]);
});

test("a run queued behind the active one does not become the active one", () => {
  const REQUESTED = "lightspeed.core.run.requested";
  let state = replay([
    event(STARTED, { runId: "run_1", run: run("run_1", "running") }),
    event(REQUESTED, { runId: "run_2", run: run("run_2", "queued") }),
  ]);
  assert.equal(state.activeRunId, "run_1", "steer and cancel act on the running run");
  state = fold.applyEvent(state, event(FINISHED, { runId: "run_1", run: run("run_1", "completed") }));
  assert.equal(state.activeRunId, undefined);
  state = fold.applyEvent(state, event(STARTED, { runId: "run_2", run: run("run_2", "running") }));
  assert.equal(state.activeRunId, "run_2");
});

test("an event at or before the cursor is not applied twice", () => {
  const started = event(STARTED, { runId: "run_1", run: run("run_1", "running") });
  const once = replay([started]);
  assert.equal(fold.applyEvent(once, started), once);
});

test("items are appended, then replaced in place when completed", () => {
  const call = { type: "toolCall", itemId: "i2", callId: "c1", name: "echo", arguments: "{}" };
  const state = replay([
    event(ITEMS, { runId: "run_1", items: [{ type: "userMessage", itemId: "i1", blobRef: "b", text: "hi" }] }),
    event(ITEMS, { runId: "run_1", items: [call] }),
    event(ITEMS, { runId: "run_1", items: [{ type: "assistantMessage", itemId: "i3", text: "done" }] }),
    event(ITEMS, { runId: "run_1", items: [{ ...call, result: { output: "ok", outputRef: "r", status: "ok", truncated: false } }] }),
  ]);
  assert.deepEqual(state.entries.map((e) => e.itemId), ["i1", "i2", "i3"]);
  assert.equal(state.entries[1].result.output, "ok");
});

test("deltas stream into previews that committed items replace", () => {
  let state = replay([], [delta("run_1", "Hel"), delta("run_1", "lo"), delta("run_1", "x", { kind: "toolOutput", callId: "c1", outputIndex: 1 })]);
  assert.deepEqual(state.live.map((p) => [p.kind, p.text]), [["text", "Hello"], ["toolOutput", "x"]]);
  state = fold.applyDelta(state, delta("run_2", "other run"));
  state = fold.applyEvent(state, event(ITEMS, { runId: "run_1", items: [{ type: "assistantMessage", itemId: "a", text: "Hello" }] }));
  assert.deepEqual(state.live.map((p) => p.text), ["other run"]);
});

test("a retry delta drops what streamed for that turn only", () => {
  let state = replay([], [delta("run_1", "wrong"), delta("run_1", "kept", { turn: 2 })]);
  state = fold.applyDelta(state, delta("run_1", "", { kind: "retry" }));
  assert.deepEqual(state.live.map((p) => p.text), ["kept"]);
});

test("approvals are pending until decided, and expire with their run", () => {
  const asked = (callIds) => event(ASKED, { runId: "run_1", hold: { callIds, state: "awaitingApproval" } });
  let state = replay([asked(["c1"]), asked(["c2"])]);
  assert.deepEqual(state.entries.map((e) => e.state), ["pending", "pending"]);
  state = fold.applyEvent(state, event(DECIDED, { runId: "run_1", hold: { callIds: ["c1"], state: "denied" } }));
  assert.deepEqual(state.entries.map((e) => e.state), ["denied", "pending"]);
  state = fold.applyEvent(state, event(FINISHED, { runId: "run_1", run: run("run_1", "completed") }));
  assert.deepEqual(state.entries.filter((e) => e.type === "approval").map((e) => e.state), ["denied", "expired"]);
});
