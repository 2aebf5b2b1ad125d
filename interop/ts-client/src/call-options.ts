/** Per-call options of every API function. */
export interface CallOptions {
  /** Aborts the HTTP request (the call rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Gives up after this long (rejects with a `LightspeedTimeoutError`). */
  timeoutMs?: number;
}
