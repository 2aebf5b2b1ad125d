import { LightspeedError } from "./errors.js";
import type { SessionNotification, SessionSubscribeParams } from "./generated/types.js";
import type { RpcSocket, SubscriptionRoute } from "./socket.js";

export interface SubscribeOptions {
  /** Deliver committed events after this cursor (default 0: the whole log). */
  cursor?: number;
  /** Also deliver live text/reasoning deltas (default true). Deltas are best-effort. */
  deltas?: boolean;
  /** Told about every failure: dropped sockets (then it reconnects) and the final one. */
  onError?: (error: Error) => void;
  /** Called each time the subscription is (re)established on a socket. */
  onSubscribed?: (info: { cursor: number; reconnects: number }) => void;
  /** First reconnect delay in ms (default 200), doubled per failed attempt. */
  reconnectDelayMs?: number;
  /** Longest reconnect delay in ms (default 10,000). */
  reconnectDelayMaxMs?: number;
}

/** What a subscription needs from its client. */
export interface SocketSource {
  /** A connected, authenticated socket (shared; opened when there is none). */
  socket(): Promise<RpcSocket>;
  /** The subscription no longer needs a socket. */
  released(subscription: Subscription): void;
}

/** Errors after which subscribing again cannot help. */
const FINAL_KINDS = new Set(["notFound", "invalidParams", "unauthorized", "invalidRequest", "parseError"]);

/**
 * A live `session/subscribe`: calls its handler with each notification, in order.
 * On a dropped socket it reconnects with backoff and resubscribes after the last
 * committed event it delivered, so no committed event is lost or delivered twice.
 * Deltas sent while it was away are not replayed.
 */
export class Subscription {
  readonly sessionId: string;
  readonly #source: SocketSource;
  readonly #handler: (notification: SessionNotification) => void;
  readonly #options: SubscribeOptions;
  #cursor: number;
  #reconnects = 0;
  #attempt = 0;
  #socket: RpcSocket | undefined;
  #subscriptionId: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #final: Error | undefined;
  #connecting = false;
  #unlisten: (() => void) | undefined;
  readonly #done: Promise<Error | undefined>;
  #resolveDone!: (error: Error | undefined) => void;
  #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (error: unknown) => void;
  #readySettled = false;

  constructor(
    source: SocketSource,
    sessionId: string,
    options: SubscribeOptions,
    handler: (notification: SessionNotification) => void,
  ) {
    this.#source = source;
    this.sessionId = sessionId;
    this.#options = options;
    this.#handler = handler;
    this.#cursor = options.cursor ?? 0;
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Nobody has to wait for `ready`; an unobserved rejection must not crash Node.
    this.#ready.catch(() => {});
    void this.#connect();
  }

  /** Cursor of the last committed event delivered (or the starting cursor). */
  get cursor(): number {
    return this.#cursor;
  }

  /** How many times it subscribed again after losing its socket or stream. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** True while subscribed on an open socket. */
  get connected(): boolean {
    return this.#subscriptionId !== undefined && !!this.#socket?.isOpen;
  }

  /** Resolves once first subscribed; rejects if that fails for good. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Resolves when the subscription ends: `undefined` after `close()`, else the final error. */
  get done(): Promise<Error | undefined> {
    return this.#done;
  }

  /** Unsubscribes and stops reconnecting. */
  close(): void {
    this.#finish(undefined);
  }

  /**
   * Test hook: kills the socket under the subscription (and any other subscription of
   * the same client) as a network failure would. It reconnects and resumes.
   */
  dropConnectionForTest(): void {
    this.#socket?.drop();
  }

  async #connect(): Promise<void> {
    if (this.#closed || this.#connecting) return;
    this.#connecting = true;
    let socket: RpcSocket | undefined;
    try {
      socket = await this.#source.socket();
      if (this.#closed) return;
      const params: SessionSubscribeParams = { sessionId: this.sessionId, cursor: this.#cursor };
      if (this.#options.deltas !== undefined) params.deltas = this.#options.deltas;
      // Registered before subscribing, so a drop during the call is seen.
      this.#unlisten?.();
      const unlisten = socket.onClose((error) => this.#lost(socket!, error));
      this.#unlisten = unlisten;
      let id: unknown;
      try {
        id = await socket.request("session/subscribe", params);
      } catch (err) {
        unlisten();
        throw err;
      }
      const subscriptionId = String(id);
      if (this.#closed) {
        socket.request("session/unsubscribe", [subscriptionId]).catch(() => {});
        unlisten();
        return;
      }
      this.#socket = socket;
      this.#subscriptionId = subscriptionId;
      const route: SubscriptionRoute = {
        notification: (result) => this.#deliver(result as SessionNotification),
        ended: (error) => this.#streamEnded(socket!, error),
      };
      socket.route(subscriptionId, route);
      this.#attempt = 0;
      if (!this.#readySettled) {
        this.#readySettled = true;
        this.#resolveReady();
      }
      this.#options.onSubscribed?.({ cursor: this.#cursor, reconnects: this.#reconnects });
    } catch (err) {
      if (this.#closed) return;
      const error = err instanceof Error ? err : new Error(String(err));
      if (error instanceof LightspeedError && FINAL_KINDS.has(error.kind)) {
        this.#finish(error);
        return;
      }
      this.#report(error);
      this.#schedule();
    } finally {
      this.#connecting = false;
    }
  }

  #deliver(notification: SessionNotification): void {
    if (this.#closed) return;
    if (notification.type === "event") {
      // After a resubscription the server starts after our cursor; anything at or
      // before it was delivered already.
      if (notification.event.cursor <= this.#cursor) return;
      this.#cursor = notification.event.cursor;
    }
    try {
      this.#handler(notification);
    } catch (err) {
      this.#report(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The socket went away: subscribe again on a new one. */
  #lost(socket: RpcSocket, error: Error): void {
    if (this.#closed || (this.#socket !== undefined && this.#socket !== socket)) return;
    this.#unlisten = undefined;
    this.#socket = undefined;
    this.#subscriptionId = undefined;
    this.#report(error);
    this.#schedule();
  }

  /** The server ended the stream (e.g. `subscriberTooSlow`): subscribe again. */
  #streamEnded(socket: RpcSocket, error: LightspeedError): void {
    if (this.#closed || this.#socket !== socket) return;
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#socket = undefined;
    this.#subscriptionId = undefined;
    this.#report(error);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const base = this.#options.reconnectDelayMs ?? 200;
    const max = this.#options.reconnectDelayMaxMs ?? 10_000;
    const delay = Math.min(max, base * 2 ** this.#attempt) * (0.8 + Math.random() * 0.4);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reconnects++;
      void this.#connect();
    }, delay);
  }

  #report(error: Error): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // a failing error handler must not stop the subscription
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#final = error;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unlisten?.();
    this.#unlisten = undefined;
    const socket = this.#socket;
    const id = this.#subscriptionId;
    this.#socket = undefined;
    this.#subscriptionId = undefined;
    if (socket && id !== undefined) {
      socket.unroute(id);
      if (socket.isOpen) socket.request("session/unsubscribe", [id]).catch(() => {});
    }
    if (!this.#readySettled) {
      this.#readySettled = true;
      if (error) this.#rejectReady(error);
      else this.#resolveReady();
    }
    if (error) this.#report(error);
    this.#source.released(this);
    this.#resolveDone(this.#final);
  }
}
