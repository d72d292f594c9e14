/**
 * Building the page from API data. Text always goes in as text (textContent or text
 * nodes), never through innerHTML: a seller's file name or a raw CSV row can never
 * become markup or script.
 */

/**
 * `el("td", { class: "num" }, "12")`. Props: `class`, `text`, `on<event>` listeners,
 * `dataset`, anything else as an attribute (true: present, false/null/undefined: absent).
 * Children: nodes, or strings and numbers as text.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = String(value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `node` holds. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`The page has no #${id}.`);
  return node;
}

/**
 * A table wrapped so that it scrolls sideways on a narrow screen instead of the page.
 * The first cell of a row is its header; `numeric` and `nowrap` list column indexes.
 */
export function table({ caption, head, rows, foot, numeric = [], nowrap = [] }) {
  const classOf = (index) => [numeric.includes(index) ? "num" : "", nowrap.includes(index) ? "nowrap" : ""].join(" ").trim() || null;
  const cell = (tag, value, index, scope) => el(tag, { class: classOf(index), scope }, value);
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      {},
      caption ? el("caption", {}, caption) : null,
      el("thead", {}, el("tr", {}, head.map((label, index) => cell("th", label, index, "col")))),
      el("tbody", {}, rows.map((row) => el("tr", {}, row.map((value, index) => cell(index === 0 ? "th" : "td", value, index, index === 0 ? "row" : null))))),
      foot ? el("tfoot", {}, el("tr", {}, foot.map((value, index) => cell(index === 0 ? "th" : "td", value, index, index === 0 ? "row" : null)))) : null,
    ),
  );
}

/** A definition list of [term, value] or [term, value, key] pairs; `key` (the API's name) becomes data-key. */
export function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.map(([term, value, key]) => el("div", { dataset: key ? { key } : null }, el("dt", {}, term), el("dd", {}, value))));
}

/** Shows a message in `node` (role=status or alert in the markup), tone ok / warn / bad / info. */
export function say(node, message, tone = "info") {
  node.className = `message tone-${tone}`;
  node.textContent = message;
  node.hidden = !message;
}
