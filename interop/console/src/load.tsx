// Loading a page's data with the signed-in client, and showing its error.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import type { LightspeedClient } from "../../ts-client/src/index.ts";
import { currentClient, describeError } from "./api.ts";

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: (client: LightspeedClient) => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const client = currentClient();
    if (!client) return;
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    load(client).then(
      (data) => live && setState({ data, loading: false }),
      (err: unknown) => live && setState({ error: describeError(err), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [generation, ...deps]);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { ...state, reload };
}

export function ErrorLine({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** A titled page section with a reload button. */
export function Section(props: { title: string; onReload?: () => void; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section>
      <div class="section-head">
        <h1>{props.title}</h1>
        <div class="actions">
          {props.actions}
          {props.onReload && (
            <button type="button" class="quiet" onClick={props.onReload}>
              Reload
            </button>
          )}
        </div>
      </div>
      {props.children}
    </section>
  );
}
