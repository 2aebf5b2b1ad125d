// Telegram against a live Lightspeed (fake provider in echo mode: every answer is
// `echo: <last user text>`) and the Bot API stand-in.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LightspeedClient } from "@lightspeed/agent-client";
import { FakeTelegram } from "./fakes/telegram-server.js";
import { REPO, TINY_PNG, baseEnv, liveSkip, readState, sleep, spawnBridge, tempDir, uniquePrefix, waitFor } from "./helpers.js";

const skip = liveSkip();
const norm = (s) => s.replace(/\s+/g, " ").trim();

describe("telegram bridge", { skip }, () => {
  let tg;
  let bridge;
  let tmp;
  let stateFile;
  let ls;
  const CHAT = { text: 5001, stream: 5002, long: 5003, photo: 5004, voice: 5005, code: 5006, cmd: 5007 };

  before(async () => {
    tg = await new FakeTelegram().start();
    tmp = tempDir();
    stateFile = join(tmp.dir, "state.json");
    ls = new LightspeedClient({ url: process.env.LIGHTSPEED_API_URL, apiKey: process.env.LIGHTSPEED_API_KEY });
    bridge = await spawnBridge(
      baseEnv({
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.url,
        TELEGRAM_ALLOWED_CHATS: Object.values(CHAT).join(","),
        TELEGRAM_POLL_TIMEOUT_S: "1",
        TELEGRAM_EDIT_INTERVAL_MS: "50",
        MESSAGING_STATE_FILE: stateFile,
        MESSAGING_SESSION_PREFIX: uniquePrefix(),
      }),
    );
  });

  after(async () => {
    await bridge?.stop();
    ls?.close();
    await tg?.stop();
    tmp?.cleanup();
  });

  const sessionOf = (chatId) => readState(stateFile).chats[`telegram:c${chatId}`]?.sessionId;

  async function answer(chatId, userMsgId, expected) {
    return waitFor(`the answer "${expected.slice(0, 40)}…" in chat ${chatId}`, () => {
      const m = tg.messages(chatId).find((x) => x.reply_to === userMsgId);
      return m && norm(m.text) === norm(expected) ? m : null;
    });
  }

  test("a text conversation", async () => {
    const u1 = tg.userMessage(CHAT.text, "hello there");
    await answer(CHAT.text, u1.message.message_id, "echo: hello there");
    const u2 = tg.userMessage(CHAT.text, "and a second question");
    await answer(CHAT.text, u2.message.message_id, "echo: and a second question");
    await sleep(500);
    const sent = tg.messages(CHAT.text);
    assert.equal(sent.length, 2, "one answer per message");
    // Both went to one session, whose log holds both user messages.
    const sessionId = sessionOf(CHAT.text);
    const { events } = await ls.sessionEventsRead({ sessionId, cursor: 0, limit: 500 });
    const texts = events.flatMap((e) => e.items ?? []).filter((i) => i.type === "userMessage").map((i) => i.text);
    assert.deepEqual(texts, ["hello there", "and a second question"]);
  });

  test("a streamed answer is delivered as edits of one message", async () => {
    const text = Array.from({ length: 120 }, (_, i) => `word${i}`).join(" ");
    const u = tg.userMessage(CHAT.stream, text);
    const m = await answer(CHAT.stream, u.message.message_id, `echo: ${text}`);
    assert.equal(tg.messages(CHAT.stream).length, 1, "one message, edited");
    assert.ok(m.edits.length >= 1, `expected edits, got ${m.edits.length}`);
    // Every earlier version was a prefix of the answer (it grew).
    for (const prev of m.edits) assert.ok(`echo: ${text}`.startsWith(prev.trim()), prev);
    // Throttled: no two updates closer than the configured interval (50 ms), give or take.
    const times = [m.sentAt, ...m.editedAt];
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 40, `updates ${times[i] - times[i - 1]} ms apart`);
  });

  test("a long answer is split at the message length limit", async () => {
    const text = Array.from({ length: 900 }, (_, i) => `token${i}`).join(" "); // ~7,000 chars
    const u = tg.userMessage(CHAT.long, text);
    const expected = `echo: ${text}`;
    await waitFor("the split answer", () => {
      const msgs = tg.messages(CHAT.long);
      return msgs.length >= 2 && norm(msgs.map((m) => m.text).join(" ")) === norm(expected);
    });
    const msgs = tg.messages(CHAT.long);
    assert.equal(msgs[0].reply_to, u.message.message_id);
    for (const m of msgs) assert.ok(m.text.length <= 4096, `${m.text.length} chars`);
    assert.equal(msgs.length, 2);
  });

  test("a long code block is split with the code block closed and reopened", async () => {
    const lines = Array.from({ length: 250 }, (_, i) => `if (a${i} < b && c > d) { return "x${i}"; }`);
    const text = `Code:\n\n\`\`\`js\n${lines.join("\n")}\n\`\`\``;
    tg.userMessage(CHAT.code, text);
    await waitFor("the split code answer", async () => {
      const msgs = tg.messages(CHAT.code);
      const code = msgs.flatMap((m) => [...m.html.matchAll(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/g)].map((x) => x[1]));
      return msgs.length >= 2 && code.join("\n").split("\n").length === lines.length;
    });
    const msgs = tg.messages(CHAT.code);
    for (const m of msgs) {
      assert.ok(m.text.length <= 4096);
      assert.equal(m.parse_mode, "HTML");
      assert.match(m.html, /<pre><code class="language-js">[\s\S]*<\/code><\/pre>$/);
    }
    const code = msgs.flatMap((m) => [...m.html.matchAll(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/g)].map((x) => x[1]));
    assert.deepEqual(
      code.join("\n").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&").split("\n"),
      lines,
    );
  });

  test("a photo reaches the session as media", async () => {
    const file = tg.addFile(TINY_PNG, "png");
    const u = tg.userMessage(CHAT.photo, {
      photo: [{ ...file, width: 1, height: 1 }],
      caption: "what is in this picture?",
    });
    await answer(CHAT.photo, u.message.message_id, "echo: what is in this picture?");
    const { events } = await ls.sessionEventsRead({ sessionId: sessionOf(CHAT.photo), cursor: 0, limit: 500 });
    const items = events.flatMap((e) => e.items ?? []).filter((i) => i.type === "userMessage");
    const media = items.find((i) => i.mediaType === "image/png");
    assert.ok(media, `no image/png user item: ${JSON.stringify(items)}`);
    const bytes = await ls.downloadBlob(media.blobRef);
    assert.deepEqual(Buffer.from(bytes), TINY_PNG);
  });

  test("a voice note is transcribed and answered", async () => {
    // Needs the server's audio input (transcription before the run); see README.
    const ogg = readFileSync(join(REPO, "interop", "fixtures", "audio", "voice-note.ogg"));
    const file = tg.addFile(ogg, "oga");
    const u = tg.userMessage(CHAT.voice, { voice: { ...file, duration: 2, mime_type: "audio/ogg" } });
    const m = await waitFor(
      "an answer to the voice note",
      () => tg.messages(CHAT.voice).find((x) => x.reply_to === u.message.message_id && !/^…$/.test(x.text)),
      { timeoutMs: 30_000 },
    );
    await sleep(300);
    assert.match(m.text, /turn on the lights in the kitchen/i);
  });

  test("commands: /model shows and changes the model, /new starts a fresh session, /stop", async () => {
    const u0 = tg.userMessage(CHAT.cmd, "first");
    await answer(CHAT.cmd, u0.message.message_id, "echo: first");
    const first = sessionOf(CHAT.cmd);
    const route = JSON.parse(process.env.LIGHTSPEED_TEST_MODEL);
    const spec = `${route.providerId}:${route.apiKind}:${route.model}`;
    const u1 = tg.userMessage(CHAT.cmd, "/model");
    await answer(CHAT.cmd, u1.message.message_id, `Model: ${spec}`);
    const u2 = tg.userMessage(CHAT.cmd, `/model ${spec}`);
    await answer(CHAT.cmd, u2.message.message_id, `Model set to ${spec}.`);
    const u3 = tg.userMessage(CHAT.cmd, "/model nonsense");
    await waitFor("a /model error", () => tg.messages(CHAT.cmd).find((x) => x.reply_to === u3.message.message_id && /unknown model/.test(x.text)));
    const u4 = tg.userMessage(CHAT.cmd, "/stop");
    await answer(CHAT.cmd, u4.message.message_id, "Nothing is running.");
    const u5 = tg.userMessage(CHAT.cmd, "/new");
    await answer(CHAT.cmd, u5.message.message_id, "Started a new session.");
    const second = sessionOf(CHAT.cmd);
    assert.notEqual(second, first);
    const u6 = tg.userMessage(CHAT.cmd, "fresh");
    await answer(CHAT.cmd, u6.message.message_id, "echo: fresh");
    const { events } = await ls.sessionEventsRead({ sessionId: second, cursor: 0, limit: 500 });
    const texts = events.flatMap((e) => e.items ?? []).filter((i) => i.type === "userMessage").map((i) => i.text);
    assert.deepEqual(texts, ["fresh"]);
  });

  test("a chat not on the allow-list is refused and never reaches the server", async () => {
    const stranger = 6666;
    const u = tg.userMessage(stranger, "let me in");
    await waitFor("the refusal", () => tg.messages(stranger).find((m) => m.reply_to === null || m.reply_to === undefined || true));
    const msgs = tg.messages(stranger);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].text, "Sorry, this bot is private.");
    // Acknowledged (not retried) and no session was made for it.
    await waitFor("the offset to pass the update", () => readState(stateFile).telegram.offset > u.update_id);
    const state = readState(stateFile);
    assert.equal(state.chats[`telegram:c${stranger}`], undefined);
    assert.ok(!Object.values(state.sessions).some((s) => s.lastChatId === String(stranger)));
  });
});
