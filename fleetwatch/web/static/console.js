// The console's one shared module: live refresh by conditional requests, relative times, bars,
// filters that apply as you type, and action forms that call the hub's API with the CSRF token.
// Data from the hub is only ever inserted as text or as nodes of a page the hub rendered
// (autoescaped); nothing here builds markup from strings.

import { hubFetch, hubNow } from "./hubclock.js";

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
const refreshSeconds = Math.max(1, Number(meta("fleetwatch-refresh")) || 5);

export function csrfToken() {
  return meta("csrf-token");
}

export function prefix() {
  return meta("fleetwatch-prefix");
}

function ago(seconds) {
  const s = Math.max(0, seconds);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function tick(root = document) {
  const now = hubNow();
  for (const el of root.querySelectorAll("time.ago[data-epoch]")) {
    const epoch = Number(el.dataset.epoch);
    el.textContent = ago(now - epoch);
    if (!el.dateTime) {
      el.dateTime = new Date(epoch * 1000).toISOString();
      el.title = new Date(epoch * 1000).toLocaleString();
    }
  }
}

function enhance(root = document) {
  for (const fill of root.querySelectorAll(".bar .fill[data-pct]")) {
    fill.style.width = `${fill.dataset.pct}%`;
  }
  tick(root);
}

// -- live refresh: the page asks for its own URL again, at most once per refresh period.

let etag = null;
let inFlight = false;

function say(text, kind = "") {
  const line = document.getElementById("live-status");
  if (line) {
    line.textContent = text;
    line.dataset.kind = kind;
  }
}

export async function refresh() {
  if (inFlight) return;
  inFlight = true;
  try {
    const headers = { "X-Console-Poll": "1" };
    if (etag) headers["If-None-Match"] = etag;
    const response = await hubFetch(location.href, {
      headers, cache: "no-store", credentials: "same-origin", redirect: "manual",
    });
    if (response.type === "opaqueredirect" || response.status === 401) {
      say("signed out", "error");
      location.assign(`${prefix()}/login`);
      return;
    }
    if (response.status === 304) {
      say("live");
      return;
    }
    if (!response.ok) {
      say(`the hub answered ${response.status}`, "error");
      return;
    }
    let kept = false;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const part of fresh.querySelectorAll("[data-part][id]")) {
      const old = document.getElementById(part.id);
      if (old && old.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")) {
        kept = true; // someone is typing in it: replace it on a later refresh
      } else if (old) {
        old.replaceWith(document.adoptNode(part));
      }
    }
    etag = kept ? null : response.headers.get("etag");
    enhance();
    document.dispatchEvent(new CustomEvent("fleetwatch:refreshed"));
    say("live");
  } catch {
    say("cannot reach the hub: retrying", "error");
  } finally {
    inFlight = false;
  }
}

function startLive() {
  if (!document.querySelector("main[data-live]")) return;
  say("live");
  setInterval(() => {
    if (!document.hidden) refresh();
  }, refreshSeconds * 1000);
}

// -- filters apply as you type: the URL keeps them, so a view can be bookmarked.

function autosubmit(form) {
  let timer = null;
  const apply = () => {
    const params = new URLSearchParams(new FormData(form));
    history.replaceState(null, "", `${location.pathname}?${params}`);
    etag = null;
    refresh();
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(apply, 250);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    apply();
  });
}

// -- actions: a form with data-api posts its fields as JSON to that API route.

function fieldsOf(form) {
  const out = {};
  for (const [key, value] of new FormData(form)) {
    const input = form.elements.namedItem(key);
    // data-kind="many": checkboxes sharing a name, their checked values a list.
    const first = input instanceof RadioNodeList ? input[0] : input;
    if (first?.dataset?.kind === "many") (out[key] ??= []).push(value);
    else if (input?.type === "checkbox") out[key] = true;
    else if (input?.dataset?.kind === "number") out[key] = Number(value);
    else if (input?.dataset?.kind === "list") {
      const items = value.split(/[\s,]+/).filter(Boolean);
      if (items.length || input.dataset.optional === undefined) out[key] = items;
    } else if (value !== "") out[key] = value;
  }
  if (form.dataset.downtime !== undefined) {
    // A downtime from now for so many minutes: the command API takes its start and end.
    const start = Math.floor(hubNow());
    out.start_time = start;
    out.end_time = start + Number(out.minutes) * 60;
    delete out.minutes;
  }
  return out;
}

async function act(form) {
  const output = form.querySelector("[data-result]");
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  const response = await hubFetch(form.dataset.api, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(fieldsOf(form)),
    credentials: "same-origin",
  });
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  if (!response.ok || body.success === false) {
    const why = body.message ?? body.detail ?? body.full_error ?? body.error ?? response.statusText;
    if (output) output.textContent = `Refused (${response.status}): ${why}`;
    return;
  }
  form.dispatchEvent(new CustomEvent("fleetwatch:done", { detail: body, bubbles: true }));
  if (!form.dataset.keep) {
    if (output) output.textContent = "Done.";
    form.reset();
  }
  etag = null;
  await refresh();
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.api) {
    event.preventDefault();
    act(form);
  }
});

for (const form of document.querySelectorAll("form[data-autosubmit]")) autosubmit(form);
enhance();
if (document.querySelector("time.ago[data-epoch], form[data-downtime]")) {
  // Learn the hub's clock at once rather than at the first refresh, so a browser whose clock is
  // off shows the right ages within a moment of loading. A static file's HEAD: the page itself
  // would be rendered a second time for its Date header alone.
  const probe = { method: "HEAD", cache: "no-store", credentials: "same-origin" };
  hubFetch(`${prefix()}/static/hubclock.js`, probe).then(() => tick(), () => {});
}
setInterval(() => tick(), 1000);
startLive();
