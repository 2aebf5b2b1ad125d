// A session: its transcript (history from `session/events/read`, then live through
// `session/subscribe` with deltas) and the composer (send, steer, cancel).
import { useEffect, useRef, useState } from "preact/hooks";
import type { LightspeedClient, SessionView, Subscription } from "../../ts-client/src/index.ts";
import { currentClient, describeError, formatUsd } from "./api.ts";
import { ErrorLine } from "./load.tsx";
import { BASE } from "./router.ts";
import { EMPTY, applyDelta, applyEvent, type Transcript } from "./transcript.ts";
import { TranscriptView } from "./transcript-view.tsx";

/** History pages read before going live (500 events each): bounds the first load. */
const HISTORY_PAGES_MAX = 200;
const HISTORY_PAGE_EVENTS = 500;

export function SessionPage({ sessionId }: { sessionId: string }) {
  const [transcript, setTranscript] = useState<Transcript>(EMPTY);
  const [view, setView] = useState<SessionView>();
  const [error, setError] = useState<string>();
  const [live, setLive] = useState(false);

  useEffect(() => {
    const client = currentClient();
    if (!client) return;
    let closed = false;
    let subscription: Subscription | undefined;
    (async () => {
      setView(await client.sessionRead({ sessionId }));
      let state = EMPTY;
      for (let page = 0; page < HISTORY_PAGES_MAX && !closed; page++) {
        const read = await client.sessionEventsRead({ sessionId, cursor: state.cursor, limit: HISTORY_PAGE_EVENTS });
        for (const event of read.events) state = applyEvent(state, event);
        if (read.events.length === 0 || read.nextCursor >= read.headCursor) break;
      }
      if (closed) return;
      setTranscript(state);
      subscription = client.subscribe(sessionId, { cursor: state.cursor, deltas: true }, (notification) => {
        if (notification.type === "delta") setTranscript((t) => applyDelta(t, notification.delta));
        else setTranscript((t) => applyEvent(t, notification.event));
      });
      await subscription.ready;
      if (!closed) setLive(true);
      const ended = await subscription.done;
      if (!closed && ended) setError(`Live updates stopped: ${describeError(ended)}`);
      if (!closed) setLive(false);
    })().catch((err: unknown) => !closed && setError(describeError(err)));
    return () => {
      closed = true;
      subscription?.close();
    };
  }, [sessionId]);

  // Status and cost change when a run starts or ends: read the session again then.
  const runMarks = transcript.entries.filter((e) => e.type === "run").map((e) => (e.type === "run" ? e.status : "")).join();
  useEffect(() => {
    const client = currentClient();
    if (!client || runMarks === "") return;
    client.sessionRead({ sessionId }).then(setView, () => undefined);
  }, [sessionId, runMarks]);

  return (
    <section class="session">
      <div class="section-head">
        <h1>
          <a href={`${BASE}/`} class="quiet-link">
            Sessions
          </a>{" "}
          / {sessionId}
        </h1>
        <div class="actions">
          {view && <span class={`badge status-${view.status}`}>{view.status}</span>}
          {view && <span class="row-meta">{formatUsd(view.usage.costUsd)}</span>}
          {view && <span class="row-meta">{view.config.model.model}</span>}
          <span class={`badge ${live ? "live" : "offline"}`} data-testid="live">
            {live ? "live" : "offline"}
          </span>
        </div>
      </div>
      <ErrorLine error={error} />
      <TranscriptView sessionId={sessionId} transcript={transcript} onError={setError} />
      <Composer sessionId={sessionId} activeRunId={transcript.activeRunId} onError={setError} />
    </section>
  );
}

function Composer(props: { sessionId: string; activeRunId: string | undefined; onError: (error: string | undefined) => void }) {
  const { sessionId, activeRunId, onError } = props;
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);

  const act = async (action: (client: LightspeedClient) => Promise<unknown>, clears: boolean): Promise<void> => {
    const client = currentClient();
    if (!client) return;
    setBusy(true);
    onError(undefined);
    try {
      await action(client);
      if (clears) setText("");
    } catch (err) {
      onError(describeError(err));
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  };
  const message = text.trim();
  const send = (): Promise<void> => act((client) => client.startRun({ sessionId, input: message }), true);
  const steer = (): Promise<void> =>
    act((client) => client.runSteer({ sessionId, runId: activeRunId ?? "", input: [{ type: "text", text: message }] }), true);
  const cancel = (): Promise<void> =>
    act((client) => client.runCancel({ sessionId, runId: activeRunId ?? "", reason: "cancelled from the console" }), false);

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        if (message) void (activeRunId ? steer() : send());
      }}
    >
      <textarea
        ref={input}
        name="message"
        rows={2}
        placeholder={activeRunId ? "Steer the running turn, or send to queue a run…" : "Message…"}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
        }}
      />
      <div class="composer-buttons">
        <button type="button" data-action="send" disabled={busy || !message} onClick={() => void send()}>
          Send
        </button>
        <button type="button" data-action="steer" disabled={busy || !message || !activeRunId} onClick={() => void steer()}>
          Steer
        </button>
        <button type="button" data-action="cancel" class="danger" disabled={busy || !activeRunId} onClick={() => void cancel()}>
          Cancel run
        </button>
      </div>
    </form>
  );
}
