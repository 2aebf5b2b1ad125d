// Telegram through grammY's Bot API client: long polling (our own getUpdates loop, so
// the offset moves only after an update's run was accepted) or webhook mode; answers
// as HTML messages, streamed by editing them.
import { createHash, timingSafeEqual } from "node:crypto";
import { Api, GrammyError } from "grammy";
import { PermanentError, TransientError, isTransient, sleep, submissionIdFor } from "./bridge.js";
import { escapeHtml, htmlToText, renderChunks, telegramRenderer } from "./format.js";
import { remember } from "./state.js";

const MEDIA_DOCUMENT = /^(image\/(png|jpeg|gif|webp)|application\/pdf|audio\/(ogg|opus|mpeg|mp3|mp4|m4a|x-m4a|aac|wav|x-wav|wave))$/i;

export class TelegramPlatform {
  constructor({ config, bridge, log, server }) {
    this.id = "telegram";
    this.cfg = config.telegram;
    this.b = bridge;
    this.log = log;
    this.server = server;
    this.api = new Api(this.cfg.token, { apiRoot: this.cfg.apiRoot });
    this.abort = new AbortController();
    this.stopped = false;
    this.loop = null;
    /** @type {WeakMap<object, string[]>} what each answer's messages show now */
    this.rendered = new WeakMap();
    this.secret =
      this.cfg.webhookSecret ||
      createHash("sha256").update(`lightspeed-messaging:${this.cfg.token}`).digest("hex").slice(0, 48);
  }

  get streams() {
    return this.cfg.stream === "edits";
  }

  get minIntervalMs() {
    return this.cfg.editIntervalMs;
  }

  allowed(chatId) {
    const list = this.cfg.allowedChats;
    return list.includes("*") || list.includes(String(chatId));
  }

  async start() {
    if (this.cfg.mode === "webhook") {
      const path = new URL(this.cfg.webhookUrl).pathname;
      this.server.route(path, (req, body) => this.#webhook(req, body));
      await this.b.retrying("setWebhook", () =>
        this.#call(() =>
          this.api.setWebhook(this.cfg.webhookUrl, { secret_token: this.secret, allowed_updates: ["message"] }),
        ),
      );
      this.log.info("telegram webhook set", { path });
    } else {
      await this.b.retrying("deleteWebhook", () => this.#call(() => this.api.deleteWebhook({ drop_pending_updates: false })));
      this.loop = this.#poll();
      this.log.info("telegram polling");
    }
  }

  async stop() {
    this.stopped = true;
    this.abort.abort();
    await this.loop?.catch(() => {});
  }

  async #poll() {
    const tg = this.b.state.telegram;
    let backoff = 500;
    while (!this.stopped) {
      let updates;
      try {
        updates = await this.api.getUpdates(
          { offset: tg.offset || undefined, timeout: this.cfg.pollTimeoutSeconds, allowed_updates: ["message"] },
          this.abort.signal,
        );
        backoff = 500;
      } catch (err) {
        if (this.stopped) return;
        this.log.warn("getUpdates failed", { error: String(err?.message ?? err) });
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.b.cfg.retryMaxMs);
        continue;
      }
      for (const u of updates) {
        if (this.stopped) return;
        if (u.update_id < tg.offset) continue;
        try {
          await this.b.retrying("telegram update", () => this.#process(u));
        } catch (err) {
          if (this.stopped) return;
          throw err;
        }
        this.#ack(u);
        await this.b.store.save();
      }
    }
  }

  async #webhook(req, body) {
    const got = String(req.headers["x-telegram-bot-api-secret-token"] ?? "");
    if (!safeEqual(got, this.secret)) return { status: 401, body: "bad secret token" };
    if (req.method !== "POST") return { status: 405 };
    let u;
    try {
      u = JSON.parse(body.toString("utf8"));
    } catch {
      return { status: 400, body: "bad json" };
    }
    const tg = this.b.state.telegram;
    if (typeof u?.update_id !== "number" || tg.recentUpdateIds.includes(u.update_id)) return { status: 200 };
    try {
      await this.#process(u, { webhook: true });
    } catch (err) {
      if (isTransient(err)) return { status: 503, body: "try again" };
      throw err;
    }
    this.#ack(u, { webhook: true });
    await this.b.store.save();
    return { status: 200 };
  }

  /** Marks an update handled: the polling offset moves past it (webhook updates may come out of order, so only their ids are kept). */
  #ack(u, { webhook = false } = {}) {
    const tg = this.b.state.telegram;
    if (!webhook) tg.offset = Math.max(tg.offset, u.update_id + 1);
    if (!tg.recentUpdateIds.includes(u.update_id)) remember(tg.recentUpdateIds, u.update_id, 500);
  }

  /** Handles one update; throws only transient errors (the update is then retried). */
  async #process(u, { webhook = false } = {}) {
    const msg = this.#inbound(u);
    if (!msg) return;
    msg.ack = () => this.#ack(u, { webhook });
    try {
      await this.b.handleInbound(msg);
    } catch (err) {
      if (isTransient(err)) throw err;
      this.log.error("message failed", { chatId: msg.chatId, error: String(err?.message ?? err) });
      await this.notice(msg.chatId, `Sorry, that did not work: ${err?.message ?? err}`, msg.messageId).catch(() => {});
    }
  }

  #inbound(u) {
    const m = u.message;
    if (!m?.chat) return null;
    const attachments = [];
    const file = (fileId, kind) => attachments.push({ kind, fetch: () => this.#download(fileId) });
    if (m.photo?.length) file(m.photo[m.photo.length - 1].file_id, "image");
    if (m.voice) file(m.voice.file_id, "audio");
    if (m.audio) file(m.audio.file_id, "audio");
    if (m.document && MEDIA_DOCUMENT.test(m.document.mime_type ?? "")) file(m.document.file_id, "document");
    const unsupported = m.sticker
      ? "sticker"
      : m.video || m.video_note || m.animation
        ? "video"
        : m.document
          ? "this kind of file in"
          : m.location
            ? "location"
            : m.contact
              ? "contact"
              : null;
    return {
      platform: this.id,
      chatId: String(m.chat.id),
      userId: m.from ? String(m.from.id) : undefined,
      messageId: m.message_id,
      // The update id (and the message id) name the run: a replayed update is a duplicate.
      submissionId: submissionIdFor("tg", `u${u.update_id}:m${m.message_id}`),
      text: m.text ?? m.caption ?? "",
      attachments,
      unsupported,
    };
  }

  async #download(fileId) {
    const file = await this.#call(() => this.api.getFile(fileId));
    if (!file.file_path) throw new PermanentError("Telegram gave no file path (file too big?)");
    const url = `${this.cfg.apiRoot}/file/bot${this.cfg.token}/${file.file_path}`;
    let res;
    try {
      res = await fetch(url);
    } catch (err) {
      throw new TransientError(`file download failed: ${err.message}`);
    }
    if (res.status >= 500 || res.status === 429) throw new TransientError(`file download: HTTP ${res.status}`);
    if (!res.ok) throw new PermanentError(`file download: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Calls the Bot API, waiting out 429s and sorting errors into transient and permanent. */
  async #call(fn) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof GrammyError) {
          if (err.error_code === 429 && attempt < 5) {
            await sleep(((err.parameters?.retry_after ?? 1) + 0.1) * 1000);
            continue;
          }
          if (err.error_code >= 500 || err.error_code === 429) throw new TransientError(err.description);
          const e = new PermanentError(err.description);
          e.description = err.description;
          throw e;
        }
        if (this.stopped) throw err;
        throw new TransientError(String(err?.message ?? err));
      }
    }
  }

  async #send(chatId, html, replyTo) {
    const other = { parse_mode: "HTML", link_preview_options: { is_disabled: true } };
    if (replyTo) other.reply_parameters = { message_id: Number(replyTo), allow_sending_without_reply: true };
    try {
      const m = await this.#call(() => this.api.sendMessage(chatId, html, other));
      return m.message_id;
    } catch (err) {
      if (!/can't parse entities/i.test(err.description ?? "")) throw err;
      this.log.warn("HTML refused; sending plain text", { error: err.description });
      delete other.parse_mode;
      const m = await this.#call(() => this.api.sendMessage(chatId, htmlToText(html), other));
      return m.message_id;
    }
  }

  async #edit(chatId, messageId, html) {
    const other = { parse_mode: "HTML", link_preview_options: { is_disabled: true } };
    try {
      await this.#call(() => this.api.editMessageText(chatId, Number(messageId), html, other));
    } catch (err) {
      const d = err.description ?? "";
      if (/message is not modified/i.test(d)) return;
      if (!/can't parse entities/i.test(d)) throw err;
      delete other.parse_mode;
      await this.#call(() => this.api.editMessageText(chatId, Number(messageId), htmlToText(html), other)).catch((e) => {
        if (!/message is not modified/i.test(e.description ?? "")) throw e;
      });
    }
  }

  /** A short plain reply (refusals, command answers). */
  async notice(chatId, text, replyTo) {
    return this.#send(chatId, escapeHtml(text), replyTo);
  }

  typing(chatId) {
    this.api.sendChatAction(chatId, "typing").catch(() => {});
  }

  /**
   * Shows `text` (markdown) as the answer of the run `rec`: edits the messages already
   * sent for it, sends the chunks that have none yet (recording each at once).
   */
  async deliver(rec, text, { final, save, fault }) {
    if (!final && !this.streams) return;
    let chunks = renderChunks(text, telegramRenderer, this.cfg.maxMessageLength);
    if (!chunks.length) {
      if (!final) return;
      chunks = ["…"];
    }
    const rendered = this.rendered.get(rec) ?? [];
    this.rendered.set(rec, rendered);
    for (let i = 0; i < chunks.length; i++) {
      if (i < rec.messages.length) {
        if (rendered[i] !== chunks[i]) {
          await this.#edit(rec.chatId, rec.messages[i], chunks[i]);
          rendered[i] = chunks[i];
        }
      } else {
        const id = await this.#send(rec.chatId, chunks[i], i === 0 ? rec.replyTo : null);
        rec.messages.push(id);
        rendered[i] = chunks[i];
        await save();
        fault("after-first-send");
      }
    }
    // The answer got shorter (a retried generation): blank the messages it no longer needs.
    for (let i = chunks.length; i < rec.messages.length; i++) {
      if (rendered[i] !== "…") {
        await this.#edit(rec.chatId, rec.messages[i], "…");
        rendered[i] = "…";
      }
    }
  }
}

function safeEqual(a, b) {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
