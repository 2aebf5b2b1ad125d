import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { parseCommand, submissionIdFor } from "../src/bridge.js";
import { loadConfig, resolveModel } from "../src/config.js";
import { createLogger, redact } from "../src/log.js";
import { verifySignature } from "../src/whatsapp.js";
import { tempDir } from "./helpers.js";

const base = {
  LIGHTSPEED_API_URL: "http://127.0.0.1:1",
  LIGHTSPEED_API_KEY: "lsk_test_key",
  MESSAGING_MODEL: "openai:openai:responses:gpt-5",
  TELEGRAM_BOT_TOKEN: "1:abc",
};

test("defaults and environment", () => {
  const cfg = loadConfig({ ...base, TELEGRAM_ALLOWED_CHATS: "1, -100200", TELEGRAM_EDIT_INTERVAL_MS: "250" });
  assert.deepEqual(cfg.modelRoute, { providerId: "openai", apiKind: "openai:responses", model: "gpt-5" });
  assert.deepEqual(cfg.telegram.allowedChats, ["1", "-100200"]);
  assert.equal(cfg.telegram.editIntervalMs, 250);
  assert.equal(cfg.telegram.mode, "polling");
  assert.equal(cfg.sessionScope, "chat");
  assert.equal(cfg.whatsapp.enabled, false);
});

test("a config file may not hold secrets", () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = `${dir}/c.json`;
    writeFileSync(file, JSON.stringify({ telegram: { token: "1:abc" } }));
    assert.throws(() => loadConfig({ ...base, MESSAGING_CONFIG: file }), /secret/);
    writeFileSync(file, JSON.stringify({ telegram: { allowedChats: ["5"], editIntervalMs: 2000 }, sessionScope: "user" }));
    const cfg = loadConfig({ ...base, MESSAGING_CONFIG: file });
    assert.deepEqual(cfg.telegram.allowedChats, ["5"]);
    assert.equal(cfg.telegram.editIntervalMs, 2000);
    assert.equal(cfg.sessionScope, "user");
  } finally {
    cleanup();
  }
});

test("model specs", () => {
  assert.deepEqual(resolveModel("anthropic:anthropic:messages:claude-x"), { providerId: "anthropic", apiKind: "anthropic:messages", model: "claude-x" });
  assert.deepEqual(resolveModel("local:openai:completions:llama3:8b"), { providerId: "local", apiKind: "openai:completions", model: "llama3:8b" });
  assert.deepEqual(resolveModel("fast", { fast: "openai:openai:responses:gpt-5-mini" }).model, "gpt-5-mini");
  assert.deepEqual(resolveModel('{"providerId":"p","apiKind":"openai:responses","model":"m"}').providerId, "p");
  assert.throws(() => resolveModel("gpt-5"), /unknown model/);
});

test("commands", () => {
  assert.deepEqual(parseCommand("/new"), { name: "new", args: "" });
  assert.deepEqual(parseCommand("/model@my_bot fast"), { name: "model", args: "fast" });
  assert.equal(parseCommand("/unknown x"), null);
  assert.equal(parseCommand("hello /new"), null);
});

test("submission ids only use allowed characters", () => {
  assert.equal(submissionIdFor("tg", "u5:m7"), "tg:u5:m7");
  assert.match(submissionIdFor("wa", "wamid.HBgL+/abc=="), /^wa:h[0-9a-f]{40}$/);
});

test("WhatsApp signatures", () => {
  const body = Buffer.from('{"a":1}');
  const good = `sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`;
  assert.equal(verifySignature("s3cret", body, good), true);
  assert.equal(verifySignature("other", body, good), false);
  assert.equal(verifySignature("s3cret", Buffer.from('{"a":2}'), good), false);
  assert.equal(verifySignature("s3cret", body, undefined), false);
  assert.equal(verifySignature("s3cret", body, "sha256=zz"), false);
});

test("secrets never reach the log", () => {
  let out = "";
  const log = createLogger("debug", { write: (s) => (out += s) });
  redact("super-secret-token");
  log.info("x", { url: "https://api.telegram.org/bot123:AAAAAAAAAAAAAAAAAAAAAAAAAAAA/getMe", v: "super-secret-token" });
  assert.doesNotMatch(out, /super-secret-token|AAAAAAAAAAAA/);
});
