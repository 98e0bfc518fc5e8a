// Drawing a patient: header, treatment timeline (SVG), options with their evidence, the
// trial pre-screen and cards. Shared by the SMART app (/app/view) and the demo page.
// No build step and no outside resources: plain DOM and SVG.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const DAY = 86400000;
const $ = (id) => document.getElementById(id);

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

// JSON from `url`; an error answer (an OperationOutcome) becomes an Error with its text.
async function getJson(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const issue = body && body.issue && body.issue[0] && body.issue[0].diagnostics;
    const error = new Error(issue || `${response.status} ${response.statusText} from ${url}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function textElement(tag, text, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text;
  return node;
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
  const procedures = t.procedures || [];
  const dates = [t.today, t.diagnosed, ...t.lines.flatMap((l) => [l.start, l.end]),
    ...procedures.flatMap((p) => [p.start, p.end])];
  if (t.progression && t.progression.date) dates.push(t.progression.date);
  const times = dates.filter(Boolean).map(toTime);
  const start = Math.min(...times) - 20 * DAY;
  const end = Math.max(...times) + 20 * DAY;
  const width = 1000, left = 20, right = 20, top = 34, row = 44;
  const pfiRow = t.platinum && t.platinum.interval_days != null ? 46 : 0;
  const procRow = procedures.length ? 30 : 0;
  const height = top + t.lines.length * row + procRow + pfiRow + 54;
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

  // Radiotherapy and systemic therapy recorded as procedures: a thin row, never a line.
  procedures.forEach((p) => {
    const y = top + t.lines.length * row + 8;
    const x0 = x(p.start);
    const mark = el("rect", { class: `bar-procedure ${p.kind}`, x: x0, y,
      width: Math.max(x(p.end) - x0, 4), height: 10, rx: 2, "data-procedure": p.source });
    mark.append(el("title", {}, `${p.name}: ${p.start}${p.end !== p.start ? ` to ${p.end}` : ""} (${p.source})`));
    svg.append(mark);
  });
  if (procRow) {
    svg.append(el("text", { class: "label", x: left, y: top + t.lines.length * row + 4 },
      "Procedures (radiotherapy, therapy without drugs named)"));
  }
  const bottom = top + t.lines.length * row + procRow;
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

// The cards in `box`. A `smart` link is handed to `onSmartLink(link)` (an EHR launches the
// app: the demo page does, as the CDS Hooks sandbox does); without it, it is left out
// (inside the app, the app is open already).
function renderCards(cards, box, onSmartLink) {
  box.innerHTML = "";
  if (!cards.length) {
    box.append(textElement("p",
      "No cards: the service has nothing to say for this patient (not SCLC, or deceased).", "no-cards"));
    return;
  }
  cards.forEach((card, i) => box.append(cardElement(card, i === 0, onSmartLink)));
}

function cardElement(card, open, onSmartLink) {
  const div = document.createElement("article");
  div.className = `card ${card.indicator}`;
  div.dataset.uuid = card.uuid;
  const head = document.createElement("div");
  head.append(textElement("span", card.indicator, "indicator"), textElement("span", card.summary, "summary"));
  div.append(head);
  if (card.detail) {
    const more = document.createElement("details");
    more.open = open;
    const detail = document.createElement("div");
    detail.className = "detail";
    detail.innerHTML = renderMarkdown(card.detail);
    more.append(textElement("summary", "Details"), detail);
    div.append(more);
  }
  div.append(textElement("div", `Source: ${card.source.label}`, "source"));
  for (const link of card.links || []) {
    if (link.type === "smart" && !onSmartLink) continue;
    const a = document.createElement("a");
    a.href = link.url;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = link.label;
    if (link.type === "smart") {
      a.className = "smart-link";
      a.addEventListener("click", (event) => { event.preventDefault(); onSmartLink(link); });
    }
    div.append(a);
  }
  return div;
}

// ---- rendering: options with their evidence, trial pre-screen ------------------------

function sourceLink(source) {
  if (!source.url) return textElement("span", source.label, "cite");
  const a = document.createElement("a");
  a.href = source.url;
  a.target = "_blank";
  a.rel = "noopener";
  a.className = "cite";
  a.textContent = source.label;
  return a;
}

function listSection(parent, title, items, render) {
  if (!items || !items.length) return;
  parent.append(textElement("h4", title));
  const ul = document.createElement("ul");
  for (const item of items) ul.append(render(item));
  parent.append(ul);
}

function optionElement(option) {
  const li = document.createElement("li");
  li.className = "option";
  li.dataset.option = option.id;
  const head = document.createElement("h3");
  head.append(textElement("span", option.title, "option-title"), " ",
    textElement("span", option.status, `option-status ${option.status}`));
  li.append(head);
  const figure = textElement("p", `${option.key_figure} `, "figure");
  figure.append(sourceLink(option.key_figure_source));
  li.append(figure);
  li.append(textElement("h4", "Regimen"), textElement("p", option.regimen, "regimen"));
  listSection(li, "Evidence", option.evidence, (item) => {
    const entry = textElement("li", `${item.text} `);
    entry.append(sourceLink(item.source));
    return entry;
  });
  if (option.population) li.append(textElement("h4", "Study population"), textElement("p", option.population));
  listSection(li, "For this patient", option.population_notes, (n) => textElement("li", n));
  listSection(li, "Given for another cancer (not counted)", option.other_cancer_notes,
    (n) => textElement("li", n));
  listSection(li, "Safety", option.safety, (s) => textElement("li", s));
  if (option.availability) li.append(textElement("h4", "Availability"), textElement("p", option.availability));
  listSection(li, "Notes", option.notes, (n) => textElement("li", n));
  listSection(li, "Sources", option.sources, (s) => {
    const entry = document.createElement("li");
    entry.append(sourceLink({ ...s, label: s.title }), `: ${s.cited}`);
    return entry;
  });
  return li;
}

function renderOptions(options) {
  const list = $("options");
  list.innerHTML = "";
  for (const option of options) list.append(optionElement(option));
  $("options-panel").hidden = !options.length;
}

const RESULT_WORDS = { met: "met", "not-met": "not met", unknown: "unknown" };

function renderTrials(trials) {
  const box = $("trials");
  box.innerHTML = "";
  for (const trial of trials) {
    const section = document.createElement("section");
    section.className = "trial";
    section.dataset.trial = trial.id;
    const title = document.createElement("h3");
    const a = document.createElement("a");
    a.href = trial.url;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = `${trial.id}`;
    title.append(a, ` ${trial.title} (${trial.phase}): `,
      textElement("span", trial.verdict.replace(/-/g, " "), `verdict ${trial.verdict}`));
    section.append(title, textElement("p", trial.regimen));
    const table = document.createElement("table");
    table.className = "prescreen";
    const headRow = document.createElement("tr");
    headRow.append(textElement("th", "Criterion"), textElement("th", "From the record"));
    const thead = document.createElement("thead");
    thead.append(headRow);
    const tbody = document.createElement("tbody");
    for (const c of trial.criteria) {
      const row = document.createElement("tr");
      row.className = c.result;
      row.append(textElement("td", c.criterion),
        textElement("td", `${RESULT_WORDS[c.result] || c.result}${c.detail ? ` (${c.detail})` : ""}`));
      tbody.append(row);
    }
    table.append(thead, tbody);
    section.append(table);
    listSection(section, "Not pre-screened (the study team checks)", trial.not_prescreened, (n) => textElement("li", n));
    box.append(section);
  }
  $("trials-panel").hidden = !trials.length;
}

// Everything of one patient (the JSON of /app/api/record).
function renderChart(data, onSmartLink) {
  renderHeader(data.header);
  renderTimeline(data.timeline);
  const [summary, ...rest] = data.cards;
  renderCards(summary ? [summary] : [], $("summary"), onSmartLink);
  renderOptions(data.options || []);
  renderTrials(data.trials || []);
  renderCards(rest, $("cards"), onSmartLink);
  $("raw-json").textContent = JSON.stringify(data.evaluation, null, 2);
  $("chart").hidden = false;
}
