// The chunk plan over the recording: speech regions (the gaps are silence), each chunk as the planner
// decides it, turning done (or cut short) as its answer arrives, and where the player is.

import { clock, el } from "./dom.js";

const STATE_WORDS = { planned: "planned", done: "done", truncated: "cut short (the model hit its output limit)", empty: "no answer" };

export class Timeline {
  constructor(root) {
    this.root = root;
    this.speechTrack = el("div", { class: "track track-speech", "aria-hidden": "true" });
    this.chunkTrack = el("div", { class: "track track-chunks", "aria-hidden": "true" });
    this.axis = el("div", { class: "axis", "aria-hidden": "true" });
    this.cursor = el("div", { class: "cursor", hidden: true, "aria-hidden": "true" });
    root.replaceChildren(this.speechTrack, this.chunkTrack, this.axis, this.cursor);
    this.reset();
  }

  reset() {
    this.length = null; // seconds, once the plan is complete
    this.speech = [];
    this.chunks = new Map(); // index -> {start, end, state, node}
    this.speechTrack.replaceChildren();
    this.chunkTrack.replaceChildren();
    this.cursor.hidden = true;
    this.schedule();
  }

  /** A chunk as the planner decided it. */
  chunkPlanned(chunk) {
    const known = this.chunks.get(chunk.index);
    if (known) return;
    const node = el("span", { class: "chunk", dataset: { index: chunk.index } });
    this.chunkTrack.append(node);
    this.chunks.set(chunk.index, { start: chunk.start, end: chunk.end, state: "planned", node });
    this.schedule();
  }

  /** The complete plan: the recording's length, the speech found, every chunk. */
  planned(plan) {
    this.length = plan.input_s;
    this.speech = plan.speech || [];
    this.speechTrack.replaceChildren(...this.speech.map(() => el("span", { class: "region" })));
    for (const chunk of plan.chunks || []) this.chunkPlanned(chunk);
    this.schedule();
  }

  /** A chunk's answer arrived: ``state`` is done, truncated or empty. */
  chunkDone(chunk, state = "done") {
    this.chunkPlanned(chunk);
    this.chunks.get(chunk.index).state = state;
    this.schedule();
  }

  /** Where the player is (seconds), or null to hide the mark. */
  playing(seconds) {
    this.playhead = seconds;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.draw();
    });
  }

  scale() {
    if (this.length) return this.length;
    const ends = [...this.chunks.values()].map((c) => c.end);
    return ends.length ? Math.max(...ends) * 1.05 : 1;
  }

  draw() {
    const total = this.scale();
    const place = (node, start, end) => {
      node.style.left = `${(100 * start) / total}%`;
      node.style.width = `${Math.max(0.15, (100 * (end - start)) / total)}%`;
    };
    [...this.speechTrack.children].forEach((node, i) => place(node, this.speech[i][0], this.speech[i][1]));
    for (const [index, c] of this.chunks) {
      place(c.node, c.start, c.end);
      c.node.className = `chunk state-${c.state} row-${index % 2}`;
      c.node.title = `chunk ${index + 1}: ${clock(c.start)}–${clock(c.end)}, ${STATE_WORDS[c.state]}`;
    }
    this.axis.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => el("span", {}, this.length || f === 0 ? clock(f * total) : "")));
    this.cursor.hidden = this.playhead === null || this.playhead === undefined;
    if (!this.cursor.hidden) this.cursor.style.left = `${(100 * this.playhead) / total}%`;
    this.root.setAttribute("aria-label", this.summary());
  }

  summary() {
    const all = [...this.chunks.values()];
    const count = (s) => all.filter((c) => c.state === s).length;
    const done = all.length - count("planned");
    const short = count("truncated");
    const length = this.length ? ` of ${clock(this.length)}` : "";
    const speech = this.speech.length ? `, ${this.speech.length} stretches of speech` : "";
    return `Timeline${length}${speech}: ${all.length} chunks planned, ${done} done${short ? `, ${short} cut short` : ""}.`;
  }
}
