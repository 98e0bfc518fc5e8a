// Demo EHR page: patient picker, treatment timeline (SVG) and the patient-view cards.
// No build step and no outside resources: plain DOM, fetch and SVG.
"use strict";

const params = new URLSearchParams(window.location.search);
// The CDS service may live on another origin (that is what the browser path of an EHR
// looks like, CORS included); by default it is this server.
const SERVICE = (params.get("service") || window.location.origin).replace(/\/$/, "");
const SVG = "http://www.w3.org/2000/svg";
const DAY = 86400000;
const $ = (id) => document.getElementById(id);

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

async function getJson(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const issue = body && body.issue && body.issue[0] && body.issue[0].diagnostics;
    throw new Error(issue || `${response.status} ${response.statusText} from ${url}`);
  }
  return body;
}

// ---- data: fixtures, evaluation, hook call -------------------------------------------

async function loadPatients() {
  const patients = await getJson("/demo/api/patients");
  const select = $("patient-select");
  select.innerHTML = "";
  const prompt = new Option("Choose a synthetic patient…", "");
  select.add(prompt);
  for (const p of patients) select.add(new Option(`${p.name} (${p.scenario})`, p.id));
  const wanted = params.get("patient");
  if (wanted && patients.some((p) => p.id === wanted)) {
    select.value = wanted;
    await showFixture(wanted);
  } else {
    setStatus(`${patients.length} synthetic patients available.`);
  }
}

function resourcesOf(bundle) {
  if (bundle && bundle.resourceType === "Bundle") {
    return (bundle.entry || []).map((e) => e.resource).filter(Boolean);
  }
  return bundle && bundle.resourceType ? [bundle] : [];
}

function searchset(resources) {
  return {
    resourceType: "Bundle", type: "searchset", total: resources.length,
    entry: resources.map((r) => ({ resource: r })),
  };
}

// Fill the service's prefetch templates from the bundle, as an EHR would from its store.
function prefetchFor(service, resources) {
  const prefetch = {};
  const medications = resources.filter((r) => r.resourceType === "Medication");
  for (const [key, template] of Object.entries(service.prefetch || {})) {
    const type = template.split(/[/?]/)[0];
    if (template.startsWith(`${type}/`)) {
      const found = resources.find((r) => r.resourceType === type);
      if (found) prefetch[key] = found;
      continue;
    }
    const matches = resources.filter((r) => r.resourceType === type);
    if (type.startsWith("Medication") && medications.length) matches.push(...medications);
    prefetch[key] = searchset(matches);
  }
  return prefetch;
}

async function callPatientView(resources, patientId) {
  const discovery = await getJson(`${SERVICE}/cds-services`);
  const service = discovery.services.find((s) => s.hook === "patient-view");
  if (!service) throw new Error("the service offers no patient-view hook");
  const request = {
    hook: "patient-view",
    hookInstance: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()),
    context: { userId: "Practitioner/demo", patientId },
    prefetch: prefetchFor(service, resources),
  };
  const response = await getJson(`${SERVICE}/cds-services/${encodeURIComponent(service.id)}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  return { service, response };
}

async function show(bundle) {
  const resources = resourcesOf(bundle);
  const patient = resources.find((r) => r.resourceType === "Patient");
  if (!patient) throw new Error("the bundle holds no Patient resource");
  setStatus("Evaluating…");
  const evaluated = await getJson("/demo/api/evaluate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(bundle),
  });
  const { service, response } = await callPatientView(resources, patient.id);
  renderHeader(evaluated.header);
  renderTimeline(evaluated.timeline);
  renderCards(response.cards || []);
  $("service-name").textContent = `${service.id}`;
  $("raw-json").textContent = JSON.stringify({ evaluation: evaluated.evaluation, hookResponse: response }, null, 2);
  $("chart").hidden = false;
  setStatus(`Showing ${evaluated.header.name}.`);
}

async function showFixture(id) {
  if (!id) return;
  try {
    setStatus("Loading…");
    await show(await getJson(`/demo/api/patients/${encodeURIComponent(id)}`));
    const url = new URL(window.location.href);
    url.searchParams.set("patient", id);
    window.history.replaceState(null, "", url);
  } catch (error) {
    setStatus(error.message, true);
  }
}

// ---- rendering: header ----------------------------------------------------------------

function fact(label, value) {
  const el = document.createElement("div");
  el.className = "fact";
  const name = document.createElement("span");
  name.textContent = label;
  el.append(name, document.createTextNode(value));
  return el;
}

function renderHeader(header) {
  const box = $("patient-header");
  box.innerHTML = "";
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = header.name;
  box.append(name);
  box.append(fact("Born", `${header.birth_date || "unknown"}${header.age != null ? ` (${header.age} years)` : ""}`));
  box.append(fact("Sex", header.gender || "unknown"));
  box.append(fact("Diagnosis", header.diagnosis));
  if (header.diagnosed) box.append(fact("Diagnosed", header.diagnosed));
  if (header.deceased) box.append(fact("Status", "deceased"));
}

// ---- rendering: timeline --------------------------------------------------------------

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

const toTime = (iso) => Date.parse(`${iso}T00:00:00Z`);

function monthTicks(start, end) {
  const ticks = [];
  const months = (end - start) / (30 * DAY);
  const step = months > 48 ? 12 : months > 24 ? 6 : months > 10 ? 3 : 1;
  const d = new Date(start);
  d.setUTCDate(1);
  d.setUTCMonth(Math.floor(d.getUTCMonth() / step) * step);
  while (d.getTime() <= end) {
    if (d.getTime() >= start) ticks.push(d.getTime());
    d.setUTCMonth(d.getUTCMonth() + step);
  }
  return ticks;
}

function renderTimeline(t) {
  const box = $("timeline");
  box.innerHTML = "";
  if (!t.lines.length) {
    const p = document.createElement("p");
    p.className = "no-cards";
    p.textContent = t.note;
    box.append(p);
    return;
  }
  const dates = [t.today, t.diagnosed, ...t.lines.flatMap((l) => [l.start, l.end])];
  if (t.progression && t.progression.date) dates.push(t.progression.date);
  const times = dates.filter(Boolean).map(toTime);
  const start = Math.min(...times) - 20 * DAY;
  const end = Math.max(...times) + 20 * DAY;
  const width = 1000, left = 20, right = 20, top = 34, row = 44;
  const pfiRow = t.platinum && t.platinum.interval_days != null ? 46 : 0;
  const height = top + t.lines.length * row + pfiRow + 54;
  const x = (iso) => left + ((toTime(iso) - start) / (end - start)) * (width - left - right);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Treatment timeline" });

  const axis = el("g", { class: "axis" });
  for (const tick of monthTicks(start, end)) {
    const iso = new Date(tick).toISOString().slice(0, 10);
    const px = x(iso);
    axis.append(el("line", { x1: px, x2: px, y1: top - 8, y2: height - 24, stroke: "#e4e9ee" }));
    axis.append(el("text", { x: px + 2, y: top - 14 }, iso.slice(0, 7)));
  }
  svg.append(axis);
  svg.append(el("line", { class: "today", x1: x(t.today), x2: x(t.today), y1: top - 8, y2: height - 24 }));
  svg.append(el("text", { class: "label", x: x(t.today) - 3, y: height - 10, "text-anchor": "end" },
    `today ${t.today}`));

  t.lines.forEach((line, i) => {
    const y = top + i * row + 16; // the label sits above its bar
    const x0 = x(line.start);
    const x1 = Math.max(x(line.end), x0 + 4);
    const bar = el("rect", { class: "bar", x: x0, y, width: x1 - x0, height: 20, rx: 3,
      "data-line": line.number });
    bar.append(el("title", {}, `Line ${line.number}: ${line.start} to ${line.end}${line.ongoing ? " (ongoing)" : ""}`));
    svg.append(bar);
    if (line.maintenance_from) {
      const m0 = Math.min(Math.max(x(line.maintenance_from), x0), x1);
      const shade = el("rect", { class: "bar-maintenance", x: m0, y, width: Math.max(x1 - m0, 2),
        height: 20, rx: 3, "data-maintenance": line.number });
      shade.append(el("title", {}, `Maintenance: ${line.maintenance_agents.join(", ")}`));
      svg.append(shade);
    }
    const label = `Line ${line.number}: ${line.agents.join(", ")}${line.ongoing ? " (ongoing)" : ""}` +
      (line.maintenance_agents.length ? ` · maintenance ${line.maintenance_agents.join(", ")}` : "");
    const fitsRight = x0 + label.length * 6.6 < width - right;
    svg.append(el("text", { class: "bar-label", x: fitsRight ? x0 : width - right, y: y - 4,
      "text-anchor": fitsRight ? "start" : "end" }, label));
  });

  const bottom = top + t.lines.length * row;
  if (t.platinum) {
    const px = x(t.platinum.last_dose);
    svg.append(el("line", { class: "marker-platinum", x1: px, x2: px, y1: top - 6, y2: bottom + pfiRow - 6 }));
    svg.append(el("text", { class: "label", x: px - 3, y: bottom + pfiRow + 8, "text-anchor": "end" },
      `last platinum ${t.platinum.last_dose}`));
  }
  // The latest progression, and the one that ends the platinum-free interval if earlier.
  const progressions = [];
  if (t.progression && t.progression.date) progressions.push(t.progression);
  if (t.platinum && t.platinum.progression_date && !progressions.some((p) => p.date === t.platinum.progression_date)) {
    progressions.push({ date: t.platinum.progression_date, estimated: t.platinum.estimated });
  }
  progressions.forEach((p, i) => {
    const px = x(p.date);
    const cls = `marker-progression${p.estimated ? " estimated" : ""}`;
    svg.append(el("line", { class: cls, x1: px, x2: px, y1: top - 6, y2: bottom + pfiRow - 6 }));
    svg.append(el("text", { class: "label", x: px + 3, y: bottom + pfiRow + 8 + i * 14 },
      `progression ${p.date}${p.estimated ? " (estimated)" : ""}`));
  });
  if (pfiRow && t.platinum.progression_date) {
    const a = x(t.platinum.last_dose), b = x(t.platinum.progression_date), y = bottom + 14;
    svg.append(el("path", { class: "pfi", d: `M${a},${y - 5} V${y} H${b} V${y - 5}` }));
    svg.append(el("text", { class: "pfi-label", id: "pfi-label", x: (a + b) / 2, y: y + 18,
      "text-anchor": "middle" }, t.platinum.label));
  }
  box.append(svg);
  if (t.note) {
    const p = document.createElement("p");
    p.className = "label";
    p.id = "timeline-note";
    p.textContent = t.note;
    box.append(p);
  }
}

// ---- rendering: cards (markdown subset, HTML-safe) ------------------------------------

const ESCAPABLE = /\\([\\`*_{}\[\]()#+\-.!|~>])/g;

function inline(text, stash) {
  let s = text.replace(/[<>"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  s = s.replace(/`([^`]+)`/g, "<code>$1</code>");
  s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/(^|[\s(])_([^_]+)_(?=[\s.,;:)]|$)/g, "$1<em>$2</em>");
  s = s.replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
  return s.replace(/\uE000(\d+)\uE001/g, (_, i) => stash[Number(i)]);
}

function renderMarkdown(markdown) {
  const stash = [];
  const protectedText = markdown.replace(ESCAPABLE, (_, c) => {
    stash.push(c === "<" ? "&lt;" : c === ">" ? "&gt;" : c);
    return `\uE000${stash.length - 1}\uE001`;
  });
  return protectedText.split(/\n{2,}/).map((block) => {
    const lines = block.split("\n");
    if (lines.every((l) => l.trim().startsWith("|"))) {
      const rows = lines.filter((l) => !/^\|\s*-/.test(l.trim()));
      const cells = (l) => l.trim().replace(/^\||\|$/g, "").split("|").map((c) => inline(c.trim(), stash));
      const [head, ...body] = rows;
      return `<table><thead><tr>${cells(head).map((c) => `<th>${c}</th>`).join("")}</tr></thead>` +
        `<tbody>${body.map((r) => `<tr>${cells(r).map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
    }
    if (lines.every((l) => l.startsWith("- "))) {
      return `<ul>${lines.map((l) => `<li>${inline(l.slice(2), stash)}</li>`).join("")}</ul>`;
    }
    return `<p>${inline(lines.join(" "), stash)}</p>`;
  }).join("");
}

function renderCards(cards) {
  const box = $("cards");
  box.innerHTML = "";
  if (!cards.length) {
    const p = document.createElement("p");
    p.className = "no-cards";
    p.textContent = "No cards: the service has nothing to say for this patient (not SCLC, or deceased).";
    box.append(p);
    return;
  }
  cards.forEach((card, i) => {
    const div = document.createElement("article");
    div.className = `card ${card.indicator}`;
    div.dataset.uuid = card.uuid;
    const head = document.createElement("div");
    const indicator = document.createElement("span");
    indicator.className = "indicator";
    indicator.textContent = card.indicator;
    const summary = document.createElement("span");
    summary.className = "summary";
    summary.textContent = card.summary;
    head.append(indicator, summary);
    div.append(head);
    if (card.detail) {
      const more = document.createElement("details");
      if (i === 0) more.open = true;
      const label = document.createElement("summary");
      label.textContent = "Details";
      const detail = document.createElement("div");
      detail.className = "detail";
      detail.innerHTML = renderMarkdown(card.detail);
      more.append(label, detail);
      div.append(more);
    }
    const source = document.createElement("div");
    source.className = "source";
    source.textContent = `Source: ${card.source.label}`;
    div.append(source);
    for (const link of card.links || []) {
      const a = document.createElement("a");
      a.href = link.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = link.label;
      div.append(a);
    }
    box.append(div);
  });
}

// ---- wiring ---------------------------------------------------------------------------

$("patient-select").addEventListener("change", (e) => showFixture(e.target.value));
$("bundle-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (file) $("bundle-text").value = await file.text();
});
$("bundle-run").addEventListener("click", async () => {
  try {
    await show(JSON.parse($("bundle-text").value));
  } catch (error) {
    setStatus(error instanceof SyntaxError ? "That is not JSON." : error.message, true);
  }
});
loadPatients().catch((error) => setStatus(error.message, true));
