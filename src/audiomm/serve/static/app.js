// The page: one view at a time, chosen by the address's #fragment (so the back button, a reload and a
// bookmark all work): #new, #job/ID, #history, #catalog, #family/NAME, #reports.

import { Problem, explain, onKeyNeeded, sayProblem, storeKey, storedKey } from "./api.js";
import { $, show } from "./dom.js";
import { CatalogView } from "./catalog.js";
import { JobForm } from "./form.js";
import { JobView } from "./job.js";
import { showHistory, showReports, showRunning } from "./lists.js";

const NAV_OF = { job: "history", family: "catalog" }; // the section a view belongs to

const form = new JobForm((id) => (location.hash = `#job/${encodeURIComponent(id)}`));
const job = new JobView({ resubmit: (id, dryRun) => form.resubmit(id, dryRun) });
const catalog = new CatalogView();
const views = {
  new: () => showRunning(),
  job: (id) => job.open(id),
  history: () => showHistory(),
  catalog: () => catalog.enter(),
  family: (slug) => catalog.family(slug),
  reports: () => showReports(),
};

function banner(problem) {
  const box = $("banner");
  if (!problem) return show(box, false);
  sayProblem(box, problem instanceof Problem ? problem : explain(0));
}

let pendingKey = null;

/** Ask for the client key (once, however many calls were refused); kept in this tab's sessionStorage. */
function askKey(reason) {
  if (pendingKey) return pendingKey;
  const dialog = $("key-dialog");
  $("key-why").textContent =
    reason === "wrong" ? "The gateway did not accept that key: enter the key you were given." : "This gateway asks for a key. It is kept in this browser tab only.";
  pendingKey = new Promise((resolve) => {
    $("key-form").onsubmit = (e) => {
      e.preventDefault();
      if (!$("key").value.trim()) return;
      storeKey($("key").value);
      $("key").value = "";
      dialog.close();
      pendingKey = null;
      resolve();
    };
  });
  dialog.showModal();
  return pendingKey;
}

async function route(moved) {
  const [name, ...rest] = location.hash.slice(1).split("/");
  const view = name in views ? name : "new";
  if (view !== "job") job.close();
  banner(null);
  for (const section of document.querySelectorAll("[data-view]")) section.hidden = section.dataset.view !== view;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === (NAV_OF[view] || view)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (moved) document.querySelector(`[data-view="${view}"] h1`)?.focus();
  try {
    await views[view](decodeURIComponent(rest.join("/")));
  } catch (problem) {
    banner(problem);
  }
}

async function boot() {
  onKeyNeeded(askKey);
  let health;
  try {
    health = await (await fetch("/health")).json();
  } catch {
    return banner(explain(0));
  }
  if (health.keys && !storedKey()) await askKey("missing");
  window.addEventListener("hashchange", () => route(true));
  try {
    await form.load(health.max_upload_mb);
    const reports = await showReports();
    show(document.querySelector('[data-nav="reports"]'), reports > 0);
  } catch (problem) {
    banner(problem);
  }
  await route(false);
}

boot();
