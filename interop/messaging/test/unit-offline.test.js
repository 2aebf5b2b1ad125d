// The bridge process against the stand-ins only (no Lightspeed needed): what must
// happen before any call to the server.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FakeTelegram } from "./fakes/telegram-server.js";
import { FakeWhatsApp } from "./fakes/whatsapp-server.js";
import { readState, sleep, spawnBridge, tempDir, waitFor } from "./helpers.js";

const env = (extra) => ({
  PATH: process.env.PATH,
  LIGHTSPEED_API_URL: "http://127.0.0.1:9", // nothing listens: the server must not be needed
  LIGHTSPEED_API_KEY: "lsk_offline_test",
  MESSAGING_MODEL: "openai:openai:responses:fake-model",
  MESSAGING_LOG_LEVEL: "debug",
  ...extra,
});

test("telegram: a chat not on the allow-list is refused without the server; secrets stay out of the log", async () => {
  const tg = await new FakeTelegram().start();
  const tmp = tempDir();
  const stateFile = join(tmp.dir, "s.json");
  const bridge = await spawnBridge(
    env({ TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.url, TELEGRAM_ALLOWED_CHATS: "1", TELEGRAM_POLL_TIMEOUT_S: "1", MESSAGING_STATE_FILE: stateFile }),
  );
  try {
    const u = tg.userMessage(4242, "hello?");
    await waitFor("the refusal", () => tg.messages(4242)[0]);
    assert.equal(tg.messages(4242)[0].text, "Sorry, this bot is private.");
    await waitFor("the offset", () => existsSync(stateFile) && readState(stateFile).telegram.offset === u.update_id + 1);
    assert.equal(Object.keys(readState(stateFile).sessions).length, 0);
    assert.ok(tg.calls.some((c) => c.method === "deleteWebhook"));
    const log = bridge.dumpLogs();
    assert.ok(!log.includes(tg.token.split(":")[1]), "bot token in the log");
    assert.ok(!log.includes("lsk_offline_test"), "API key in the log");
  } finally {
    await bridge.stop();
    await tg.stop();
    tmp.cleanup();
  }
});

test("telegram webhook mode: setWebhook with a secret token; wrong secret refused", async () => {
  const tg = await new FakeTelegram().start();
  const tmp = tempDir();
  const bridge = await spawnBridge(
    env({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.url,
      TELEGRAM_MODE: "webhook",
      TELEGRAM_WEBHOOK_URL: "https://bot.example/tg/hook",
      TELEGRAM_ALLOWED_CHATS: "1",
      MESSAGING_HTTP_PORT: "0",
      MESSAGING_STATE_FILE: join(tmp.dir, "s.json"),
    }),
  );
  try {
    assert.ok(tg.webhook?.secret_token, "setWebhook with a secret token");
    const local = `http://127.0.0.1:${bridge.httpPort}/tg/hook`;
    tg.webhook.url = local;
    const forged = await fetch(local, { method: "POST", headers: { "x-telegram-bot-api-secret-token": "wrong" }, body: "{}" });
    assert.equal(forged.status, 401);
    const status = await tg.deliverWebhook({
      update_id: 77,
      message: { message_id: 1, date: 0, chat: { id: 99, type: "private" }, from: { id: 99 }, text: "hi" },
    });
    assert.equal(status, 200);
    await waitFor("the refusal", () => tg.messages(99)[0]);
  } finally {
    await bridge.stop();
    await tg.stop();
    tmp.cleanup();
  }
});

test("whatsapp: bad signatures are refused before anything is read", async () => {
  const wa = await new FakeWhatsApp().start();
  const tmp = tempDir();
  const stateFile = join(tmp.dir, "s.json");
  const bridge = await spawnBridge(
    env({
      WHATSAPP_ACCESS_TOKEN: wa.accessToken,
      WHATSAPP_APP_SECRET: wa.appSecret,
      WHATSAPP_VERIFY_TOKEN: wa.verifyToken,
      WHATSAPP_PHONE_NUMBER_ID: wa.phoneNumberId,
      WHATSAPP_GRAPH_ROOT: wa.url,
      WHATSAPP_ALLOWED_NUMBERS: "*",
      MESSAGING_HTTP_PORT: "0",
      MESSAGING_STATE_FILE: stateFile,
    }),
  );
  try {
    const hook = `http://127.0.0.1:${bridge.httpPort}/whatsapp/webhook`;
    const r1 = await wa.postWebhook(hook, wa.textPayload("1555", "x"), { badSignature: true });
    const r2 = await wa.postWebhook(hook, wa.textPayload("1555", "x"), { noSignature: true });
    assert.equal(r1.status, 401);
    assert.equal(r2.status, 401);
    await sleep(300);
    assert.equal(wa.calls.length, 0);
    assert.ok(!existsSync(stateFile) || readState(stateFile).whatsapp.seen.length === 0);
  } finally {
    await bridge.stop();
    await wa.stop();
    tmp.cleanup();
  }
});
