// The shell: sign-in gate, navigation, and the page for the current route.
import { useEffect, useState } from "preact/hooks";
import { currentClient, currentRole, signOut, type Role } from "./api.ts";
import { ApiKeysPage } from "./keys.tsx";
import { EnvironmentsPage, McpServersPage, MemoryBlocksPage, SchedulesPage } from "./lists.tsx";
import { BASE, navigate, onLinkClick, useRoute, type Route } from "./router.ts";
import { SessionPage } from "./session.tsx";
import { SessionsPage } from "./sessions.tsx";
import { SignIn } from "./signin.tsx";
import { UniversePage, UniversesPage } from "./universes.tsx";

/** The pages of each kind of key: a universe's key sees its universe, an operator key the keys. */
const NAV: Array<{ href: string; label: string; pages: Route["page"][]; role: Role }> = [
  { href: `${BASE}/`, label: "Sessions", pages: ["sessions", "session"], role: "universe" },
  { href: `${BASE}/environments`, label: "Environments", pages: ["environments"], role: "universe" },
  { href: `${BASE}/mcp`, label: "MCP servers", pages: ["mcp"], role: "universe" },
  { href: `${BASE}/schedules`, label: "Schedules", pages: ["schedules"], role: "universe" },
  { href: `${BASE}/memory`, label: "Memory", pages: ["memory"], role: "universe" },
  { href: `${BASE}/keys`, label: "API keys", pages: ["keys"], role: "operator" },
  { href: `${BASE}/universes`, label: "Universes", pages: ["universes", "universe"], role: "operator" },
];

export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => currentClient() !== undefined);
  useEffect(() => {
    document.addEventListener("click", onLinkClick);
    return () => document.removeEventListener("click", onLinkClick);
  }, []);

  if (!signedIn)
    return (
      <SignIn
        onSignedIn={(role) => {
          setSignedIn(true);
          // An operator key has no sessions: it starts on the keys.
          if (role === "operator") navigate(`${BASE}/keys`);
        }}
      />
    );
  const role = currentRole();
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href={`${BASE}/`}>
          Lightspeed
        </a>
        <nav aria-label="Main">
          {NAV.filter((item) => item.role === role).map((item) => (
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
    case "universes":
      return <UniversesPage />;
    case "universe":
      return <UniversePage key={route.universeId} universeId={route.universeId} />;
    case "notFound":
      return <p class="notice">No such page.</p>;
  }
}
