// A system's charts: each figure reads its plugin's history from the system's own Glances API
// (/systems/<name>/api/4/<plugin>/history?range=...) and draws it with uPlot. The hub picks the
// level (raw snapshots, 1-minute or 1-hour rollups) and names it in X-Fleetwatch-Resolution.
import uPlot from "../assets/uPlot.esm.js";
import { prefix } from "./console.js";
import { hubFetch, hubNow } from "./hubclock.js";

const LEVELS = { raw: "raw snapshots", 60: "1-minute rollups", 3600: "1-hour rollups" };
const COLOURS = ["#2f7ed8", "#e4572e", "#29a36a", "#a05cc8", "#f2a541", "#17becf", "#8c564b", "#d62790"];
const SPANS = { "1h": 3600, "12h": 43200, "24h": 86400, "7d": 604800, "30d": 2592000 };
const charts = new Map();

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function formatter(unit) {
  if (unit === "B/s") {
    return (v) => (v == null ? "—" : v >= 1048576 ? `${(v / 1048576).toFixed(1)} MB/s`
      : v >= 1024 ? `${(v / 1024).toFixed(1)} kB/s` : `${v.toFixed(0)} B/s`);
  }
  return (v) => (v == null ? "—" : `${v.toFixed(unit === "" ? 2 : 1)}${unit ? ` ${unit}` : ""}`);
}

// The series matching the figure, on one time axis (seconds), gaps as null.
function columns(history, match) {
  const pattern = new RegExp(match);
  const names = Object.keys(history).filter((n) => pattern.test(n)).sort().slice(0, COLOURS.length);
  const times = new Set();
  const byName = names.map((name) => {
    const points = new Map();
    for (const [iso, value] of history[name]) {
      const t = Date.parse(iso) / 1000;
      times.add(t);
      points.set(t, typeof value === "number" ? value : null);
    }
    return points;
  });
  const axis = [...times].sort((a, b) => a - b);
  return { names, data: [axis, ...byName.map((points) => axis.map((t) => points.get(t) ?? null))] };
}

function draw(figure, names, data, range) {
  const to = hubNow();
  const from = to - (SPANS[range] ?? 3600);
  const plot = figure.querySelector(".plot");
  charts.get(figure)?.destroy();
  const unit = figure.dataset.unit;
  const format = formatter(unit);
  const axis = { stroke: css("--muted"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line") } };
  const width = Math.max(240, plot.clientWidth);
  // A system added minutes ago, seen over 30 days: its points share a few pixels, where a line
  // has no length and uPlot leaves the points out. Drawn as dots, they show it is there.
  const times = data[0];
  const crowded = width * (times[times.length - 1] - times[0]) / (to - from) < 8;
  figure.dataset.dots = String(crowded);
  const chart = new uPlot({
    width,
    height: 180,
    series: [{}, ...names.map((name, i) => ({
      label: name.replace(/_rate_per_sec$/, "").replace(/_percent$/, ""),
      stroke: COLOURS[i], width: 1.5, value: (_, v) => format(v), spanGaps: false,
      points: crowded ? { show: true, size: 7, fill: COLOURS[i] } : {},
    }))],
    axes: [axis, { ...axis, size: 76, values: (_, ticks) => ticks.map(format) }],
    scales: { x: { time: true, range: () => [from, to] } },
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  }, data, plot);
  charts.set(figure, chart);
}

async function load(figure, range) {
  figure.hidden = false;
  const system = document.getElementById("charts").dataset.system;
  const caption = figure.querySelector("figcaption");
  const url = `${prefix()}/systems/${encodeURIComponent(system)}/api/4/${figure.dataset.plugin}/history?range=${range}`;
  let response;
  try {
    response = await hubFetch(url, { credentials: "same-origin", cache: "no-store" });
  } catch {
    caption.textContent = "cannot reach the hub";
    return;
  }
  if (!response.ok) {
    caption.textContent = `the hub answered ${response.status}`;
    figure.dataset.points = "0";
    figure.hidden = response.status === 404; // a plugin this system does not send
    return;
  }
  const level = response.headers.get("x-fleetwatch-resolution") ?? "raw";
  const { names, data } = columns(await response.json(), figure.dataset.match);
  figure.dataset.resolution = level;
  figure.dataset.points = String(data[0].length);
  if (!names.length || !data[0].length) {
    charts.get(figure)?.destroy();
    charts.delete(figure);
    caption.textContent = `no data over ${range}`;
    return;
  }
  draw(figure, names, data, range);
  const count = data[0].length;
  caption.textContent = `${count} point${count === 1 ? "" : "s"} · ${LEVELS[level] ?? level} · ${range}`;
  document.getElementById("resolution").textContent = `read from ${LEVELS[level] ?? level}`;
}

function choose(range) {
  for (const button of document.querySelectorAll(".ranges button")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === range));
  }
  for (const figure of document.querySelectorAll("#charts figure")) load(figure, range);
}

for (const button of document.querySelectorAll(".ranges button")) {
  button.addEventListener("click", () => choose(button.dataset.range));
}
window.addEventListener("resize", () => {
  for (const [figure, chart] of charts) {
    chart.setSize({ width: Math.max(240, figure.querySelector(".plot").clientWidth), height: 180 });
  }
});
choose("1h");
