// The demo EHR page. Picking a synthetic patient launches the SMART app (/app) on the
// service's own fixture FHIR server, as an EHR does: it asks its FHIR server for a
// launch id (POST /fhir/_services/smart/Launch, as the CDS Hooks sandbox does before it
// opens a `smart` card link) and opens /app/launch?launch=…&iss=…. A pasted bundle is
// shown here instead: its evaluation from /demo/api/evaluate, its cards from the
// service's own patient-view hook, called as an EHR would.
"use strict";

const params = new URLSearchParams(window.location.search);
// The CDS service may live on another origin (that is what the browser path of an EHR
// looks like, CORS included); by default it is this server.
const SERVICE = (params.get("service") || window.location.origin).replace(/\/$/, "");
// The EHR's FHIR server: the service's own fixture /fhir, on this page's origin.
const FHIR = `${window.location.origin}/fhir`;
const APP_LAUNCH = `${window.location.origin}/app/launch`;

// ---- launching the SMART app, as an EHR does ------------------------------------------

async function launchApp(launchUrl, patientId, appContext, newWindow) {
  const parameters = { patient: patientId };
  if (appContext) parameters.appContext = appContext;
  const answer = await getJson(`${FHIR}/_services/smart/Launch`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ launchUrl, parameters }),
  });
  const url = new URL(launchUrl);
  url.searchParams.set("launch", answer.launch_id);
  url.searchParams.set("iss", FHIR);
  if (newWindow) window.open(url.toString(), "_blank");
  else window.location.assign(url.toString());
}

async function launchFixture(id) {
  if (!id) return;
  try {
    setStatus("Opening the app…");
    await launchApp(APP_LAUNCH, id, null, false);
  } catch (error) {
    setStatus(error.message, true);
  }
}

// ---- the fixture list ------------------------------------------------------------------

async function loadPatients() {
  const patients = await getJson("/demo/api/patients");
  const select = $("patient-select");
  select.innerHTML = "";
  select.add(new Option("Choose a synthetic patient…", ""));
  for (const p of patients) select.add(new Option(`${p.name} (${p.scenario})`, p.id));
  const wanted = params.get("patient");
  if (wanted && patients.some((p) => p.id === wanted)) {
    select.value = wanted;
    await launchFixture(wanted);
  } else {
    setStatus(`${patients.length} synthetic patients available.`);
  }
}

// ---- a pasted bundle: evaluation and the hook's cards ---------------------------------

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
  // A `smart` link opens the app as the EHR would; the app reads the EHR's FHIR server,
  // which holds the fixtures only, so for a pasted patient it says so.
  const onSmartLink = (link) => launchApp(link.url, patient.id, link.appContext, true)
    .catch((error) => setStatus(`The app cannot open: ${error.message}`, true));
  renderChart({ ...evaluated, cards: response.cards || [] }, onSmartLink);
  setStatus(`Showing ${evaluated.header.name}, with the cards of ${service.id}.`);
}

// ---- wiring ---------------------------------------------------------------------------

$("patient-select").addEventListener("change", (e) => launchFixture(e.target.value));
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
