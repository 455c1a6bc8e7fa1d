// Reads the same /api/4 routes as any Glances client, relative to this page (URL prefix safe).
"use strict";
const params = new URLSearchParams(location.search);
const refreshSeconds = Math.max(1, Number(params.get("refresh")) || 2);
const api = new URL("api/4/", location.href);

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function pct(n) { return n === null || n === undefined ? "–" : `${Number(n).toFixed(1)} %`; }
function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map(cells => { const tr = document.createElement("tr"); tr.append(...cells); return tr; }));
}
function decorate(el, views, field) {
  el.className = "big " + ((views && views[field] && views[field].decoration) || "");
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [all, views] = await Promise.all([
      fetch(new URL("all", api)).then(r => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); }),
      fetch(new URL("all/views", api)).then(r => r.ok ? r.json() : {}),
    ]);
    document.getElementById("host").textContent = `${all.system.hostname || ""} · ${all.system.hr_name || ""}`;
    document.getElementById("uptime").textContent = `up ${all.uptime}`;
    const cpu = document.querySelector('[data-field="cpu.total"]');
    cpu.textContent = pct(all.cpu.total); decorate(cpu, views.cpu, "total");
    document.getElementById("cpu-detail").textContent = `user ${pct(all.cpu.user)} · system ${pct(all.cpu.system)} · ${all.cpu.cpucore} cores`;
    const mem = document.querySelector('[data-field="mem.percent"]');
    mem.textContent = pct(all.mem.percent); decorate(mem, views.mem, "percent");
    document.getElementById("mem-detail").textContent = `${bytes(all.mem.used)} of ${bytes(all.mem.total)}`;
    const swap = document.querySelector('[data-field="memswap.percent"]');
    swap.textContent = all.memswap.total ? pct(all.memswap.percent) : "none";
    const load = document.querySelector('[data-field="load.min1"]');
    load.textContent = Number(all.load.min1).toFixed(2); decorate(load, views.load, "min1");
    document.getElementById("load-detail").textContent = `5 min ${Number(all.load.min5).toFixed(2)} · 15 min ${Number(all.load.min15).toFixed(2)}`;
    fillTable("fs", all.fs.map(f => [cell(f.mnt_point), cell(f.fs_type), cell(bytes(f.used)), cell(bytes(f.size)),
      cell(pct(f.percent), views.fs && views.fs[f.mnt_point] && views.fs[f.mnt_point].used ? views.fs[f.mnt_point].used.decoration : "")]));
    fillTable("network", all.network.map(n => [cell(n.interface_name), cell(bytes(n.bytes_recv_rate_per_sec) + "/s"), cell(bytes(n.bytes_sent_rate_per_sec) + "/s")]));
    document.getElementById("proc-count").textContent = `(${all.processcount.total} total, ${all.processcount.thread} threads)`;
    fillTable("processes", all.processlist.slice(0, 15).map(p => [cell(String(p.pid)), cell(p.name), cell(p.username || ""),
      cell(Number(p.cpu_percent).toFixed(1)), cell(Number(p.memory_percent).toFixed(1))]));
    status.textContent = "live"; status.className = "";
  } catch (err) {
    status.textContent = `cannot reach the hub: ${err.message}`; status.className = "error";
  }
}
refresh();
setInterval(refresh, refreshSeconds * 1000);
