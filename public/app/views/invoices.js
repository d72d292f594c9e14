/**
 * The Invoices view: one invoice whole (GET /api/invoices/:invoice): its outcome, the
 * supplier purchases with their lines, and the marketplace settlement with every amount.
 */
import { api } from "../api.js";
import { byId, el, facts, fill, say, table } from "../dom.js";
import { count, dateTime, rupiah, shortId, words } from "../format.js";

/** Settlement fields whose name reads better spelt out than as its words. */
const LABELS = { ams_commission: "AMS commission" };
/** Settlement fields that are money (the rest are days and names). */
const NOT_MONEY = new Set(["ordered_on", "payout_date", "shipping_service", "courier_name", "updated_at"]);

export function mountInvoices({ navigate }) {
  const form = byId("invoice-form");
  const message = byId("invoice-message");
  const result = byId("invoice-result");
  const invoiceInput = byId("invoice-number");
  const storeInput = byId("invoice-store");

  async function lookUp(invoice, store) {
    fill(result);
    if (!invoice) return;
    const query = store ? `?${new URLSearchParams({ store })}` : "";
    try {
      const found = await api(`/api/invoices/${encodeURIComponent(invoice)}${query}`);
      say(message, "");
      fill(result, invoiceView(found));
      result.querySelector("h3")?.focus();
    } catch (error) {
      say(message, error.status === 404 ? `No invoice ${invoice}${store ? ` in ${store}` : ""}.` : error.message, "bad");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams({ invoice: invoiceInput.value.trim() });
    if (storeInput.value.trim()) params.set("store", storeInput.value.trim());
    navigate(`#invoices?${params}`);
  });

  return {
    /** `params`: the invoice and store from the address (#invoices?invoice=…&store=…). */
    show(_id, params) {
      const invoice = params.get("invoice") ?? "";
      const store = params.get("store") ?? "";
      invoiceInput.value = invoice;
      storeInput.value = store;
      void lookUp(invoice, store);
    },
    hide() {},
  };
}

function invoiceView(found) {
  const outcome = found.outcome;
  return el(
    "div",
    {},
    el("h3", { tabindex: "-1" }, `Invoice ${found.invoice}`),
    facts([
      ["Store", found.store],
      ["Order date", found.order_date ?? "–"],
      ["Outcome", outcome ? words(outcome.outcome) : "not reconciled yet"],
      ...(outcome
        ? [
            ["Expected", rupiah(outcome.expected)],
            ["Actual", rupiah(outcome.actual)],
            ["Difference", rupiah(outcome.diff)],
            ["Split invoice", outcome.split_invoice ? "yes" : "no"],
            ["Decided", el("span", {}, `${dateTime(outcome.decided_at)} by `, el("a", { href: `#reconcile/${outcome.job_id}` }, `run ${shortId(outcome.job_id)}`))],
          ]
        : []),
    ]),
    el("h4", {}, `Purchases (${found.purchases.length})`),
    found.purchases.length === 0
      ? el("p", { class: "empty" }, "No supplier purchase carries this invoice.")
      : found.purchases.map((purchase) =>
          el(
            "div",
            { class: "purchase" },
            facts([
              ["Order", purchase.order_code],
              ["Ordered", dateTime(purchase.ordered_at)],
              ["Status", `${purchase.status} (${words(purchase.status_class)})`],
              ["Order total", rupiah(purchase.order_total)],
              ["Courier", purchase.courier ?? "–"],
              ["Waybill", purchase.waybill ?? "–"],
            ]),
            table({
              caption: `Lines of order ${purchase.order_code}`,
              head: ["SKU", "Product", "Qty", "Unit cost", "Line cost", "Unit price", "Line price", "Line margin"],
              numeric: [2, 3, 4, 5, 6, 7],
              rows: purchase.lines.map((line) => [
                line.sku,
                line.product_name,
                count(line.qty),
                rupiah(line.unit_cost),
                rupiah(line.line_cost),
                rupiah(line.unit_price),
                rupiah(line.line_price),
                rupiah(line.line_margin),
              ]),
            }),
          ),
        ),
    el("h4", {}, "Settlement"),
    found.settlement
      ? facts(Object.entries(found.settlement).map(([name, value]) => [LABELS[name] ?? words(name), NOT_MONEY.has(name) ? (name === "updated_at" ? dateTime(value) : (value ?? "–")) : rupiah(value)]))
      : el("p", { class: "empty" }, "The marketplace has not settled this invoice (or its report is not imported yet)."),
  );
}
