// The stack pages' live parts. Without JavaScript every page shows the state it was
// served with (and a reload shows the newer one).
"use strict";

const POLL_MS = 2000;          // never more often than this
const MAX_POLL_MS = 60000;     // the longest wait after repeated throttling or errors

function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value;
  if (className) element.className = className;
  return element;
}

// A resource type that wraps only after its "::" (AWS::<wbr>EC2::<wbr>...), never mid-word.
function typeCell(value) {
  const cell = document.createElement("td");
  (value || "").split("::").forEach((part, index) => {
    if (index) cell.append("::", document.createElement("wbr"));
    cell.append(part);
  });
  return cell;
}

function renderProgress(root, data) {
  document.getElementById("stack-state").textContent = data.status;
  document.getElementById("stack-reason").textContent = data.reason || "";
  const bar = document.getElementById("stack-progress");
  const count = document.getElementById("stack-count");
  if (bar && data.total) {
    bar.max = data.total;
    bar.value = data.done;
    bar.textContent = `${data.done} of ${data.total}`;
    count.textContent = `${data.done} of ${data.total} resources done`;
  }
  const failure = document.getElementById("stack-failure");
  if (data.failure) {
    document.getElementById("failure-resource").textContent = data.failure.resource;
    document.getElementById("failure-reason").textContent = data.failure.reason;
    failure.hidden = false;
  }
  const rows = document.getElementById("event-rows");
  if (rows) {
    rows.replaceChildren(...data.events.slice().reverse().map((event) => {
      const row = document.createElement("tr");
      if (event.status.includes("FAILED")) row.className = "failed";
      const time = event.timestamp.slice(11, 19);
      row.append(text("td", time), text("td", event.resource || ""), typeCell(event.type));
      row.append(text("td", event.status || ""), text("td", event.reason || ""));
      return row;
    }));
  }
}

function setupStatus() {
  const root = document.getElementById("stack-status");
  if (!root || root.dataset.finished === "true") return;
  const live = document.getElementById("stack-live");
  let delay = POLL_MS;
  const later = (ms) => setTimeout(poll, ms);
  const backOff = (message, retryAfter) => {
    delay = Math.min(Math.max(delay * 2, (retryAfter || 0) * 1000), MAX_POLL_MS);
    live.textContent = `${message} Trying again in ${Math.round(delay / 1000)} s.`;
    later(delay);
  };
  async function poll() {
    let response, data;
    try {
      response = await fetch(root.dataset.api, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      data = await response.json();
    } catch (error) {
      backOff("The wizard did not answer.");
      return;
    }
    if (!response.ok) {
      const retryAfter = Number(response.headers.get("Retry-After")) || 0;
      backOff(`${data.error || "The status could not be read."} ${data.advice || ""}`, retryAfter);
      return;
    }
    delay = POLL_MS;
    renderProgress(root, data);
    if (data.finished) {
      live.textContent = "Finished: loading the outputs and resources…";
      // The finished page (outputs, resources, what next) comes from the server.
      window.location.reload();
      return;
    }
    live.textContent = "Still in progress: this page updates itself.";
    later(delay);
  }
  later(delay);
}

// A form marked data-once sends once: a double click does not submit it twice.
function setupSubmitOnce() {
  document.querySelectorAll("form[data-once]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent === "true") {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "true";
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        button.setAttribute("aria-disabled", "true");
        button.classList.add("busy");
      });
    });
  });
  // Coming back to the page (history) makes the form usable again.
  window.addEventListener("pageshow", () => {
    document.querySelectorAll("form[data-once]").forEach((form) => {
      delete form.dataset.sent;
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        button.removeAttribute("aria-disabled");
        button.classList.remove("busy");
      });
    });
  });
}

// A page still waiting for AWS (a change set being computed) reloads itself.
function setupReload() {
  const waiting = document.querySelector("[data-reload]");
  if (waiting) setTimeout(() => window.location.reload(), Number(waiting.dataset.reload) * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  setupStatus();
  setupSubmitOnce();
  setupReload();
});

// The account's subnets under a list field: "Add" puts one on its own line. One listener
// for the page, so that choices reloaded for another region (wizard.js) work too.
function setupAddChoice() {
  document.querySelectorAll("button.add-choice").forEach((button) => { button.hidden = false; });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.add-choice");
    const field = button && document.getElementById(button.dataset.addTo);
    if (!field) return;
    const items = field.value.split(/[\s,]+/).filter(Boolean);
    if (!items.includes(button.dataset.value)) items.push(button.dataset.value);
    field.value = items.join("\n");
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

document.addEventListener("DOMContentLoaded", setupAddChoice);
