// The SMART app's page: the session's patient, read by the service from the EHR's FHIR
// server with the user's token (/app/api/record), drawn by chart.js. Every failure is
// said in the status line: the page is never left blank.
"use strict";

async function loadRecord() {
  try {
    const data = await getJson("/app/api/record", { credentials: "same-origin" });
    renderChart(data, null);
    setStatus(`Showing ${data.header.name}, read from ${data.server}.`);
  } catch (error) {
    $("chart").hidden = true;
    setStatus(error.message || "The record could not be read; launch the app again.", true);
  }
}

loadRecord();
