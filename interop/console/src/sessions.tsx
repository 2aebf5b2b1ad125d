// Sessions: the list (status, model, cost, last activity) and "new session".
import { useEffect, useRef, useState } from "preact/hooks";
import type { LightspeedClient, ModelRouteInput, SessionSummary } from "../../ts-client/src/index.ts";
import { currentClient, describeError, formatTime, formatUsd, isModelRoute, loadModelRoute, saveModelRoute } from "./api.ts";
import { ErrorLine, Section, useLoad } from "./load.tsx";
import { navigate, sessionPath } from "./router.ts";

/** Rows per page; `session/list` allows up to 200. */
const PAGE_ROWS = 50;

export function SessionsPage() {
  const list = useLoad((client) => client.sessionList({ limit: PAGE_ROWS }));
  // Pages after the first, fetched with "Load more"; a reload starts over.
  const [more, setMore] = useState<{ sessions: SessionSummary[]; nextCursor?: string | null }>();
  useEffect(() => setMore(undefined), [list.data]);
  const sessions = [...(list.data?.sessions ?? []), ...(more?.sessions ?? [])];
  const nextCursor = more ? more.nextCursor : list.data?.nextCursor;
  const costs = useCosts(sessions, list.data);
  const [creating, setCreating] = useState(false);
  const [moreError, setMoreError] = useState<string>();
  const loadMore = async (): Promise<void> => {
    const client = currentClient();
    if (!client || !nextCursor) return;
    try {
      const page = await client.sessionList({ limit: PAGE_ROWS, cursor: nextCursor });
      setMore({ sessions: [...(more?.sessions ?? []), ...page.sessions], nextCursor: page.nextCursor });
    } catch (err) {
      setMoreError(describeError(err));
    }
  };
  return (
    <Section
      title="Sessions"
      onReload={list.reload}
      actions={
        <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          New session
        </button>
      }
    >
      {creating && <NewSession />}
      <ErrorLine error={list.error} />
      {!list.loading && !list.error && sessions.length === 0 && <p class="notice">No sessions yet.</p>}
      <ul class="rows" data-testid="sessions">
        {sessions.map((session) => (
          <li key={session.sessionId}>
            <a href={sessionPath(session.sessionId)} class="row-link">
              <span class="row-title">{session.sessionId}</span>
              <span class={`badge status-${session.status}`}>{session.status}</span>
              <span class="row-meta">{session.model}</span>
              <span class="row-meta">{formatUsd(costs[session.sessionId])}</span>
              <span class="row-meta">{formatTime(session.updatedAtMs)}</span>
            </a>
          </li>
        ))}
      </ul>
      <ErrorLine error={moreError} />
      {nextCursor && (
        <button type="button" class="quiet more" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
    </Section>
  );
}

/**
 * Each listed session's cost: `session/list` rows carry none, so each row is read
 * once per load of the list (in the background; a failed read leaves "…").
 */
function useCosts(sessions: SessionSummary[], firstPage: unknown): Record<string, number> {
  const [costs, setCosts] = useState<Record<string, number>>({});
  const known = useRef(costs);
  known.current = costs;
  // A reloaded list reads every cost again (they grow while sessions run).
  useEffect(() => {
    known.current = {};
    setCosts({});
  }, [firstPage]);
  const ids = sessions.map((s) => s.sessionId).join("\n");
  useEffect(() => {
    const client = currentClient();
    if (!client || sessions.length === 0) return;
    let live = true;
    for (const { sessionId } of sessions) {
      if (sessionId in known.current) continue;
      client.sessionRead({ sessionId }).then(
        (view) => live && setCosts((previous) => ({ ...previous, [sessionId]: view.usage.costUsd })),
        () => undefined,
      );
    }
    return () => {
      live = false;
    };
  }, [ids, firstPage]);
  return costs;
}

const EMPTY_ROUTE: ModelRouteInput = { providerId: "", apiKind: "", model: "" };

function NewSession() {
  const [route, setRoute] = useState<ModelRouteInput>(() => loadModelRoute() ?? EMPTY_ROUTE);
  const [sessionId, setSessionId] = useState("");
  const [pasted, setPasted] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const onPaste = (text: string): void => {
    setPasted(text);
    try {
      const parsed: unknown = JSON.parse(text);
      if (isModelRoute(parsed)) {
        setRoute({ providerId: parsed.providerId, apiKind: parsed.apiKind, model: parsed.model });
        setError(undefined);
      } else {
        setError("The JSON needs string fields providerId, apiKind and model.");
      }
    } catch {
      if (text.trim() !== "") setError("Not JSON yet.");
    }
  };
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const client = currentClient();
    if (!client) return;
    setBusy(true);
    setError(undefined);
    try {
      const view = await start(client, sessionId.trim(), route);
      saveModelRoute(route);
      navigate(sessionPath(view.sessionId));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const field = (name: keyof ModelRouteInput, label: string, placeholder: string) => (
    <label>
      {label}
      <input
        name={name}
        value={route[name]}
        placeholder={placeholder}
        required
        onInput={(e) => setRoute({ ...route, [name]: e.currentTarget.value })}
      />
    </label>
  );
  return (
    <form class="card form" onSubmit={submit} data-testid="new-session">
      <label>
        Session id (optional)
        <input name="sessionId" value={sessionId} placeholder="generated" onInput={(e) => setSessionId(e.currentTarget.value)} />
      </label>
      <label>
        Model route as JSON (fills the fields below)
        <textarea name="modelJson" rows={2} value={pasted} placeholder='{"providerId": "openai", "apiKind": "openai:responses", "model": "gpt-5"}' onInput={(e) => onPaste(e.currentTarget.value)} />
      </label>
      <div class="fields">
        {field("providerId", "Provider", "openai")}
        {field("apiKind", "API kind", "openai:responses")}
        {field("model", "Model", "gpt-5")}
      </div>
      <button type="submit" disabled={busy || !isModelRoute(route)}>
        {busy ? "Starting…" : "Start session"}
      </button>
      <ErrorLine error={error} />
    </form>
  );
}

function start(client: LightspeedClient, sessionId: string, model: ModelRouteInput) {
  return client.sessionStart({ config: { model }, ...(sessionId ? { sessionId } : {}) });
}
