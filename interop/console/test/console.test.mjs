// The console in headless Chromium (Debian's `chromium`, driven over the DevTools
// protocol by puppeteer-core) against a live `server dev` with the fake provider
// answering test/fake-provider-script.json:
//
//   FAKE_PROVIDER_SCRIPT=$PWD/interop/console/test/fake-provider-script.json \
//     interop/scripts/with-live-server.sh -- bash -c 'cd interop/console && npm test'
//
// Signs in, starts a session, sends a message and watches the answer stream in,
// cancels a second run while it streams, denies a tool call that asks for approval,
// visits the other pages, and loads at phone size; an operator mints and revokes a
// key, creates a universe, pauses it, cancels the run held there and resumes. Screenshots go to
// ${LIGHTSPEED_ARTIFACTS_DIR:-<repo>/.artifacts}/console/ (kept by CI).
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CI = process.env.CI === "true";
const API_URL = process.env.LIGHTSPEED_API_URL;
const API_KEY = process.env.LIGHTSPEED_API_KEY;
const OPERATOR_KEY = process.env.LIGHTSPEED_OPERATOR_KEY;
const MODEL = process.env.LIGHTSPEED_TEST_MODEL;
const repo = fileURLToPath(new URL("../../..", import.meta.url));
const artifacts = join(process.env.LIGHTSPEED_ARTIFACTS_DIR ?? join(repo, ".artifacts"), "console");

/** Longest wait for anything the page should show (runs answer in seconds). */
const WAIT_MS = 60_000;
const PHONE = { width: 390, height: 844, deviceScaleFactor: 1, isMobile: true, hasTouch: true };
const DESKTOP = { width: 1280, height: 860 };

const missing = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`
  : !API_URL || !API_KEY || !OPERATOR_KEY || !MODEL
    ? "LIGHTSPEED_API_URL, LIGHTSPEED_API_KEY, LIGHTSPEED_OPERATOR_KEY and LIGHTSPEED_TEST_MODEL are not set (run under interop/scripts/with-live-server.sh)"
    : undefined;
// Under CI a missing browser or server is a failure, never a skip.
if (missing && CI) throw new Error(`console test: ${missing}`);

let browser;
let page;
/** Errors the page logged, CSP violations included: the test ends with none. */
const pageErrors = [];

before(async () => {
  if (missing) return;
  mkdirSync(artifacts, { recursive: true });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Containers run as root without user namespaces, where Chromium's sandbox
    // cannot start.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  page = await browser.newPage();
  await page.setViewport(DESKTOP);
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("response", (response) => {
    if (response.status() >= 400) pageErrors.push(`HTTP ${response.status()} for ${response.url()}`);
  });
  await page.evaluateOnNewDocument(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
});

after(async () => {
  await browser?.close();
});

async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: false });
}

/** Waits until some element matching `selector` has text containing `text`. */
async function waitForText(selector, text, timeout = WAIT_MS) {
  await page.waitForFunction(
    (sel, want) => [...document.querySelectorAll(sel)].some((el) => el.textContent.includes(want)),
    { timeout, polling: 100 },
    selector,
    text,
  );
}

async function clickButton(text) {
  const button = await page.waitForSelector(`::-p-xpath(//button[normalize-space()="${text}"])`, { timeout: WAIT_MS });
  await button.click();
}

async function fill(selector, value) {
  const field = await page.waitForSelector(selector, { timeout: WAIT_MS });
  await field.click({ count: 3 });
  await field.type(value);
}

async function send(message) {
  await fill("textarea[name=message]", message);
  await page.waitForSelector("button[data-action=send]:not([disabled])", { timeout: WAIT_MS });
  await page.click("button[data-action=send]");
}

/** The id of the run marker that appeared last (the newest run). */
async function lastRunId() {
  return page.$$eval("[data-run-id]", (markers) => markers.at(-1)?.getAttribute("data-run-id"));
}

async function rpc(method, params, key = API_KEY) {
  const response = await fetch(`${API_URL}/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await response.json();
  assert.ok(!body.error, `${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const suffix = `${Date.now().toString(36)}`;
const sessionId = `console-${suffix}`;

test("the console in headless Chromium", { skip: missing }, async (t) => {
  await t.test("signs in with a key kept in sessionStorage only", async () => {
    await page.goto(`${API_URL}/ui/`, { waitUntil: "networkidle0" });
    await page.waitForSelector("input[name=apiKey]");
    await shot("01-sign-in");
    await fill("input[name=apiKey]", "lsk_wrong_key");
    await clickButton("Sign in");
    await page.waitForSelector(".signin [role=alert]", { timeout: WAIT_MS });
    await fill("input[name=apiKey]", API_KEY);
    await clickButton("Sign in");
    await page.waitForSelector("nav[aria-label=Main]", { timeout: WAIT_MS });
    const stored = await page.evaluate(() => ({
      session: JSON.stringify(sessionStorage),
      local: JSON.stringify(localStorage),
      href: location.href,
    }));
    assert.ok(stored.session.includes(API_KEY), "the key is in sessionStorage");
    assert.ok(!stored.local.includes(API_KEY), "the key is not in localStorage");
    assert.ok(!stored.href.includes(API_KEY), "the key is not in the URL");
  });

  await t.test("starts a session with a model route", async () => {
    await clickButton("New session");
    await fill("input[name=sessionId]", sessionId);
    await fill("textarea[name=modelJson]", MODEL);
    await clickButton("Start session");
    await page.waitForFunction((id) => location.pathname === `/ui/sessions/${id}`, { timeout: WAIT_MS }, sessionId);
    await waitForText("[data-testid=live]", "live");
  });

  await t.test("sends a message and sees the answer stream in", async () => {
    await send("CONSOLE-SLOW-ANSWER please");
    // While the provider streams, the partial text shows as a live preview.
    await waitForText("[data-testid=live-text]", "Streaming slowly");
    await shot("02-streaming");
    await waitForText("[data-testid=assistant-text]", "a few words at a time while it arrives.");
    await page.waitForSelector("[data-run-status=completed]", { timeout: WAIT_MS });
    assert.equal(await page.$("[data-testid=live-text]"), null, "the preview gave way to the committed answer");
    await shot("03-answered");
  });

  await t.test("steers, then cancels a run while it streams", async () => {
    await send("CONSOLE-CANCEL-ME now");
    await page.waitForSelector("[data-run-status=running]", { timeout: WAIT_MS });
    await waitForText("[data-testid=live-text]", "This answer");
    const runId = await lastRunId();
    // Steering adds input to the running run; the answer to it is cancelled too.
    await fill("textarea[name=message]", "and keep it short");
    await page.waitForSelector("button[data-action=steer]:not([disabled])", { timeout: WAIT_MS });
    await page.click("button[data-action=steer]");
    await page.waitForFunction(() => document.querySelector("textarea[name=message]").value === "", { timeout: WAIT_MS });
    assert.equal(await page.$("section.session > [role=alert]"), null, "run/steer was accepted");
    await page.waitForSelector("button[data-action=cancel]:not([disabled])", { timeout: WAIT_MS });
    await page.click("button[data-action=cancel]");
    await page.waitForSelector(`[data-run-id="${runId}"][data-run-status=cancelled]`, { timeout: WAIT_MS });
    await page.waitForSelector("button[data-action=cancel][disabled]", { timeout: WAIT_MS });
    const texts = await page.$$eval("[data-testid=assistant-text]", (els) => els.map((el) => el.textContent));
    assert.ok(!texts.some((text) => text.includes("never be seen whole")), "the cancelled answer never completed");
    await shot("04-cancelled");
  });

  await t.test("answers approvals with Deny, then Approve", async () => {
    const held = `console-held-${suffix}`;
    await rpc("session/start", {
      sessionId: held,
      config: {
        model: JSON.parse(MODEL),
        tools: { timers: true },
        toolPolicy: { rules: [{ tools: "wake_me_at", decision: "ask" }] },
      },
    });
    await page.goto(`${API_URL}/ui/sessions/${held}`, { waitUntil: "networkidle0" });
    await waitForText("[data-testid=live]", "live");
    await send("CONSOLE-NEEDS-APPROVAL please");
    await page.waitForSelector("[data-testid=approval][data-state=pending]", { timeout: WAIT_MS });
    await shot("05-approval");
    await clickButton("Deny");
    await page.waitForSelector("[data-testid=approval][data-state=denied]", { timeout: WAIT_MS });
    await page.waitForSelector("[data-run-status=completed]", { timeout: WAIT_MS });
    // The next one is approved: the call runs (a wake-up is set) and the run completes.
    await send("CONSOLE-APPROVE-ME please");
    await page.waitForSelector("[data-testid=approval][data-state=pending]", { timeout: WAIT_MS });
    await clickButton("Approve");
    await page.waitForSelector("[data-testid=approval][data-state=approved]", { timeout: WAIT_MS });
    await page.waitForFunction(
      () => [...document.querySelectorAll("[data-run-status]")].at(-1)?.getAttribute("data-run-status") === "completed",
      { timeout: WAIT_MS },
    );
    const view = await rpc("session/read", { sessionId: held });
    assert.equal(view.wakeUps.length, 1, "the approved wake_me_at call ran");
  });

  await t.test("lists sessions with status and cost, and the other pages", async () => {
    await page.goto(`${API_URL}/ui/`, { waitUntil: "networkidle0" });
    await waitForText("[data-testid=sessions]", sessionId);
    await waitForText("[data-testid=sessions]", "$");
    await shot("06-sessions");
    for (const [path, title] of [
      ["environments", "Environments"],
      ["mcp", "MCP servers"],
      ["schedules", "Schedules"],
      ["memory", "Memory blocks"],
    ]) {
      await page.goto(`${API_URL}/ui/${path}`, { waitUntil: "networkidle0" });
      await waitForText("h1", title);
      assert.equal(await page.$("[role=alert]"), null, `${path} shows no error`);
    }
    // The operator methods may not exist on this server, or this key may not call
    // them: either way the page shows the API's answer, a list or a typed error.
    await page.goto(`${API_URL}/ui/keys`, { waitUntil: "networkidle0" });
    await page.waitForSelector("table.list, p.notice, [role=alert]", { timeout: WAIT_MS });
    const refusal = await page.$eval("[role=alert]", (el) => el.textContent).catch(() => undefined);
    if (refusal !== undefined) assert.match(refusal, /operator/, "the refusal names the operator API");
    await shot("07-api-keys");
  });

  await t.test("fits a phone-sized screen", async () => {
    await page.setViewport(PHONE);
    for (const [path, name] of [
      [`/ui/sessions/${sessionId}`, "08-phone-session"],
      ["/ui/", "09-phone-sessions"],
    ]) {
      await page.goto(`${API_URL}${path}`, { waitUntil: "networkidle0" });
      await page.waitForSelector("nav[aria-label=Main]", { timeout: WAIT_MS });
      if (path.includes("sessions/")) await waitForText("[data-testid=assistant-text]", "Streaming slowly");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 390 px`);
      await shot(name);
    }
  });

  await t.test("an operator key mints and revokes a key and reads the audit log", async () => {
    await page.setViewport(DESKTOP);
    await clickButton("Sign out");
    await fill("input[name=apiKey]", OPERATOR_KEY);
    await clickButton("Sign in");
    // An operator key lands on the keys; it has no sessions pages.
    await page.waitForFunction(() => location.pathname === "/ui/keys", { timeout: WAIT_MS });
    const nav = await page.$eval("nav[aria-label=Main]", (el) => el.textContent);
    assert.ok(nav.includes("API keys") && !nav.includes("Sessions"), nav);
    const universe = `console-universe-${suffix}`;
    await fill("input[name=universeId]", universe);
    await fill("input[name=keyName]", "console test");
    await clickButton("Create key");
    await page.waitForSelector("input[name=createdKey]", { timeout: WAIT_MS });
    const minted = await page.$eval("input[name=createdKey]", (el) => el.value);
    assert.match(minted, /^lsk_/);
    await waitForText("table.list", universe);
    await shot("10-operator-keys");
    // The minted key works, until revoked in the page.
    const call = async () => {
      const response = await fetch(`${API_URL}/rpc`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${minted}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "session/list", params: {} }),
      });
      return response.json();
    };
    assert.deepEqual((await call()).result.sessions, []);
    page.once("dialog", (dialog) => void dialog.accept());
    const revoke = await page.waitForSelector("button[data-revoke]", { timeout: WAIT_MS });
    await revoke.click();
    await page.waitForSelector("[data-testid=revoked]", { timeout: WAIT_MS });
    assert.equal((await call()).error.data.reason, "keyRevoked");
    await waitForText("table.list code", "operator/api-keys/revoke");
    await shot("11-operator-audit");
  });

  await t.test("an operator creates a universe, pauses it, cancels a held run and resumes", async () => {
    // Still signed in with the operator key.
    await page.goto(`${API_URL}/ui/universes`, { waitUntil: "networkidle0" });
    const universe = `console-tenant-${suffix}`;
    await fill("input[name=newUniverseId]", universe);
    await fill("input[name=universeName]", "console tenant");
    await clickButton("Create universe");
    await page.waitForFunction((id) => location.pathname === `/ui/universes/${id}`, { timeout: WAIT_MS }, universe);
    await waitForText("[data-testid=dispatch]", "running");
    await clickButton("Pause dispatch");
    await waitForText("[data-testid=dispatch]", "paused since");
    // The tenant's run, requested while paused, waits in its queue.
    const { key } = await rpc("operator/api-keys/create", { universeId: universe, name: "tenant" }, OPERATOR_KEY);
    const config = { model: JSON.parse(MODEL) };
    await rpc("session/start", { sessionId: "held", config }, key);
    const run = await rpc(
      "run/start",
      { sessionId: "held", submissionId: "held-1", input: [{ type: "text", text: "wait" }] },
      key,
    );
    await clickButton("Reload");
    await page.waitForSelector(`[data-cancel="held/${run.runId}"]`, { timeout: WAIT_MS });
    await waitForText("[data-state]", "queued");
    await shot("12-operator-universe-paused");
    await page.click(`[data-cancel="held/${run.runId}"]`);
    await waitForText("p.notice", "Nothing in flight.");
    await clickButton("Resume dispatch");
    await waitForText("[data-testid=dispatch]", "running");
    await page.goto(`${API_URL}/ui/universes`, { waitUntil: "networkidle0" });
    await waitForText("table.list", "console tenant");
    await shot("13-operator-universes");
  });

  await t.test("logged no errors and no CSP violations", () => {
    // A refused key is a JSON-RPC error in a 200 answer, so even the wrong-key
    // sign-in logs nothing: anything here is a real problem.
    assert.deepEqual(pageErrors, []);
  });
});
