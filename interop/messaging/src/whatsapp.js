// WhatsApp through the official Cloud API: a webhook (GET verification handshake, POSTs
// signed with the app secret) and Graph API sends. WhatsApp cannot edit messages, so an
// answer goes out when its run ends, or paragraph by paragraph as it streams.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { PermanentError, TransientError, isTransient, submissionIdFor } from "./bridge.js";
import { completedPrefix, renderChunks, whatsappRenderer } from "./format.js";
import { remember } from "./state.js";

const MEDIA_DOCUMENT = /^(image\/(png|jpeg|gif|webp)|application\/pdf)$/i;

/** Checks `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(appSecret, rawBody), in constant time. */
export function verifySignature(appSecret, rawBody, header) {
  const m = /^sha256=([0-9a-f]{64})$/i.exec(String(header ?? "").trim());
  if (!m) return false;
  const expected = createHmac("sha256", appSecret).update(rawBody).digest();
  return timingSafeEqual(Buffer.from(m[1], "hex"), expected);
}

function safeEqual(a, b) {
  const ha = createHash("sha256").update(String(a)).digest();
  const hb = createHash("sha256").update(String(b)).digest();
  return timingSafeEqual(ha, hb);
}

export class WhatsAppPlatform {
  constructor({ config, bridge, log, server }) {
    this.id = "whatsapp";
    this.cfg = config.whatsapp;
    this.b = bridge;
    this.log = log;
    this.server = server;
    this.base = `${this.cfg.graphRoot.replace(/\/+$/, "")}/${this.cfg.graphVersion}`;
  }

  get streams() {
    return this.cfg.stream === "paragraphs";
  }

  get minIntervalMs() {
    return 1000;
  }

  allowed(chatId) {
    const list = this.cfg.allowedNumbers.map((n) => n.replace(/[^\d*]/g, ""));
    return list.includes("*") || list.includes(String(chatId));
  }

  async start() {
    this.server.route(this.cfg.webhookPath, (req, body, url) => this.#webhook(req, body, url));
  }

  async stop() {}

  async #webhook(req, body, url) {
    if (req.method === "GET") {
      const mode = url.searchParams.get("hub.mode");
      const token = url.searchParams.get("hub.verify_token") ?? "";
      const challenge = url.searchParams.get("hub.challenge") ?? "";
      if (mode === "subscribe" && safeEqual(token, this.cfg.verifyToken)) {
        this.log.info("whatsapp webhook verified");
        return { status: 200, body: challenge };
      }
      return { status: 403, body: "forbidden" };
    }
    if (req.method !== "POST") return { status: 405 };
    if (!verifySignature(this.cfg.appSecret, body, req.headers["x-hub-signature-256"])) {
      this.log.warn("whatsapp webhook: bad or missing signature; ignored");
      return { status: 401, body: "bad signature" };
    }
    let payload;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      return { status: 400, body: "bad json" };
    }
    const seen = this.b.state.whatsapp.seen;
    let retry = false;
    for (const entry of payload?.entry ?? []) {
      for (const change of entry?.changes ?? []) {
        const value = change?.value;
        if (change?.field !== "messages" || !value?.messages) continue;
        const pnid = value.metadata?.phone_number_id;
        if (pnid && String(pnid) !== String(this.cfg.phoneNumberId)) continue;
        for (const m of value.messages) {
          if (!m?.id || seen.includes(m.id)) continue;
          try {
            await this.#process(m);
          } catch (err) {
            // Not acknowledged: WhatsApp posts it again later; the run's submission id
            // makes the repeat a duplicate if it was in fact accepted.
            this.log.warn("whatsapp message not accepted yet", { error: String(err?.message ?? err) });
            retry = true;
            continue;
          }
          if (!seen.includes(m.id)) remember(seen, m.id, 2000);
          await this.b.store.save();
        }
      }
    }
    return retry ? { status: 503, body: "try again" } : { status: 200, body: "ok" };
  }

  async #process(m) {
    const msg = this.#inbound(m);
    const seen = this.b.state.whatsapp.seen;
    msg.ack = () => {
      if (!seen.includes(m.id)) remember(seen, m.id, 2000);
    };
    try {
      await this.b.handleInbound(msg);
    } catch (err) {
      if (isTransient(err)) throw err;
      this.log.error("message failed", { chatId: msg.chatId, error: String(err?.message ?? err) });
      await this.notice(msg.chatId, `Sorry, that did not work: ${err?.message ?? err}`, msg.messageId).catch(() => {});
    }
  }

  #inbound(m) {
    const attachments = [];
    let text = "";
    let unsupported = null;
    const media = (obj, kind) => attachments.push({ kind, fetch: () => this.#download(obj.id) });
    switch (m.type) {
      case "text":
        text = m.text?.body ?? "";
        break;
      case "image":
        media(m.image, "image");
        text = m.image?.caption ?? "";
        break;
      case "audio":
        media(m.audio, "audio");
        break;
      case "document":
        if (MEDIA_DOCUMENT.test(m.document?.mime_type ?? "")) media(m.document, "document");
        else unsupported = "this kind of file in";
        text = m.document?.caption ?? "";
        break;
      case "interactive":
        text = m.interactive?.button_reply?.title ?? m.interactive?.list_reply?.title ?? "";
        break;
      case "button":
        text = m.button?.text ?? "";
        break;
      default:
        unsupported = m.type ?? "these";
    }
    return {
      platform: this.id,
      chatId: String(m.from),
      userId: String(m.from),
      messageId: m.id,
      submissionId: submissionIdFor("wa", m.id),
      text,
      attachments,
      unsupported,
    };
  }

  async #graph(method, path, body) {
    let res;
    try {
      res = await fetch(`${this.base}/${path}`, {
        method,
        headers: { authorization: `Bearer ${this.cfg.accessToken}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw new TransientError(`Graph API unreachable: ${err.message}`);
    }
    const text = await res.text();
    if (res.status === 429 || res.status >= 500) throw new TransientError(`Graph API ${res.status}: ${text.slice(0, 300)}`);
    if (!res.ok) throw new PermanentError(`Graph API ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : {};
  }

  async #download(mediaId) {
    const info = await this.#graph("GET", encodeURIComponent(mediaId));
    if (!info.url) throw new PermanentError("Graph API gave no media URL");
    let res;
    try {
      res = await fetch(info.url, { headers: { authorization: `Bearer ${this.cfg.accessToken}` } });
    } catch (err) {
      throw new TransientError(`media download failed: ${err.message}`);
    }
    if (res.status >= 500 || res.status === 429) throw new TransientError(`media download: HTTP ${res.status}`);
    if (!res.ok) throw new PermanentError(`media download: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  async #send(to, body, replyTo) {
    const msg = { messaging_product: "whatsapp", recipient_type: "individual", to, type: "text", text: { body, preview_url: false } };
    if (replyTo) msg.context = { message_id: String(replyTo) };
    const out = await this.#graph("POST", `${encodeURIComponent(this.cfg.phoneNumberId)}/messages`, msg);
    return out.messages?.[0]?.id ?? null;
  }

  async notice(chatId, text, replyTo) {
    return this.#send(chatId, text, replyTo);
  }

  /**
   * Sends what of `text` (markdown) the run `rec` has not sent yet: the completed
   * paragraphs while streaming, everything at the end. `sentChars` (of the markdown)
   * and `sentChunks` (of the chunks of the rest) are recorded after every send.
   */
  async deliver(rec, text, { final, save, fault }) {
    if (!final && !this.streams) return;
    const body = final ? text : completedPrefix(text);
    if (body.length <= rec.sentChars && !final) return;
    const rest = body.slice(rec.sentChars);
    const chunks = rest.trim() ? renderChunks(rest, whatsappRenderer, this.cfg.maxMessageLength) : [];
    for (let i = rec.sentChunks; i < chunks.length; i++) {
      await this.#send(rec.chatId, chunks[i], rec.sentChars === 0 && i === 0 ? rec.replyTo : null);
      rec.sentChunks = i + 1;
      await save();
      fault("after-first-send");
    }
    rec.sentChars = Math.max(rec.sentChars, body.length);
    rec.sentChunks = 0;
    await save();
  }
}
