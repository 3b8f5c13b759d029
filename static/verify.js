// "Send a test push" on a stack's page: runs the round trip through the JSON API and shows
// its steps in place. Without JavaScript the form posts and the page comes back with them.
"use strict";

function cell(row, value) {
  const td = document.createElement("td");
  td.textContent = value;
  row.append(td);
  return td;
}

function labelled(td, label, value) {
  const strong = document.createElement("strong");
  strong.textContent = `${label}: `;
  td.append(strong, value, document.createElement("br"));
}

function renderReport(result, report) {
  const failed = report.steps.find((step) => !step.ok);
  const summary = document.createElement("p");
  summary.id = "verify-summary";
  summary.className = failed ? "alert error" : "alert";
  const strong = document.createElement("strong");
  strong.textContent = failed ? `Failed at: ${failed.title}` : "Delivered: every step passed.";
  summary.append(strong, " Last test push from this browser, just now.");
  const table = document.createElement("table");
  table.className = "resources";
  table.id = "verify-steps";
  const head = table.createTHead().insertRow();
  for (const title of ["Step", "Result", "Time (ms)", "Detail"]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = title;
    head.append(th);
  }
  const body = table.createTBody();
  for (const step of report.steps) {
    const row = body.insertRow();
    if (!step.ok) row.className = "failed";
    cell(row, step.title);
    cell(row, step.ok ? "ok" : "failed");
    cell(row, String(step.milliseconds));
    const detail = cell(row, step.ok ? step.detail : "");
    if (!step.ok) {
      labelled(detail, "Expected", step.expected);
      labelled(detail, "Got", step.got);
      labelled(detail, "Check", step.advice);
    }
  }
  result.replaceChildren(summary, table);
}

function setupVerify() {
  const section = document.getElementById("verify");
  const form = document.getElementById("verify-form");
  if (!section || !form) return;
  const live = document.getElementById("verify-live");
  const result = document.getElementById("verify-result");
  const button = document.getElementById("verify-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    button.classList.add("busy");
    live.textContent = "Sending a test push through the stack…";
    try {
      const response = await fetch(section.dataset.api, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrf_token.value },
        credentials: "same-origin",
        cache: "no-store",
      });
      const data = await response.json();
      if (!response.ok) {
        live.textContent = `${data.error || "The test push could not be sent."} ${data.advice || ""}`;
      } else {
        live.textContent = data.report.ok ? "" : "The round trip stopped at the step marked failed.";
        renderReport(result, data.report);
      }
    } catch (error) {
      live.textContent = "The wizard did not answer. Reload the page and try again.";
    } finally {
      button.removeAttribute("aria-disabled");
      button.classList.remove("busy");
    }
  });
}

function figure(list, term, value) {
  if (term) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    list.append(dt);
  }
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dd);
}

function renderProbe(result, probe) {
  const summary = document.createElement("p");
  summary.id = "probe-summary";
  summary.className = probe.ok ? "alert" : "alert error";
  const strong = document.createElement("strong");
  strong.textContent = probe.ok ? "Every push was delivered." : "Not every push went through.";
  summary.append(strong, ` Last load probe from this browser, just now: ${probe.clients} ` +
    `connections for ${probe.seconds} s at ${probe.rate} pushes/s.`);
  const list = document.createElement("dl");
  list.className = "outputs";
  list.id = "probe-figures";
  if (probe.refusal) figure(list, "Not run", probe.refusal);
  figure(list, "Connections held", `${probe.held} of ${probe.clients} ` +
    `(${probe.clients - probe.connected} failed to connect)`);
  for (const [reason, count] of Object.entries(probe.connect_failures)) {
    figure(list, "", `${count} × ${reason}`);
  }
  figure(list, "Pushes", `${probe.sent} sent, ${probe.accepted} accepted, ` +
    `${probe.delivered} delivered, ${probe.lost} lost` +
    (probe.undecryptable ? ` (${probe.undecryptable} did not decrypt)` : ""));
  for (const [reason, count] of Object.entries(probe.refused)) {
    figure(list, "", `${count} × refused: ${reason}`);
  }
  figure(list, "Delivery latency", probe.p50_ms === null ? "nothing was delivered" :
    `p50 ${probe.p50_ms.toFixed(1)} ms, p95 ${probe.p95_ms.toFixed(1)} ms, ` +
    `p99 ${probe.p99_ms.toFixed(1)} ms`);
  result.replaceChildren(summary, list);
}

// A message next to its field, as the server renders it without JavaScript.
function showFieldErrors(form, errors) {
  form.querySelectorAll("p.error").forEach((element) => element.remove());
  form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  for (const [name, message] of Object.entries(errors || {})) {
    const input = form.elements[name];
    if (!input) continue;
    const error = document.createElement("p");
    error.className = "error";
    error.dataset.fromScript = "true";
    error.id = `${input.id}-error`;
    error.textContent = message;
    input.before(error);
    input.setAttribute("aria-invalid", "true");
  }
}

function setupProbe() {
  const form = document.getElementById("probe-form");
  if (!form) return;
  const live = document.getElementById("probe-live");
  const result = document.getElementById("probe-result");
  const button = document.getElementById("probe-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    button.classList.add("busy");
    live.textContent = `Running the load probe for ${form.elements.seconds.value} s…`;
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrf_token.value },
        credentials: "same-origin",
        cache: "no-store",
      });
      const data = await response.json();
      showFieldErrors(form, data.errors);
      if (!response.ok) {
        live.textContent = `${data.error || "The load probe could not run."} ${data.advice || ""}`;
      } else {
        live.textContent = "";
        renderProbe(result, data.probe);
      }
    } catch (error) {
      live.textContent = "The wizard did not answer. Reload the page and try again.";
    } finally {
      button.removeAttribute("aria-disabled");
      button.classList.remove("busy");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupVerify();
  setupProbe();
});
