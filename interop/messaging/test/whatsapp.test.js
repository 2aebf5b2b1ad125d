// WhatsApp Cloud API against a live Lightspeed (echo provider) and the Graph stand-in.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LightspeedClient } from "@lightspeed/agent-client";
import { FakeWhatsApp } from "./fakes/whatsapp-server.js";
import { REPO, TINY_PNG, baseEnv, liveSkip, readState, sleep, spawnBridge, tempDir, uniquePrefix, waitFor } from "./helpers.js";

const skip = liveSkip();
const norm = (s) => s.replace(/\s+/g, " ").trim();

describe("whatsapp bridge", { skip }, () => {
  let wa;
  let bridge;
  let tmp;
  let stateFile;
  let hook;
  let ls;
  const USER = { text: "15551230001", photo: "15551230002", voice: "15551230003", long: "15551230004" };

  before(async () => {
    wa = await new FakeWhatsApp().start();
    tmp = tempDir();
    stateFile = join(tmp.dir, "state.json");
    ls = new LightspeedClient({ url: process.env.LIGHTSPEED_API_URL, apiKey: process.env.LIGHTSPEED_API_KEY });
    bridge = await spawnBridge(
      baseEnv({
        WHATSAPP_ACCESS_TOKEN: wa.accessToken,
        WHATSAPP_APP_SECRET: wa.appSecret,
        WHATSAPP_VERIFY_TOKEN: wa.verifyToken,
        WHATSAPP_PHONE_NUMBER_ID: wa.phoneNumberId,
        WHATSAPP_GRAPH_ROOT: wa.url,
        WHATSAPP_ALLOWED_NUMBERS: Object.values(USER).join(","),
        MESSAGING_HTTP_PORT: "0",
        MESSAGING_STATE_FILE: stateFile,
        MESSAGING_SESSION_PREFIX: uniquePrefix(),
      }),
    );
    hook = `http://127.0.0.1:${bridge.httpPort}/whatsapp/webhook`;
  });

  after(async () => {
    await bridge?.stop();
    ls?.close();
    await wa?.stop();
    tmp?.cleanup();
  });

  const sessionOf = (from) => readState(stateFile).chats[`whatsapp:c${from}`]?.sessionId;

  test("the verification handshake answers the challenge only with the verify token", async () => {
    const ok = await fetch(`${hook}?hub.mode=subscribe&hub.verify_token=${wa.verifyToken}&hub.challenge=12345`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "12345");
    const bad = await fetch(`${hook}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=12345`);
    assert.equal(bad.status, 403);
  });

  test("a webhook with a bad or missing signature is refused and not processed", async () => {
    const from = USER.text;
    const bad = await wa.postWebhook(hook, wa.textPayload(from, "forged"), { badSignature: true });
    assert.ok([401, 403].includes(bad.status), `status ${bad.status}`);
    const none = await wa.postWebhook(hook, wa.textPayload(from, "unsigned"), { noSignature: true });
    assert.ok([401, 403].includes(none.status), `status ${none.status}`);
    await sleep(500);
    assert.equal(wa.sent.length, 0);
    const state = existsSync(stateFile) ? readState(stateFile) : { chats: {}, whatsapp: { seen: [] } };
    assert.equal(state.chats[`whatsapp:c${from}`], undefined);
    assert.equal(state.whatsapp.seen.length, 0);
  });

  test("a text conversation", async () => {
    const from = USER.text;
    const p1 = wa.textPayload(from, "hello from whatsapp");
    assert.equal((await wa.postWebhook(hook, p1)).status, 200);
    await waitFor("the first answer", () => wa.messages(from).find((m) => m.body === "echo: hello from whatsapp"));
    assert.equal((await wa.postWebhook(hook, wa.textPayload(from, "second *question*"))).status, 200);
    await waitFor("the second answer", () => wa.messages(from).find((m) => m.body === "echo: second _question_"));
    // The same payload again (WhatsApp retries) is not answered twice.
    assert.equal((await wa.postWebhook(hook, p1)).status, 200);
    await sleep(800);
    const msgs = wa.messages(from);
    assert.equal(msgs.length, 2);
    assert.equal(msgs[0].context?.message_id, p1.entry[0].changes[0].value.messages[0].id);
  });

  test("a long answer is split into messages of at most 4096 characters", async () => {
    const from = USER.long;
    const text = Array.from({ length: 1000 }, (_, i) => `part${i}`).join(" ");
    assert.equal((await wa.postWebhook(hook, wa.textPayload(from, text))).status, 200);
    await waitFor("the split answer", () => {
      const msgs = wa.messages(from);
      return msgs.length >= 2 && norm(msgs.map((m) => m.body).join(" ")) === norm(`echo: ${text}`);
    });
    for (const m of wa.messages(from)) assert.ok(m.body.length <= 4096);
  });

  test("an image reaches the session as media", async () => {
    const from = USER.photo;
    const id = wa.addMedia(TINY_PNG, "image/png");
    const payload = wa.payload(from, { type: "image", image: { id, mime_type: "image/png", sha256: "x", caption: "look at this" } });
    assert.equal((await wa.postWebhook(hook, payload)).status, 200);
    await waitFor("the answer", () => wa.messages(from).find((m) => m.body === "echo: look at this"));
    const { events } = await ls.sessionEventsRead({ sessionId: sessionOf(from), cursor: 0, limit: 500 });
    const media = events.flatMap((e) => e.items ?? []).find((i) => i.type === "userMessage" && i.mediaType === "image/png");
    assert.ok(media, "an image/png user item");
  });

  test("a voice note is transcribed and answered", async () => {
    // Needs the server's audio input (transcription before the run); see README.
    const from = USER.voice;
    const ogg = readFileSync(join(REPO, "interop", "fixtures", "audio", "voice-note.ogg"));
    const id = wa.addMedia(ogg, "audio/ogg; codecs=opus");
    const payload = wa.payload(from, { type: "audio", audio: { id, mime_type: "audio/ogg; codecs=opus", sha256: "x", voice: true } });
    assert.equal((await wa.postWebhook(hook, payload)).status, 200);
    const m = await waitFor("an answer", () => wa.messages(from)[0], { timeoutMs: 30_000 });
    assert.match(m.body, /turn on the lights in the kitchen/i);
  });

  test("a number not on the allow-list is refused", async () => {
    const from = "15559999999";
    assert.equal((await wa.postWebhook(hook, wa.textPayload(from, "let me in"))).status, 200);
    await waitFor("the refusal", () => wa.messages(from)[0]);
    await sleep(300);
    assert.deepEqual(wa.messages(from).map((m) => m.body), ["Sorry, this bot is private."]);
    assert.equal(readState(stateFile).chats[`whatsapp:c${from}`], undefined);
  });
});

describe("whatsapp paragraphs streaming", { skip }, () => {
  test("finished paragraphs go out as they stream, the rest at the end, nothing twice", async () => {
    const wa = await new FakeWhatsApp().start();
    const tmp = tempDir();
    const bridge = await spawnBridge(
      baseEnv({
        WHATSAPP_ACCESS_TOKEN: wa.accessToken,
        WHATSAPP_APP_SECRET: wa.appSecret,
        WHATSAPP_VERIFY_TOKEN: wa.verifyToken,
        WHATSAPP_PHONE_NUMBER_ID: wa.phoneNumberId,
        WHATSAPP_GRAPH_ROOT: wa.url,
        WHATSAPP_ALLOWED_NUMBERS: "*",
        WHATSAPP_STREAM: "paragraphs",
        MESSAGING_HTTP_PORT: "0",
        MESSAGING_STATE_FILE: join(tmp.dir, "state.json"),
        MESSAGING_SESSION_PREFIX: uniquePrefix(),
      }),
    );
    try {
      const from = "15557770001";
      const paras = ["first paragraph here", "second one, a bit longer than the first", "the last"];
      const hook = `http://127.0.0.1:${bridge.httpPort}/whatsapp/webhook`;
      assert.equal((await wa.postWebhook(hook, wa.textPayload(from, paras.join("\n\n")))).status, 200);
      const expected = `echo: ${paras.join("\n\n")}`;
      await waitFor("the whole answer", () => norm(wa.messages(from).map((m) => m.body).join(" ")) === norm(expected));
      await sleep(800);
      const bodies = wa.messages(from).map((m) => m.body);
      assert.equal(norm(bodies.join(" ")), norm(expected), JSON.stringify(bodies));
      assert.ok(bodies.length >= 1 && bodies.length <= 3);
    } finally {
      await bridge.stop();
      await wa.stop();
      tmp.cleanup();
    }
  });
});
