/**
 * The dashboard's entry point: asks for the API token once (kept in this tab's
 * sessionStorage), then shows one view at a time by the address's hash:
 * #imports[/<id>], #reconcile[/<id>], #margin, #sync, #invoices[?invoice=…&store=…].
 * Every view refreshes itself while it is shown (poll.js); the work runs on the server.
 */
import { api, forgetToken, saveToken, savedToken, SIGNED_OUT_EVENT } from "./api.js";
import { byId, say } from "./dom.js";
import { loadStores } from "./stores.js";
import { mountHealth } from "./views/health.js";
import { mountImports } from "./views/imports.js";
import { mountInvoices } from "./views/invoices.js";
import { mountMargin } from "./views/margin.js";
import { mountReconcile } from "./views/reconcile.js";
import { mountSync } from "./views/sync.js";

const VIEWS = ["imports", "reconcile", "margin", "sync", "invoices"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Why the page last signed out, shown once after the reload that clears it. */
const SIGN_OUT_NOTE = "dropflow.signedOutNote";

let views = null;
let shown = null;

/** `#reconcile/<id>?x=y` -> { view: "reconcile", id, params }. */
function parseRoute(hash) {
  const [path = "", query = ""] = hash.replace(/^#/, "").split("?");
  const [view, id] = path.split("/");
  return {
    view: VIEWS.includes(view) ? view : "imports",
    id: id && UUID.test(id) ? id.toLowerCase() : null,
    params: new URLSearchParams(query),
  };
}

function navigate(hash) {
  if (location.hash === hash) showRoute();
  else location.hash = hash;
}

function showRoute() {
  if (!views) return;
  const { view, id, params } = parseRoute(location.hash);
  for (const name of VIEWS) {
    byId(`view-${name}`).hidden = name !== view;
    const link = document.querySelector(`nav a[href="#${name}"]`);
    if (name === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const switched = shown !== view;
  if (shown && switched) views[shown].hide();
  shown = view;
  views[view].show(id, params);
  if (switched && !id) byId(`${view}-title`).focus({ preventScroll: true });
  loadStores().catch(reportError);
}


/** Shows what failed in the page's notice line; null clears it (the next refresh worked). */
function reportError(error) {
  if (error?.status === 401) return; // the sign-out handler says it
  if (error === null) say(byId("notice"), "");
  else say(byId("notice"), `Something went wrong: ${error instanceof Error ? error.message : String(error)}`, "bad");
}

function startApp() {
  byId("sign-in").hidden = true;
  byId("app").hidden = false;
  byId("sign-out").hidden = false;
  const context = { navigate, reportError };
  views ??= {
    imports: mountImports(context),
    reconcile: mountReconcile(context),
    margin: mountMargin(context),
    sync: mountSync(context),
    invoices: mountInvoices(context),
  };
  showRoute();
}

/** Forgets the token and reloads, so nothing the API showed stays on the page. */
function signOut(note) {
  forgetToken();
  if (note) sessionStorage.setItem(SIGN_OUT_NOTE, note);
  location.reload();
}

function mountSignIn() {
  const form = byId("sign-in-form");
  const input = byId("token");
  const message = byId("sign-in-message");
  const note = sessionStorage.getItem(SIGN_OUT_NOTE);
  if (note) {
    sessionStorage.removeItem(SIGN_OUT_NOTE);
    say(message, note, "warn");
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    saveToken(token);
    try {
      await api("/api/stores"); // proves the token before anything else is shown
      input.value = "";
      say(message, "");
      startApp();
    } catch (error) {
      forgetToken();
      say(message, error.status === 401 ? "The API refused this token." : `Could not check the token: ${error.message}`, "bad");
    }
  });
  input.focus();
}

window.addEventListener(SIGNED_OUT_EVENT, () => {
  if (views) signOut("The API refused the token (it may have been rotated): sign in again.");
});
window.addEventListener("hashchange", showRoute);
byId("sign-out").addEventListener("click", () => signOut(null));
mountHealth(byId("health"));
mountSignIn();
if (savedToken()) startApp();
