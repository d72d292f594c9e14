/**
 * Charts with Chart.js (public/vendor/chart.umd.min.js, copied from the pinned package by
 * `npm run vendor`; its UMD build sets globalThis.Chart). Each series has a colour and
 * a pattern (solid, stripes, dots), so series differ without colour too, and every chart
 * sits beside a table of the same numbers.
 */
import "../vendor/chart.umd.min.js";
import { compact } from "./format.js";

export const Chart = globalThis.Chart;

Chart.defaults.font.family = "system-ui, sans-serif";
Chart.defaults.color = "#1d2433";
// No animation: figures appear at once, and nothing moves for readers who prefer it still.
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

/** Series colours, dark enough against white for 3:1 contrast. */
export const COLOURS = ["#1f5fa8", "#b45309", "#15803d", "#7e22ce", "#be123c", "#0e7490", "#4b5563"];

/** A fill of colour `colour` drawn with pattern `kind` ("solid", "stripes", "dots", "grid"). */
export function patternFill(colour, kind) {
  if (kind === "solid") return colour;
  const size = 10;
  const tile = document.createElement("canvas");
  tile.width = size;
  tile.height = size;
  const pen = tile.getContext("2d");
  pen.fillStyle = "#ffffff";
  pen.fillRect(0, 0, size, size);
  pen.strokeStyle = colour;
  pen.fillStyle = colour;
  pen.lineWidth = 3;
  if (kind === "stripes") {
    pen.beginPath();
    pen.moveTo(0, size);
    pen.lineTo(size, 0);
    pen.moveTo(-size / 2, size / 2);
    pen.lineTo(size / 2, -size / 2);
    pen.moveTo(size / 2, size * 1.5);
    pen.lineTo(size * 1.5, size / 2);
    pen.stroke();
  } else if (kind === "dots") {
    pen.beginPath();
    pen.arc(size / 2, size / 2, 2.6, 0, Math.PI * 2);
    pen.fill();
  } else {
    pen.lineWidth = 2;
    pen.strokeRect(0, 0, size, size);
  }
  return pen.createPattern(tile, "repeat");
}

const PATTERNS = ["solid", "stripes", "dots", "grid"];

/** Dataset styling for series number `index`: its colour, its pattern, a border of the colour. */
export function seriesStyle(index) {
  const colour = COLOURS[index % COLOURS.length];
  return { backgroundColor: patternFill(colour, PATTERNS[index % PATTERNS.length]), borderColor: colour, borderWidth: 1.5 };
}

/** A y axis of rupiah with short tick labels ("1.2B"), titled `title`. */
export function rupiahAxis(title, extra = {}) {
  return { beginAtZero: true, ticks: { callback: (value) => compact(value) }, title: { display: true, text: title }, ...extra };
}

/** Draws `config` on `canvas`, or updates the chart already there with its data and options. */
export function drawChart(canvas, config) {
  const existing = Chart.getChart(canvas);
  if (existing) {
    existing.data = config.data;
    existing.options = config.options ?? {};
    existing.update();
    return existing;
  }
  return new Chart(canvas, config);
}

/** A canvas for a chart, described for assistive technology (the table beside it holds the numbers). */
export function chartCanvas(description) {
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", description);
  const box = document.createElement("div");
  box.className = "chart-box";
  box.append(canvas);
  return { box, canvas };
}
