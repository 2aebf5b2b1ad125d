export {
  LightspeedClient,
  RUN_FINISHED_KIND,
  assistantText,
  isRunFinished,
  runIdOf,
  toInputItems,
  type AwaitRunOptions,
  type LightspeedClientOptions,
  type RunInput,
  type RunOutcome,
  type RunStreamItem,
  type StartRunOptions,
  type StartedRun,
  type StreamRunOptions,
  type UploadBlobOptions,
} from "./client.js";
export type { CallOptions } from "./call-options.js";
export {
  LightspeedError,
  LightspeedTimeoutError,
  LightspeedTransportError,
  type LightspeedErrorKind,
  type WireError,
} from "./errors.js";
export { Subscription, type SubscribeOptions } from "./subscription.js";
export type { WebSocketAuth, WebSocketConstructor, WebSocketLike } from "./socket.js";
export { blobRefOf } from "./bytes.js";
export {
  ERROR_CODES,
  ERROR_KINDS,
  GeneratedMethods,
  METHODS,
  METHOD_NAMES,
  NOTIFICATIONS,
  PROTOCOL_VERSION,
  TRANSPORT,
  type MethodInfo,
  type MethodName,
  type Methods,
  type Notifications,
  type Params,
  type Result,
} from "./generated/methods.js";
export type * from "./generated/types.js";
