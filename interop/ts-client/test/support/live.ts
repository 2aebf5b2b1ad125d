// Live-server test plumbing: the environment `interop/scripts/with-live-server.sh`
// exports, and a `liveTest` that skips (locally) or fails (CI=true) without it.
import { test, type TestContext } from "node:test";
import { LightspeedClient, type LightspeedClientOptions, type SessionConfigInput } from "../../src/index.js";

export const API_URL = process.env.LIGHTSPEED_API_URL;
export const API_KEY = process.env.LIGHTSPEED_API_KEY ?? "";
/** An operator key (the `operator/` methods only). */
export const OPERATOR_KEY = process.env.LIGHTSPEED_OPERATOR_KEY ?? "";
const IN_CI = process.env.CI === "true";

const MISSING = "LIGHTSPEED_API_URL is not set: run under interop/scripts/with-live-server.sh";

/** A test that needs the live server. */
export function liveTest(name: string, fn: (t: TestContext) => Promise<void>, options: { timeout?: number } = {}): void {
  const timeout = options.timeout ?? 120_000;
  if (API_URL) {
    test(name, { timeout }, fn);
  } else if (IN_CI) {
    test(name, () => {
      throw new Error(`${MISSING} (CI=true, so this fails instead of skipping)`);
    });
  } else {
    test(name, { skip: MISSING }, () => {});
  }
}

export function newClient(options: Partial<LightspeedClientOptions> = {}): LightspeedClient {
  return new LightspeedClient({ url: API_URL!, apiKey: API_KEY, ...options });
}

/** The model route the fake provider answers (echo mode: `echo: <last user text>`). */
export function testModel(): SessionConfigInput["model"] {
  const raw = process.env.LIGHTSPEED_TEST_MODEL;
  if (!raw) throw new Error("LIGHTSPEED_TEST_MODEL is not set");
  return JSON.parse(raw);
}

export function sessionConfig(extra: Partial<SessionConfigInput> = {}): SessionConfigInput {
  return { model: testModel(), ...extra };
}

let counter = 0;
/** A unique id with a readable prefix. */
export function uniqueId(prefix: string): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError}` : ""}`);
    await sleep(100);
  }
}
