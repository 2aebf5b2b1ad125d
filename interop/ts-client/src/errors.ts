import { ERROR_KINDS } from "./generated/methods.js";
import type { ErrorData, ErrorKind, Quota } from "./generated/types.js";

/**
 * Kinds an error can have: the contract's `ErrorKind`s (envelope violations,
 * `invalidRequest` and `parseError`, included: the gateway answers those before any
 * method runs).
 */
export type LightspeedErrorKind = ErrorKind;

/** A JSON-RPC error object as it travels. */
export interface WireError {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * An error the API answered: its JSON-RPC `code`, the typed `kind` and `reason`
 * from `data`, and the whole `data`.
 */
export class LightspeedError extends Error {
  override name = "LightspeedError";
  /** The JSON-RPC error code, e.g. `-32004`. */
  readonly code: number;
  /** `data.kind`, e.g. `notFound` (derived from `code` when `data` lacks it). */
  readonly kind: LightspeedErrorKind;
  /** `data.reason`, e.g. `sessionBusy`, when the server gave one. */
  readonly reason: string | undefined;
  /** `data.quota`, for `quotaExceeded`. */
  readonly quota: Quota | undefined;
  /** `data.currentRevision`, for revision conflicts. */
  readonly currentRevision: number | undefined;
  /** The error's `data` member as sent. */
  readonly data: ErrorData | undefined;
  /** The method that failed, when known. */
  readonly method: string | undefined;

  constructor(error: WireError, method?: string) {
    super(method ? `${method}: ${error.message}` : error.message);
    this.code = error.code;
    const data = isObject(error.data) ? (error.data as unknown as ErrorData) : undefined;
    this.data = data;
    this.kind = (typeof data?.kind === "string" ? data.kind : undefined) ?? kindOfCode(error.code);
    this.reason = typeof data?.reason === "string" ? data.reason : undefined;
    this.quota = typeof data?.quota === "string" ? data.quota : undefined;
    this.currentRevision = typeof data?.currentRevision === "number" ? data.currentRevision : undefined;
    this.method = method;
  }

  /** True for errors worth retrying later (`overloaded`). */
  get retryable(): boolean {
    return this.kind === "overloaded";
  }
}

/** The request never got a JSON-RPC answer: network failure, a non-JSON body, a dead socket. */
export class LightspeedTransportError extends Error {
  override name = "LightspeedTransportError";
  /** The HTTP status, when a response arrived. */
  readonly status: number | undefined;

  constructor(message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status;
  }
}

/** A client-side deadline passed (`timeoutMs`). */
export class LightspeedTimeoutError extends Error {
  override name = "LightspeedTimeoutError";
}

function kindOfCode(code: number): LightspeedErrorKind {
  return ERROR_KINDS[code] ?? "internal";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether `value` looks like a JSON-RPC error object. */
export function isWireError(value: unknown): value is WireError {
  return isObject(value) && typeof value.code === "number" && typeof value.message === "string";
}
