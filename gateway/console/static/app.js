// The console's entry: who is calling (the key's scope), then the page the path names.

import { api, auth, ApiError } from "./api.js";
import { notice } from "./dom.js";
import * as tasks from "./page-tasks.js";
import * as task from "./page-task.js";
import * as gpus from "./page-gpus.js";
import * as workers from "./page-workers.js";
import * as monitor from "./page-monitor.js";
import * as submit from "./page-submit.js";
import * as audit from "./page-audit.js";
import * as batches from "./page-batches.js";
import * as keyPage from "./page-keys.js";

function route(path) {
  const m = path.match(/^\/ui\/tasks\/(.+)$/);
  if (m) return ["tasks", (main, who) => task.render(main, who, decodeURIComponent(m[1]))];
  const b = path.match(/^\/ui\/batches\/(.+)$/);
  if (b) return ["batches", (main, who) => batches.renderOne(main, who, decodeURIComponent(b[1]))];
  if (/^\/ui\/batches\/?$/.test(path)) return ["batches", (main) => batches.renderList(main)];
  const pages = { gpus, workers, monitor, submit, audit, keys: keyPage };
  const name = path.replace(/^\/ui\/?/, "").replace(/\/$/, "");
  if (pages[name]) return [name, (main, who) => pages[name].render(main, who)];
  return ["tasks", (main, who) => tasks.render(main, who)];
}

const dialog = document.getElementById("key-dialog");

function askKey(message) {
  document.getElementById("key-error").textContent = message || "";
  document.getElementById("key-input").value = "";
  if (!dialog.open) dialog.showModal();
}

async function whoami() {
  try {
    return await api("/v1/whoami");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

async function start() {
  const main = document.getElementById("main");
  const [page, render] = route(location.pathname);
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
  }
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    auth.set(document.getElementById("key-input").value.trim());
    location.reload();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    auth.set(null);
    location.reload();
  });
  document.getElementById("key-button").addEventListener("click", () => askKey());
  auth.onUnauthorized = () => askKey(auth.key ? "That key was refused." : "");
  const who = await whoami();
  main.replaceChildren();
  if (who === null) {
    main.append(notice("An API key is needed to see this gateway's data.", "info"));
    askKey(auth.key ? "That key was refused." : "");
    return;
  }
  document.getElementById("who").textContent = who.auth_enabled ? `${who.name} (${who.admin ? "admin" : "user"})` : "";
  document.body.classList.toggle("admin", who.admin);
  await render(main, who);
}

start().catch((err) => {
  document.getElementById("main").replaceChildren(notice(`The console could not load: ${err.message}`, "error"));
});
