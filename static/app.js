// Stateward: copy buttons, relative times, the label and file editors' rows, and the
// import form's size check (so that an oversized paste is refused before it is sent,
// with the text still in place). Nothing else.
"use strict";
document.addEventListener("click", (e) => {
  const copy = e.target.closest("[data-copy]");
  if (copy) {
    const was = copy.textContent;
    navigator.clipboard.writeText(copy.dataset.copy).then(
      () => { copy.textContent = "Copied"; },
      () => { copy.textContent = "Copy failed"; });
    setTimeout(() => { copy.textContent = was; }, 1500);
  }
  const add = e.target.closest("[data-add-row]");
  if (add) {
    const row = document.getElementById(add.dataset.template).content.cloneNode(true);
    const first = row.querySelector("input, textarea");
    document.getElementById(add.dataset.addRow).append(row);
    first?.focus();
  }
  const remove = e.target.closest("[data-remove-row]");
  if (remove) {
    const form = remove.form;
    remove.parentElement.remove();
    form?.dispatchEvent(new Event("change", { bubbles: true }));
  }
});

function ago(date) {
  const s = Math.round((Date.now() - date) / 1000), a = Math.abs(s);
  const [n, unit] = a < 45 ? [0, ""] : a < 3600 ? [Math.round(a / 60), "min"]
    : a < 86400 ? [Math.round(a / 3600), "h"] : [Math.round(a / 86400), "d"];
  if (!unit) return "just now";
  if (unit === "d" && n > 30) return date.toLocaleDateString();
  return s >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

function relTimes(root) {
  root.querySelectorAll?.("time[datetime]").forEach((t) => {
    const d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) return;
    t.textContent = ago(d);
    t.title = d.toLocaleString();
  });
}
document.addEventListener("DOMContentLoaded", () => relTimes(document));
document.addEventListener("htmx:load", (e) => relTimes(e.detail.elt));
setInterval(() => relTimes(document), 30000);

document.addEventListener("submit", (e) => {
  const form = e.target.closest("form[data-max-bytes]");
  if (!form) return;
  const max = Number(form.dataset.maxBytes);
  const file = form.querySelector("input[type=file]")?.files?.[0];
  const size = file ? file.size : new Blob([form.querySelector("textarea")?.value ?? ""]).size;
  const slot = form.querySelector("[data-size-error]");
  if (size <= max) { if (slot) slot.hidden = true; return; }
  e.preventDefault();
  if (slot) {
    slot.textContent = `This ${file ? "file" : "text"} is ${(size / 1048576).toFixed(1)} MiB, ${form.dataset.limitText}`;
    slot.hidden = false;
  }
});
