import { blobRefOf, fromBase64, randomId, toBase64 } from "./bytes.js";
import type { CallOptions } from "./call-options.js";
import { LightspeedError, LightspeedTimeoutError, LightspeedTransportError, isWireError } from "./errors.js";
import { GeneratedMethods, type MethodName, type Params, type Result } from "./generated/methods.js";
import type {
  BlobPutResult,
  DeltaView,
  EventView,
  InputItem,
  ItemView,
  RunOverridesInput,
  RunStartResult,
  RunStatus,
  RunView,
  SessionNotification,
} from "./generated/types.js";
import { RpcSocket, loadWsPackage, type WebSocketAuth, type WebSocketConstructor } from "./socket.js";
import { Subscription, type SubscribeOptions } from "./subscription.js";

export interface LightspeedClientOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:8080` (a trailing `/rpc` is ignored). */
  url: string;
  /** An API key, sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /**
   * The `WebSocket` class for subscriptions (default: the global one, else the `ws`
   * package in Node).
   */
  WebSocket?: WebSocketConstructor;
  /**
   * How sockets authenticate (default: `header` with the `ws` package, which can send
   * headers; `message`, the gateway's `auth/hello`, with any other class).
   */
  webSocketAuth?: WebSocketAuth;
  /** Default deadline of each HTTP call in ms (default 120,000; 0: none). */
  timeoutMs?: number;
  /** Blobs up to this size go inline through `blob/put`; larger ones through `PUT /blobs/{ref}` (default 64 KiB). */
  inlineBlobMaxBytes?: number;
}

/** Run input: a string is one text item. */
export type RunInput = string | InputItem[];

export interface StartRunOptions {
  sessionId: string;
  input: RunInput;
  /** Idempotency key (default: a random UUID). */
  submissionId?: string;
  overrides?: RunOverridesInput | null;
  signal?: AbortSignal;
}

/** `run/start`'s result, with what it was started with. */
export interface StartedRun extends RunStartResult {
  sessionId: string;
  submissionId: string;
  /**
   * A cursor no later than the run's first event: pass it as `cursor` to
   * `awaitRun`/`streamRun` to skip the session's older history.
   */
  startCursor: number;
}

export interface AwaitRunOptions {
  /** Give up after this long (rejects with `LightspeedTimeoutError`). Default: wait as long as it runs. */
  timeoutMs?: number;
  /** Look at events after this cursor only (default 0; `StartedRun.startCursor` is a good one). */
  cursor?: number;
  signal?: AbortSignal;
}

/** How a run ended. */
export interface RunOutcome {
  runId: string;
  /** `completed`, `failed` or `cancelled`. */
  status: RunStatus;
  /** The run as its `run.finished` event shows it (status, failure, usage, turns). */
  run: RunView;
  /** The items of the run's events seen after the starting cursor, in order. */
  items: ItemView[];
  /** The text of those items' assistant messages, joined by blank lines. */
  text: string;
  /** The run's events seen after the starting cursor, the last one `run.finished`. */
  events: EventView[];
  /** Cursor of the `run.finished` event. */
  cursor: number;
}

export interface StreamRunOptions {
  /** Events after this cursor (default 0; `StartedRun.startCursor` is a good one). */
  cursor?: number;
  /** Include live deltas (default true). */
  deltas?: boolean;
  signal?: AbortSignal;
}

/** What `streamRun` yields: live deltas (best-effort) and committed events (authoritative). */
export type RunStreamItem = { type: "delta"; delta: DeltaView } | { type: "event"; event: EventView };

export interface UploadBlobOptions {
  /** Force the raw route (`true`) or inline `blob/put` (`false`); default by size. */
  raw?: boolean;
  signal?: AbortSignal;
}

/** The kind of the event that ends a run. */
export const RUN_FINISHED_KIND = "lightspeed.core.run.finished";

const TERMINAL: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

/** The run an event belongs to, if any. */
export function runIdOf(event: EventView): string | undefined {
  return event.runId ?? event.run?.runId ?? undefined;
}

/** Whether `event` is the end of run `runId`. */
export function isRunFinished(event: EventView, runId?: string): boolean {
  if (event.kind !== RUN_FINISHED_KIND) return false;
  return runId === undefined || runIdOf(event) === runId;
}

/** The text of the assistant messages among `items`, joined by blank lines. */
export function assistantText(items: readonly ItemView[]): string {
  const texts: string[] = [];
  for (const item of items) {
    if (item.type === "assistantMessage" && item.text) texts.push(item.text);
  }
  return texts.join("\n\n");
}

/** Run input as the API takes it. */
export function toInputItems(input: RunInput): InputItem[] {
  return typeof input === "string" ? [{ type: "text", text: input }] : input;
}

/**
 * A Lightspeed API client: `call` and one function per method over `POST /rpc`,
 * subscriptions over one shared WebSocket, and helpers for runs and blobs.
 */
export class LightspeedClient extends GeneratedMethods {
  readonly url: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #options: LightspeedClientOptions;
  #nextId = 1;
  #socket: RpcSocket | undefined;
  #opening: Promise<RpcSocket> | undefined;
  readonly #subscriptions = new Set<Subscription>();

  constructor(options: LightspeedClientOptions) {
    super();
    if (!options?.url) throw new TypeError("LightspeedClient: `url` is required");
    if (!options.apiKey) throw new TypeError("LightspeedClient: `apiKey` is required");
    this.url = options.url.replace(/\/+$/, "").replace(/\/rpc$/, "");
    this.#apiKey = options.apiKey;
    const globalFetch = globalThis.fetch;
    const chosen = options.fetch ?? (globalFetch ? globalFetch.bind(globalThis) : undefined);
    if (!chosen) throw new TypeError("LightspeedClient: no global fetch; pass `fetch`");
    this.#fetch = chosen;
    this.#options = options;
  }

  /** Calls a JSON-RPC method over HTTP; rejects with `LightspeedError` when the API answers an error. */
  async call<M extends MethodName>(method: M, params: Params<M>, options: CallOptions = {}): Promise<Result<M>> {
    const id = this.#nextId++;
    const body = JSON.stringify({ jsonrpc: "2.0", id, method, params: params ?? {} });
    const response = await this.#http(`${this.url}/rpc`, method, options, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const payload = readJson(response, method);
    if (isWireError(payload?.error)) throw new LightspeedError(payload.error, method);
    if (!response.ok || !payload || !("result" in payload)) {
      throw new LightspeedTransportError(`${method}: HTTP ${response.status} without a JSON-RPC result`, {
        status: response.status,
      });
    }
    return payload.result as Result<M>;
  }

  /**
   * Subscribes to a session's notifications over the client's WebSocket: committed
   * events after `cursor`, then live, with deltas unless `deltas: false`. Survives
   * dropped sockets (see `Subscription`).
   */
  subscribe(
    sessionId: string,
    options: SubscribeOptions,
    onNotification: (notification: SessionNotification) => void,
  ): Subscription;
  subscribe(sessionId: string, onNotification: (notification: SessionNotification) => void): Subscription;
  subscribe(
    sessionId: string,
    optionsOrHandler: SubscribeOptions | ((notification: SessionNotification) => void),
    maybeHandler?: (notification: SessionNotification) => void,
  ): Subscription {
    const options = typeof optionsOrHandler === "function" ? {} : optionsOrHandler;
    const handler = typeof optionsOrHandler === "function" ? optionsOrHandler : maybeHandler;
    if (typeof handler !== "function") throw new TypeError("subscribe: a notification handler is required");
    let subscription!: Subscription;
    const source = {
      socket: () => this.#sharedSocket(),
      released: (sub: Subscription) => this.#released(sub),
    };
    subscription = new Subscription(source, sessionId, options, handler);
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /** Closes every subscription and the WebSocket. HTTP calls keep working. */
  close(): void {
    for (const subscription of [...this.#subscriptions]) subscription.close();
    this.#socket?.close();
    this.#socket = undefined;
  }

  /**
   * Starts a run (`run/start`) with a random submission id unless one is given.
   * Also reads the session first, to return `startCursor`.
   */
  async startRun(options: StartRunOptions): Promise<StartedRun> {
    const { sessionId, signal } = options;
    const submissionId = options.submissionId ?? randomId();
    const before = await this.sessionRead({ sessionId }, { signal });
    const params: Params<"run/start"> = { sessionId, submissionId, input: toInputItems(options.input) };
    if (options.overrides !== undefined) params.overrides = options.overrides;
    const result = await this.runStart(params, { signal });
    // A repeated submission's run may have started before `before` was read.
    const startCursor = result.duplicate ? 0 : before.eventCursor;
    return { ...result, sessionId, submissionId, startCursor };
  }

  /**
   * Waits for a run to finish (long-polling `session/events/read`) and resolves to
   * its final status, items and text. Rejects with a `notFound` `LightspeedError`
   * (reason `runNotFound`) when the session has no such run after `cursor`.
   */
  async awaitRun(sessionId: string, runId: string, options: AwaitRunOptions = {}): Promise<RunOutcome> {
    const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : undefined;
    const remaining = (): number => {
      if (deadline === undefined) return 30_000;
      const left = deadline - Date.now();
      if (left <= 0) throw new LightspeedTimeoutError(`run ${runId} of ${sessionId} did not finish in ${options.timeoutMs} ms`);
      return left;
    };
    const session = await this.sessionRead({ sessionId }, { signal: options.signal, timeoutMs: callTimeout(remaining()) });
    const live = isLive(session, runId);
    const events: EventView[] = [];
    let cursor = options.cursor ?? 0;
    for (;;) {
      const waitMs = Math.min(30_000, remaining());
      const page = await this.sessionEventsRead(
        { sessionId, cursor, limit: 500, waitMs: live ? waitMs : 0 },
        { signal: options.signal, timeoutMs: callTimeout(waitMs + 10_000) },
      );
      for (const event of page.events) {
        if (runIdOf(event) !== runId) continue;
        events.push(event);
        if (isRunFinished(event, runId)) return outcomeOf(runId, event, events);
      }
      cursor = page.nextCursor;
      if (!live && (page.events.length === 0 || cursor >= session.eventCursor)) throw runNotFound(sessionId, runId);
    }
  }

  /**
   * Streams a run: its committed events (and, while it runs, live deltas) after
   * `cursor`, ending after its `run.finished` event. A run that already finished is
   * replayed from the log.
   */
  async *streamRun(sessionId: string, runId: string, options: StreamRunOptions = {}): AsyncGenerator<RunStreamItem> {
    const session = await this.sessionRead({ sessionId }, { signal: options.signal });
    let cursor = options.cursor ?? 0;
    if (!isLive(session, runId)) {
      while (cursor < session.eventCursor) {
        const page = await this.sessionEventsRead({ sessionId, cursor, limit: 500 }, { signal: options.signal });
        for (const event of page.events) {
          if (runIdOf(event) !== runId) continue;
          yield { type: "event", event };
          if (isRunFinished(event, runId)) return;
        }
        if (page.events.length === 0) break;
        cursor = page.nextCursor;
      }
      throw runNotFound(sessionId, runId);
    }
    const queue = new AsyncQueue<RunStreamItem>();
    const subscription = this.subscribe(sessionId, { cursor, deltas: options.deltas ?? true }, (notification) => {
      if (notification.type === "delta") {
        if (notification.delta.runId === runId) queue.push({ type: "delta", delta: notification.delta });
        return;
      }
      const event = notification.event;
      if (runIdOf(event) !== runId) return;
      queue.push({ type: "event", event });
      if (isRunFinished(event, runId)) queue.end();
    });
    void subscription.done.then((error) => (error ? queue.fail(error) : queue.end()));
    const abort = (): void => queue.fail(options.signal?.reason ?? new Error("aborted"));
    options.signal?.addEventListener("abort", abort, { once: true });
    try {
      yield* queue;
    } finally {
      options.signal?.removeEventListener("abort", abort);
      subscription.close();
    }
  }

  /**
   * Stores `bytes` and resolves to its blob ref (`sha256:<hex>`): inline through
   * `blob/put` up to `inlineBlobMaxBytes`, else `PUT /blobs/{ref}` (skipped when the
   * store already has it).
   */
  async uploadBlob(bytes: Uint8Array, options: UploadBlobOptions = {}): Promise<string> {
    const blobRef = await blobRefOf(bytes);
    const inlineMax = this.#options.inlineBlobMaxBytes ?? 64 * 1024;
    const raw = options.raw ?? bytes.byteLength > inlineMax;
    if (!raw) {
      const result = await this.blobPut({ dataBase64: toBase64(bytes) }, { signal: options.signal });
      if (result.blobRef !== blobRef) {
        throw new LightspeedTransportError(`blob/put stored ${result.blobRef}, expected ${blobRef}`);
      }
      return result.blobRef;
    }
    const has = await this.blobHasMany({ blobRefs: [blobRef] }, { signal: options.signal });
    if (has.present.includes(blobRef)) return blobRef;
    const response = await this.#http(`${this.url}/blobs/${blobRef}`, `PUT /blobs/${blobRef}`, options, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    const payload = readJson(response, "PUT /blobs");
    if (isWireError(payload?.error)) throw new LightspeedError(payload.error, "PUT /blobs");
    if (!response.ok) throw new LightspeedTransportError(`PUT /blobs: HTTP ${response.status}`, { status: response.status });
    const result = payload as BlobPutResult;
    return result.blobRef ?? blobRef;
  }

  /** Reads a blob whole (`GET /blobs/{ref}`) and checks its digest. */
  async downloadBlob(blobRef: string, options: CallOptions = {}): Promise<Uint8Array> {
    const response = await this.#http(`${this.url}/blobs/${blobRef}`, `GET /blobs/${blobRef}`, options, {
      method: "GET",
    });
    if (!response.ok) {
      let payload: any;
      try {
        payload = readJson(response, "GET /blobs");
      } catch {
        payload = undefined;
      }
      if (isWireError(payload?.error)) throw new LightspeedError(payload.error, "GET /blobs");
      throw new LightspeedTransportError(`GET /blobs: HTTP ${response.status}`, { status: response.status });
    }
    const bytes = response.body;
    const actual = await blobRefOf(bytes);
    if (actual !== blobRef) throw new LightspeedTransportError(`GET /blobs/${blobRef} returned ${actual}`);
    return bytes;
  }

  /** Reads a blob inline through `blob/get` (small blobs). */
  async readBlobInline(blobRef: string, options: CallOptions = {}): Promise<Uint8Array> {
    const result = await this.blobGet({ blobRef }, options);
    return fromBase64(result.dataBase64);
  }

  async #http(url: string, what: string, options: CallOptions, init: RequestInit): Promise<HttpAnswer> {
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 120_000;
    const controller = new AbortController();
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs)
        : undefined;
    const outer = options.signal;
    const onAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.#fetch(url, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${this.#apiKey}` },
        signal: controller.signal,
      });
      // Read under the same deadline.
      const body = new Uint8Array(await response.arrayBuffer());
      return { status: response.status, ok: response.ok, body };
    } catch (err) {
      if (timedOut) throw new LightspeedTimeoutError(`${what}: no answer within ${timeoutMs} ms`);
      if (outer?.aborted) throw outer.reason ?? err;
      throw new LightspeedTransportError(`${what}: ${(err as Error)?.message ?? err}`, { cause: err });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    }
  }

  #sharedSocket(): Promise<RpcSocket> {
    const current = this.#socket;
    if (current?.isOpen) return Promise.resolve(current);
    if (this.#opening) return this.#opening;
    const opening = (async () => {
      const { ctor, auth } = await this.#webSocketClass();
      const wsUrl = `${this.url.replace(/^http/, "ws")}/rpc`;
      const socket = new RpcSocket({ url: wsUrl, apiKey: this.#apiKey, WebSocket: ctor, auth, connectTimeoutMs: 15_000 });
      try {
        await socket.open();
      } catch (err) {
        socket.close("failed to open");
        throw err;
      }
      if (this.#subscriptions.size === 0) {
        socket.close("no longer needed");
        throw new LightspeedTransportError("no subscription needs the socket any more");
      }
      this.#socket = socket;
      socket.onClose(() => {
        if (this.#socket === socket) this.#socket = undefined;
      });
      return socket;
    })();
    this.#opening = opening;
    const clear = (): void => {
      if (this.#opening === opening) this.#opening = undefined;
    };
    opening.then(clear, clear);
    return opening;
  }

  #released(subscription: Subscription): void {
    this.#subscriptions.delete(subscription);
    if (this.#subscriptions.size === 0) {
      // Nothing listens: let the process exit.
      const socket = this.#socket;
      this.#socket = undefined;
      socket?.close("no longer needed");
    }
  }

  async #webSocketClass(): Promise<{ ctor: WebSocketConstructor; auth: WebSocketAuth }> {
    const chosen = this.#options.webSocketAuth;
    if (this.#options.WebSocket) return { ctor: this.#options.WebSocket, auth: chosen ?? "message" };
    const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof global === "function") return { ctor: global, auth: chosen ?? "message" };
    return { ctor: await loadWsPackage(), auth: chosen ?? "header" };
  }
}

function callTimeout(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

function isLive(session: { activeRun?: RunView | null; queuedRunIds: string[] }, runId: string): boolean {
  return session.activeRun?.runId === runId || session.queuedRunIds.includes(runId);
}

function runNotFound(sessionId: string, runId: string): LightspeedError {
  return new LightspeedError({
    code: -32004,
    message: `session ${sessionId} has no run ${runId} after the given cursor`,
    data: { kind: "notFound", reason: "runNotFound" },
  });
}

function outcomeOf(runId: string, finished: EventView, events: EventView[]): RunOutcome {
  const items = events.flatMap((event) => event.items ?? []);
  const run = finished.run;
  if (!run || !TERMINAL.has(run.status)) {
    throw new LightspeedTransportError(`run ${runId} finished without a final status (${run?.status})`);
  }
  return { runId, status: run.status, run, items, text: assistantText(items), events, cursor: finished.cursor };
}

/** An HTTP response, read whole. */
interface HttpAnswer {
  status: number;
  ok: boolean;
  body: Uint8Array;
}

function readJson(response: HttpAnswer, what: string): any {
  const text = new TextDecoder().decode(response.body);
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new LightspeedTransportError(`${what}: HTTP ${response.status} with a body that is not JSON`, {
      status: response.status,
    });
  }
}

/** A single-consumer async queue. */
class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  #ended = false;
  #error: unknown;

  push(item: T): void {
    if (this.#ended) return;
    if (this.#waiting) {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting.resolve({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#wake();
  }

  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error ?? new Error("failed");
    this.#wake();
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (!waiting || this.#items.length > 0) return;
    if (this.#error !== undefined) waiting.reject(this.#error);
    else waiting.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
        if (this.#ended) {
          return this.#error !== undefined ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
      },
    };
  }
}
