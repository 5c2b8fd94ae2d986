// Recording from the microphone in the browser (MediaRecorder); the recording becomes a File to upload.

import { Problem } from "./api.js";
import { clock } from "./dom.js";

const REFUSALS = {
  NotAllowedError: "The browser was not allowed to use the microphone: allow it in the site's settings, or choose a file.",
  NotFoundError: "No microphone was found: plug one in, or choose a file.",
  NotReadableError: "The microphone is busy in another program: close it there, or choose a file.",
};

function extension(type) {
  if (type.includes("ogg")) return "ogg";
  if (type.includes("mp4")) return "m4a";
  return "webm";
}

export class Recorder {
  /** ``button`` starts and stops; ``clockNode`` shows the time; ``done(file)`` gets the recording. */
  constructor(button, clockNode, done, fail) {
    this.button = button;
    this.clockNode = clockNode;
    this.done = done;
    this.fail = fail;
    this.recorder = null;
    button.addEventListener("click", () => (this.recorder ? this.stop() : this.start()));
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      return this.fail(new Problem("This browser cannot record here (it needs a secure address such as localhost): choose a file instead."));
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      return this.fail(new Problem(REFUSALS[error.name] || `The microphone could not be opened (${error.name}): choose a file instead.`));
    }
    const parts = [];
    this.recorder = new MediaRecorder(stream);
    this.recorder.addEventListener("dataavailable", (e) => e.data.size && parts.push(e.data));
    this.recorder.addEventListener("stop", () => this.finish(stream, parts));
    this.recorder.start(1000);
    this.began = Date.now();
    this.ticker = setInterval(() => this.tick(), 500);
    this.button.textContent = "Stop recording";
    this.button.setAttribute("aria-pressed", "true");
    this.tick();
  }

  tick() {
    this.clockNode.textContent = `Recording ${clock((Date.now() - this.began) / 1000)}`;
  }

  stop() {
    this.recorder?.stop();
  }

  finish(stream, parts) {
    clearInterval(this.ticker);
    for (const track of stream.getTracks()) track.stop();
    const type = this.recorder.mimeType || "audio/webm";
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
    this.recorder = null;
    this.button.textContent = "Record again";
    this.button.setAttribute("aria-pressed", "false");
    this.clockNode.textContent = "";
    this.done(new File(parts, `recording-${stamp}.${extension(type)}`, { type }));
  }
}
