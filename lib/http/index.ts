export { authenticate, type RouteAuth } from "./auth.js";
export { json, type Problem, problem } from "./respond.js";
export { parseInput } from "../validate.js";
export { readJsonBody, type RouteContext, type RouteHandler, type RouteSpec, route } from "./route.js";
