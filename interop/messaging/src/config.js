// Configuration: a JSON file (MESSAGING_CONFIG) and environment variables, the
// environment winning. Secrets come only from the environment: a config file that
// names one is refused.
import { readFileSync } from "node:fs";

/**
 * Every knob: `key` is its path in the config file, `env` its variable. `secret`
 * knobs are environment-only and never logged.
 */
export const KNOBS = [
  { key: "lightspeed.url", env: "LIGHTSPEED_API_URL", type: "string", required: true, doc: "Lightspeed gateway URL (JSON-RPC at /rpc)." },
  { key: "lightspeed.apiKey", env: "LIGHTSPEED_API_KEY", type: "string", secret: true, required: true, doc: "Lightspeed API key." },
  { key: "model", env: "MESSAGING_MODEL", type: "string", required: true, doc: "Model of new sessions: JSON route `{\"providerId\",\"apiKind\",\"model\"}`, `provider:apiKind:model` (e.g. `openai:openai:responses:gpt-5`) or an alias." },
  { key: "modelAliases", env: "MESSAGING_MODEL_ALIASES", type: "json", default: {}, doc: "Aliases for `/model` and `model`: JSON object alias -> route (JSON object or `provider:apiKind:model`)." },
  { key: "instructions", env: "MESSAGING_INSTRUCTIONS", type: "string", default: "You are chatting with a person through a messaging app. Keep answers short and use plain Markdown.", doc: "Instructions of new sessions (empty: none)." },
  { key: "sessionScope", env: "MESSAGING_SESSION_SCOPE", type: "enum", values: ["chat", "user"], default: "chat", doc: "`chat`: one session per chat; `user`: one session per user (in a group, each member has their own)." },
  { key: "sessionPrefix", env: "MESSAGING_SESSION_PREFIX", type: "string", default: "msg", doc: "Prefix of the session ids the bridge creates (`<prefix>-tg-c<chat>-<n>`)." },
  { key: "stateFile", env: "MESSAGING_STATE_FILE", type: "string", default: "./messaging-state.json", doc: "Where the bridge keeps offsets, seen message ids, sessions and delivered cursors (written atomically)." },
  { key: "http.host", env: "MESSAGING_HTTP_HOST", type: "string", default: "127.0.0.1", doc: "Address of the webhook server (put a TLS proxy in front)." },
  { key: "http.port", env: "MESSAGING_HTTP_PORT", type: "int", default: 8787, doc: "Port of the webhook server (0: any free port). Started only when a webhook is used." },
  { key: "refusal", env: "MESSAGING_REFUSAL", type: "string", default: "Sorry, this bot is private.", doc: "Reply to a chat that is not on the allow-list." },
  { key: "retryMaxMs", env: "MESSAGING_RETRY_MAX_MS", type: "int", default: 30000, doc: "Longest wait between retries while Lightspeed is unreachable." },
  { key: "logLevel", env: "MESSAGING_LOG_LEVEL", type: "enum", values: ["debug", "info", "warn", "error"], default: "info", doc: "Log level (JSON lines on stderr)." },

  { key: "telegram.token", env: "TELEGRAM_BOT_TOKEN", type: "string", secret: true, doc: "Bot token from @BotFather; Telegram is enabled when set." },
  { key: "telegram.mode", env: "TELEGRAM_MODE", type: "enum", values: ["polling", "webhook"], default: "polling", doc: "`polling` (getUpdates) or `webhook`." },
  { key: "telegram.apiRoot", env: "TELEGRAM_API_ROOT", type: "string", default: "https://api.telegram.org", doc: "Bot API root (a local Bot API server or a test stand-in)." },
  { key: "telegram.allowedChats", env: "TELEGRAM_ALLOWED_CHATS", type: "list", default: [], doc: "Comma-separated chat ids that may use the bot; `*` allows every chat. Empty: nobody." },
  { key: "telegram.pollTimeoutSeconds", env: "TELEGRAM_POLL_TIMEOUT_S", type: "int", default: 30, doc: "Long-polling timeout of getUpdates." },
  { key: "telegram.editIntervalMs", env: "TELEGRAM_EDIT_INTERVAL_MS", type: "int", default: 1000, doc: "Least time between two edits or sends of a streamed answer in one chat." },
  { key: "telegram.stream", env: "TELEGRAM_STREAM", type: "enum", values: ["edits", "final"], default: "edits", doc: "`edits`: stream the answer by editing the message; `final`: send it when the run ends." },
  { key: "telegram.maxMessageLength", env: "TELEGRAM_MAX_MESSAGE_LENGTH", type: "int", default: 4096, doc: "Split answers longer than this (Telegram's limit is 4096)." },
  { key: "telegram.webhookUrl", env: "TELEGRAM_WEBHOOK_URL", type: "string", doc: "Public HTTPS URL Telegram posts updates to (webhook mode); its path is served by the webhook server." },
  { key: "telegram.webhookSecret", env: "TELEGRAM_WEBHOOK_SECRET", type: "string", secret: true, doc: "Secret token Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (default: derived from the bot token)." },

  { key: "whatsapp.accessToken", env: "WHATSAPP_ACCESS_TOKEN", type: "string", secret: true, doc: "Cloud API access token (system user token); WhatsApp is enabled when set." },
  { key: "whatsapp.appSecret", env: "WHATSAPP_APP_SECRET", type: "string", secret: true, doc: "App secret: webhook POSTs must carry `X-Hub-Signature-256` made with it." },
  { key: "whatsapp.verifyToken", env: "WHATSAPP_VERIFY_TOKEN", type: "string", secret: true, doc: "Verify token of the webhook subscription handshake." },
  { key: "whatsapp.phoneNumberId", env: "WHATSAPP_PHONE_NUMBER_ID", type: "string", doc: "Phone number id the bridge sends from." },
  { key: "whatsapp.graphRoot", env: "WHATSAPP_GRAPH_ROOT", type: "string", default: "https://graph.facebook.com", doc: "Graph API root." },
  { key: "whatsapp.graphVersion", env: "WHATSAPP_GRAPH_VERSION", type: "string", default: "v21.0", doc: "Graph API version." },
  { key: "whatsapp.webhookPath", env: "WHATSAPP_WEBHOOK_PATH", type: "string", default: "/whatsapp/webhook", doc: "Path of the WhatsApp webhook on the webhook server." },
  { key: "whatsapp.allowedNumbers", env: "WHATSAPP_ALLOWED_NUMBERS", type: "list", default: [], doc: "Comma-separated WhatsApp ids (phone numbers, digits only) that may use the bot; `*` allows all. Empty: nobody." },
  { key: "whatsapp.stream", env: "WHATSAPP_STREAM", type: "enum", values: ["final", "paragraphs"], default: "final", doc: "`final`: one answer when the run ends; `paragraphs`: send finished paragraphs as they come." },
  { key: "whatsapp.maxMessageLength", env: "WHATSAPP_MAX_MESSAGE_LENGTH", type: "int", default: 4096, doc: "Split answers longer than this (WhatsApp's text limit is 4096)." },
];

function getPath(obj, key) {
  return key.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function setPath(obj, key, value) {
  const parts = key.split(".");
  let o = obj;
  for (const p of parts.slice(0, -1)) o = o[p] ??= {};
  o[parts[parts.length - 1]] = value;
}

function coerce(knob, raw, source) {
  const where = `${knob.env} (${source})`;
  if (raw === undefined || raw === null) return undefined;
  switch (knob.type) {
    case "string":
      return String(raw);
    case "int": {
      const n = typeof raw === "number" ? raw : Number(String(raw).trim());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${where}: expected a non-negative integer`);
      return n;
    }
    case "enum":
      if (!knob.values.includes(String(raw))) throw new Error(`${where}: expected one of ${knob.values.join(", ")}`);
      return String(raw);
    case "list":
      if (Array.isArray(raw)) return raw.map(String);
      return String(raw)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    case "json":
      if (typeof raw !== "string") return raw;
      try {
        return JSON.parse(raw);
      } catch (err) {
        throw new Error(`${where}: invalid JSON: ${err.message}`);
      }
    default:
      throw new Error(`unknown knob type ${knob.type}`);
  }
}

/** Loads the configuration from `env` (and the file MESSAGING_CONFIG names). */
export function loadConfig(env = process.env) {
  let file = {};
  if (env.MESSAGING_CONFIG) {
    try {
      file = JSON.parse(readFileSync(env.MESSAGING_CONFIG, "utf8"));
    } catch (err) {
      throw new Error(`MESSAGING_CONFIG ${env.MESSAGING_CONFIG}: ${err.message}`);
    }
  }
  const cfg = {};
  for (const knob of KNOBS) {
    const fromFile = getPath(file, knob.key);
    if (knob.secret && fromFile !== undefined) {
      throw new Error(`${knob.key} is a secret: set ${knob.env} in the environment, not in the config file`);
    }
    let value = env[knob.env] !== undefined && env[knob.env] !== "" ? coerce(knob, env[knob.env], "environment") : undefined;
    if (value === undefined) value = coerce(knob, fromFile, "config file");
    if (value === undefined) value = structuredClone(knob.default);
    if (value !== undefined) setPath(cfg, knob.key, value);
  }
  for (const knob of KNOBS) {
    if (knob.required && getPath(cfg, knob.key) === undefined) throw new Error(`${knob.env} is required`);
  }
  cfg.telegram ??= {};
  cfg.whatsapp ??= {};
  cfg.telegram.enabled = !!cfg.telegram.token;
  cfg.whatsapp.enabled = !!cfg.whatsapp.accessToken;
  if (!cfg.telegram.enabled && !cfg.whatsapp.enabled) {
    throw new Error("nothing to bridge: set TELEGRAM_BOT_TOKEN and/or WHATSAPP_ACCESS_TOKEN");
  }
  if (cfg.telegram.enabled && cfg.telegram.mode === "webhook" && !cfg.telegram.webhookUrl) {
    throw new Error("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL");
  }
  if (cfg.whatsapp.enabled) {
    for (const k of ["appSecret", "verifyToken", "phoneNumberId"]) {
      if (!cfg.whatsapp[k]) throw new Error(`WhatsApp needs ${KNOBS.find((x) => x.key === `whatsapp.${k}`).env}`);
    }
  }
  cfg.modelRoute = resolveModel(cfg.model, cfg.modelAliases);
  // Test-only fault injection (see test/restart.test.js); never set in production.
  cfg.fault = env.MESSAGING_FAULT || "";
  return cfg;
}

export const API_KINDS = ["openai:responses", "openai:completions", "anthropic:messages"];

/** Resolves `/model` arguments: an alias, a JSON route or `provider:apiKind:model`. */
export function resolveModel(spec, aliases = {}) {
  const s = String(spec ?? "").trim();
  if (!s) throw new Error("no model given");
  if (Object.hasOwn(aliases, s)) {
    const a = aliases[s];
    return typeof a === "string" ? resolveModel(a, {}) : checkRoute(a);
  }
  if (s.startsWith("{")) {
    let route;
    try {
      route = JSON.parse(s);
    } catch {
      throw new Error("model: invalid JSON route");
    }
    return checkRoute(route);
  }
  const colon = s.indexOf(":");
  if (colon > 0) {
    const providerId = s.slice(0, colon);
    const rest = s.slice(colon + 1);
    const kind = API_KINDS.find((k) => rest.startsWith(`${k}:`));
    if (kind) return checkRoute({ providerId, apiKind: kind, model: rest.slice(kind.length + 1) });
    const parts = rest.split(":");
    if (parts.length >= 3) return checkRoute({ providerId, apiKind: `${parts[0]}:${parts[1]}`, model: parts.slice(2).join(":") });
  }
  throw new Error(`unknown model "${s}": use an alias or provider:apiKind:model (apiKind: ${API_KINDS.join(", ")})`);
}

function checkRoute(r) {
  if (!r || typeof r !== "object" || !r.providerId || !r.apiKind || !r.model) {
    throw new Error("a model route needs providerId, apiKind and model");
  }
  return { providerId: String(r.providerId), apiKind: String(r.apiKind), model: String(r.model) };
}

/** Every secret value in the config, for the logger to redact. */
export function secretValues(cfg) {
  return KNOBS.filter((k) => k.secret)
    .map((k) => getPath(cfg, k.key))
    .filter(Boolean);
}
