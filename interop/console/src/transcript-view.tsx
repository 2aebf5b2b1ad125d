// Renders a folded transcript: messages, reasoning, tool calls with their output,
// run markers, approvals with Approve / Deny, then the turn streaming right now.
import { useEffect, useRef, useState } from "preact/hooks";
import type { ItemView } from "../../ts-client/src/index.ts";
import { currentClient, describeError } from "./api.ts";
import { entryKey, type ApprovalEntry, type Entry, type LivePreview, type RunEntry, type Transcript } from "./transcript.ts";

interface Props {
  sessionId: string;
  transcript: Transcript;
  onError: (error: string | undefined) => void;
}

export function TranscriptView({ sessionId, transcript, onError }: Props) {
  const end = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLDivElement>(null);
  // Follow the stream only while the reader is at the bottom already.
  const pinned = useRef(true);
  useEffect(() => {
    if (pinned.current) end.current?.scrollIntoView({ block: "end" });
  }, [transcript]);
  const liveText = transcript.live.filter((p) => p.kind !== "toolOutput");
  return (
    <div
      class="transcript"
      data-testid="transcript"
      ref={box}
      onScroll={() => {
        const el = box.current;
        if (el) pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
      }}
    >
      {transcript.entries.length === 0 && transcript.live.length === 0 && <p class="notice">Nothing here yet. Send a message.</p>}
      {transcript.entries.map((entry) => (
        <EntryView key={entryKey(entry)} entry={entry} sessionId={sessionId} live={transcript.live} onError={onError} />
      ))}
      {liveText.map((preview) => (
        <div key={preview.key} class={`bubble assistant streaming ${preview.kind}`} data-testid="live-text">
          {preview.text}
        </div>
      ))}
      <div ref={end} />
    </div>
  );
}

function EntryView(props: { entry: Entry; sessionId: string; live: LivePreview[]; onError: Props["onError"] }) {
  const { entry } = props;
  if (entry.type === "run") return <RunMarker run={entry} />;
  if (entry.type === "approval") return <Approval approval={entry} sessionId={props.sessionId} onError={props.onError} />;
  return <ItemEntry item={entry} live={props.live} />;
}

function RunMarker({ run }: { run: RunEntry }) {
  return (
    <div class="run-marker" data-run-id={run.runId} data-run-status={run.status}>
      <span>{run.runId}</span> <span class={`badge run-${run.status}`}>{run.status}</span>
      {run.failure && <span class="error-text"> {run.failure}</span>}
    </div>
  );
}

function ItemEntry({ item, live }: { item: ItemView; live: LivePreview[] }) {
  switch (item.type) {
    case "userMessage":
      return <div class="bubble user">{item.text ?? `(${item.mediaType ?? "attachment"})`}</div>;
    case "assistantMessage":
      return (
        <div class="bubble assistant" data-testid="assistant-text">
          {item.text}
        </div>
      );
    case "reasoning":
      return (
        <details class="reasoning">
          <summary>Reasoning</summary>
          <p>{item.summary}</p>
        </details>
      );
    case "toolCall": {
      const streaming = live.filter((p) => p.kind === "toolOutput" && p.callId === item.callId).map((p) => p.text).join("");
      const output = item.result?.output ?? streaming;
      return (
        <details class="tool" open={!item.result} data-call-id={item.callId}>
          <summary>
            Tool <code>{item.name}</code> {item.result ? <span class="badge">{item.result.status}</span> : <span class="badge">running</span>}
          </summary>
          <pre class="args">{item.arguments}</pre>
          {output && <pre class="output">{output}{item.result?.truncated ? "\n… (truncated)" : ""}</pre>}
        </details>
      );
    }
    case "hostedToolCall":
      return (
        <div class="tool hosted">
          Provider tool <code>{item.tool}</code> {item.detail}
        </div>
      );
    case "error":
      return (
        <div class="error">
          {item.code}: {item.message}
        </div>
      );
    case "compaction":
      return <div class="run-marker">Context compacted{item.summary ? `: ${item.summary}` : ""}</div>;
  }
}

function Approval(props: { approval: ApprovalEntry; sessionId: string; onError: Props["onError"] }) {
  const { approval, sessionId, onError } = props;
  const [busy, setBusy] = useState(false);
  const decide = async (approve: boolean): Promise<void> => {
    const client = currentClient();
    if (!client) return;
    setBusy(true);
    onError(undefined);
    const params = { sessionId, runId: approval.runId, callIds: approval.callIds };
    try {
      await (approve ? client.runApprove(params) : client.runDeny({ ...params, message: "Denied from the console." }));
    } catch (err) {
      onError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class={`approval ${approval.state}`} data-testid="approval" data-state={approval.state}>
      <span>
        Approval for {approval.callIds.length === 1 ? "call" : "calls"} <code>{approval.callIds.join(", ")}</code>:{" "}
        {approval.state}
      </span>
      {approval.state === "pending" && (
        <span class="actions">
          <button type="button" disabled={busy} onClick={() => void decide(true)}>
            Approve
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => void decide(false)}>
            Deny
          </button>
        </span>
      )}
    </div>
  );
}
