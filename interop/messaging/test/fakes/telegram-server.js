// A Telegram Bot API stand-in speaking the documented wire format: POST (or GET)
// /bot<token>/<method> with JSON, form or query parameters, answered with
// {"ok": true, "result": ...} or {"ok": false, "error_code", "description"}.
// It checks what the real API checks that matters here: message length after entity
// parsing (4096), well-formed HTML in parse_mode HTML, "message is not modified".
import http from "node:http";

const ALLOWED_TAGS = new Set(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler", "span", "blockquote"]);

/** Parses Telegram HTML like the API: returns the visible text, or throws on malformed markup. */
export function parseTelegramHtml(html) {
  const stack = [];
  let text = "";
  const re = /<(\/?)([a-z-]+)([^>]*)>|&(lt|gt|amp|quot|#\d+);|([^<&]+)|([<&])/gi;
  let m;
  while ((m = re.exec(html))) {
    if (m[2]) {
      const tag = m[2].toLowerCase();
      if (!ALLOWED_TAGS.has(tag)) throw new Error(`Unsupported start tag "${tag}"`);
      if (m[1]) {
        if (stack.pop() !== tag) throw new Error(`Unmatched end tag "${tag}"`);
      } else stack.push(tag);
    } else if (m[4]) {
      const e = m[4];
      text += e === "lt" ? "<" : e === "gt" ? ">" : e === "amp" ? "&" : e === "quot" ? '"' : String.fromCodePoint(Number(e.slice(1)));
    } else if (m[5]) text += m[5];
    else if (m[6]) throw new Error(`Unescaped "${m[6]}"`);
  }
  if (stack.length) throw new Error(`Can't find end tag corresponding to start tag "${stack[stack.length - 1]}"`);
  return text;
}

export class FakeTelegram {
  constructor({ token = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz", botId = 123456 } = {}) {
    this.token = token;
    this.botId = botId;
    this.nextUpdateId = 1000;
    this.updates = []; // pending, not yet confirmed by an offset
    this.waiters = [];
    this.nextMessageId = 1;
    /** every message the bot sent: {chat_id, message_id, text (visible), html, parse_mode, reply_to, edits: [text], sentAt, editedAt: []} */
    this.sent = [];
    /** every API call: {method, params, at} */
    this.calls = [];
    this.files = new Map(); // file_id -> {path, bytes}
    this.webhook = null;
    this.server = null;
    this.getUpdatesCount = 0;
  }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res));
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  async stop() {
    for (const w of this.waiters.splice(0)) w.resolve();
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(r));
  }

  /** Queues an update (assigning update_id); returns it. */
  pushUpdate(update) {
    const u = { update_id: this.nextUpdateId++, ...update };
    this.updates.push(u);
    for (const w of this.waiters.splice(0)) w.resolve();
    return u;
  }

  /** Queues a user message in a private chat. */
  userMessage(chatId, fields, from = { id: chatId, is_bot: false, first_name: "Tester" }) {
    const message = {
      message_id: this.nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: { id: chatId, type: chatId < 0 ? "group" : "private" },
      from,
      ...(typeof fields === "string" ? { text: fields } : fields),
    };
    return this.pushUpdate({ message });
  }

  addFile(bytes, ext = "bin") {
    const id = `file_${this.files.size + 1}_${Math.random().toString(36).slice(2)}`;
    const path = `files/${id}.${ext}`;
    this.files.set(id, { path, bytes: Buffer.from(bytes) });
    return { file_id: id, file_unique_id: `u${id}`, file_size: bytes.length };
  }

  /** Messages the bot sent to a chat (in order). */
  messages(chatId) {
    return this.sent.filter((m) => String(m.chat_id) === String(chatId));
  }

  async #handle(req, res) {
    const url = new URL(req.url, this.url);
    const reply = (status, obj) => {
      const body = JSON.stringify(obj);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    const fileMatch = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileMatch) {
      if (fileMatch[1] !== this.token) return reply(401, { ok: false, error_code: 401, description: "Unauthorized" });
      const f = [...this.files.values()].find((x) => x.path === fileMatch[2]);
      if (!f) return reply(404, { ok: false, error_code: 404, description: "Not Found" });
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": f.bytes.length });
      return res.end(f.bytes);
    }
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!m) return reply(404, { ok: false, error_code: 404, description: "Not Found" });
    if (m[1] !== this.token) return reply(401, { ok: false, error_code: 401, description: "Unauthorized" });
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString("utf8");
    let params = Object.fromEntries(url.searchParams);
    const type = req.headers["content-type"] ?? "";
    if (raw && type.includes("application/json")) params = { ...params, ...JSON.parse(raw) };
    else if (raw && type.includes("x-www-form-urlencoded")) params = { ...params, ...Object.fromEntries(new URLSearchParams(raw)) };
    for (const [k, v] of Object.entries(params)) {
      if (typeof v === "string" && /^[[{]/.test(v)) {
        try {
          params[k] = JSON.parse(v);
        } catch {
          // a plain string
        }
      }
    }
    const method = m[2];
    this.calls.push({ method, params, at: Date.now() });
    try {
      const result = await this.#method(method, params, req);
      reply(200, { ok: true, result });
    } catch (err) {
      const code = err.code ?? 400;
      reply(code, { ok: false, error_code: code, description: err.message, ...(err.parameters ? { parameters: err.parameters } : {}) });
    }
  }

  #error(code, description) {
    const e = new Error(description);
    e.code = code;
    return e;
  }

  #visible(params) {
    const text = String(params.text ?? "");
    if (!text) throw this.#error(400, "Bad Request: message text is empty");
    let visible = text;
    if (params.parse_mode === "HTML") {
      try {
        visible = parseTelegramHtml(text);
      } catch (err) {
        throw this.#error(400, `Bad Request: can't parse entities: ${err.message}`);
      }
    }
    if (visible.length > 4096) throw this.#error(400, "Bad Request: message is too long");
    if (!visible.trim()) throw this.#error(400, "Bad Request: message text is empty");
    return visible;
  }

  async #method(method, p, req) {
    switch (method) {
      case "getMe":
        return { id: this.botId, is_bot: true, first_name: "Test bot", username: "test_bot" };
      case "getUpdates": {
        if (this.webhook) throw this.#error(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
        this.getUpdatesCount++;
        const offset = Number(p.offset ?? 0);
        if (offset) this.updates = this.updates.filter((u) => u.update_id >= offset);
        const limit = Number(p.limit ?? 100);
        const timeout = Number(p.timeout ?? 0);
        const deadline = Date.now() + timeout * 1000;
        while (!this.updates.length && Date.now() < deadline && !req.destroyed) {
          await new Promise((resolve) => {
            const w = { resolve };
            this.waiters.push(w);
            setTimeout(resolve, Math.min(250, Math.max(0, deadline - Date.now())));
          });
        }
        return this.updates.slice(0, limit);
      }
      case "setWebhook":
        this.webhook = { url: p.url, secret_token: p.secret_token, allowed_updates: p.allowed_updates };
        return true;
      case "deleteWebhook":
        this.webhook = null;
        if (p.drop_pending_updates) this.updates = [];
        return true;
      case "getWebhookInfo":
        return { url: this.webhook?.url ?? "", has_custom_certificate: false, pending_update_count: this.updates.length };
      case "sendChatAction":
        return true;
      case "sendMessage": {
        const visible = this.#visible(p);
        const msg = {
          chat_id: p.chat_id,
          message_id: this.nextMessageId++,
          text: visible,
          html: p.text,
          parse_mode: p.parse_mode,
          reply_to: p.reply_parameters?.message_id ?? p.reply_to_message_id ?? null,
          edits: [],
          sentAt: Date.now(),
          editedAt: [],
        };
        this.sent.push(msg);
        return {
          message_id: msg.message_id,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(p.chat_id), type: "private" },
          from: { id: this.botId, is_bot: true, first_name: "Test bot" },
          text: visible,
        };
      }
      case "editMessageText": {
        const msg = this.sent.find((x) => String(x.chat_id) === String(p.chat_id) && x.message_id === Number(p.message_id));
        if (!msg) throw this.#error(400, "Bad Request: message to edit not found");
        const visible = this.#visible(p);
        if (visible === msg.text && p.text === msg.html) {
          throw this.#error(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message");
        }
        msg.edits.push(msg.text);
        msg.editedAt.push(Date.now());
        msg.text = visible;
        msg.html = p.text;
        return { message_id: msg.message_id, chat: { id: Number(p.chat_id) }, date: Math.floor(msg.sentAt / 1000), text: visible };
      }
      case "getFile": {
        const f = this.files.get(p.file_id);
        if (!f) throw this.#error(400, "Bad Request: invalid file_id");
        return { file_id: p.file_id, file_unique_id: `u${p.file_id}`, file_size: f.bytes.length, file_path: f.path };
      }
      default:
        throw this.#error(404, "Not Found: method not found");
    }
  }

  /** Posts an update to the webhook that setWebhook registered (as Telegram does). */
  async deliverWebhook(update) {
    if (!this.webhook) throw new Error("no webhook set");
    const res = await fetch(this.webhook.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": this.webhook.secret_token ?? "" },
      body: JSON.stringify(update),
    });
    return res.status;
  }
}
