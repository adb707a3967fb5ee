// Small DOM helpers: element building, formatting of times, statuses and progress.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const TERMINAL = new Set(["SUCCESS", "FAILED", "CANCELLED"]);
export const STATUSES = ["SCHEDULED", "PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"];

export function badge(status) {
  return h("span", { class: `badge s-${String(status).toLowerCase()}`, "data-status": status }, status);
}

// A stage's progress as shown: done is 100%, a running stage without a report is indeterminate.
export function shownProgress(status, progress) {
  if (status === "SUCCESS") return 1;
  if (progress !== null && progress !== undefined) return progress;
  return status === "RUNNING" ? null : 0;
}

export function progressBar(fraction, label) {
  const value = fraction === null || fraction === undefined ? null : Math.max(0, Math.min(1, fraction));
  const bar = h("progress", { max: "1", "aria-label": label || "Progress" });
  if (value !== null) bar.value = value;
  return h(
    "span",
    { class: "progress" },
    bar,
    h("span", { class: "pct" }, value === null ? "" : `${Math.round(value * 100)}%`),
  );
}

export function setProgress(holder, fraction) {
  const bar = holder.querySelector("progress");
  const pct = holder.querySelector(".pct");
  if (!bar || fraction === null || fraction === undefined) return;
  bar.value = fraction;
  pct.textContent = `${Math.round(fraction * 100)}%`;
}

export function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

export function when(iso) {
  return iso ? h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString()) : "";
}

export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

export function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function taskLink(id) {
  return h("a", { href: `/ui/tasks/${encodeURIComponent(id)}` }, id);
}
