/**
 * Maps api/ files to URL paths the way Vercel does for non-Next projects:
 * `api/health.ts` -> /api/health, `api/stores/index.ts` -> /api/stores,
 * `api/jobs/[id].ts` -> /api/jobs/:id (one segment, passed to the function as
 * `?id=`), static segments taking precedence over `[param]` ones.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

type Segment = { type: "static"; value: string } | { type: "param"; name: string };

export interface ApiRoute {
  /** Absolute path of the function's source file. */
  file: string;
  /** The route as Vercel shows it, e.g. `/api/jobs/[id]`. */
  path: string;
  segments: Segment[];
}

export interface RouteMatch {
  route: ApiRoute;
  params: Record<string, string>;
}

// What Vercel deploys as a function: api/**/*.+(js|mjs|ts|tsx).
const SOURCE_EXTENSIONS = [".ts", ".tsx", ".js", ".mjs"];

/** Every function under `apiDir` (files and folders starting with `_` or `.` are private, as on Vercel). */
export function discoverRoutes(apiDir: string, urlPrefix = "/api"): ApiRoute[] {
  const routes: ApiRoute[] = [];
  const walk = (dir: string, parts: string[]) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith("_") || entry.startsWith(".")) continue;
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) {
        walk(full, [...parts, entry]);
        continue;
      }
      const ext = path.extname(entry);
      if (!SOURCE_EXTENSIONS.includes(ext) || entry.endsWith(".d.ts")) continue;
      const base = entry.slice(0, -ext.length);
      const routeParts = base === "index" ? parts : [...parts, base];
      const segments = routeParts.map(toSegment);
      routes.push({ file: full, path: [urlPrefix, ...routeParts].join("/"), segments });
    }
  };
  walk(apiDir, []);
  return routes.sort(compareRoutes);
}

function toSegment(part: string): Segment {
  const param = /^\[([A-Za-z_][A-Za-z0-9_]*)\]$/.exec(part);
  return param?.[1] ? { type: "param", name: param[1] } : { type: "static", value: part };
}

/** Static segments first, left to right; then shorter routes. Deterministic for equal shapes. */
function compareRoutes(a: ApiRoute, b: ApiRoute): number {
  const length = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const sa = a.segments[i] as Segment;
    const sb = b.segments[i] as Segment;
    if (sa.type !== sb.type) return sa.type === "static" ? -1 : 1;
  }
  return a.segments.length - b.segments.length || a.path.localeCompare(b.path);
}

/** Finds the route for a URL path (already without the prefix's trailing slash issues). */
export function matchRoute(routes: readonly ApiRoute[], pathname: string, urlPrefix = "/api"): RouteMatch | null {
  const trimmed = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  if (trimmed !== urlPrefix && !trimmed.startsWith(`${urlPrefix}/`)) return null;
  let parts: string[];
  try {
    parts = trimmed
      .slice(urlPrefix.length)
      .split("/")
      .filter((part) => part !== "")
      .map((part) => decodeURIComponent(part));
  } catch {
    return null; // malformed percent-encoding matches no route
  }
  for (const route of routes) {
    if (route.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const matches = route.segments.every((segment, i) => {
      const part = parts[i] as string;
      if (segment.type === "static") return segment.value === part;
      params[segment.name] = part;
      return true;
    });
    if (matches) return { route, params };
  }
  return null;
}
