// The catalog: every family (sizes, formats, licences), what fits a GPU and RAM (``audiomm catalog fits``),
// and each family's page (the Markdown ``audiomm catalog pages`` writes, rendered here).

import { Problem, call, explain, getJSON, sayProblem } from "./api.js";
import { $, el, show } from "./dom.js";
import { renderMarkdown, safeLink } from "./markdown.js";

const FIRST_FITS = 12; // rows shown before "Show all"
const number = (x, digits = 1) => (x === null || x === undefined ? "?" : x.toFixed(digits));

function familyLink(row) {
  return el("a", { href: `#family/${encodeURIComponent(row.slug)}` }, row.family);
}

export class CatalogView {
  constructor() {
    this.rows = null;
    $("family-filter").addEventListener("input", () => this.filter());
    $("fits-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.fits();
    });
  }

  /** The families (loaded once). */
  async enter() {
    if (this.rows) return;
    const answer = await getJSON("/v1/catalog/families");
    this.rows = answer.data;
    const s = answer.snapshot;
    $("catalog-about").textContent = `${this.rows.length} families from the Hub snapshot of ${s.date}, most downloaded first. Memory is for one window of audio at bf16; “?” means not known.`;
    this.filter();
  }

  filter() {
    const words = $("family-filter").value.trim().toLowerCase();
    const shown = this.rows.filter((r) => !words || [r.family, r.canonical_id, r.licence || "", ...r.formats].join(" ").toLowerCase().includes(words));
    const line = (r) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, familyLink(r)),
        el("td", { class: "num" }, number(r.params_b, 2)),
        el("td", { class: "num" }, number(r.bf16_gb)),
        el("td", {}, r.formats.join(", ")),
        el("td", {}, r.licence || "?"),
        el("td", { class: "num" }, r.downloads.toLocaleString()),
      );
    $("families-table").tBodies[0].replaceChildren(...shown.map(line));
  }

  async fits() {
    const vram = $("vram").value.trim();
    const ram = $("ram").value.trim();
    show($("fits-error"), false);
    if (!vram && !ram) return sayProblem($("fits-error"), new Problem("Enter your GPU memory, your RAM, or both (in GB)."));
    const query = new URLSearchParams({ ...(vram && { vram }), ...(ram && { ram }) });
    let answer;
    try {
      answer = await getJSON(`/v1/catalog/fits?${query}`);
    } catch (problem) {
      return sayProblem($("fits-error"), problem);
    }
    const hardware = [vram && `${vram} GB of GPU memory`, ram && `${ram} GB of RAM`].filter(Boolean).join(" and ");
    $("fits-summary").textContent = `${answer.data.length} of ${answer.families} families fit ${hardware}, each at the best precision that fits (most downloaded first).`;
    const line = (f) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, familyLink(f)),
        el("td", { class: "num" }, number(f.params_b, 2)),
        el("td", { class: "short" }, f.quant),
        el("td", { class: "short" }, f.device.toUpperCase()),
        el("td", { class: "num" }, number(f.total_gb)),
        el("td", {}, f.runtime),
      );
    const rows = answer.data.map(line);
    rows.slice(FIRST_FITS).forEach((row) => (row.hidden = true));
    $("fits-table").tBodies[0].replaceChildren(...rows);
    show($("fits-wrap"), rows.length > 0);
    const more = $("fits-more");
    more.textContent = `Show all ${rows.length}`;
    show(more, rows.length > FIRST_FITS);
    more.onclick = () => {
      rows.forEach((row) => (row.hidden = false));
      show(more, false);
      rows[FIRST_FITS].querySelector("a").focus();
    };
  }

  /** A family's page; its links to other pages stay in the page. */
  async family(slug) {
    const page = $("family-page");
    page.replaceChildren(el("p", {}, "Loading…"));
    try {
      const text = await (await call(`/v1/catalog/families/${encodeURIComponent(slug)}`)).text();
      const link = (url) => {
        const inside = url.match(/^(?:\.\.\/)?(?:families\/)?([\w.-]+)\.md$/);
        if (inside) return { href: inside[1] === "index" ? "#catalog" : `#family/${encodeURIComponent(inside[1])}` };
        return safeLink(url);
      };
      page.replaceChildren(renderMarkdown(text, { link }));
      $("family-title").textContent = page.querySelector("h3")?.textContent || slug;
    } catch (problem) {
      const box = el("div", { class: "error", role: "alert" });
      sayProblem(box, problem instanceof Problem ? problem : explain(0));
      page.replaceChildren(box);
    }
  }
}
