// One job on the page: its progress as it happens (from the job's events), then its result: the answer
// (Markdown) or the transcript's segments beside the recording, coverage and warnings, downloads; under
// "who said what", each segment and chunk with its speaker and a line of who spoke how long.

import { Problem, call, follow, getJSON, explain, sayProblem, storedKey } from "./api.js";
import { $, clear, clock, duration, el, show, when } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { Timeline } from "./timeline.js";

const OVER = ["done", "failed", "cancelled"];
const STATUS = { queued: "Waiting for a free slot on the gateway…", cancelled: "Cancelled." };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function chunkState(chunk) {
  const flags = chunk.flags || [];
  if (flags.includes("empty")) return "empty";
  return flags.includes("truncated") ? "truncated" : "done";
}

function stem(name) {
  const base = (name || "result").replace(/\.[^.]*$/, "");
  return base.replace(/[^\p{L}\p{N}._ -]+/gu, "_").slice(0, 100) || "result";
}

/** "speakers: Ana 0:25, Ben 0:24 (2, estimated; 98% of the speech given a speaker)" from a result's speakers. */
function speakersLine(found) {
  const talk = new Map(found.speakers.map((s) => [s, 0]));
  for (const t of found.turns) talk.set(t.speaker, (talk.get(t.speaker) || 0) + t.end_s - t.start_s);
  const each = [...talk].map(([s, seconds]) => `${found.names?.[s] || s} ${clock(seconds)}`).join(", ") || "none found";
  const c = found.coverage;
  const how = c.estimated ? "estimated" : "as given";
  return `speakers: ${each} (${found.speakers.length}, ${how}; ${Math.floor(c.ratio * 1000) / 10}% of the speech given a speaker)`;
}

export class JobView {
  /** ``resubmit(jobId)``: submits the same recording and settings again (null if the page lost them). */
  constructor({ resubmit }) {
    this.resubmit = resubmit;
    this.timeline = new Timeline($("timeline"));
    this.player = $("player");
    $("cancel").addEventListener("click", () => this.cancel());
    $("retry").addEventListener("click", () => this.retry());
    $("copy").addEventListener("click", () => this.copy());
    for (const button of document.querySelectorAll("[data-format]")) {
      button.addEventListener("click", () => this.download(button.dataset.format));
    }
    this.player.addEventListener("timeupdate", () => this.highlight(this.player.currentTime));
    this.player.addEventListener("error", () => this.note("This browser cannot play the recording's format; the text is all here."));
  }

  /** Show job ``id`` and follow it until it is over (reconnecting if the gateway goes away meanwhile). */
  open(id) {
    this.close();
    this.id = id;
    this.job = null;
    this.over = false;
    this.reset();
    this.watch(id, new AbortController());
  }

  close() {
    this.controller?.abort();
    this.player.pause();
    this.player.removeAttribute("src");
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
    this.blobUrl = null;
  }

  reset() {
    this.timeline.reset();
    this.chunks = new Map();
    this.result = null;
    clear($("chunks"));
    $("chunk-count").textContent = "0";
    for (const id of ["result", "job-error", "retry", "player-note", "timeline-box", "partial", "speakers-line"]) show($(id), false);
    $("partial").open = true;
    $("job-title").textContent = "";
    $("job-meta").textContent = "";
    $("job-status").textContent = "Connecting…";
  }

  async watch(id, controller) {
    this.controller = controller;
    let wait = 500;
    while (!controller.signal.aborted && !this.over) {
      try {
        await follow(`/v1/jobs/${encodeURIComponent(id)}/events`, (name, data) => this.event(name, data), controller.signal);
        wait = 500;
      } catch (error) {
        if (error.name === "AbortError") return;
        if (error.status && error.status < 500) return this.problem(error);
        $("job-status").textContent = `${error.message} Trying again…`;
      }
      if (!this.over && !controller.signal.aborted) {
        await sleep(wait);
        wait = Math.min(2 * wait, 10000);
      }
    }
  }

  event(name, data) {
    const handlers = {
      "job.state": () => this.state(data.job),
      "job.chunk_planned": () => this.timeline.chunkPlanned(data.chunk),
      "job.planned": () => this.timeline.planned(data),
      "job.chunk": () => this.chunkDone(data.chunk),
      "job.done": () => this.end(data.job),
      "job.failed": () => this.end(data.job),
      "job.cancelled": () => this.end(data.job),
    };
    handlers[name]?.();
    if (data.progress && this.job) this.progress(this.job.status, data.progress);
    show($("timeline-box"), this.timeline.chunks.size > 0);
    show($("partial"), $("chunks").children.length > 0);
  }

  /** The job as it is now (first on every connection: what was shown before is drawn again). */
  state(job) {
    this.job = job;
    this.timeline.reset();
    this.chunks.clear();
    clear($("chunks"));
    $("chunk-count").textContent = "0";
    $("job-title").textContent = job.file;
    const task = job.prompt ? `your prompt “${job.prompt.slice(0, 80)}${job.prompt.length > 80 ? "…" : ""}”` : job.preset;
    const extras = `${job.with_template ? " with a template" : ""}${job.speakers ? " · who said what" : ""}`;
    $("job-meta").textContent = `${job.system} · ${task}${extras} · ${when(job.created_at)}`;
    this.progress(job.status, job.progress);
  }

  progress(status, p) {
    const bar = $("job-progress");
    const live = !OVER.includes(status);
    show($("cancel"), live);
    if (p.chunks_total) {
      bar.max = p.chunks_total;
      bar.value = p.chunks_done;
    } else if (live) bar.removeAttribute("value");
    else bar.value = 0;
    if (!live) return;
    let words = STATUS[status];
    if (status === "running" && !p.chunks_total) words = `Planning chunks: ${p.chunks_planned || this.timeline.chunks.size} planned, ${p.chunks_done} done…`;
    else if (status === "running") {
      const eta = p.eta_s === null || p.eta_s === undefined ? "" : ` · about ${duration(p.eta_s)} left`;
      words = `${p.chunks_done} of ${p.chunks_total} chunks done${eta}`;
    }
    $("job-status").textContent = words;
  }

  /** A chunk's answer, in its place in the list (answers may arrive out of order). */
  chunkDone(chunk) {
    if (this.chunks.has(chunk.index)) return;
    this.chunks.set(chunk.index, chunk);
    this.timeline.chunkDone(chunk, chunkState(chunk));
    const list = $("chunks");
    let after = list.lastElementChild;
    while (after && Number(after.dataset.index) > chunk.index) after = after.previousElementSibling;
    list.insertBefore(this.chunkItem(chunk, false), after ? after.nextSibling : list.firstChild);
    $("chunk-count").textContent = String(list.children.length);
  }

  drawChunks(chunks, seekable) {
    $("chunks").replaceChildren(...chunks.map((c) => this.chunkItem(c, seekable)));
    $("chunk-count").textContent = String(chunks.length);
  }

  /** One chunk in the list: its span (a button that plays from there, once the recording is loaded). */
  chunkItem(c, seekable) {
    const state = chunkState(c);
    const start = c.start ?? c.start_s;
    const end = c.end ?? c.end_s;
    const span = `${clock(start)}–${clock(end)}`;
    const time = seekable ? el("button", { type: "button", class: "seek", onclick: () => this.seek(start) }, span) : el("span", { class: "time" }, span);
    const badge = { truncated: "cut short: the model hit its output limit", empty: "no answer" }[state];
    const who = c.speaker && el("span", { class: "speaker" }, c.speaker);
    const head = el("div", { class: "chunk-head" }, el("span", { class: "num" }, `Chunk ${c.index + 1}`), time, who, badge && el("strong", { class: "badge" }, badge), c.cached && el("span", { class: "hint" }, "from the cache"));
    return el("li", { class: `chunk-item state-${state}`, dataset: { index: c.index, start, end } }, head, el("p", { class: "chunk-text" }, c.text || "(no text)"));
  }

  end(job) {
    this.job = job;
    this.over = true;
    this.progress(job.status, job.progress);
    const p = job.progress;
    if (job.status === "done") {
      $("job-status").textContent = `Done: ${p.chunks_total} chunks, ${duration(p.input_s)} of audio.`;
      this.showResult(job);
    } else {
      const verb = job.status === "failed" ? "Failed" : "Cancelled";
      const kept = p.chunks_done ? `after ${p.chunks_done} of ${p.chunks_total ?? "?"} chunks; those are kept below.` : "before any chunk was done.";
      $("job-status").textContent = `${verb} ${kept}`;
      if (job.error) this.problem(explain(undefined, job.error, { system: job.system, file: job.file }));
    }
    show($("retry"), job.status !== "done" && this.resubmit(job.id, true) !== null);
  }

  problem(error) {
    const box = $("job-error");
    sayProblem(box, error instanceof Problem ? error : explain(0));
  }

  note(text) {
    $("player-note").textContent = text;
    show($("player-note"), true);
  }

  async showResult(job) {
    const context = { system: job.system, file: job.file };
    try {
      this.result = await getJSON(`/v1/jobs/${encodeURIComponent(job.id)}/result?format=json`, { context });
    } catch (error) {
      return this.problem(error);
    }
    const r = this.result;
    this.coverage(r);
    for (const c of r.chunks) this.timeline.chunkDone({ index: c.index, start: c.start_s, end: c.end_s }, chunkState(c));
    this.drawChunks(r.chunks, true);
    show($("timeline-box"), r.chunks.length > 0);
    show($("partial"), r.chunks.length > 0);
    const transcript = r.kind === "transcript";
    const segments = (r.segments || []).filter((s) => s.text);
    $("segments").replaceChildren(...(transcript ? segments.map((s) => this.segment(s)) : []));
    $("answer").replaceChildren(transcript ? "" : renderMarkdown(r.text));
    show($("segments"), transcript);
    show($("answer"), !transcript);
    show($("result"), true);
    $("partial").open = r.chunks.some((c) => chunkState(c) !== "done"); // one cut short stays in view
    this.loadAudio(job, context);
  }

  coverage(r) {
    const c = r.coverage;
    const ratio = `${Math.floor(c.covered_ratio * 1000) / 10}%`;
    const speech = c.speech_s === null ? "the recording" : `the speech (${duration(c.speech_s)} of speech in ${duration(c.input_s)})`;
    const line = $("coverage");
    line.textContent = `Covered ${ratio} of ${speech}, in ${r.chunks.length} chunks of at most ${c.window_s} s.`;
    line.classList.toggle("partial", c.covered_ratio < 1);
    const warnings = [...(r.warnings || [])];
    if (r.model_note) warnings.push(r.model_note);
    $("warnings").replaceChildren(...warnings.map((w) => el("li", {}, w)));
    show($("warnings"), warnings.length > 0);
    $("speakers-line").textContent = r.speakers ? speakersLine(r.speakers) : "";
    show($("speakers-line"), Boolean(r.speakers));
  }

  segment(s) {
    return el(
      "li",
      { dataset: { start: s.start_s, end: s.end_s } },
      el("button", { type: "button", class: "segment", onclick: () => this.seek(s.start_s) }, el("span", { class: "time" }, clock(s.start_s)), " ", s.speaker && el("span", { class: "speaker" }, `${s.speaker}:`), s.text),
    );
  }

  async loadAudio(job, context) {
    const url = `/v1/jobs/${encodeURIComponent(job.id)}/audio`;
    try {
      if (storedKey()) {
        // a media element cannot send the key: the recording comes through fetch, whole, then plays from memory
        this.blobUrl = URL.createObjectURL(await (await call(url, { context })).blob());
        this.player.src = this.blobUrl;
      } else {
        await call(url, { headers: { Range: "bytes=0-0" }, context }); // still kept? (one byte)
        this.player.src = url;
      }
      show(this.player, true);
    } catch (error) {
      show(this.player, false);
      this.note(error.message);
    }
  }

  seek(seconds) {
    if (!this.player.src) return;
    this.player.currentTime = seconds;
    this.player.play().catch(() => {});
    this.highlight(seconds);
  }

  highlight(t) {
    this.timeline.playing(t);
    for (const list of [$("segments"), $("chunks")]) {
      for (const item of list.children) {
        const on = Number(item.dataset.start) <= t && t < Number(item.dataset.end);
        item.classList.toggle("playing", on);
        if (on) item.setAttribute("aria-current", "true");
        else item.removeAttribute("aria-current");
      }
    }
  }

  async cancel() {
    try {
      await call(`/v1/jobs/${encodeURIComponent(this.id)}`, { method: "DELETE" });
    } catch (error) {
      this.problem(error);
    }
  }

  retry() {
    const again = this.resubmit(this.id, false);
    if (again) again.catch((error) => this.problem(error));
  }

  async download(format) {
    try {
      const response = await call(`/v1/jobs/${encodeURIComponent(this.id)}/result?format=${format}`);
      const href = URL.createObjectURL(await response.blob());
      const link = el("a", { href, download: `${stem(this.job.file)}.${format}`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60000);
    } catch (error) {
      this.problem(error);
    }
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.result.text);
      $("copied").textContent = "Copied.";
    } catch {
      $("copied").textContent = "The browser did not allow copying: select the text and copy it instead.";
    }
    setTimeout(() => ($("copied").textContent = ""), 4000);
  }
}

