// The gateway's API, as the page calls it: same origin, the client key (when the gateway has keys) as the
// Bearer header, every failure turned into one sentence a person understands (explain).

import { el } from "./dom.js";

const KEY = "audiomm-key"; // sessionStorage: the key lives as long as this tab

/** A failure, said in one sentence; ``detail`` is the gateway's own words (shown on request). */
export class Problem extends Error {
  constructor(sentence, detail = "", status = undefined, code = undefined) {
    super(sentence);
    this.detail = detail;
    this.status = status;
    this.code = code;
  }
}

let keyPrompt = null; // set by the page: asks the person for a key, resolves once given

export function onKeyNeeded(ask) {
  keyPrompt = ask;
}

export function storedKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function storeKey(key) {
  sessionStorage.setItem(KEY, key.trim());
}

function authorization() {
  const key = storedKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function quoted(name, fallback) {
  return name ? `“${name}”` : fallback;
}

/**
 * The one place a failure becomes what the page says. ``status`` is the HTTP status (0: no answer at all;
 * undefined: a job's own error), ``error`` the gateway's error object, ``context`` what the page was doing.
 */
export function explain(status, error = {}, context = {}) {
  const code = error.code || "";
  const detail = error.message || "";
  const file = quoted(context.file, "This file");
  const system = quoted(context.system, "this system");
  let sentence;
  if (status === 0) sentence = "The gateway cannot be reached: check that audiomm serve is still running, then try again.";
  else if (code === "invalid_audio") sentence = `${file} is not a recording the gateway can read: choose an audio or video file.`;
  else if (status === 413 || code === "file_too_large")
    sentence = `${file} is larger than this gateway accepts (${context.limitMb ?? "its"} MB at most): send a shorter or more compressed recording.`;
  else if (status === 401) sentence = "The gateway did not accept the API key: enter the key you were given.";
  else if (status === 429) sentence = `The gateway is busy with other recordings: try again in ${context.retryAfter || "a few"} seconds.`;
  else if (code === "backend_unavailable") sentence = `The model server behind ${system} cannot be reached: start it (or ask whoever runs it), then try again.`;
  else if (code === "backend_error") sentence = `The model server behind ${system} failed while it worked on this recording: try again; the details say what it answered.`;
  else if (code === "audio_gone") sentence = "The gateway no longer keeps this recording, so it cannot be played here; the text is all here.";
  else if (code === "job_not_found") sentence = "The gateway has no such job (it may belong to another gateway or data folder).";
  else if (code === "model_not_found") sentence = `The gateway does not serve ${system} any more: choose another system.`;
  else if (status >= 500) sentence = "The gateway ran into an unexpected problem: its log has the details.";
  else sentence = detail ? firstSentence(detail) : `The gateway refused the request (HTTP ${status}).`;
  return new Problem(sentence, detail, status, code);
}

function firstSentence(text) {
  const one = text.split("\n")[0];
  const capital = one.charAt(0).toUpperCase() + one.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

async function errorOf(response) {
  try {
    return (await response.json()).error || {};
  } catch {
    return {};
  }
}

/** ``fetch`` with the key; a 401 asks for a key once and tries again; any failure is a Problem. */
export async function call(path, { method = "GET", json, body, headers = {}, signal, context = {} } = {}) {
  for (let attempt = 0; ; attempt++) {
    const sent = { ...authorization(), ...headers, ...(json ? { "Content-Type": "application/json" } : {}) };
    let response;
    try {
      response = await fetch(path, { method, body: json ? JSON.stringify(json) : body, headers: sent, signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw explain(0, {}, context);
    }
    if (response.status === 401 && attempt === 0 && keyPrompt) {
      await keyPrompt(storedKey() ? "wrong" : "missing");
      continue;
    }
    if (!response.ok) {
      const retryAfter = response.headers.get("Retry-After");
      throw explain(response.status, await errorOf(response), { ...context, retryAfter });
    }
    return response;
  }
}

export async function getJSON(path, options) {
  return (await call(path, options)).json();
}

/** A multipart upload with progress (``onProgress(fraction)``); the answer's JSON. */
export function upload(path, form, onProgress, context = {}) {
  const once = () =>
    new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      for (const [name, value] of Object.entries(authorization())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => resolve(null);
      xhr.send(form);
    });
  return (async () => {
    for (let attempt = 0; ; attempt++) {
      const xhr = await once();
      if (!xhr) throw explain(0, {}, context);
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = {};
      }
      if (xhr.status === 401 && attempt === 0 && keyPrompt) {
        await keyPrompt(storedKey() ? "wrong" : "missing");
        continue;
      }
      if (xhr.status >= 400) {
        throw explain(xhr.status, body.error || {}, { ...context, retryAfter: xhr.getResponseHeader("Retry-After") });
      }
      return body;
    }
  })();
}

/**
 * Server-sent events read through fetch (so the key travels as a header): ``onEvent(name, data)`` for each
 * event until the stream ends. Lines may end in CRLF, split anywhere between reads.
 */
export async function follow(path, onEvent, signal) {
  const response = await call(path, { signal, headers: { Accept: "text/event-stream" } });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length; // a CR whose LF is still coming
    const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
    buffer = lines.pop() + buffer.slice(cut);
    for (const line of lines) {
      if (line === "") {
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
        name = "message";
        data = [];
      } else if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
  }
}

/** Say ``problem`` in ``box``: its sentence, and the gateway's own words behind "Details". */
export function sayProblem(box, problem) {
  const detail = problem.detail && problem.detail !== problem.message;
  box.replaceChildren(el("p", {}, problem.message), detail ? el("details", {}, el("summary", {}, "Details"), el("p", {}, problem.detail)) : "");
  box.hidden = false;
}
