// The wizard's small comforts; every page works without them.
"use strict";

// A Fernet key: 32 random bytes in URL-safe base64 (43 characters and "=").
function newCryptoKey() {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  const base64 = btoa(String.fromCharCode(...bytes));
  return base64.replace(/\+/g, "-").replace(/\//g, "_");
}

function setupCryptoKey() {
  const input = document.getElementById("crypto_key");
  const show = document.getElementById("crypto_key-show");
  const generate = document.getElementById("crypto_key-generate");
  const status = document.getElementById("crypto_key-status");
  if (!input || !show || !generate) return;
  show.parentElement.hidden = false;
  const reveal = (visible) => {
    input.type = visible ? "text" : "password";
    show.textContent = visible ? "Hide" : "Show";
    show.setAttribute("aria-pressed", String(visible));
  };
  show.addEventListener("click", () => reveal(input.type === "password"));
  generate.addEventListener("click", () => {
    input.value = newCryptoKey();
    reveal(true);
    status.textContent = "New key generated in your browser: copy it somewhere safe.";
  });
}

function setupCopyButtons() {
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    const label = button.textContent;
    button.addEventListener("click", async () => {
      const text = "value" in source ? source.value : source.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Copy failed: select the text instead";
      }
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
}

// GOV.UK's error summary: focused on load, so it is read first; each link focuses its
// field and scrolls its label (or the radios' question) into view with it.
function setupErrorSummary() {
  const summary = document.getElementById("error-summary");
  if (!summary) return;
  summary.focus();
  summary.querySelectorAll("a[href^='#']").forEach((link) => {
    link.addEventListener("click", (event) => {
      const input = document.getElementById(link.getAttribute("href").slice(1));
      if (!input) return;
      event.preventDefault();
      const fieldset = input.closest("fieldset");
      const legend = input.type === "radio" && fieldset ? fieldset.querySelector("legend") : null;
      const label = legend || document.querySelector(`label[for="${input.id}"]`) || input;
      label.scrollIntoView();
      input.focus({ preventScroll: true });
    });
  });
}

// The preview's cfn-lint findings, when the page came before them: ask until they are
// ready (202 means not yet), more slowly each time, for two minutes at most.
function setupPendingFindings() {
  const body = document.getElementById("findings-body");
  if (!body || !body.dataset.fetch) return;
  const until = Date.now() + 120000;
  let delay = 1000;
  const poll = async () => {
    try {
      const response = await fetch(body.dataset.fetch, { credentials: "same-origin" });
      if (response.status === 200) {
        body.innerHTML = await response.text();
        delete body.dataset.fetch;
        return;
      }
      if (response.status !== 202) return;
    } catch (error) {
      // the wizard restarted or the network blinked: try again below
    }
    if (Date.now() < until) {
      delay = Math.min(delay * 1.5, 5000);
      setTimeout(poll, delay);
    }
  };
  setTimeout(poll, delay);
}

// The account's choices (and the sandbox's pre-filled network) follow the region: on a
// change, the form of the new region is fetched, and its choices replace these; a value
// still as the page pre-filled it takes the new region's, a typed one stays.
const REGIONAL_FIELDS = [
  "vpc_id", "subnet_ids", "private_subnet_ids", "messages_api_subnet_id",
  "private_route_table_ids", "key_name", "certificate_arn", "processor_code_bucket",
];

function replaceRegional(name, page) {
  const field = document.getElementById(name);
  const fresh = page.getElementById(name);
  if (!field || !fresh) return;
  // A field being typed in, or typed in since the page came, keeps what it holds.
  const untouched = !field.dataset.edited && document.activeElement !== field;
  if (untouched && field.value === field.defaultValue) field.value = fresh.defaultValue;
  field.defaultValue = fresh.defaultValue;
  if (fresh.hasAttribute("list")) field.setAttribute("list", fresh.getAttribute("list"));
  else field.removeAttribute("list");
  let anchor = field;
  [`${name}-choices`, `${name}-choices-hint`].forEach((id) => {
    const old = document.getElementById(id);
    const found = page.getElementById(id);
    const made = found ? document.importNode(found, true) : null;
    if (made) made.querySelectorAll("button.add-choice").forEach((b) => { b.hidden = false; });
    if (old && made) old.replaceWith(made);
    else if (old) old.remove();
    else if (made) anchor.after(made);
    if (made) anchor = made;
  });
}

// The subnet (and route table) choices follow the VPC field: only those of the VPC it
// names are offered (all of them while it names no VPC the account has); ids of another
// VPC of the account left in a field are named under it (the submit refuses them too).
const SUBNET_CHOICES = ["subnet_ids-choices", "private_subnet_ids-choices",
  "messages_api_subnet_id-choices", "private_route_table_ids-choices"];

function flagOtherVpc(list, vpc, known) {
  const name = list.id.replace(/-choices$/, "");
  const field = document.getElementById(name);
  if (!field) return;
  const where = new Map([...list.querySelectorAll("[data-vpc]")].map((item) => [
    item.tagName === "OPTION" ? item.value : item.querySelector("code").textContent,
    item.dataset.vpc,
  ]));
  const other = known
    ? field.value.split(/[\s,]+/).filter((id) => where.has(id) && where.get(id) !== vpc)
    : [];
  const id = `${name}-other-vpc`;
  let note = document.getElementById(id);
  const described = (field.getAttribute("aria-describedby") || "").split(" ").filter(
    (ref) => ref && ref !== id,
  );
  if (!other.length) {
    if (note) note.remove();
    field.setAttribute("aria-describedby", described.join(" "));
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.id = id;
    note.className = "error";
    note.setAttribute("role", "status");
    field.after(note);
  }
  field.setAttribute("aria-describedby", [...described, id].join(" "));
  const byVpc = new Map();
  other.forEach((item) => byVpc.set(where.get(item), [...(byVpc.get(where.get(item)) || []), item]));
  note.textContent = [...byVpc].map(([its, ids]) => `${ids.join(", ")} `
    + `${ids.length > 1 ? "are" : "is"} in ${its}`).join("; ")
    + `, not in ${vpc} (the VPC above): pick ${other.length > 1 ? "others" : "another"}.`;
}

function filterSubnets() {
  const field = document.getElementById("vpc_id");
  if (!field) return;
  const vpc = field.value.trim();
  const choices = SUBNET_CHOICES.map((id) => document.getElementById(id)).filter(Boolean);
  const items = choices.flatMap((list) => [...list.querySelectorAll("[data-vpc]")]);
  const known = items.some((item) => item.dataset.vpc === vpc);
  items.forEach((item) => {
    const other = known && item.dataset.vpc !== vpc;
    if (item.tagName === "OPTION") item.disabled = other; // a datalist shows no disabled option
    else item.hidden = other;
  });
  choices.forEach((list) => flagOtherVpc(list, vpc, known));
}

function setupSubnetFilter() {
  const field = document.getElementById("vpc_id");
  if (!field) return;
  field.addEventListener("input", filterSubnets);
  field.addEventListener("change", filterSubnets);
  SUBNET_CHOICES.forEach((id) => {
    const input = document.getElementById(id.replace(/-choices$/, ""));
    if (input) input.addEventListener("input", filterSubnets);
    if (input) input.addEventListener("change", filterSubnets);
  });
  filterSubnets();
}

// The diagram sits in a box that scrolls when it is larger: say so, and which way, and
// shade the edges that have more beyond them.
function setupDiagramScroll() {
  const box = document.getElementById("diagram-box");
  const cue = document.getElementById("diagram-scroll");
  const wrap = document.getElementById("diagram-wrap");
  if (!box || !cue || !wrap) return;
  const update = () => {
    const wide = box.scrollWidth > box.clientWidth + 1;
    const tall = box.scrollHeight > box.clientHeight + 1;
    const more = {
      left: box.scrollLeft > 0,
      right: box.scrollLeft + box.clientWidth < box.scrollWidth - 1,
      top: box.scrollTop > 0,
      bottom: box.scrollTop + box.clientHeight < box.scrollHeight - 1,
    };
    Object.entries(more).forEach(([edge, value]) => wrap.classList.toggle(`more-${edge}`, value));
    const ways = [wide && "sideways", tall && "down"].filter(Boolean).join(" and ");
    cue.hidden = !ways;
    cue.textContent = ways
      ? `The diagram is larger than its box: scroll it ${ways} to see all of it.`
      : "";
  };
  box.addEventListener("scroll", update, { passive: true });
  window.addEventListener("resize", update);
  update();
}

function setupRegionNetwork() {
  const region = document.getElementById("region");
  const offered = document.getElementById("offered_region");
  const hint = document.getElementById("region-network");
  if (!region || !offered || !hint) return;
  let latest = 0;
  REGIONAL_FIELDS.forEach((name) => {
    const field = document.getElementById(name);
    if (field) field.addEventListener("input", () => { field.dataset.edited = "1"; });
  });
  region.addEventListener("change", async () => {
    const wanted = region.value;
    const mine = ++latest;
    hint.textContent = `Loading the network choices of ${wanted}…`;
    let page;
    try {
      // The sandbox makes a region's network on a POST only (a GET never changes it).
      const token = document.querySelector('input[name="csrf_token"]');
      const seed = new URLSearchParams({ region: wanted, csrf_token: token ? token.value : "" });
      await fetch("/sandbox/network", { method: "POST", body: seed, credentials: "same-origin" })
        .catch(() => null);
      const url = `${window.location.pathname}?region=${encodeURIComponent(wanted)}`;
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      page = new DOMParser().parseFromString(await response.text(), "text/html");
    } catch (error) {
      if (mine === latest) {
        hint.textContent = `The network choices of ${wanted} could not be loaded: those below `
          + `are still from ${offered.value}. Type the ids, or reload the page.`;
      }
      return;
    }
    if (mine !== latest) return; // the region changed again meanwhile
    REGIONAL_FIELDS.forEach((name) => replaceRegional(name, page));
    filterSubnets();
    const freshOffered = page.getElementById("offered_region");
    const freshHint = page.getElementById("region-network");
    offered.value = freshOffered ? freshOffered.value : "";
    hint.textContent = freshHint
      ? freshHint.textContent
      : `The account's network in ${wanted} could not be read: type the ids.`;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupRegionNetwork();
  setupSubnetFilter();
  setupDiagramScroll();
  setupErrorSummary();
  setupPendingFindings();
  setupCryptoKey();
  setupCopyButtons();
});
