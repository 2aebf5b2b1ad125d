// Test helpers: the live-server switch, the bridge as a child process, polling.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = join(ROOT, "..", "..");

/**
 * `false` when a live server is configured (LIGHTSPEED_API_URL), else the reason to
 * skip; with CI=true a missing server is an error, not a skip.
 */
export function liveSkip() {
  if (process.env.LIGHTSPEED_API_URL) return false;
  if (process.env.CI === "true") {
    throw new Error("LIGHTSPEED_API_URL is not set (run under interop/scripts/with-live-server.sh)");
  }
  return "no live server (LIGHTSPEED_API_URL unset; run under interop/scripts/with-live-server.sh)";
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, fn, { timeoutMs = 30_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    await sleep(intervalMs);
  }
}

export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "ls-messaging-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function uniquePrefix() {
  return `t${randomBytes(4).toString("hex")}`;
}

/** The environment every bridge under test gets (no variables leak in from outside). */
export function baseEnv(extra = {}) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LIGHTSPEED_API_URL: process.env.LIGHTSPEED_API_URL,
    LIGHTSPEED_API_KEY: process.env.LIGHTSPEED_API_KEY,
    MESSAGING_MODEL: process.env.LIGHTSPEED_TEST_MODEL,
    MESSAGING_LOG_LEVEL: "debug",
    MESSAGING_RETRY_MAX_MS: "1000",
    ...extra,
  };
}

/**
 * Runs bin/lightspeed-messaging.js as a child process and waits for its "ready" log
 * line. `exited` resolves with {code, signal} when it ends.
 */
export async function spawnBridge(env, { readyTimeoutMs = 20_000 } = {}) {
  const proc = spawn(process.execPath, [join(ROOT, "bin", "lightspeed-messaging.js")], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs = [];
  let buf = "";
  let onLine = () => {};
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) !== -1) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        rec = { msg: line };
      }
      logs.push(rec);
      if (process.env.MESSAGING_TEST_VERBOSE) process.stderr.write(`[bridge ${proc.pid}] ${line}\n`);
      onLine(rec);
    }
  });
  proc.stdout.resume();
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge not ready in ${readyTimeoutMs} ms; log:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`)), readyTimeoutMs);
    onLine = (rec) => {
      if (rec.msg === "ready") {
        clearTimeout(timer);
        resolve(rec);
      }
    };
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`bridge exited (${code ?? signal}) before ready; log:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`));
    });
  });
  const bridge = {
    proc,
    logs,
    exited,
    httpPort: ready.httpPort,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await exited;
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGKILL");
      await exited;
    },
    dumpLogs() {
      return logs.map((l) => JSON.stringify(l)).join("\n");
    },
  };
  return bridge;
}

export function readState(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** A 1x1 PNG. */
export const TINY_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
