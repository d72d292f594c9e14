/**
 * A list of jobs (imports, reconcile runs, sync runs), newest first: per job a card with
 * its status, what it is, and a live progress bar. A card's title links to the job's
 * details (#<view>/<id>). Cards are updated in place on every poll, so keyboard focus
 * and scrolling stay where they are.
 */
import { el, fill } from "./dom.js";
import { progressBar } from "./progress.js";
import { isActive, statusBadge } from "./status.js";

/**
 * `label`: the list's accessible name; `unit`: what its progress counts; `href(item)`,
 * `title(item)`, `details(item)`: the card's link, title and line of facts; `empty`:
 * what to say when there is nothing.
 */
export function jobList({ label, unit, href, title, details, empty }) {
  const list = el("ul", { class: "job-list", "aria-label": label });
  const none = el("p", { class: "empty" }, empty);
  const node = el("div", {}, none, list);
  const cards = new Map();

  function newCard(item) {
    const link = el("a", { href: href(item) }, title(item));
    const badge = el("span", { class: "job-status" });
    const meta = el("p", { class: "meta" });
    const bar = progressBar(`Progress of ${title(item)}`, unit);
    const li = el("li", { class: "job-card", dataset: { id: item.id } }, el("div", { class: "job-head" }, link, badge), meta, bar.node);
    return { li, link, badge, meta, bar };
  }

  return {
    node,
    /** Shows `items` (newest first) and marks `selectedId`. */
    update(items, selectedId) {
      none.hidden = items.length > 0;
      const seen = new Set();
      let before = list.firstChild;
      for (const item of items) {
        seen.add(item.id);
        let card = cards.get(item.id);
        if (!card) {
          card = newCard(item);
          cards.set(item.id, card);
        }
        if (card.badge.firstChild?.dataset.status !== item.status) fill(card.badge, statusBadge(item.status));
        card.meta.textContent = details(item);
        card.bar.update(item.progress, isActive(item.status));
        const selected = item.id === selectedId;
        card.li.classList.toggle("selected", selected);
        if (selected) card.link.setAttribute("aria-current", "true");
        else card.link.removeAttribute("aria-current");
        if (card.li !== before) list.insertBefore(card.li, before);
        before = card.li.nextSibling;
      }
      for (const [id, card] of cards) {
        if (seen.has(id)) continue;
        card.li.remove();
        cards.delete(id);
      }
    },
  };
}
