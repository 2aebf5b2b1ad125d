// Universes (operator keys only): `operator/universes/list|create|read|delete`, the
// universe's dispatch (`operator/dispatch/pause|resume`) and its runs in flight
// (`operator/runs/list|cancel`). Deleting asks for the universe's id typed again,
// as the API does (`confirm`).
import { useState } from "preact/hooks";
import type { RunInFlightView, UniverseView } from "../../ts-client/src/index.ts";
import { currentClient, describeError, formatTime, formatUsd } from "./api.ts";
import { Table } from "./lists.tsx";
import { ErrorLine, Section, useLoad } from "./load.tsx";
import { BASE, navigate, universePath } from "./router.ts";

export function UniversesPage() {
  const list = useLoad(async (client) => (await client.operatorUniversesList({})).universes);
  const [universeId, setUniverseId] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  return (
    <Section title="Universes" onReload={list.reload}>
      <form
        class="card form inline"
        onSubmit={async (event) => {
          event.preventDefault();
          const client = currentClient();
          if (!client) return;
          setError(undefined);
          try {
            const made = await client.operatorUniversesCreate({ universeId: universeId.trim(), name: name.trim() });
            navigate(universePath(made.universeId));
          } catch (err) {
            setError(describeError(err));
            list.reload();
          }
        }}
      >
        <label>
          Universe id
          <input name="newUniverseId" value={universeId} required onInput={(e) => setUniverseId(e.currentTarget.value)} />
        </label>
        <label>
          Name
          <input name="universeName" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit">Create universe</button>
      </form>
      <ErrorLine error={error ?? list.error} />
      {list.data && (
        <Table<UniverseView>
          rows={list.data}
          rowKey={(universe) => universe.universeId}
          empty="No universes yet."
          columns={[
            {
              label: "Universe",
              cell: (universe) => (
                <a href={universePath(universe.universeId)}>
                  <code>{universe.universeId}</code>
                </a>
              ),
            },
            { label: "Name", cell: (universe) => universe.name || "—" },
            { label: "Created", cell: (universe) => formatTime(universe.createdAtMs) },
            { label: "Keys", cell: (universe) => `${universe.activeKeys} active, ${universe.revokedKeys} revoked` },
            {
              label: "State",
              cell: (universe) => (universe.deletedAtMs ? `deleted ${formatTime(universe.deletedAtMs)}` : "live"),
            },
          ]}
        />
      )}
    </Section>
  );
}

function age(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function UniversePage({ universeId }: { universeId: string }) {
  const universe = useLoad((client) => client.operatorUniversesRead({ universeId }), [universeId]);
  const runs = useLoad((client) => client.operatorRunsList({ universeId }), [universeId]);
  const [error, setError] = useState<string>();
  const act = async (action: () => Promise<unknown>): Promise<void> => {
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(describeError(err));
    } finally {
      universe.reload();
      runs.reload();
    }
  };
  const client = currentClient();
  const view = universe.data;
  const paused = runs.data?.dispatch.paused ?? view?.dispatch?.paused ?? false;
  return (
    <>
      <Section
        title={view?.name ? `${view.name} (${universeId})` : universeId}
        onReload={() => {
          universe.reload();
          runs.reload();
        }}
        actions={
          client &&
          view &&
          !view.deletedAtMs && (
            <>
              <button
                type="button"
                data-action={paused ? "resume" : "pause"}
                onClick={() =>
                  void act(() =>
                    paused
                      ? client.operatorDispatchResume({ universeId })
                      : client.operatorDispatchPause({ universeId }),
                  )
                }
              >
                {paused ? "Resume dispatch" : "Pause dispatch"}
              </button>
              <button
                type="button"
                class="danger"
                onClick={() => {
                  const typed = window.prompt(`Delete ${universeId}: its keys, sessions and records. Type its id:`);
                  if (typed === null) return;
                  void act(async () => {
                    await client.operatorUniversesDelete({ universeId, confirm: typed });
                    navigate(`${BASE}/universes`);
                  });
                }}
              >
                Delete
              </button>
            </>
          )
        }
      >
        <ErrorLine error={error ?? universe.error} />
        {view && (
          <dl class="card facts" data-testid="universe">
            <dt>Dispatch</dt>
            <dd data-testid="dispatch">
              {paused ? `paused since ${formatTime(runs.data?.dispatch.pausedAtMs ?? view.dispatch?.pausedAtMs)}` : "running"}
            </dd>
            <dt>Keys</dt>
            <dd>
              {view.activeKeys} active, {view.revokedKeys} revoked
            </dd>
            {view.usage && (
              <>
                <dt>Sessions</dt>
                <dd>{view.usage.sessions}</dd>
                <dt>Runs in flight</dt>
                <dd>{view.usage.runsInFlight}</dd>
                <dt>Cost</dt>
                <dd>{formatUsd(view.usage.costUsd)}</dd>
              </>
            )}
            {view.deletedAtMs && (
              <>
                <dt>Deleted</dt>
                <dd>{formatTime(view.deletedAtMs)}</dd>
              </>
            )}
          </dl>
        )}
      </Section>
      <Section title="Runs in flight" onReload={runs.reload}>
        <ErrorLine error={runs.error} />
        {runs.data && (
          <Table<RunInFlightView>
            rows={runs.data.runs}
            rowKey={(run) => `${run.sessionId}/${run.runId}`}
            empty="Nothing in flight."
            columns={[
              { label: "Session", cell: (run) => <code>{run.sessionId}</code> },
              { label: "Run", cell: (run) => <code>{run.runId}</code> },
              { label: "State", cell: (run) => <span data-state={run.state}>{run.state}</span> },
              { label: "Age", cell: (run) => age(run.ageMs) },
              { label: "Cost", cell: (run) => formatUsd(run.usage.costUsd) },
              {
                label: "",
                cell: (run) => (
                  <button
                    type="button"
                    class="danger"
                    data-cancel={`${run.sessionId}/${run.runId}`}
                    onClick={() =>
                      client &&
                      void act(() =>
                        client.operatorRunsCancel({ universeId, sessionId: run.sessionId, runId: run.runId }),
                      )
                    }
                  >
                    Cancel
                  </button>
                ),
              },
            ]}
          />
        )}
      </Section>
    </>
  );
}
