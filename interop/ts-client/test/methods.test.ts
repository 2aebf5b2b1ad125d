// Calls every method of interop/contract/methods.json against the live server, and
// fails if one was not exercised. Most succeed for real (create, read, list, delete);
// the few that cannot without a scripted model count when they answer a typed error
// (ALLOWED_ERRORS says which and why).
import assert from "node:assert/strict";
import { after, before } from "node:test";
import {
  LightspeedClient,
  LightspeedError,
  METHOD_NAMES,
  METHODS,
  PROTOCOL_VERSION,
  type CallOptions,
  type MethodName,
  type Params,
  type Result,
} from "../src/index.js";
import { startFakeServices, type FakeServices } from "./support/fake-services.js";
import { API_KEY, API_URL, OPERATOR_KEY, eventually, liveTest, sessionConfig, uniqueId } from "./support/live.js";

/**
 * With `FAKE_PROVIDER_SCRIPT=<this package>/test/fake-provider-script.json` the fake
 * provider calls `wake_me_at` for two marked prompts, so approvals and wake-ups can
 * be exercised for real. In plain echo mode they cannot.
 */
const SCRIPTED = (process.env.FAKE_PROVIDER_SCRIPT ?? "").endsWith("test/fake-provider-script.json");

/**
 * Methods that cannot succeed against the echo provider: they need a model that
 * calls tools (approval holds, `wake_me_at`). They still go over the wire and must
 * answer a typed error. None in scripted mode.
 */
const ALLOWED_ERRORS: Partial<Record<MethodName, string>> = SCRIPTED
  ? {}
  : {
      "run/approve": "needs a run holding a call for approval (a tool-calling model)",
      "run/deny": "needs a run holding a call for approval (a tool-calling model)",
      "session/wake-ups/cancel": "needs a pending wake-up (a model calling wake_me_at)",
    };

class RecordingClient extends LightspeedClient {
  readonly outcomes = new Map<string, "ok" | LightspeedError>();

  override async call<M extends MethodName>(method: M, params: Params<M>, options?: CallOptions): Promise<Result<M>> {
    try {
      const result = await super.call(method, params, options);
      this.outcomes.set(method, "ok");
      return result;
    } catch (err) {
      if (err instanceof LightspeedError && this.outcomes.get(method) !== "ok") this.outcomes.set(method, err);
      throw err;
    }
  }
}

/** Awaits `promise` and returns the `LightspeedError` it rejects with. */
async function typedError(promise: Promise<unknown>): Promise<LightspeedError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof LightspeedError, `expected a LightspeedError, got ${err}`);
    return err;
  }
  assert.fail("expected the call to fail");
}

let client: RecordingClient;
/** The `operator/` methods need an operator key, which calls nothing else. */
let operator: RecordingClient;
let fake: FakeServices;

before(async () => {
  if (!API_URL) return;
  client = new RecordingClient({ url: API_URL, apiKey: API_KEY });
  operator = new RecordingClient({ url: API_URL, apiKey: OPERATOR_KEY });
  fake = await startFakeServices();
});

after(async () => {
  await fake?.close();
  client?.close();
  operator?.close();
});

liveTest(
  "every method in methods.json is called against the live server",
  async (t) => {
    const sessionId = uniqueId("ts-methods");

    await t.test("initialize, models, usage", async () => {
      const init = await client.initialize({ clientName: "ts-client-test", clientVersion: "0" });
      assert.equal(init.protocolVersion, PROTOCOL_VERSION);
      for (const name of METHOD_NAMES) assert.ok(init.methods.includes(name), `server lacks ${name}`);
      const models = await client.modelsList();
      assert.ok(Array.isArray(models.providers));
      const usage = await client.universeUsage();
      assert.equal(typeof usage, "object");
    });

    await t.test("sessions", async () => {
      const started = await client.sessionStart({ sessionId, config: sessionConfig({ tools: { timers: true } }) });
      assert.equal(started.sessionId, sessionId);
      const read = await client.sessionRead({ sessionId });
      assert.equal(read.sessionId, sessionId);
      const list = await client.sessionList({ limit: 200 });
      assert.ok(list.sessions.some((s) => s.sessionId === sessionId));
      const updated = await client.sessionUpdate({
        sessionId,
        expectedRevision: read.revision,
        patch: { generation: { maxOutputTokens: 1024 } },
      });
      assert.ok(updated.revision > read.revision);
    });

    await t.test("runs: start, events, cancel, steer", async () => {
      const run = await client.startRun({ sessionId, input: "hello methods" });
      const outcome = await client.awaitRun(sessionId, run.runId, { cursor: run.startCursor, timeoutMs: 60_000 });
      assert.equal(outcome.status, "completed");
      const events = await client.sessionEventsRead({ sessionId, cursor: 0, limit: 500 });
      assert.ok(events.events.length > 0);

      // Cancel: a second run queued behind a first one (which the scripted provider
      // answers slowly, so the second is still queued when it is cancelled).
      const first = await client.startRun({ sessionId, input: "first of two" });
      const second = await client.startRun({ sessionId, input: "second of two" });
      const cancelled = await client.runCancel({ sessionId, runId: second.runId, reason: "test" });
      assert.equal(typeof cancelled, "object");
      const secondOutcome = await client.awaitRun(sessionId, second.runId, { cursor: second.startCursor, timeoutMs: 60_000 });
      assert.ok(["cancelled", "completed"].includes(secondOutcome.status), secondOutcome.status);
      if (SCRIPTED) assert.equal(secondOutcome.status, "cancelled");
      await client.awaitRun(sessionId, first.runId, { cursor: first.startCursor, timeoutMs: 60_000 });

      // Steer: input added to a run while it runs. The echo provider is quick, so a
      // run may finish first; try a few.
      let steered = false;
      for (let attempt = 0; attempt < 6 && !steered; attempt++) {
        const target = await client.startRun({ sessionId, input: `steer me ${attempt}` });
        try {
          await client.runSteer({ sessionId, runId: target.runId, input: [{ type: "text", text: "and also this" }] });
          steered = true;
        } catch (err) {
          if (!(err instanceof LightspeedError)) throw err;
        }
        await client.awaitRun(sessionId, target.runId, { cursor: target.startCursor, timeoutMs: 60_000 });
      }
      assert.ok(steered, "run/steer never found a running run");

      // Approve and deny: nothing waits for approval with the echo provider (see
      // "approvals and wake-ups" for the scripted provider).
      const last = await client.sessionRead({ sessionId });
      const lastRunId = last.lastRun?.runId ?? run.runId;
      const approve = await typedError(client.runApprove({ sessionId, runId: lastRunId }));
      const deny = await typedError(client.runDeny({ sessionId, runId: lastRunId, message: "no" }));
      for (const err of [approve, deny]) assert.ok(err.kind, "typed error has a kind");
      const wake = await typedError(client.sessionWakeUpsCancel({ sessionId, wakeUp: 999 }));
      assert.ok(wake.kind);
    });

    await t.test("approvals and wake-ups (scripted provider only)", { skip: !SCRIPTED && "FAKE_PROVIDER_SCRIPT is not test/fake-provider-script.json" }, async () => {
      const held = uniqueId("ts-held");
      await client.sessionStart({
        sessionId: held,
        config: sessionConfig({
          tools: { timers: true },
          toolPolicy: { rules: [{ tools: "wake_me_at", decision: "ask" }] },
        }),
      });
      const awaitingApproval = (runId: string) =>
        eventually(`run ${runId} awaiting approval`, async () => {
          const view = await client.sessionRead({ sessionId: held });
          return view.activeRun?.runId === runId && view.activeRun.status === "awaitingApproval" ? view : undefined;
        });

      const toApprove = await client.startRun({ sessionId: held, input: "TS-SCRIPT-APPROVE please" });
      await awaitingApproval(toApprove.runId);
      await client.runApprove({ sessionId: held, runId: toApprove.runId });
      const approved = await client.awaitRun(held, toApprove.runId, { cursor: toApprove.startCursor, timeoutMs: 60_000 });
      assert.notEqual(approved.status, "failed", JSON.stringify(approved.run));
      const withWakeUp = await client.sessionRead({ sessionId: held });
      const wakeUp = withWakeUp.wakeUps?.[0];
      assert.ok(wakeUp, `a wake-up was scheduled: ${JSON.stringify(withWakeUp.wakeUps)}`);
      const cancelledWake = await client.sessionWakeUpsCancel({ sessionId: held, wakeUp: wakeUp.wakeUp });
      assert.ok(!(cancelledWake.wakeUps ?? []).some((w) => w.wakeUp === wakeUp.wakeUp && w.state === "scheduled"));

      const toDeny = await client.startRun({ sessionId: held, input: "TS-SCRIPT-DENY please" });
      await awaitingApproval(toDeny.runId);
      await client.runDeny({ sessionId: held, runId: toDeny.runId, message: "not now" });
      const denied = await client.awaitRun(held, toDeny.runId, { cursor: toDeny.startCursor, timeoutMs: 60_000 });
      assert.notEqual(denied.status, "failed", JSON.stringify(denied.run));
      await client.sessionDelete({ sessionId: held, force: true });
    });

    await t.test("compact and fork", async () => {
      const compacted = await client.sessionCompact({ sessionId, instruction: "keep the greetings" });
      assert.equal(compacted.sessionId, sessionId);
      const forkId = uniqueId("ts-fork");
      const fork = await client.sessionFork({ sessionId, forkSessionId: forkId });
      assert.equal(fork.sessionId, forkId);
      assert.equal(fork.forkedFrom?.sessionId, sessionId);
      const deleted = await client.sessionDelete({ sessionId: forkId, force: true });
      assert.equal(typeof deleted, "object");
    });

    await t.test("blobs", async () => {
      const data = new TextEncoder().encode("blob for the method tour");
      const put = await client.blobPut({ dataBase64: Buffer.from(data).toString("base64") });
      const got = await client.blobGet({ blobRef: put.blobRef });
      assert.equal(Buffer.from(got.dataBase64, "base64").toString(), "blob for the method tour");
      const has = await client.blobHasMany({ blobRefs: [put.blobRef, `sha256:${"0".repeat(64)}`] });
      assert.deepEqual(has.present, [put.blobRef]);
      const pin = await client.blobPin({ blobRef: put.blobRef });
      assert.equal(pin.blobRef, put.blobRef);
      const pins = await client.blobPinsList();
      assert.ok(pins.pins.some((p) => p.blobRef === put.blobRef));
      await client.blobUnpin({ blobRef: put.blobRef });
    });

    await t.test("vfs and skills", async () => {
      const skill = new TextEncoder().encode(
        "---\nname: greeter\ndescription: Greets people warmly.\n---\n\nSay hello in three languages.\n",
      );
      const skillRef = await client.uploadBlob(skill);
      const readme = new TextEncoder().encode("# repo\n");
      const readmeRef = await client.uploadBlob(readme);
      const snapshot = await client.vfsSnapshotCommit({
        entries: [
          { path: ".agents/skills/greeter/SKILL.md", blobRef: skillRef, sizeBytes: skill.byteLength },
          { path: "README.md", blobRef: readmeRef, sizeBytes: readme.byteLength },
        ],
      });
      assert.equal(snapshot.fileCount, 2);
      const files = await client.vfsSnapshotRead({ snapshotRef: snapshot.snapshotRef });
      assert.equal(files.entries.length, 2);

      const workspaceId = uniqueId("ts-ws");
      const workspace = await client.vfsWorkspaceCreate({ workspaceId });
      assert.equal(workspace.revision, 1);
      const readWs = await client.vfsWorkspaceRead({ workspaceId });
      assert.equal(readWs.workspaceId, workspaceId);
      const moved = await client.vfsWorkspaceUpdate({
        workspaceId,
        expectedRevision: readWs.revision,
        snapshotRef: snapshot.snapshotRef,
      });
      assert.equal(moved.snapshotRef, snapshot.snapshotRef);

      const mount = await client.vfsMountPut({
        sessionId,
        mountPath: "/repo",
        source: { type: "workspace", workspaceId },
      });
      assert.equal(mount.mountPath, "/repo");
      const mounts = await client.vfsMountList({ sessionId });
      assert.ok(mounts.mounts.some((m) => m.mountPath === "/repo"));

      const skills = await client.sessionSkillsList({ sessionId });
      assert.ok(
        skills.skills.some((s) => s.name === "greeter"),
        `skills: ${JSON.stringify(skills.skills)}`,
      );
      const active = await client.sessionSkillsActivate({ sessionId, name: "greeter" });
      assert.equal(active.active, true);
      const inactive = await client.sessionSkillsDeactivate({ sessionId, name: "greeter" });
      assert.equal(inactive.active, false);

      await client.vfsMountDelete({ sessionId, mountPath: "/repo" });
      await client.vfsWorkspaceDelete({ workspaceId });
    });

    await t.test("mcp servers and links", async () => {
      const name = `ts-${Math.random().toString(36).slice(2, 10)}`;
      const server = await client.mcpServersPut({ name, transport: { type: "streamableHttp", url: fake.mcpUrl } });
      assert.equal(server.name, name);
      assert.equal((await client.mcpServersRead({ name })).name, name);
      assert.ok((await client.mcpServersList()).servers.some((s) => s.name === name));
      const link = await client.sessionMcpLink({ sessionId, server: name });
      assert.ok(
        link.tools.some((tool) => tool.name === `${name}__echo`),
        `tools: ${JSON.stringify(link.tools)}`,
      );
      const links = await client.sessionMcpList({ sessionId });
      assert.ok(JSON.stringify(links).includes(name));
      await client.sessionMcpUnlink({ sessionId, server: name });
      await client.mcpServersDelete({ name });
    });

    await t.test("auth: secrets, an OAuth flow, grants", async () => {
      const secret = `ts-secret-${Math.random().toString(36).slice(2, 10)}`;
      const stored = await client.authSecretsPut({ name: secret, value: "s3cr3t" });
      assert.equal(stored.name, secret);
      const secrets = await client.authSecretsList();
      assert.ok(secrets.secrets.some((s) => s.name === secret));
      assert.ok(!JSON.stringify(secrets).includes("s3cr3t"));
      await client.authSecretsDelete({ name: secret });

      const flow = await client.authFlowsStart({ resourceUrl: fake.mcpUrl, grantName: uniqueId("ts-grant") });
      assert.equal(flow.status, "pending");
      assert.ok(flow.authorizationUrl, "the flow has an authorization URL");
      const state = new URL(flow.authorizationUrl).searchParams.get("state");
      assert.ok(state, "the authorization URL carries a state");
      const callback = await fetch(`${API_URL}/auth/callback?code=fake-code&state=${encodeURIComponent(state)}`);
      assert.equal(callback.status, 200, await callback.text());
      const done = await client.authFlowsRead({ flowId: flow.flowId });
      assert.equal(done.status, "completed", JSON.stringify(done));
      assert.ok(done.grantId);
      const grants = await client.authGrantsList();
      assert.ok(grants.grants.some((g) => g.grantId === done.grantId));
      const revoked = await client.authGrantsRevoke({ grantId: done.grantId! });
      assert.equal(revoked.status, "revoked");
    });

    await t.test("environments", async () => {
      const name = `ts-env-${Math.random().toString(36).slice(2, 8)}`;
      const created = await client.environmentsCreate({ name, description: "ts-client test" });
      assert.equal(created.environment.name, name);
      assert.ok(created.token);
      assert.equal((await client.environmentsRead({ name })).name, name);
      assert.ok((await client.environmentsList()).environments.some((e) => e.name === name));
      const attached = await client.sessionEnvironmentsAttach({ sessionId, environment: name });
      assert.equal(attached.name, name);
      const attachedList = await client.sessionEnvironmentsList({ sessionId });
      assert.ok(JSON.stringify(attachedList).includes(name));
      const detached = await client.sessionEnvironmentsDetach({ sessionId, name });
      assert.equal(detached.detached, true);
      await client.environmentsDelete({ name });
    });

    await t.test("memory", async () => {
      const label = `ts_mem_${Math.random().toString(36).slice(2, 8)}`;
      const block = await client.memoryBlocksCreate({ label, value: "likes tea", description: "preferences" });
      assert.equal(block.revision, 1);
      assert.equal((await client.memoryBlocksRead({ label })).value, "likes tea");
      assert.ok((await client.memoryBlocksList()).blocks.some((b) => b.label === label));
      const updated = await client.memoryBlocksUpdate({ label, expectedRevision: 1, value: "likes coffee" });
      assert.equal(updated.value, "likes coffee");
      await client.sessionMemoryAttach({ sessionId, label });
      const attached = await client.sessionMemoryList({ sessionId });
      assert.ok(JSON.stringify(attached).includes(label));
      await client.sessionMemoryDetach({ sessionId, label });
      await client.memoryBlocksDelete({ label, force: true });

      const passage = await client.memoryArchivalInsert({ text: "The ferry leaves at nine", tags: ["travel"] });
      const found = await client.memoryArchivalSearch({ query: "ferry nine", tags: ["travel"] });
      assert.ok(found.passages.some((p) => p.id === passage.id));
      await client.memoryArchivalDelete({ id: passage.id });
    });

    await t.test("schedules", async () => {
      const scheduleId = `ts_sched_${Math.random().toString(36).slice(2, 8)}`;
      const created = await client.scheduleCreate({
        scheduleId,
        name: "hourly",
        spec: { type: "interval", everySeconds: 3600 },
        target: { type: "session", sessionId },
        input: "hourly check",
        paused: true,
      });
      assert.equal(created.scheduleId, scheduleId);
      assert.equal((await client.scheduleRead({ scheduleId })).paused, true);
      assert.ok((await client.scheduleList()).schedules.some((s) => s.scheduleId === scheduleId));
      const renamed = await client.scheduleUpdate({ scheduleId, name: "still hourly" });
      assert.equal(renamed.name, "still hourly");
      const paused = await client.schedulePause({ scheduleId, paused: true });
      assert.equal(paused.paused, true);
      await client.scheduleDelete({ scheduleId });
    });

    await t.test("operator: keys, revocation, the audit log", async () => {
      const universeId = uniqueId("ts-ops");
      const created = await operator.operatorApiKeysCreate({ universeId, name: "ts-client test" });
      assert.equal(created.record.universeId, universeId);
      assert.equal(created.record.operator, false);
      const minted = new LightspeedClient({ url: API_URL!, apiKey: created.key });
      try {
        assert.deepEqual((await minted.sessionList({})).sessions, []);
        const listed = await operator.operatorApiKeysList({ universeId });
        assert.deepEqual(listed.keys.map((k) => k.keyId), [created.record.keyId]);
        const revoked = await operator.operatorApiKeysRevoke({ keyId: created.record.keyId });
        assert.ok(revoked.record.revokedAtMs);
        const refused = await typedError(minted.sessionList({}));
        assert.equal(refused.reason, "keyRevoked");
      } finally {
        minted.close();
      }
      // Each kind of key calls its own methods only.
      assert.equal((await typedError(client.operatorAuditList({}))).reason, "operatorKeyRequired");
      assert.equal((await typedError(operator.sessionList({}))).reason, "universeKeyRequired");
      const universes = await operator.operatorUniversesList({});
      assert.ok(universes.universes.some((u) => u.universeId === universeId && u.revokedKeys === 1));
      const read = await operator.operatorUniversesRead({ universeId });
      assert.equal(read.usage?.sessions, 0);
      const audit = await operator.operatorAuditList({ limit: 10 });
      const methods = audit.entries.map((entry) => entry.method);
      assert.ok(methods.includes("operator/api-keys/revoke"), JSON.stringify(audit));
      assert.ok(audit.entries.every((entry) => !JSON.stringify(entry).includes(created.key)));
    });

    await t.test("operator: universes, dispatch, runs in flight; event intake", async () => {
      const tenant = uniqueId("ts-tenant");
      const made = await operator.operatorUniversesCreate({ universeId: tenant, name: "ts tenant" });
      assert.equal(made.name, "ts tenant");
      const key = await operator.operatorApiKeysCreate({ universeId: tenant });
      const member = new LightspeedClient({ url: API_URL!, apiKey: key.key });
      try {
        await member.sessionStart({ sessionId: "held", config: sessionConfig() });
        const paused = await operator.operatorDispatchPause({ universeId: tenant });
        assert.equal(paused.paused, true);
        const run = await member.runStart({
          sessionId: "held",
          submissionId: "sub-held",
          input: [{ type: "text", text: "wait for the operator" }],
        });
        const inFlight = await operator.operatorRunsList({ universeId: tenant });
        assert.equal(inFlight.dispatch.paused, true);
        assert.deepEqual(
          inFlight.runs.map((r) => [r.sessionId, r.runId, r.state]),
          [["held", run.runId, "queued"]],
        );
        await operator.operatorRunsCancel({ universeId: tenant, sessionId: "held", runId: run.runId });
        const resumed = await operator.operatorDispatchResume({ universeId: tenant });
        assert.equal(resumed.paused, false);
      } finally {
        member.close();
      }
      const deleted = await operator.operatorUniversesDelete({ universeId: tenant, confirm: tenant });
      assert.equal(deleted.deletedSessions, 1);
      assert.equal(deleted.revokedKeys, 1);

      // An event into this session, delivered twice: one run.
      const event = {
        source: "ts-test",
        eventId: uniqueId("evt"),
        payload: { door: 3 },
        target: { type: "session" as const, sessionId },
      };
      const first = await client.eventsIngest(event);
      assert.equal(first.duplicate, false);
      const again = await client.eventsIngest(event);
      assert.equal(again.duplicate, true);
      assert.equal(again.runId, first.runId);
      // Its run ends before the session is closed below.
      await eventually("the event's run to finish", async () => {
        const view = await client.sessionRead({ sessionId });
        return view.activeRun === undefined && view.queuedRunIds.length === 0 ? view : undefined;
      });
    });

    await t.test("close and delete the session", async () => {
      const closed = await client.sessionClose({ sessionId });
      assert.equal(closed.sessionId, sessionId);
      await client.sessionDelete({ sessionId, force: true });
      const gone = await typedError(client.sessionRead({ sessionId }));
      assert.equal(gone.kind, "notFound");
    });

    await t.test("no method was left out", () => {
      const missing: string[] = [];
      for (const method of METHODS) {
        const outcome = method.name.startsWith("operator/")
          ? operator.outcomes.get(method.name)
          : client.outcomes.get(method.name);
        if (outcome === "ok") continue;
        if (outcome instanceof LightspeedError && ALLOWED_ERRORS[method.name]) continue;
        missing.push(
          outcome
            ? `${method.name} (${method.functionName}): failed with ${outcome.code} ${outcome.kind}/${outcome.reason}: ${outcome.message}`
            : `${method.name} (${method.functionName}): never called`,
        );
      }
      assert.deepEqual(missing, [], `methods not exercised:\n${missing.join("\n")}`);
    });
  },
  { timeout: 300_000 },
);
