// The console's one LightspeedClient, built from the key the user signed in with.
// The key lives in sessionStorage only (gone when the tab closes; never in
// localStorage, cookies or URLs), and the client sends it as `Authorization: Bearer`
// over HTTP and as `auth/hello` on the WebSocket (browsers cannot set headers there).
import { LightspeedClient, LightspeedError, LightspeedTransportError } from "../../ts-client/src/index.ts";
import type { ModelRouteInput } from "../../ts-client/src/index.ts";

const KEY_ITEM = "lightspeed.console.key";
/** Which kind of key signed in: a universe's, or an operator's (`operator/` methods only). */
const ROLE_ITEM = "lightspeed.console.role";

export type Role = "universe" | "operator";
/** The last model route used for a new session: not a secret, so it may outlive the tab. */
const MODEL_ITEM = "lightspeed.console.model";

let client: LightspeedClient | undefined;

/** The client for the stored key, or undefined when signed out. */
export function currentClient(): LightspeedClient | undefined {
  if (client) return client;
  const key = sessionStorage.getItem(KEY_ITEM);
  if (!key) return undefined;
  client = newClient(key);
  return client;
}

function newClient(apiKey: string): LightspeedClient {
  return new LightspeedClient({ url: window.location.origin, apiKey, webSocketAuth: "message" });
}

/**
 * Checks the key with `initialize` (a universe's key), or, when the gateway answers
 * that only a universe's key may call it, with `operator/audit/list` (an operator
 * key); then keeps it and its kind for this tab.
 */
export async function signIn(apiKey: string): Promise<Role> {
  const candidate = newClient(apiKey.trim());
  let role: Role = "universe";
  try {
    await candidate.initialize({});
  } catch (err) {
    if (!(err instanceof LightspeedError && err.reason === "universeKeyRequired")) {
      candidate.close();
      throw err;
    }
    await candidate.operatorAuditList({ limit: 1 });
    role = "operator";
  }
  signOut();
  sessionStorage.setItem(KEY_ITEM, apiKey.trim());
  sessionStorage.setItem(ROLE_ITEM, role);
  client = candidate;
  return role;
}

/** The signed-in key's kind. */
export function currentRole(): Role {
  return sessionStorage.getItem(ROLE_ITEM) === "operator" ? "operator" : "universe";
}

export function signOut(): void {
  client?.close();
  client = undefined;
  sessionStorage.removeItem(KEY_ITEM);
  sessionStorage.removeItem(ROLE_ITEM);
}

/** A readable one-line account of an API or transport error. */
export function describeError(err: unknown): string {
  if (err instanceof LightspeedError) {
    const why = err.reason ? ` (${err.reason})` : "";
    if (err.kind === "unauthorized") return `Unauthorized${why}: ${err.message}`;
    return `${err.kind ?? `error ${err.code}`}${why}: ${err.message}`;
  }
  if (err instanceof LightspeedTransportError) return `Cannot reach the gateway: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export function loadModelRoute(): ModelRouteInput | undefined {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(MODEL_ITEM) ?? "null");
    return isModelRoute(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function saveModelRoute(route: ModelRouteInput): void {
  localStorage.setItem(MODEL_ITEM, JSON.stringify(route));
}

export function isModelRoute(value: unknown): value is ModelRouteInput {
  if (typeof value !== "object" || value === null) return false;
  const route = value as Record<string, unknown>;
  return ["providerId", "apiKind", "model"].every((field) => typeof route[field] === "string" && route[field] !== "");
}

export function formatUsd(usd: number | undefined): string {
  if (usd === undefined) return "…";
  return usd < 0.01 && usd > 0 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function formatTime(ms: number | null | undefined): string {
  if (!ms) return "—";
  return new Date(ms).toLocaleString();
}

export { LightspeedError };
