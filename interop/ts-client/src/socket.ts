// One JSON-RPC WebSocket to the gateway, shared by a client's subscriptions.
import { LightspeedError, LightspeedTransportError, isWireError } from "./errors.js";

/** The part of the WHATWG `WebSocket` this client uses (the `ws` package has it too). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: any) => void): void;
}

/** A `WebSocket` class: the global one, the `ws` package's, or any with the same shape. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: any) => WebSocketLike;

/**
 * How a socket authenticates: `header` sends `Authorization: Bearer` on the upgrade
 * (needs a constructor that takes headers, like `ws`); `message` sends the gateway's
 * `auth/hello` as the first message (browsers).
 */
export type WebSocketAuth = "header" | "message";

const OPEN = 1;

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void; method: string };

/** What a subscription gets: each notification's `result`, or the `error` that ended it. */
export interface SubscriptionRoute {
  notification(result: unknown): void;
  ended(error: LightspeedError): void;
}

export interface SocketOptions {
  url: string;
  apiKey: string;
  WebSocket: WebSocketConstructor;
  auth: WebSocketAuth;
  /** Longest wait for the socket to open and authenticate. */
  connectTimeoutMs: number;
}

export class RpcSocket {
  readonly #options: SocketOptions;
  #socket: WebSocketLike | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #routes = new Map<string, SubscriptionRoute>();
  /** Notifications that arrived before their subscription's id was routed. */
  readonly #early = new Map<string, Array<{ result?: unknown; error?: unknown }>>();
  /** Subscription ids answered but not routed yet. */
  readonly #awaitingRoute = new Set<string>();
  readonly #closeListeners = new Set<(error: Error) => void>();
  #closed: Error | undefined;

  constructor(options: SocketOptions) {
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#closed === undefined && this.#socket?.readyState === OPEN;
  }

  /** Opens the socket and, with `message` auth, authenticates it. */
  async open(): Promise<void> {
    const { url, apiKey, auth, connectTimeoutMs } = this.#options;
    const Ctor = this.#options.WebSocket;
    const socket =
      auth === "header" ? new Ctor(url, undefined, { headers: { authorization: `Bearer ${apiKey}` } }) : new Ctor(url);
    this.#socket = socket;
    const opened = new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new LightspeedTransportError(`WebSocket ${url} did not open within ${connectTimeoutMs} ms`));
        this.#fail(new LightspeedTransportError("WebSocket open timed out"));
      }, connectTimeoutMs);
      socket.addEventListener("open", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      });
      socket.addEventListener("error", (event: any) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const message: string = event?.message ?? event?.error?.message ?? "error";
        // `ws` reports a refused upgrade as "Unexpected server response: 401".
        if (/Unexpected server response: 401\b/.test(message)) {
          reject(
            new LightspeedError({
              code: -32000,
              message: "the WebSocket upgrade was refused: unknown or missing API key",
              data: { kind: "unauthorized", reason: "upgradeRefused" },
            }),
          );
          return;
        }
        reject(new LightspeedTransportError(`WebSocket ${url} failed: ${message}`, { cause: event?.error }));
      });
      socket.addEventListener("close", (event: any) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new LightspeedTransportError(`WebSocket ${url} closed before it opened (code ${event?.code})`));
        }
        this.#fail(new LightspeedTransportError(`WebSocket closed (code ${event?.code ?? "?"})`));
      });
    });
    socket.addEventListener("message", (event: any) => this.#onMessage(event.data));
    await opened;
    if (auth === "message") {
      await this.request("auth/hello", { apiKey });
    }
  }

  /** Sends a request and resolves to its result (rejects with a `LightspeedError`). */
  request(method: string, params: unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) {
      return Promise.reject(new LightspeedTransportError("WebSocket is not open"));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      try {
        socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      } catch (err) {
        this.#pending.delete(id);
        reject(new LightspeedTransportError(`sending ${method} failed`, { cause: err }));
      }
    });
  }

  /** Sends notifications for subscription `id` to `route` (including ones that came early). */
  route(id: string, route: SubscriptionRoute): void {
    this.#routes.set(id, route);
    this.#awaitingRoute.delete(id);
    const early = this.#early.get(id);
    this.#early.delete(id);
    for (const message of early ?? []) this.#deliver(id, message);
  }

  unroute(id: string): void {
    this.#routes.delete(id);
    this.#early.delete(id);
    this.#awaitingRoute.delete(id);
  }

  get routes(): number {
    return this.#routes.size;
  }

  /** Called once when the socket is gone (closed, failed, or dropped). */
  onClose(listener: (error: Error) => void): () => void {
    if (this.#closed) {
      const closed = this.#closed;
      queueMicrotask(() => listener(closed));
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Closes the socket; pending requests reject and close listeners run. */
  close(reason = "closed by the client"): void {
    this.#fail(new LightspeedTransportError(`WebSocket ${reason}`));
  }

  /**
   * Kills the connection without a closing handshake where the WebSocket class can
   * (`ws`'s `terminate()`), else closes it: what a network failure looks like to
   * the subscriptions on it.
   */
  drop(): void {
    const socket = this.#socket as (WebSocketLike & { terminate?: () => void }) | undefined;
    if (socket && typeof socket.terminate === "function") {
      socket.terminate();
    }
    this.#fail(new LightspeedTransportError("WebSocket dropped"));
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    try {
      this.#socket?.close();
    } catch {
      // already closing
    }
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.#routes.clear();
    this.#early.clear();
    this.#awaitingRoute.clear();
    const listeners = [...this.#closeListeners];
    this.#closeListeners.clear();
    for (const listener of listeners) listener(error);
  }

  #onMessage(data: unknown): void {
    let text: string;
    if (typeof data === "string") {
      text = data;
    } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      text = new TextDecoder().decode(data as ArrayBuffer | ArrayBufferView);
    } else {
      return;
    }
    let message: any;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    for (const one of Array.isArray(message) ? message : [message]) this.#dispatch(one);
  }

  #dispatch(message: any): void {
    if (typeof message !== "object" || message === null) return;
    if ("id" in message && message.id !== null && !("method" in message)) {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (isWireError(message.error)) {
        pending.reject(new LightspeedError(message.error, pending.method));
      } else {
        if (pending.method.endsWith("subscribe") && ["string", "number"].includes(typeof message.result)) {
          this.#awaitingRoute.add(String(message.result));
        }
        pending.resolve(message.result);
      }
      return;
    }
    if ("id" in message && message.id === null && isWireError(message.error)) {
      // An envelope violation or an authentication failure the gateway could not
      // pin on a request: the socket is about to close.
      this.#fail(new LightspeedError(message.error));
      return;
    }
    if (typeof message.method === "string" && typeof message.params === "object" && message.params !== null) {
      const id = message.params.subscription;
      if (id === undefined || id === null) return;
      this.#deliver(String(id), message.params);
    }
  }

  #deliver(id: string, params: { result?: unknown; error?: unknown }): void {
    const route = this.#routes.get(id);
    if (!route) {
      // Only a subscription whose answer is still on its way can own it; anything
      // else is late traffic of one that was unsubscribed.
      if (this.#pending.size === 0 && !this.#awaitingRoute.has(id)) return;
      const early = this.#early.get(id) ?? [];
      early.push(params);
      this.#early.set(id, early);
      return;
    }
    if (params.error !== undefined) {
      this.#routes.delete(id);
      const error = isWireError(params.error)
        ? new LightspeedError(params.error, "session/notification")
        : new LightspeedError({ code: -32603, message: "the subscription ended" });
      route.ended(error);
      return;
    }
    route.notification(params.result);
  }
}

/** The `ws` package's class, loaded on first use (Node without a global `WebSocket`). */
let wsPackage: Promise<WebSocketConstructor> | undefined;

export function loadWsPackage(): Promise<WebSocketConstructor> {
  wsPackage ??= import("ws").then(
    (module: any) => (module.WebSocket ?? module.default) as WebSocketConstructor,
    (err) => {
      wsPackage = undefined;
      throw new LightspeedTransportError(
        "no global WebSocket and the `ws` package could not be loaded; pass `WebSocket` to the client",
        { cause: err },
      );
    },
  );
  return wsPackage;
}
