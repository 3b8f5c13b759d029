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

document.addEventListener("DOMContentLoaded", setupVerify);
