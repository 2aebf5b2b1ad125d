// The bridge's durable state: one JSON file, replaced atomically (write a temporary
// file beside it, fsync, rename over, fsync the directory). Saves are coalesced: a
// save() resolves once a write that includes every change made before it is on disk.
import { promises as fs } from "node:fs";
import path from "node:path";

export function emptyState() {
  return {
    version: 1,
    telegram: { offset: 0, recentUpdateIds: [] },
    whatsapp: { seen: [] },
    // chat key -> { sessionId, generation }
    chats: {},
    // session id -> { chatKey, platform, cursor, lastChatId, runs: {runId: record}, delivered: [runId] }
    sessions: {},
  };
}

export class StateStore {
  constructor(file) {
    this.file = path.resolve(file);
    this.data = emptyState();
    this.writing = null;
    this.queued = null;
  }

  async load() {
    try {
      const text = await fs.readFile(this.file, "utf8");
      this.data = { ...emptyState(), ...JSON.parse(text) };
    } catch (err) {
      if (err.code !== "ENOENT") throw new Error(`cannot read state file ${this.file}: ${err.message}`);
      await fs.mkdir(path.dirname(this.file), { recursive: true });
    }
    return this.data;
  }

  /**
   * Persists the current state. Calls made while a write is queued share it (it
   * snapshots the state when it starts, after them); a call made once a write started
   * queues the next one.
   */
  save() {
    if (this.queued) return this.queued;
    const prev = this.writing ?? Promise.resolve();
    const next = prev
      .catch(() => {})
      .then(() => {
        this.queued = null;
        return this.#write();
      });
    this.queued = next;
    this.writing = next;
    return next;
  }

  async #write() {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const text = JSON.stringify(this.data, null, 1);
    const fh = await fs.open(tmp, "w", 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, this.file);
    try {
      const dir = await fs.open(path.dirname(this.file), "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      // Directory fsync is not supported everywhere; the rename is still atomic.
    }
  }
}

/** Adds `id` to a bounded list (most recent last). */
export function remember(list, id, max = 1000) {
  list.push(id);
  if (list.length > max) list.splice(0, list.length - max);
}
