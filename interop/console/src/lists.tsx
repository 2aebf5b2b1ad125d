// Read-only lists: environments, MCP servers, schedules, memory blocks. Headers and
// env of MCP servers are never shown (they may carry credentials).
import type { ComponentChildren } from "preact";
import type { LightspeedClient } from "../../ts-client/src/index.ts";
import { formatTime } from "./api.ts";
import { ErrorLine, Section, useLoad } from "./load.tsx";

interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
}

/** A table that turns into labelled cards on narrow screens (see style.css). */
export function Table<T>(props: { rows: T[]; rowKey: (row: T) => string; columns: Column<T>[]; empty: string }) {
  if (props.rows.length === 0) return <p class="notice">{props.empty}</p>;
  return (
    <table class="list">
      <thead>
        <tr>
          {props.columns.map((column) => (
            <th key={column.label}>{column.label}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr key={props.rowKey(row)}>
            {props.columns.map((column) => (
              <td key={column.label} data-label={column.label}>
                {column.cell(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One list page: a title, a loader returning rows, and the table of them. */
function ListPage<T>(props: {
  title: string;
  load: (client: LightspeedClient) => Promise<T[]>;
  rowKey: (row: T) => string;
  columns: Column<T>[];
  empty: string;
}) {
  const list = useLoad(props.load);
  return (
    <Section title={props.title} onReload={list.reload}>
      <ErrorLine error={list.error} />
      {list.data && <Table rows={list.data} rowKey={props.rowKey} columns={props.columns} empty={props.empty} />}
    </Section>
  );
}

export function EnvironmentsPage() {
  return (
    <ListPage
      title="Environments"
      load={async (client) => (await client.environmentsList({})).environments}
      rowKey={(env) => env.id}
      empty="No environments. `lightspeed env` lends a machine."
      columns={[
        { label: "Name", cell: (env) => env.name },
        { label: "Status", cell: (env) => <span class={`badge env-${env.status}`}>{env.status}</span> },
        { label: "Host", cell: (env) => (env.host ? `${env.host.hostname} (${env.host.os}/${env.host.arch})` : "—") },
        { label: "Last seen", cell: (env) => formatTime(env.host?.lastSeenMs) },
        { label: "Description", cell: (env) => env.description || "—" },
      ]}
    />
  );
}

export function McpServersPage() {
  return (
    <ListPage
      title="MCP servers"
      load={async (client) => (await client.mcpServersList({})).servers}
      rowKey={(server) => server.name}
      empty="No MCP servers registered."
      columns={[
        { label: "Name", cell: (server) => server.name },
        { label: "Transport", cell: (server) => server.transport.type },
        {
          label: "Endpoint",
          cell: (server) => <code>{server.transport.type === "stdio" ? server.transport.command : server.transport.url}</code>,
        },
        { label: "Revision", cell: (server) => server.revision },
        { label: "Updated", cell: (server) => formatTime(server.updatedAtMs) },
      ]}
    />
  );
}

export function SchedulesPage() {
  return (
    <ListPage
      title="Schedules"
      load={async (client) => (await client.scheduleList({})).schedules}
      rowKey={(schedule) => schedule.scheduleId}
      empty="No schedules."
      columns={[
        { label: "Name", cell: (s) => s.name || s.scheduleId },
        { label: "When", cell: (s) => (s.spec.type === "cron" ? `cron ${s.spec.expression}` : `every ${s.spec.everySeconds} s`) },
        { label: "Target", cell: (s) => (s.target.type === "session" ? s.target.sessionId : "new session") },
        { label: "State", cell: (s) => <span class="badge">{s.paused ? "paused" : "active"}</span> },
        { label: "Next", cell: (s) => formatTime(s.nextFiringAtMs) },
        { label: "Firings", cell: (s) => s.firings },
      ]}
    />
  );
}

export function MemoryBlocksPage() {
  return (
    <ListPage
      title="Memory blocks"
      load={async (client) => (await client.memoryBlocksList({})).blocks}
      rowKey={(block) => block.label}
      empty="No memory blocks."
      columns={[
        { label: "Label", cell: (b) => b.label },
        { label: "Description", cell: (b) => b.description || "—" },
        { label: "Size", cell: (b) => `${b.bytes} / ${b.limitBytes} B` },
        { label: "Access", cell: (b) => (b.readOnly ? "read-only" : "read-write") },
        { label: "Updated", cell: (b) => formatTime(b.updatedAtMs) },
      ]}
    />
  );
}
