// The new-job form: a recording (a file picked or dropped, or recorded here), a system, a preset or your
// own prompt, a template for the presets that fill one, who said what (speakers, with their number and
// names when known); submitted as a job (POST /v1/jobs).

import { Problem, explain, getJSON, sayProblem, upload } from "./api.js";
import { $, bytes, el, show } from "./dom.js";
import { Recorder } from "./recorder.js";

const OWN_PROMPT = ""; // the preset select's value for "your own prompt"

export class JobForm {
  /** ``opened(jobId)`` is called with each job the form starts. */
  constructor(opened) {
    this.opened = opened;
    this.file = null;
    this.limitMb = null;
    this.presets = new Map();
    this.sent = new Map(); // job id -> what was submitted (to try again)
    $("file").addEventListener("change", () => this.choose($("file").files[0] || null));
    $("preset").addEventListener("change", () => this.presetChanged());
    $("template-file").addEventListener("change", () => this.loadTemplate());
    $("speakers").addEventListener("change", () => show($("speaker-fields"), $("speakers").checked));
    $("job-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.dropZone($("drop"));
    this.recorder = new Recorder($("record"), $("rec-time"), (file) => this.choose(file), (problem) => this.error(problem));
  }

  /** The systems and presets the gateway offers; ``limitMb`` is its largest upload. */
  async load(limitMb) {
    this.limitMb = limitMb;
    const [models, presets] = await Promise.all([getJSON("/v1/models"), getJSON("/v1/presets")]);
    const state = (m) => (m.audiomm?.state?.startsWith("unavailable") ? " (unavailable now)" : "");
    $("system").replaceChildren(...models.data.map((m) => el("option", { value: m.id }, `${m.id}${state(m)}`)));
    for (const p of presets.data) this.presets.set(p.name, p);
    const options = presets.data.map((p) => el("option", { value: p.name }, p.name));
    $("preset").replaceChildren(...options, el("option", { value: OWN_PROMPT }, "Your own prompt…"));
    $("preset").value = this.presets.has("transcript") ? "transcript" : presets.data[0]?.name ?? OWN_PROMPT;
    this.presetChanged();
  }

  dropZone(zone) {
    const over = (on) => (e) => {
      e.preventDefault();
      zone.classList.toggle("over", on);
    };
    zone.addEventListener("dragenter", over(true));
    zone.addEventListener("dragover", over(true));
    zone.addEventListener("dragleave", over(false));
    zone.addEventListener("drop", (e) => {
      over(false)(e);
      if (e.dataTransfer.files.length) this.choose(e.dataTransfer.files[0]);
    });
  }

  choose(file) {
    this.file = file;
    $("chosen").textContent = file ? `Chosen: ${file.name} (${bytes(file.size)})` : "No recording chosen yet.";
    show($("form-error"), false);
  }

  presetChanged() {
    const preset = this.presets.get($("preset").value);
    $("preset-about").textContent = preset ? preset.description : "Each part of the recording is asked your prompt, then the answers are merged.";
    show($("prompt-field"), !preset);
    show($("template-field"), Boolean(preset?.needs_template));
  }

  async loadTemplate() {
    const file = $("template-file").files[0];
    if (file) $("template").value = await file.text();
  }

  /** What the form asks for, checked before anything is sent; a Problem says what is missing. */
  request() {
    const preset = this.presets.get($("preset").value);
    const fields = { system: $("system").value };
    if (!this.file) throw new Problem("Choose a recording first (or record one).");
    if (this.limitMb && this.file.size > this.limitMb * 1e6) throw explain(413, {}, { file: this.file.name, limitMb: this.limitMb });
    if (preset) fields.preset = preset.name;
    else if ($("prompt").value.trim()) fields.prompt = $("prompt").value.trim();
    else throw new Problem("Write your prompt, or choose a task.");
    if (preset?.needs_template) {
      if (!$("template").value.trim()) throw new Problem(`The ${preset.name} task fills a template: write one or load it from a file.`);
      fields.template = $("template").value;
    }
    return { file: this.file, fields: { ...fields, ...this.speakerFields() } };
  }

  /** The speakers fields when "Who said what" is ticked (the gateway checks the names). */
  speakerFields() {
    if (!$("speakers").checked) return {};
    const fields = { speakers: "true" };
    const count = $("num-speakers").value.trim();
    if (count && !/^[1-9][0-9]*$/.test(count)) throw new Problem("The number of speakers must be a whole number of at least 1 (or left empty).");
    if (count) fields.num_speakers = count;
    const names = $("speaker-names").value.trim();
    if (names) fields.speaker_names = names;
    return fields;
  }

  async submit() {
    let asked;
    try {
      asked = this.request();
    } catch (problem) {
      return this.error(problem);
    }
    show($("form-error"), false);
    $("start").disabled = true;
    try {
      const id = await this.send(asked);
      this.opened(id);
    } catch (problem) {
      this.error(problem);
    } finally {
      $("start").disabled = false;
      $("upload-progress").textContent = "";
    }
  }

  /** Upload ``asked`` as a job; its id. */
  async send(asked) {
    const form = new FormData();
    form.append("file", asked.file, asked.file.name);
    for (const [name, value] of Object.entries(asked.fields)) form.append(name, value);
    const progress = (f) => ($("upload-progress").textContent = f < 1 ? `Uploading… ${Math.round(100 * f)}%` : "Checking the recording…");
    const context = { file: asked.file.name, system: asked.fields.system, limitMb: this.limitMb };
    const job = await upload("/v1/jobs", form, progress, context);
    this.sent.set(job.id, asked);
    return job.id;
  }

  /** Submit job ``jobId``'s recording and settings again (``dryRun``: only whether it can). */
  resubmit(jobId, dryRun) {
    const asked = this.sent.get(jobId);
    if (!asked) return null;
    return dryRun ? true : this.send(asked).then((id) => this.opened(id));
  }

  error(problem) {
    sayProblem($("form-error"), problem instanceof Problem ? problem : explain(0));
  }
}
