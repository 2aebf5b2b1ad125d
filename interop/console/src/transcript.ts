// Folds a session's committed events and live deltas into what the session page
// shows. Pure (no DOM, no client), so the page re-renders from one value.
//
// Committed events are authoritative; deltas are best-effort previews of the turn
// in progress. A run's previews are dropped as soon as one of its events commits
// items or finishes it (the committed items replace them), and a `retry` delta drops
// what streamed for that turn.
import type { DeltaView, EventView, ItemView, RunStatus } from "../../ts-client/src/index.ts";
import { RUN_FINISHED_KIND, runIdOf } from "../../ts-client/src/index.ts";

/** A run as the transcript shows it: its place and its latest status. */
export interface RunEntry {
  type: "run";
  runId: string;
  status: RunStatus;
  failure?: string;
}

/** Calls of a run that wait for a decision (`tool.approval_requested`, not decided yet). */
export interface ApprovalEntry {
  type: "approval";
  runId: string;
  callIds: string[];
  state: "pending" | "approved" | "denied" | "expired";
}

export type Entry = RunEntry | ApprovalEntry | ItemView;

/** Text streaming for one output of one turn. */
export interface LivePreview {
  key: string;
  runId: string;
  kind: "text" | "reasoning" | "toolOutput";
  callId?: string;
  text: string;
}

export interface Transcript {
  /** In order of first appearance; items are replaced in place when completed. */
  entries: Entry[];
  live: LivePreview[];
  /** Cursor of the last committed event folded in. */
  cursor: number;
  /** The run that has not finished yet, if any (the last one started). */
  activeRunId?: string;
}

export const EMPTY: Transcript = { entries: [], live: [], cursor: 0 };

const APPROVAL_REQUESTED = "lightspeed.core.tool.approval_requested";
const APPROVAL_DECIDED = "lightspeed.core.tool.approval_decided";
const TERMINAL: ReadonlySet<RunStatus> = new Set(["completed", "failed", "cancelled"]);

/** A stable key per entry: items by id, runs by run id, approvals by run and calls. */
export function entryKey(entry: Entry): string {
  if (entry.type === "run") return `run:${entry.runId}`;
  if (entry.type === "approval") return `approval:${entry.runId}:${entry.callIds.join(",")}`;
  return `item:${entry.itemId}`;
}

function upsert(entries: Entry[], entry: Entry): Entry[] {
  const key = entryKey(entry);
  const at = entries.findIndex((existing) => entryKey(existing) === key);
  if (at < 0) return [...entries, entry];
  const next = entries.slice();
  next[at] = entry;
  return next;
}

export function applyEvent(state: Transcript, event: EventView): Transcript {
  if (event.cursor <= state.cursor) return state;
  let entries = state.entries;
  let live = state.live;
  let activeRunId = state.activeRunId;
  const runId = runIdOf(event);

  if (event.run) {
    const run = event.run;
    const failure = run.failure ? `${run.failure.reason}: ${run.failure.message}` : undefined;
    entries = upsert(entries, { type: "run", runId: run.runId, status: run.status, ...(failure ? { failure } : {}) });
    if (TERMINAL.has(run.status)) {
      if (activeRunId === run.runId) activeRunId = undefined;
    } else if (run.status !== "queued") {
      // A queued run waits behind the active one: steer and cancel act on the latter.
      activeRunId = run.runId;
    }
  }
  for (const item of event.items ?? []) entries = upsert(entries, item);
  if (event.hold && runId && (event.kind === APPROVAL_REQUESTED || event.kind === APPROVAL_DECIDED)) {
    const state = event.kind === APPROVAL_REQUESTED ? "pending" : decidedState(event.hold.state);
    entries = decideApprovals(entries, { type: "approval", runId, callIds: event.hold.callIds, state });
  }
  if (runId && ((event.items?.length ?? 0) > 0 || event.kind === RUN_FINISHED_KIND)) {
    live = live.filter((preview) => preview.runId !== runId);
  }
  if (event.kind === RUN_FINISHED_KIND) {
    // A finished run's unanswered approvals can no longer be answered.
    entries = entries.map((entry) =>
      entry.type === "approval" && entry.runId === runId && entry.state === "pending"
        ? { ...entry, state: "expired" }
        : entry,
    );
  }
  return { entries, live, cursor: event.cursor, ...(activeRunId ? { activeRunId } : {}) };
}

function decidedState(hold: string): ApprovalEntry["state"] {
  if (hold === "approved") return "approved";
  if (hold === "denied") return "denied";
  return "expired";
}

/** A decision may cover some of a request's calls: each pending request it touches takes its state. */
function decideApprovals(entries: Entry[], approval: ApprovalEntry): Entry[] {
  if (approval.state === "pending") return upsert(entries, approval);
  const decided = new Set(approval.callIds);
  return entries.map((entry) =>
    entry.type === "approval" && entry.runId === approval.runId && entry.callIds.some((id) => decided.has(id))
      ? { ...entry, state: approval.state }
      : entry,
  );
}

export function applyDelta(state: Transcript, delta: DeltaView): Transcript {
  const turnKey = `${delta.runId}:${delta.turn}`;
  if (delta.kind === "retry") {
    return { ...state, live: state.live.filter((preview) => !preview.key.startsWith(`${turnKey}:`)) };
  }
  if (delta.kind !== "text" && delta.kind !== "reasoning" && delta.kind !== "toolOutput") return state;
  const key = `${turnKey}:${delta.outputIndex}:${delta.kind}:${delta.callId ?? ""}`;
  const at = state.live.findIndex((preview) => preview.key === key);
  const live = state.live.slice();
  if (at < 0) {
    live.push({ key, runId: delta.runId, kind: delta.kind, text: delta.text, ...(delta.callId ? { callId: delta.callId } : {}) });
  } else {
    const preview = live[at]!;
    live[at] = { ...preview, text: preview.text + delta.text };
  }
  return { ...state, live };
}
