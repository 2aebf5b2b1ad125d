// The shell: sign-in gate, navigation, and the page for the current route.
import { useEffect, useState } from "preact/hooks";
import { currentClient, signOut } from "./api.ts";
import { ApiKeysPage } from "./keys.tsx";
import { EnvironmentsPage, McpServersPage, MemoryBlocksPage, SchedulesPage } from "./lists.tsx";
import { BASE, onLinkClick, useRoute, type Route } from "./router.ts";
import { SessionPage } from "./session.tsx";
import { SessionsPage } from "./sessions.tsx";
import { SignIn } from "./signin.tsx";

const NAV: Array<{ href: string; label: string; pages: Route["page"][] }> = [
  { href: `${BASE}/`, label: "Sessions", pages: ["sessions", "session"] },
  { href: `${BASE}/environments`, label: "Environments", pages: ["environments"] },
  { href: `${BASE}/mcp`, label: "MCP servers", pages: ["mcp"] },
  { href: `${BASE}/schedules`, label: "Schedules", pages: ["schedules"] },
  { href: `${BASE}/memory`, label: "Memory", pages: ["memory"] },
  { href: `${BASE}/keys`, label: "API keys", pages: ["keys"] },
];

export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => currentClient() !== undefined);
  useEffect(() => {
    document.addEventListener("click", onLinkClick);
    return () => document.removeEventListener("click", onLinkClick);
  }, []);

  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href={`${BASE}/`}>
          Lightspeed
        </a>
        <nav aria-label="Main">
          {NAV.map((item) => (
            <a href={item.href} aria-current={item.pages.includes(route.page) ? "page" : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="quiet"
          onClick={() => {
            signOut();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "sessions":
      return <SessionsPage />;
    case "session":
      return <SessionPage key={route.sessionId} sessionId={route.sessionId} />;
    case "environments":
      return <EnvironmentsPage />;
    case "mcp":
      return <McpServersPage />;
    case "schedules":
      return <SchedulesPage />;
    case "memory":
      return <MemoryBlocksPage />;
    case "keys":
      return <ApiKeysPage />;
    case "notFound":
      return <p class="notice">No such page.</p>;
  }
}
