/**
 * The local stand-in for Vercel's routing: static files from public/ first, then
 * the api/ functions (one export per HTTP method, 405 otherwise), each handed a
 * Web Request with its `[param]` segments appended to the query string.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { AppError } from "../lib/errors.js";
import { problem } from "../lib/http/index.js";
import { correlationIdFrom, logger } from "../lib/log/index.js";
import { BodyTooLargeError, sendWebResponse, toWebRequest } from "./node-bridge.js";
import { type ApiRoute, discoverRoutes, HTTP_METHODS, type HttpMethod, matchRoute } from "./router.js";
import { resolveStaticFile, sendStaticFile } from "./static.js";

type FunctionModule = Partial<Record<HttpMethod, (request: Request) => Promise<Response>>>;

export interface DevApp {
  routes: readonly ApiRoute[];
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const log = logger("dev");

/** A route that answers 204 and does nothing; never deployed (it is not under api/). */
export const NOOP_PATH = "/__dev/noop";

export async function createDevApp(options: { apiDir: string; publicDir: string }): Promise<DevApp> {
  const routes = discoverRoutes(options.apiDir);
  const modules = new Map<string, FunctionModule>();
  // Loaded up front: a function that fails to import should stop start-up, not a request.
  for (const route of routes) {
    modules.set(route.file, (await import(pathToFileURL(route.file).href)) as FunctionModule);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);

    // The benchmarks' baseline: a bare request that does nothing (dev server only).
    if (url.pathname === NOOP_PATH) {
      req.resume();
      res.writeHead(204).end();
      return;
    }

    if (method === "GET" || method === "HEAD") {
      const file = await resolveStaticFile(options.publicDir, url.pathname);
      if (file) return sendStaticFile(res, file, method);
    }

    const match = matchRoute(routes, url.pathname);
    const correlationId = correlationIdFrom(toHeaders(req));
    const fail = (error: AppError) =>
      sendWebResponse(res, withCorrelation(problem(error, correlationId), correlationId), method);
    if (!match) return fail(new AppError("not_found", `No route for ${url.pathname}.`));

    const module = modules.get(match.route.file) ?? {};
    const allowed = HTTP_METHODS.filter((name) => typeof module[name] === "function");
    const handler = module[method as HttpMethod];
    if (!handler) {
      return fail(
        new AppError("method_not_allowed", `${method} is not allowed on ${match.route.path}.`, {
          headers: { allow: allowed.join(", ") },
        }),
      );
    }

    for (const [name, value] of Object.entries(match.params)) url.searchParams.set(name, value);
    let request: Request;
    try {
      request = await toWebRequest(req, url);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        // The rest of the body is never read, so this connection cannot carry another request.
        res.shouldKeepAlive = false;
        return fail(new AppError("payload_too_large", error.message));
      }
      throw error;
    }
    let response: Response;
    try {
      response = await handler(request);
    } catch (error) {
      // route() catches everything; reaching here means a function was not built with it.
      log.error("function threw", { route: match.route.path, err: error });
      response = problem(new AppError("internal", "Internal server error."), correlationId);
    }
    await sendWebResponse(res, response, method);
  }

  return { routes, handle };
}

function toHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
  }
  return headers;
}

function withCorrelation(response: Response, correlationId: string): Response {
  response.headers.set("x-correlation-id", correlationId);
  return response;
}
