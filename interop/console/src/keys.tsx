// API keys and the audit log (operator keys only): `operator/api-keys/list|create|
// revoke` and `operator/audit/list`. A universe's key is refused them; the page then
// shows the API's typed error. A created key's plaintext is shown once, in the page
// only: it is never stored.
import { useState } from "preact/hooks";
import type { ApiKeyCreateResult, ApiKeyView, AuditEntryView } from "../../ts-client/src/index.ts";
import { currentClient, describeError, formatTime } from "./api.ts";
import { Table } from "./lists.tsx";
import { ErrorLine, Section, useLoad } from "./load.tsx";

export function ApiKeysPage() {
  const list = useLoad(async (client) => (await client.operatorApiKeysList({ includeRevoked: true })).keys);
  const audit = useLoad(async (client) => (await client.operatorAuditList({ limit: 50 })).entries);
  const [created, setCreated] = useState<ApiKeyCreateResult>();
  const [error, setError] = useState<string>();

  const act = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setError(undefined);
    try {
      return await action();
    } catch (err) {
      setError(describeError(err));
      return undefined;
    } finally {
      list.reload();
      audit.reload();
    }
  };

  return (
    <>
      <Section title="API keys" onReload={list.reload}>
        <CreateKey
          onCreate={async (params) => {
            const client = currentClient();
            if (client) setCreated(await act(() => client.operatorApiKeysCreate(params)));
          }}
        />
        {created && (
          <div class="card secret" role="status">
            <p>
              New key <code>{created.record.keyId}</code> for <code>{created.record.universeId}</code>: copy it
              now, it is not shown again.
            </p>
            <input readOnly name="createdKey" value={created.key} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" class="quiet" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        )}
        <ErrorLine error={error ?? list.error} />
        {list.data && (
          <Table<ApiKeyView>
            rows={list.data}
            rowKey={(key) => key.keyId}
            empty="No keys."
            columns={[
              { label: "Key id", cell: (key) => <code>{key.keyId}</code> },
              { label: "Name", cell: (key) => key.name || "—" },
              { label: "Universe", cell: (key) => (key.operator ? "operator" : key.universeId) },
              { label: "Created", cell: (key) => formatTime(key.createdAtMs) },
              {
                label: "State",
                cell: (key) =>
                  key.revokedAtMs ? (
                    <span data-testid="revoked">revoked {formatTime(key.revokedAtMs)}</span>
                  ) : (
                    <button
                      type="button"
                      class="danger"
                      data-revoke={key.keyId}
                      onClick={() => {
                        const client = currentClient();
                        if (client && window.confirm(`Revoke ${key.keyId}? Clients using it stop working.`)) {
                          void act(() => client.operatorApiKeysRevoke({ keyId: key.keyId }));
                        }
                      }}
                    >
                      Revoke
                    </button>
                  ),
              },
            ]}
          />
        )}
      </Section>
      <Section title="Audit log" onReload={audit.reload}>
        <ErrorLine error={audit.error} />
        {audit.data && (
          <Table<AuditEntryView>
            rows={audit.data}
            rowKey={(entry) => String(entry.seq)}
            empty="No operator actions yet."
            columns={[
              { label: "When", cell: (entry) => formatTime(entry.atMs) },
              { label: "Method", cell: (entry) => <code>{entry.method}</code> },
              { label: "Target", cell: (entry) => entry.target || "—" },
              { label: "By", cell: (entry) => <code>{entry.keyId}</code> },
              { label: "Code", cell: (entry) => (entry.code === 0 ? "ok" : String(entry.code)) },
            ]}
          />
        )}
      </Section>
    </>
  );
}

function CreateKey({ onCreate }: { onCreate: (params: { universeId: string; name: string }) => Promise<void> }) {
  const [universeId, setUniverseId] = useState("");
  const [name, setName] = useState("");
  return (
    <form
      class="card form inline"
      onSubmit={(event) => {
        event.preventDefault();
        void onCreate({ universeId: universeId.trim(), name: name.trim() });
      }}
    >
      <label>
        Universe
        <input name="universeId" value={universeId} required onInput={(e) => setUniverseId(e.currentTarget.value)} />
      </label>
      <label>
        Name
        <input name="keyName" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <button type="submit">Create key</button>
    </form>
  );
}
