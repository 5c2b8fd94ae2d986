// A small, safe Markdown renderer: it builds DOM nodes and puts every piece of text in as a text node, so a
// model's answer (or a file name) is never parsed as HTML. Covers what models and audiomm's pages write:
// headings, paragraphs (a single newline is a line break), lists (nested, ordered, task boxes), tables,
// block quotes, code, rules; inline code, bold, italic, strike-through, links (http, https and mailto only,
// or what the caller's ``link`` hook allows).

import { el } from "./dom.js";

const ENTITIES = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'", "&nbsp;": "\u00a0" };
const ENTITY = /&(?:lt|gt|amp|quot|#39|nbsp);/g;
const FENCE = /^\s{0,3}(`{3,}|~{3,})/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const INLINE = new RegExp(
  [
    "(`+)([\\s\\S]*?[^`])\\1(?!`)", // 1, 2: code
    "\\\\([\\\\`*_{}\\[\\]()#+\\-.!|<>~&])", // 3: an escaped character
    "\\[((?:\\\\.|[^\\]\\\\])*)\\]\\(\\s*<?([^\\s()<>]*(?:\\([^\\s()]*\\)[^\\s()<>]*)*)>?(?:\\s+\"[^\"]*\")?\\s*\\)", // 4, 5: link
    "<(https?://[^\\s<>]+)>", // 6: autolink
    "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*", // 7: bold
    "__(?=\\S)([\\s\\S]*?\\S)__", // 8: bold
    "~~(?=\\S)([\\s\\S]*?\\S)~~", // 9: strike-through
    "\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*", // 10: italic
    "(?<![A-Za-z0-9])_(?=[^\\s_])([\\s\\S]*?[^\\s_])_(?![A-Za-z0-9])", // 11: italic
    "\\n", // a line break
  ].join("|"),
  "g",
);

/** Entities as audiomm's pages escape them (``&lt;``) back to the characters, as text. */
export function decode(text) {
  return text.replace(ENTITY, (m) => ENTITIES[m]);
}

/** A link the page may follow: http(s) or mailto, nothing else (no javascript:, no data:). */
export function safeLink(url) {
  const href = decode(url.trim());
  return /^(https?:\/\/|mailto:)/i.test(href) ? { href, external: true } : null;
}

/** ``text`` (Markdown) as a fragment of DOM nodes. ``options.link(url)`` may allow more links. */
export function renderMarkdown(text, options = {}) {
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  blocks(lines, { link: options.link || safeLink, headingOffset: options.headingOffset ?? 2 }, fragment);
  return fragment;
}

function blocks(lines, opts, parent) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const reader = [fence, heading, rule, table, quote, list].find((r) => r.starts(lines, i));
    const { node, next } = (reader || paragraph).read(lines, i, opts);
    parent.append(node);
    i = next;
  }
}

const fence = {
  starts: (lines, i) => FENCE.test(lines[i]),
  read(lines, i) {
    const mark = lines[i].match(FENCE)[1];
    const body = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trim().startsWith(mark)) body.push(lines[j++]);
    return { node: el("pre", {}, el("code", {}, body.join("\n"))), next: j + 1 };
  },
};

const heading = {
  starts: (lines, i) => HEADING.test(lines[i]),
  read(lines, i, opts) {
    const [, marks, text] = lines[i].match(HEADING);
    const level = Math.min(6, marks.length + opts.headingOffset);
    return { node: el(`h${level}`, {}, inline(text, opts)), next: i + 1 };
  },
};

const rule = {
  starts: (lines, i) => RULE.test(lines[i]),
  read: (lines, i) => ({ node: el("hr"), next: i + 1 }),
};

function cells(line) {
  const parts = line.trim().split(/(?<!\\)\|/);
  if (parts[0].trim() === "") parts.shift();
  if (parts.length && parts[parts.length - 1].trim() === "") parts.pop();
  return parts.map((p) => p.trim());
}

const table = {
  starts: (lines, i) => lines[i].includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes("-"),
  read(lines, i, opts) {
    const align = cells(lines[i + 1]).map((c) => (c.endsWith(":") ? (c.startsWith(":") ? "center" : "right") : ""));
    const row = (line, tag) =>
      el("tr", {}, cells(line).map((c, k) => el(tag, { class: align[k] ? `align-${align[k]}` : null, scope: tag === "th" ? "col" : null }, inline(c, opts))));
    const body = [];
    let j = i + 2;
    while (j < lines.length && lines[j].includes("|") && lines[j].trim()) body.push(row(lines[j++], "td"));
    const node = el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, row(lines[i], "th")), el("tbody", {}, body)));
    return { node, next: j };
  },
};

const quote = {
  starts: (lines, i) => QUOTE.test(lines[i]),
  read(lines, i, opts) {
    const inner = [];
    let j = i;
    while (j < lines.length && QUOTE.test(lines[j])) inner.push(lines[j++].replace(QUOTE, ""));
    const node = el("blockquote");
    blocks(inner, opts, node);
    return { node, next: j };
  },
};

const list = {
  starts: (lines, i) => ITEM.test(lines[i]),
  read(lines, i, opts) {
    const [, indent, marker] = lines[i].match(ITEM);
    const ordered = /\d/.test(marker);
    const node = el(ordered ? "ol" : "ul", { start: ordered && parseInt(marker, 10) !== 1 ? parseInt(marker, 10) : null });
    let j = i;
    while (j < lines.length) {
      const m = lines[j].match(ITEM);
      if (!m || m[1].length !== indent.length || /\d/.test(m[2]) !== ordered) break;
      const { item, next } = listItem(lines, j, m, opts);
      node.append(item);
      j = next;
    }
    return { node, next: j };
  },
};

function listItem(lines, j, match, opts) {
  const depth = match[1].length;
  const text = [taskBox(match[3])];
  const item = el("li");
  let k = j + 1;
  while (k < lines.length) {
    const line = lines[k];
    const sub = line.match(ITEM);
    if (sub && sub[1].length > depth) {
      const { node, next } = list.read(lines, k, opts);
      item.append(inline(text.join("\n"), opts), node);
      text.length = 0;
      k = next;
    } else if (line.trim() && !sub && /^\s+/.test(line) && !FENCE.test(line)) {
      text.push(line.trim());
      k++;
    } else break;
  }
  if (text.length) item.append(inline(text.join("\n"), opts));
  return { item, next: k };
}

function taskBox(text) {
  const m = text.match(/^\[([ xX])\]\s+(.*)$/);
  return m ? `${m[1] === " " ? "☐" : "☑"} ${m[2]}` : text;
}

const paragraph = {
  read(lines, i, opts) {
    const text = [];
    let j = i;
    const others = [fence, heading, rule, table, quote, list];
    while (j < lines.length && lines[j].trim() && (j === i || !others.some((r) => r.starts(lines, j)))) text.push(lines[j++].trim());
    return { node: el("p", {}, inline(text.join("\n"), opts)), next: j };
  },
};

/** Inline Markdown as nodes: code, escapes, links, emphasis, line breaks; the rest as text. */
export function inline(text, opts = { link: safeLink }) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.append(decode(text.slice(last, m.index)));
    out.append(inlineNode(m, opts));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.append(decode(text.slice(last)));
  return out;
}

function inlineNode(m, opts) {
  if (m[2] !== undefined) return el("code", {}, m[2].replace(/^ (.*) $/, "$1"));
  if (m[3] !== undefined) return m[3];
  if (m[5] !== undefined) return linkNode(m[4], m[5], opts);
  if (m[6] !== undefined) return linkNode(m[6], m[6], opts);
  if (m[7] !== undefined || m[8] !== undefined) return el("strong", {}, inline(m[7] ?? m[8], opts));
  if (m[9] !== undefined) return el("del", {}, inline(m[9], opts));
  if (m[10] !== undefined || m[11] !== undefined) return el("em", {}, inline(m[10] ?? m[11], opts));
  return el("br");
}

function linkNode(label, url, opts) {
  const target = opts.link(url);
  const content = inline(label, opts);
  if (!target) return content;
  const external = target.external ? { target: "_blank", rel: "noopener noreferrer nofollow" } : {};
  return el("a", { href: target.href, ...external }, content);
}
