// The lists the page shows: earlier jobs (and the ones still running), evaluation reports.

import { getJSON } from "./api.js";
import { $, clock, el, show, when } from "./dom.js";

const STATUS_WORDS = { queued: "waiting", running: "running", done: "done", failed: "failed", cancelled: "cancelled" };

function task(job) {
  return job.prompt ? `prompt: “${job.prompt.slice(0, 60)}${job.prompt.length > 60 ? "…" : ""}”` : job.preset;
}

function jobLine(job) {
  const p = job.progress;
  const length = p.input_s ? ` · ${clock(p.input_s)}` : "";
  const progress = job.status === "running" && p.chunks_total ? ` · ${p.chunks_done} of ${p.chunks_total} chunks` : "";
  return el(
    "li",
    { class: `job-line status-${job.status}` },
    el(
      "a",
      { href: `#job/${encodeURIComponent(job.id)}` },
      el("span", { class: "file-name" }, job.file),
      el("span", { class: `badge status-${job.status}` }, STATUS_WORDS[job.status] || job.status),
      el("span", { class: "meta" }, `${job.system} · ${task(job)}${job.with_template ? " + template" : ""}${job.speakers ? " + speakers" : ""}${length}${progress} · ${when(job.created_at)}`),
    ),
  );
}

/** Every job the gateway keeps, newest first. */
export async function showHistory() {
  const jobs = (await getJSON("/v1/jobs?limit=200")).data;
  $("history-list").replaceChildren(...jobs.map(jobLine));
  show($("history-empty"), jobs.length === 0);
}

/** The jobs still queued or running (shown above the form: a page closed meanwhile finds them again). */
export async function showRunning() {
  const jobs = (await getJSON("/v1/jobs?limit=50")).data.filter((j) => j.status === "queued" || j.status === "running");
  $("running-list").replaceChildren(...jobs.map(jobLine));
  show($("running"), jobs.length > 0);
}

/** The evaluation reports (``--reports``); the nav shows them only when there are some. */
export async function showReports() {
  const reports = (await getJSON("/v1/reports")).data;
  const items = reports.map((r) =>
    el("li", {}, el("a", { href: r.url, target: "_blank", rel: "noopener" }, el("span", { class: "file-name" }, r.name), el("span", { class: "meta" }, when(r.modified)))),
  );
  $("reports-list").replaceChildren(...items);
  show($("reports-empty"), reports.length === 0);
  return reports.length;
}
