// API keys (operator): `operator/api-keys/list|create|revoke`.
//
// These methods are not in the contract yet (the operator API is being added in
// parallel), so they are called through the generic `call` with the shapes below,
// and a gateway without them, or a key that may not call them, shows the API's
// typed error instead of the list. A created key's plaintext is shown once, in the
// page only: it is never stored.
import { useState } from "preact/hooks";
import type { LightspeedClient } from "../../ts-client/src/index.ts";
import { LightspeedError, currentClient, describeError, formatTime } from "./api.ts";
import { Table } from "./lists.tsx";
import { ErrorLine, Section, useLoad } from "./load.tsx";

/** An API key as `operator/api-keys/list` is expected to describe it (never its secret). */
interface ApiKeyView {
  keyId: string;
  universeId?: string;
  label?: string | null;
  createdAtMs?: number;
  revokedAtMs?: number | null;
}

interface ApiKeyCreated {
  keyId: string;
  /** The plaintext key: shown once. */
  key: string;
  universeId?: string;
}

type OperatorMethod = "operator/api-keys/list" | "operator/api-keys/create" | "operator/api-keys/revoke";

async function operator<T>(client: LightspeedClient, method: OperatorMethod, params: object): Promise<T> {
  const call = client.call as unknown as (method: string, params: object) => Promise<T>;
  return call.call(client, method, params);
}

/** JSON-RPC's "method not found": this gateway has no operator API yet. */
const METHOD_NOT_FOUND = -32601;

function operatorError(method: OperatorMethod, err: unknown): string {
  if (err instanceof LightspeedError) {
    if (err.code === METHOD_NOT_FOUND) return `This gateway does not offer ${method} (method not found).`;
    if (err.kind === "unauthorized" || err.kind === "rejected") {
      return `This key cannot call operator methods: ${describeError(err)}`;
    }
  }
  return describeError(err);
}

export function ApiKeysPage() {
  const list = useLoad(async (client) => {
    try {
      return (await operator<{ keys: ApiKeyView[] }>(client, "operator/api-keys/list", {})).keys;
    } catch (err) {
      throw new Error(operatorError("operator/api-keys/list", err));
    }
  });
  const [created, setCreated] = useState<ApiKeyCreated>();
  const [error, setError] = useState<string>();

  const run = async <T,>(method: OperatorMethod, params: object): Promise<T | undefined> => {
    const client = currentClient();
    if (!client) return undefined;
    setError(undefined);
    try {
      const result = await operator<T>(client, method, params);
      list.reload();
      return result;
    } catch (err) {
      setError(operatorError(method, err));
      return undefined;
    }
  };

  return (
    <Section title="API keys" onReload={list.reload}>
      <CreateKey onCreate={async (params) => setCreated(await run<ApiKeyCreated>("operator/api-keys/create", params))} />
      {created && (
        <div class="card secret" role="status">
          <p>
            New key <code>{created.keyId}</code>: copy it now, it is not shown again.
          </p>
          <input readOnly value={created.key} onFocus={(e) => e.currentTarget.select()} />
          <button type="button" class="quiet" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      <ErrorLine error={error ?? list.error} />
      {list.data && (
        <Table
          rows={list.data}
          rowKey={(key) => key.keyId}
          empty="No keys."
          columns={[
            { label: "Key id", cell: (key) => <code>{key.keyId}</code> },
            { label: "Label", cell: (key) => key.label ?? "—" },
            { label: "Universe", cell: (key) => key.universeId ?? "—" },
            { label: "Created", cell: (key) => formatTime(key.createdAtMs) },
            {
              label: "State",
              cell: (key) =>
                key.revokedAtMs ? (
                  `revoked ${formatTime(key.revokedAtMs)}`
                ) : (
                  <button type="button" class="danger" onClick={() => {
                      if (window.confirm(`Revoke ${key.keyId}? Clients using it stop working.`)) {
                        void run("operator/api-keys/revoke", { keyId: key.keyId });
                      }
                    }}>
                    Revoke
                  </button>
                ),
            },
          ]}
        />
      )}
    </Section>
  );
}

function CreateKey({ onCreate }: { onCreate: (params: { universeId?: string; label?: string }) => Promise<void> }) {
  const [universeId, setUniverseId] = useState("");
  const [label, setLabel] = useState("");
  return (
    <form
      class="card form inline"
      onSubmit={(event) => {
        event.preventDefault();
        void onCreate({ ...(universeId.trim() ? { universeId: universeId.trim() } : {}), ...(label.trim() ? { label: label.trim() } : {}) });
      }}
    >
      <label>
        Universe
        <input name="universeId" value={universeId} placeholder="the caller's" onInput={(e) => setUniverseId(e.currentTarget.value)} />
      </label>
      <label>
        Label
        <input name="label" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
      </label>
      <button type="submit">Create key</button>
    </form>
  );
}
