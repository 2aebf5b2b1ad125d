// Client-side routes under /ui (the gateway answers every /ui/... path with
// index.html, so deep links and reloads work).
import { useEffect, useState } from "preact/hooks";

export const BASE = "/ui";

export type Route =
  | { page: "sessions" }
  | { page: "session"; sessionId: string }
  | { page: "environments" }
  | { page: "mcp" }
  | { page: "schedules" }
  | { page: "memory" }
  | { page: "keys" }
  | { page: "universes" }
  | { page: "universe"; universeId: string }
  | { page: "notFound" };

export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split("/").filter(Boolean).map(decodeURIComponent);
  const [first, second] = parts;
  if (first === undefined) return { page: "sessions" };
  if (first === "sessions" && second !== undefined && parts.length === 2) return { page: "session", sessionId: second };
  if (first === "universes" && second !== undefined && parts.length === 2) {
    return { page: "universe", universeId: second };
  }
  if (parts.length > 1) return { page: "notFound" };
  if (first === "sessions") return { page: "sessions" };
  if (
    first === "environments" ||
    first === "mcp" ||
    first === "schedules" ||
    first === "memory" ||
    first === "keys" ||
    first === "universes"
  ) {
    return { page: first };
  }
  return { page: "notFound" };
}

export function sessionPath(sessionId: string): string {
  return `${BASE}/sessions/${encodeURIComponent(sessionId)}`;
}

export function universePath(universeId: string): string {
  return `${BASE}/universes/${encodeURIComponent(universeId)}`;
}

export function navigate(path: string): void {
  if (path === window.location.pathname) return;
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

/** The current route, following history changes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return route;
}

/** Follows in-app links without reloading; modified clicks keep the browser's behaviour. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const anchor = (event.target as Element | null)?.closest?.("a");
  const href = anchor?.getAttribute("href");
  if (!anchor || !href || !href.startsWith(`${BASE}/`) || anchor.target) return;
  event.preventDefault();
  navigate(href);
}
