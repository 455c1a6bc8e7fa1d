// The fleet page: reads /fleet.json (again every refresh period, with If-None-Match: an
// unchanged fleet is a 304), draws the counts, the problems and one row per system, and sorts
// and filters in the browser. Every value from the hub goes in as text (textContent).
import { prefix } from "./console.js";
import { hubFetch, hubNow } from "./hubclock.js";

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
const refreshSeconds = Math.max(1, Number(meta("fleetwatch-refresh")) || 5);
const PROBLEMS_SHOWN = 10; // the rest are on the Events page
const params = new URLSearchParams(location.search);
const view = {
  q: params.get("q") ?? "", state: params.get("state") ?? "", tag: params.get("tag") ?? "",
  sort: params.get("sort") ?? "name", desc: params.get("desc") === "1",
};
let data = null;
let etag = null;
let inFlight = false;
// A fleet larger than one /fleet.json (its "more"): the hub filters, the browser only sorts.
let serverSide = false;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

const na = () => el("span", "na", "—");

function time(epoch) {
  if (!epoch) return el("span", "na", "never");
  const node = el("time", "ago", "");
  node.dataset.epoch = String(epoch);
  node.textContent = ago(hubNow() - epoch);
  return node;
}

function ago(seconds) {
  const s = Math.max(0, seconds);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function bar(value, level, label) {
  if (value === null || value === undefined) return na();
  const node = el("span", `bar ${level}`);
  node.title = `${label} ${value.toFixed(1)} % (${level})`;
  const fill = el("span", "fill");
  fill.style.width = `${Math.min(100, Math.max(0, value))}%`;
  node.append(fill, el("span", "num", `${value.toFixed(0)} %`));
  return node;
}

function rate(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 1048576) return `${(value / 1048576).toFixed(1)} MB/s`;
  if (value >= 1024) return `${(value / 1024).toFixed(1)} kB/s`;
  return `${value.toFixed(0)} B/s`;
}

function badge(word) {
  return el("span", `badge b-${word.toLowerCase()}`, word);
}

function cell(...children) {
  const td = el("td");
  td.setAttribute("role", "cell");
  td.append(...children);
  return td;
}

function numeric(text, extra = "") {
  const td = el("td", `num ${extra}`.trim(), text);
  td.setAttribute("role", "cell");
  return td;
}

function row(r) {
  const tr = el("tr");
  tr.setAttribute("role", "row");
  tr.dataset.system = r.name;
  const status = el("span", `status s-${r.status.replace(" ", "-")}`);
  status.append(el("span", "dot"), document.createTextNode(r.status));
  status.firstChild.setAttribute("aria-hidden", "true");
  const name = el("td", "name");
  name.setAttribute("role", "cell");
  const link = el("a", "", r.name);
  link.href = `${prefix()}/systems/${encodeURIComponent(r.name)}`;
  name.append(link);
  if (r.hostname && r.hostname !== r.name) name.append(el("div", "host", r.hostname));
  if (r.tags.length) {
    const tags = el("div", "tags");
    for (const t of r.tags) tags.append(el("span", "tag", t));
    name.append(tags);
  }
  const load = r.load1 === null ? "—"
    : [r.load1, r.load5, r.load15].filter((v) => v !== null).map((v) => v.toFixed(2)).join(" ");
  const events = el("td", "num");
  events.setAttribute("role", "cell");
  if (r.events) {
    const a = el("a", "badge b-warning", r.events);
    a.href = `${prefix()}/events?system=${encodeURIComponent(r.name)}`;
    events.append(a);
  } else {
    events.textContent = "0";
  }
  tr.append(
    cell(status), name,
    cell(bar(r.cpu, r.cpu_level, "CPU")), cell(bar(r.mem, r.mem_level, "Memory")),
    cell(bar(r.disk, r.disk_level, "Fullest disk")),
    numeric(load, r.load_level), numeric(`${rate(r.rx)} / ${rate(r.tx)}`),
    numeric(r.temp === null ? "—" : `${r.temp.toFixed(0)} °C`),
    numeric(r.gpu === null ? "—" : `${r.gpu.toFixed(0)} %`),
    cell(time(r.last_seen)), cell(r.version ?? "—"), events,
  );
  return tr;
}

// The hub's thresholds ([[LEVEL, percent], ...] from the highest), as its alert engine applies them.
function level(value, levels) {
  if (value === null || value === undefined) return "none";
  if (!levels) return "DEFAULT";
  for (const [name, threshold] of levels) if (value >= threshold) return name;
  return "OK";
}

// Rows arrive as arrays under named columns (a fraction of the bytes of objects).
function unpack(raw) {
  const { columns, levels } = raw;
  raw.rows = raw.rows.map((values) => {
    const r = {};
    columns.forEach((name, i) => { r[name] = values[i]; });
    r.cpu_level = level(r.cpu, levels.cpu);
    r.mem_level = level(r.mem, levels.mem);
    r.disk_level = level(r.disk, levels.fs);
    r.load_level = r.load15 === null ? "none" : level(r.load15 / (r.cores || 1), levels.load);
    return r;
  });
  return raw;
}

function keyOf(r, sort) {
  if (sort === "name") return r.name.toLowerCase();
  if (sort === "net") return (r.rx ?? 0) + (r.tx ?? 0);
  const value = r[sort];
  return value === null || value === undefined ? -Infinity : value;
}

function shown(rows) {
  const text = view.q.toLowerCase();
  const kept = rows.filter((r) => (!view.state || r.status === view.state)
    && (!view.tag || r.tags.includes(view.tag))
    && (!text || [r.name, r.hostname ?? "", ...r.tags].some((v) => v.toLowerCase().includes(text))));
  kept.sort((a, b) => {
    const x = keyOf(a, view.sort);
    const y = keyOf(b, view.sort);
    const order = x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name);
    return view.desc ? -order : order;
  });
  return kept;
}

function drawTable() {
  const body = document.querySelector("#fleet tbody");
  const rows = shown(data.rows);
  const fresh = document.createDocumentFragment();
  for (const r of rows) fresh.append(row(r));
  if (!rows.length) {
    const empty = el("td", "empty", "No system matches.");
    empty.setAttribute("role", "cell");
    empty.style.gridColumn = "1 / -1";
    const tr = el("tr");
    tr.append(empty);
    fresh.append(tr);
  }
  body.replaceChildren(fresh);
  // Off-screen rows are laid out only when scrolled to, once there are enough to matter.
  document.getElementById("fleet").classList.toggle("many", rows.length > 200);
  const more = data.more ? `; ${data.more} more not shown: narrow the filter` : "";
  const total = serverSide ? data.total : data.rows.length;
  document.getElementById("shown").textContent = `${rows.length} of ${total} systems${more}`;
  for (const th of document.querySelectorAll("#fleet th")) {
    const key = th.querySelector("button").dataset.sort;
    if (key === view.sort) th.setAttribute("aria-sort", view.desc ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
}

function drawCounts() {
  const set = (id, value) => {
    const node = document.getElementById(id);
    if (!node) return;
    node.textContent = String(value ?? 0);
    node.parentElement.classList.toggle("warn", Boolean(value) && node.parentElement.dataset.warn !== undefined);
    node.parentElement.classList.toggle("crit", Boolean(value) && node.parentElement.dataset.crit !== undefined);
  };
  set("count-up", data.counts.up);
  set("count-stale", data.counts.stale);
  set("count-never", data.counts["never seen"]);
  set("count-events", data.open_events);
  if (data.services) {
    set("count-ok", data.services.OK);
    set("count-warning", data.services.WARNING);
    set("count-critical", data.services.CRITICAL);
    set("count-unknown", data.services.UNKNOWN);
  }
  const list = document.getElementById("problems");
  const items = data.problems.map((p) => {
    const li = el("li", p.acknowledged ? "acked" : "");
    const link = el("a", "", p.name);
    link.href = p.href;
    li.append(badge(p.state), link, el("span", "text", p.text));
    if (p.acknowledged) li.append(badge("ACK"));
    if (p.downtime) li.append(badge("DOWNTIME"));
    const since = el("span", "since", "began ");
    since.append(time(p.since));
    li.append(since);
    return li;
  });
  // A silent rack can open hundreds of problems: the newest few here, every one on Events.
  list.replaceChildren(...items.slice(0, PROBLEMS_SHOWN));
  document.getElementById("no-problems").hidden = items.length > 0;
  const more = document.getElementById("more-problems");
  const rest = Math.max(items.length, data.open_events) - PROBLEMS_SHOWN;
  more.hidden = rest <= 0;
  if (rest > 0) {
    const link = el("a", "", "the Events page");
    link.href = "events?phase=ongoing";
    more.replaceChildren(`${rest} more open problems on `, link);
  }
}

function drawTags() {
  const select = document.getElementById("filter-tag");
  const options = [el("option", "", "any"), ...data.tags.map((t) => el("option", "", t))];
  options[0].value = "";
  select.replaceChildren(...options);
  select.value = data.tags.includes(view.tag) ? view.tag : "";
}

function draw() {
  if (!data) return;
  drawCounts();
  drawTags();
  drawTable();
}

function say(text, kind = "") {
  const line = document.getElementById("live-status");
  line.textContent = text;
  line.dataset.kind = kind;
}

async function load() {
  if (inFlight) return;
  inFlight = true;
  try {
    // The first read takes the response the page preloaded (same URL, mode and credentials).
    const response = await hubFetch(`${prefix()}/fleet.json${hubFilters()}`, etag
      ? { headers: { "If-None-Match": etag }, cache: "no-store", credentials: "include" }
      : { credentials: "include" });
    if (response.status === 401) {
      location.assign(`${prefix()}/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    if (response.status === 200) {
      data = unpack(await response.json());
      etag = response.headers.get("etag");
      if (data.more && !serverSide) {
        serverSide = true;  // filter at the hub from now on, and read again with the filters
        if (view.q || view.state || view.tag) setTimeout(reload);
      }
      performance.mark("fleetwatch:fetched");
      draw();
      performance.mark("fleetwatch:built");
      if (!performance.getEntriesByName("fleetwatch:drawn").length) {
        // The frame holding the rows, once painted (for bench/console.py).
        requestAnimationFrame(() => setTimeout(() => performance.mark("fleetwatch:drawn")));
      }
    } else if (response.status !== 304) {
      say(`the hub answered ${response.status}`, "error");
      return;
    }
    say("live");
  } catch {
    say("cannot reach the hub: retrying", "error");
  } finally {
    inFlight = false;
  }
}

// The view's filters as /fleet.json's (name, status, tag), once the hub filters.
function hubFilters() {
  if (!serverSide) return "";
  const query = new URLSearchParams();
  if (view.q) query.set("name", view.q);
  if (view.state) query.set("status", view.state);
  if (view.tag) query.set("tag", view.tag);
  return query.size ? `?${query}` : "";
}

function reload() {
  etag = null;
  load();
}

function remember() {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(view)) {
    if (value && !(key === "sort" && value === "name")) query.set(key, value === true ? "1" : value);
  }
  history.replaceState(null, "", `${location.pathname}${query.size ? `?${query}` : ""}`);
}

function wire() {
  const form = document.getElementById("fleet-filters");
  document.getElementById("filter-q").value = view.q;
  document.getElementById("filter-state").value = view.state;
  form.addEventListener("input", () => {
    view.q = document.getElementById("filter-q").value.slice(0, 100);
    view.state = document.getElementById("filter-state").value;
    view.tag = document.getElementById("filter-tag").value;
    remember();
    if (serverSide) reload();
    else if (data) drawTable();
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  for (const button of document.querySelectorAll("#fleet button.sort")) {
    button.addEventListener("click", () => {
      const key = button.dataset.sort;
      view.desc = view.sort === key ? !view.desc : false;
      view.sort = key;
      remember();
      if (data) drawTable();
    });
  }
}

wire();
load();
setInterval(() => {
  if (!document.hidden) load();
}, refreshSeconds * 1000);
