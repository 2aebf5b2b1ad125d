// The platform-neutral part of the bridge: chats -> sessions, commands, starting runs,
// and delivering each run's answer exactly once, from the delivered cursor on.
//
// Restart safety, in short:
// - an inbound message is acknowledged to its platform (Telegram offset, WhatsApp
//   message id marked seen) only after `run/start` accepted it, and its platform id is
//   the run's `submissionId`, so a message replayed after a crash is a duplicate on
//   the server, never a second run;
// - each session keeps `cursor`, the last committed event whose answer was delivered;
//   after a restart the bridge subscribes from there and delivers what follows;
// - the messages an answer was sent as are recorded as soon as they are sent, so a
//   restart mid-answer edits those messages (or sends only the missing chunks)
//   instead of sending the answer again.
import { createHash } from "node:crypto";
import { resolveModel } from "./config.js";
import { remember } from "./state.js";

export class PermanentError extends Error {}
export class TransientError extends Error {}

/** Whether an error may go away by retrying (server overloaded or unreachable, network). */
export function isTransient(err) {
  if (err instanceof PermanentError) return false;
  if (err instanceof TransientError) return true;
  if (err && err.name === "LightspeedError") return ["overloaded", "internal", "unauthorized"].includes(err.kind);
  if (err && ["LightspeedTransportError", "LightspeedTimeoutError", "AbortError", "HttpError"].includes(err.name)) return true;
  if (err instanceof TypeError && /fetch failed/i.test(err.message)) return true;
  if (err && typeof err.code === "string" && /^(ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR)/.test(err.code)) return true;
  return false;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const COMMANDS = new Set(["new", "stop", "model", "start", "help"]);

/** `/cmd@bot args` -> {name, args}, for the bridge's own commands only. */
export function parseCommand(text) {
  const m = /^\/([a-z]+)(?:@\w+)?(?:\s+([\s\S]*))?$/i.exec((text ?? "").trim());
  if (!m || !COMMANDS.has(m[1].toLowerCase())) return null;
  return { name: m[1].toLowerCase(), args: (m[2] ?? "").trim() };
}

function safeId(s) {
  return String(s).replace(/[^A-Za-z0-9_.:-]/g, "_");
}

/** A submission id from a platform message id (hashed when it has characters ids may not). */
export function submissionIdFor(prefix, raw) {
  const s = String(raw);
  if (/^[A-Za-z0-9_.:-]{1,200}$/.test(s)) return `${prefix}:${s}`;
  return `${prefix}:h${createHash("sha256").update(s).digest("hex").slice(0, 40)}`;
}

export class Bridge {
  /**
   * @param {object} o
   * @param {any} o.config
   * @param {import("./state.js").StateStore} o.store
   * @param {any} o.ls Lightspeed client (see lightspeed.js)
   * @param {any} o.log
   */
  constructor({ config, store, ls, log }) {
    this.cfg = config;
    this.store = store;
    this.ls = ls;
    this.log = log;
    /** @type {Record<string, any>} */
    this.platforms = {};
    /** @type {Map<string, Delivery>} */
    this.deliveries = new Map();
    this.stopping = false;
    this.idleCloseMs = 30_000;
  }

  get state() {
    return this.store.data;
  }

  addPlatform(p) {
    this.platforms[p.id] = p;
  }

  /** Test-only crash points (MESSAGING_FAULT): the process dies as a kill -9 would. */
  fault(point) {
    if (this.cfg.fault && this.cfg.fault === point) {
      this.log.warn("fault injected: exiting", { point });
      process.kill(process.pid, "SIGKILL");
    }
  }

  /** Resumes delivering every session that has runs whose answers were not delivered. */
  resume() {
    for (const [sid, st] of Object.entries(this.state.sessions)) {
      if (Object.keys(st.runs ?? {}).length) this.delivery(sid);
    }
  }

  async stop() {
    this.stopping = true;
    for (const d of this.deliveries.values()) d.close();
    this.deliveries.clear();
  }

  /** Retries `fn` while it fails transiently, with capped exponential backoff. */
  async retrying(what, fn) {
    let delay = 250;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!isTransient(err) || this.stopping) throw err;
        this.log.warn(`${what} failed; retrying`, { error: String(err?.message ?? err), delayMs: delay });
        await sleep(delay);
        delay = Math.min(delay * 2, this.cfg.retryMaxMs);
      }
    }
  }

  chatKey(msg) {
    return this.cfg.sessionScope === "user" && msg.userId
      ? `${msg.platform}:u${msg.userId}`
      : `${msg.platform}:c${msg.chatId}`;
  }

  sessionState(sessionId) {
    return this.state.sessions[sessionId];
  }

  /**
   * Handles one inbound message. Resolves once it is safe to acknowledge it to the
   * platform (its run was accepted, or it needed none); throws when it must be
   * retried (a transient failure) or dropped (anything else: the caller tells the user).
   * @param {{platform: string, chatId: string, userId?: string, messageId?: string|number,
   *   submissionId: string, text?: string, attachments?: Array<{kind: string, mime?: string, fetch: () => Promise<Uint8Array>}>,
   *   unsupported?: string, ack?: () => void}} msg  `ack` records in the state that the
   *   platform may forget the message (idempotent); the caller also calls it (and saves)
   *   after this returns.
   */
  async handleInbound(msg) {
    const p = this.platforms[msg.platform];
    if (!p.allowed(msg.chatId)) {
      this.log.info("refused chat", { platform: msg.platform, chatId: msg.chatId });
      await p.notice(msg.chatId, this.cfg.refusal).catch((err) => this.log.warn("refusal not sent", { error: String(err) }));
      return "refused";
    }
    const cmd = parseCommand(msg.text);
    if (cmd) {
      await this.command(p, msg, cmd);
      return "command";
    }
    const attachments = msg.attachments ?? [];
    if (!msg.text && !attachments.length) {
      if (msg.unsupported) await p.notice(msg.chatId, `Sorry, I can't read ${msg.unsupported} messages yet.`, msg.messageId).catch(() => {});
      return "ignored";
    }
    const sessionId = await this.ensureSession(this.chatKey(msg), msg.platform, msg.chatId);
    const delivery = this.delivery(sessionId);
    const release = delivery.hold();
    try {
      await delivery.ready();
      const input = [];
      for (const a of attachments) {
        const bytes = await a.fetch();
        const blobRef = await this.ls.uploadBlob(bytes);
        input.push({ type: "media", blobRef });
      }
      if (msg.text) input.push({ type: "text", text: msg.text });
      this.fault("before-accept");
      const res = await this.ls.runStart({ sessionId, submissionId: msg.submissionId, input });
      const st = this.sessionState(sessionId);
      st.lastChatId = String(msg.chatId);
      if (!st.runs[res.runId] && !(res.duplicate && st.delivered.includes(res.runId))) {
        st.runs[res.runId] = { chatId: String(msg.chatId), replyTo: msg.messageId ?? null, messages: [], sentChars: 0, sentChunks: 0 };
      }
      // The run's record and the platform's acknowledgement go to disk together, before
      // anything of the answer is delivered (this session's delivery is held).
      msg.ack?.();
      await this.store.save();
      this.fault("after-accept");
      this.log.info("run accepted", { sessionId, runId: res.runId, duplicate: res.duplicate, submissionId: msg.submissionId });
      p.typing?.(msg.chatId);
      return "accepted";
    } finally {
      release();
    }
  }

  sessionIdFor(chatKey, generation) {
    const [platform, who] = chatKey.split(":");
    const short = platform === "telegram" ? "tg" : platform === "whatsapp" ? "wa" : platform;
    return safeId(`${this.cfg.sessionPrefix}-${short}-${who}-${generation}`);
  }

  async ensureSession(chatKey, platform, chatId) {
    const chats = this.state.chats;
    const chat = (chats[chatKey] ??= { generation: 1, sessionId: null });
    if (chat.sessionId && this.state.sessions[chat.sessionId]) return chat.sessionId;
    const sessionId = this.sessionIdFor(chatKey, chat.generation);
    const config = { model: this.cfg.modelRoute };
    if (this.cfg.instructions) config.instructions = { type: "text", text: this.cfg.instructions };
    let view;
    try {
      view = await this.ls.sessionStart({ sessionId, config });
    } catch (err) {
      // Started before with another config (e.g. /model, then the state file was lost).
      if (err?.kind !== "conflict") throw err;
      view = await this.ls.sessionRead({ sessionId });
    }
    this.state.sessions[sessionId] = {
      chatKey,
      platform,
      cursor: view.eventCursor ?? 0,
      lastChatId: String(chatId),
      runs: {},
      delivered: [],
    };
    chat.sessionId = sessionId;
    await this.store.save();
    this.log.info("session started", { chatKey, sessionId });
    return sessionId;
  }

  async command(p, msg, cmd) {
    const reply = (text) => p.notice(msg.chatId, text, msg.messageId);
    const chatKey = this.chatKey(msg);
    switch (cmd.name) {
      case "start":
      case "help":
        return reply(
          "Send a message, a photo or a voice note and the agent answers.\n" +
            "/new starts a fresh session\n/stop stops the running answer\n/model <provider:apiKind:model or alias> changes the model",
        );
      case "new": {
        const chat = (this.state.chats[chatKey] ??= { generation: 0, sessionId: null });
        // The old session's answer would otherwise keep arriving after "new".
        if (chat.sessionId) await this.cancelRuns(chat.sessionId, "new session from chat");
        chat.generation += 1;
        chat.sessionId = null;
        await this.store.save();
        const sessionId = await this.ensureSession(chatKey, msg.platform, msg.chatId);
        this.log.info("new session", { chatKey, sessionId });
        return reply("Started a new session.");
      }
      case "stop": {
        const sessionId = this.state.chats[chatKey]?.sessionId;
        if (!sessionId) return reply("Nothing is running.");
        const stopped = await this.cancelRuns(sessionId, "stopped from chat");
        if (!stopped) return reply("Nothing is running.");
        return reply(stopped === 1 ? "Stopping." : `Stopping ${stopped} runs.`);
      }
      case "model": {
        const sessionId = await this.ensureSession(chatKey, msg.platform, msg.chatId);
        if (!cmd.args) {
          const view = await this.ls.sessionRead({ sessionId });
          const m = view.config?.model ?? {};
          const aliases = Object.keys(this.cfg.modelAliases ?? {});
          return reply(`Model: ${m.providerId}:${m.apiKind}:${m.model}` + (aliases.length ? `\nAliases: ${aliases.join(", ")}` : ""));
        }
        let route;
        try {
          route = resolveModel(cmd.args, this.cfg.modelAliases);
        } catch (err) {
          return reply(String(err.message));
        }
        const view = await this.ls.sessionRead({ sessionId });
        try {
          await this.ls.sessionUpdate({ sessionId, expectedRevision: view.revision, patch: { model: route } });
        } catch (err) {
          if (isTransient(err)) throw err;
          return reply(
            err?.kind === "conflict"
              ? "Can't change the model while an answer is running (/stop it first)."
              : `Can't use that model: ${err?.message ?? err}`,
          );
        }
        return reply(`Model set to ${route.providerId}:${route.apiKind}:${route.model}.`);
      }
    }
  }

  /** Cancels the session's active and queued runs; how many there were. */
  async cancelRuns(sessionId, reason) {
    const view = await this.ls.sessionRead({ sessionId });
    const runIds = [view.activeRun?.runId, ...(view.queuedRunIds ?? [])].filter(Boolean);
    for (const runId of runIds) {
      await this.ls.runCancel({ sessionId, runId, reason }).catch((err) => {
        // Already over (finished, or cancelled meanwhile): nothing to stop.
        if (err?.kind !== "conflict" && err?.kind !== "notFound") throw err;
      });
    }
    return runIds.length;
  }

  /** The delivery of a session's answers (started on first use). */
  delivery(sessionId) {
    let d = this.deliveries.get(sessionId);
    if (!d) {
      d = new Delivery(this, sessionId);
      this.deliveries.set(sessionId, d);
      d.start();
    }
    d.touch();
    return d;
  }
}

/**
 * Follows one session (committed events from its delivered cursor on, plus live
 * deltas) and delivers each run's answer through the platform of the session.
 */
class Delivery {
  constructor(bridge, sessionId) {
    this.b = bridge;
    this.sessionId = sessionId;
    this.chain = Promise.resolve();
    this.holds = 0;
    this.holdWaiters = [];
    /** @type {Map<string, any>} */
    this.streams = new Map();
    this.sub = null;
    this.idleTimer = null;
    this.closed = false;
  }

  get st() {
    return this.b.sessionState(this.sessionId);
  }

  get platform() {
    return this.b.platforms[this.st.platform];
  }

  start() {
    const cursor = this.st.cursor ?? 0;
    this.b.log.debug("subscribing", { sessionId: this.sessionId, cursor });
    this.sub = this.b.ls.subscribe(
      this.sessionId,
      {
        cursor,
        deltas: true,
        onError: (err) => this.b.log.warn("subscription error", { sessionId: this.sessionId, error: String(err?.message ?? err) }),
      },
      (n) => this.enqueue(() => this.onNotification(n)),
    );
  }

  async ready() {
    let timer;
    await Promise.race([
      Promise.resolve(this.sub?.ready).catch(() => {}),
      new Promise((r) => (timer = setTimeout(r, 5000))),
    ]);
    clearTimeout(timer);
  }

  /** Holds event processing while a run is being started (so its record exists first). */
  hold() {
    this.holds++;
    this.touch();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.holds--;
      if (!this.holds) for (const r of this.holdWaiters.splice(0)) r();
      this.scheduleIdle();
    };
  }

  touch() {
    clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  scheduleIdle() {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.enqueue(async () => {
        if (!this.holds && !Object.keys(this.st?.runs ?? {}).length && !this.closed) {
          this.close();
          if (this.b.deliveries.get(this.sessionId) === this) this.b.deliveries.delete(this.sessionId);
        }
      });
    }, this.b.idleCloseMs);
    this.idleTimer.unref?.();
  }

  close() {
    this.closed = true;
    clearTimeout(this.idleTimer);
    for (const s of this.streams.values()) clearTimeout(s.timer);
    try {
      this.sub?.close();
    } catch {
      // already closed
    }
  }

  enqueue(fn) {
    this.chain = this.chain
      .then(async () => {
        while (this.holds) await new Promise((r) => this.holdWaiters.push(r));
        if (this.closed || this.b.stopping) return;
        await fn();
      })
      .catch((err) => this.b.log.error("delivery failed", { sessionId: this.sessionId, error: err }));
  }

  stream(runId) {
    let s = this.streams.get(runId);
    if (!s) {
      s = { runId, committed: new Map(), deltas: {}, timer: null, lastFlush: 0, finished: false };
      this.streams.set(runId, s);
    }
    return s;
  }

  async onNotification(n) {
    if (n.type === "delta") {
      const d = n.delta;
      if (!d?.runId) return;
      const s = this.stream(d.runId);
      if (d.kind === "text") {
        const turn = (s.deltas[d.turn] ??= {});
        turn[d.outputIndex] = (turn[d.outputIndex] ?? "") + d.text;
        await this.scheduleFlush(s);
      } else if (d.kind === "retry") {
        delete s.deltas[d.turn];
        await this.scheduleFlush(s);
      }
      return;
    }
    const ev = n.event;
    if (!ev) return;
    const collect = (items, runId) => {
      for (const item of items ?? []) {
        if (item?.type !== "assistantMessage") continue;
        const rid = item.runId ?? runId;
        if (rid) this.stream(rid).committed.set(item.itemId, item.text ?? "");
      }
    };
    collect(ev.items, ev.runId);
    if (ev.runId && /\.turn\.(completed|failed|aborted)$/.test(ev.kind)) {
      const s = this.stream(ev.runId);
      s.deltas = {};
      await this.scheduleFlush(s);
    }
    if (ev.runId && ev.kind.endsWith(".run.finished")) {
      collect(ev.run?.items, ev.runId);
      await this.finish(ev);
    }
  }

  text(s) {
    const parts = [...s.committed.values()].filter((t) => t.trim());
    const nums = (o) => Object.keys(o).map(Number).sort((a, b) => a - b);
    const live = nums(s.deltas)
      .flatMap((t) => nums(s.deltas[t]).map((i) => s.deltas[t][i]))
      .join("");
    if (live.trim()) parts.push(live);
    return parts.join("\n\n");
  }

  record(runId) {
    const st = this.st;
    let rec = st.runs[runId];
    if (!rec) {
      if (st.delivered.includes(runId)) return null;
      // A run this bridge did not start (or whose record was lost): answer where the
      // session last spoke.
      if (!st.lastChatId) return null;
      rec = st.runs[runId] = { chatId: st.lastChatId, replyTo: null, messages: [], sentChars: 0, sentChunks: 0 };
    }
    return rec;
  }

  /**
   * Shows the growing answer: at once (in order with the events) when the platform's
   * interval has passed since the last update, else once it has.
   */
  async scheduleFlush(s) {
    if (s.finished || s.timer || !this.platform?.streams) return;
    const wait = Math.max(0, s.lastFlush + this.platform.minIntervalMs - Date.now());
    if (wait === 0) return this.flush(s);
    s.timer = setTimeout(() => {
      s.timer = null;
      this.enqueue(() => this.flush(s));
    }, wait);
  }

  async flush(s) {
    if (s.finished) return;
    const rec = this.record(s.runId);
    if (!rec) return;
    const text = this.text(s);
    if (!text.trim()) return;
    s.lastFlush = Date.now();
    try {
      await this.platform.deliver(rec, text, { final: false, save: () => this.b.store.save(), fault: (p) => this.b.fault(p) });
    } catch (err) {
      // A partial render that failed is redone by the next one or the final one.
      this.b.log.warn("streaming update failed", { sessionId: this.sessionId, error: String(err?.message ?? err) });
    }
  }

  async finish(ev) {
    const s = this.stream(ev.runId);
    s.finished = true;
    clearTimeout(s.timer);
    s.timer = null;
    const rec = this.record(ev.runId);
    if (rec) {
      let text = [...s.committed.values()].filter((t) => t.trim()).join("\n\n");
      const run = ev.run ?? {};
      if (run.status === "failed") {
        const f = run.failure;
        text += `${text ? "\n\n" : ""}⚠️ The run failed${f ? `: ${f.message || f.code || f.reason}` : "."}`;
      } else if (run.status === "cancelled") {
        text += `${text ? "\n\n" : ""}_(stopped)_`;
      } else if (!text.trim()) {
        text = "_(no answer)_";
      }
      const wait = s.lastFlush + (this.platform?.minIntervalMs ?? 0) - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        await this.b.retrying("delivering an answer", () =>
          this.platform.deliver(rec, text, { final: true, save: () => this.b.store.save(), fault: (p) => this.b.fault(p) }),
        );
      } catch (err) {
        if (this.b.stopping) throw err;
        this.b.log.error("answer not delivered; skipping it", { sessionId: this.sessionId, runId: ev.runId, error: String(err?.message ?? err) });
      }
    }
    const st = this.st;
    st.cursor = Math.max(st.cursor ?? 0, ev.cursor);
    delete st.runs[ev.runId];
    remember(st.delivered, ev.runId, 200);
    this.streams.delete(ev.runId);
    await this.b.store.save();
    this.b.log.info("answer delivered", { sessionId: this.sessionId, runId: ev.runId, cursor: ev.cursor, status: ev.run?.status });
    if (!Object.keys(st.runs).length) this.scheduleIdle();
  }
}
