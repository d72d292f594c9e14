export { authenticate, type RouteAuth } from "./auth.js";
export { json, type Problem, problem } from "./respond.js";
export { parseInput, type RouteContext, type RouteHandler, type RouteSpec, route } from "./route.js";
