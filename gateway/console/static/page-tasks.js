// Tasks: newest first, live, with filters (status, task, key, tenant, label, error type), older pages by cursor,
// a search by task_id and, for admin keys, a bulk bar that retries or cancels what the filter matches.

import { api, follow } from "./api.js";
import { bulkBar } from "./page-bulk.js";
import {
  STATUSES,
  TERMINAL,
  ago,
  badge,
  h,
  notice,
  progressBar,
  seconds,
  setProgress,
  shownProgress,
  taskLink,
} from "./dom.js";

const LIMIT = 100;
const TEXT_FILTERS = [
  ["key", "Key", "API key name"],
  ["tenant", "Tenant", "tenant"],
  ["label", "Label", "name:value"],
  ["error_type", "Error", "error type"],
];
// Filters the live feed cannot check from an event: with any of them set, only the listed rows are refreshed.
const FACETS = TEXT_FILTERS.map(([name]) => name);

function row(task) {
  return h(
    "tr",
    { "data-task-id": task.task_id, "data-status": task.status },
    h("td", { class: "id" }, taskLink(task.task_id)),
    h("td", {}, task.task_name),
    h("td", { class: "status" }, badge(task.status)),
    h("td", { class: "prog" }, progressBar(shownProgress(task.status, task.progress), `Progress of ${task.task_id}`)),
    h("td", { class: "age", "data-created": task.created_at || "" }, ago(task.created_at)),
    h("td", { class: "dur" }, seconds(task.duration_s)),
  );
}

function filters(names, state, reload) {
  const status = h(
    "select",
    { id: "f-status", name: "status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const name = h(
    "select",
    { id: "f-task-name", name: "task_name" },
    h("option", { value: "" }, "any task"),
    names.map((n) => h("option", { value: n }, n)),
  );
  status.value = state.status;
  name.value = state.task_name;
  const change = () => {
    state.status = status.value;
    state.task_name = name.value;
    const query = new URLSearchParams(Object.entries(state).filter(([, v]) => v));
    history.replaceState(null, "", query.size ? `/?${query}` : "/");
    reload();
  };
  status.addEventListener("change", change);
  name.addEventListener("change", change);
  const texts = TEXT_FILTERS.map(([key, label, hint]) => {
    const input = h("input", { id: `f-${key}`, name: key, type: "text", placeholder: hint, size: 12, autocomplete: "off" });
    input.value = state[key];
    return [key, label, input];
  });
  const facets = h(
    "form",
    {
      class: "facets",
      onsubmit: (e) => {
        e.preventDefault();
        for (const [key, , input] of texts) state[key] = input.value.trim();
        change();
      },
    },
    texts.flatMap(([key, label, input]) => [h("label", { for: `f-${key}` }, label), input]),
    h("button", { type: "submit" }, "Filter"),
  );
  const search = h("input", { id: "f-search", type: "search", placeholder: "task_id", autocomplete: "off" });
  const go = h(
    "form",
    {
      class: "search",
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        if (search.value.trim()) location.href = `/ui/tasks/${encodeURIComponent(search.value.trim())}`;
      },
    },
    h("label", { for: "f-search" }, "Find a task"),
    search,
    h("button", { type: "submit" }, "Open"),
  );
  return h(
    "div",
    { class: "filters" },
    h("label", { for: "f-status" }, "Status"),
    status,
    h("label", { for: "f-task-name" }, "Task"),
    name,
    facets,
    go,
  );
}

export async function render(main, who) {
  const params = new URLSearchParams(location.search);
  const state = { status: params.get("status") || "", task_name: params.get("task_name") || "" };
  for (const key of FACETS) state[key] = params.get(key) || "";
  const types = await api("/v1/task-types");
  const body = h("tbody", { id: "task-rows" });
  const empty = notice("No tasks yet.", "info");
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "tasks" },
      h("caption", { class: "sr-only" }, "Recent tasks, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Task", "Name", "Status", "Progress", "Age", "Duration"].map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      body,
    ),
  );
  const rows = new Map();
  const older = h("button", { type: "button", id: "older", hidden: true }, "Older");
  let cursor = null;
  const load = async (more = false) => {
    const query = new URLSearchParams({
      limit: String(LIMIT),
      ...Object.fromEntries(Object.entries(state).filter(([, v]) => v)),
    });
    if (more && cursor) query.set("cursor", cursor);
    let found;
    try {
      found = await api(`/v1/tasks?${query}`);
    } catch (err) {
      empty.textContent = err.message;
      empty.hidden = false;
      return;
    }
    if (!more) {
      rows.clear();
      body.replaceChildren();
    }
    for (const t of found.tasks) {
      const r = row(t);
      rows.set(t.task_id, r);
      body.append(r);
    }
    cursor = found.next_cursor;
    older.hidden = cursor === null;
    empty.textContent = "No tasks match.";
    empty.hidden = rows.size > 0;
  };
  older.addEventListener("click", () => load(true));
  main.append(
    h("h1", {}, "Tasks"),
    filters(types.task_types.map((t) => t.task_name).sort(), state, () => load()),
    who.admin ? bulkBar(state, () => load()) : "",
    empty,
    table,
    older,
  );
  await load();
  const refresh = async (id) => {
    const task = await api(`/v1/tasks/${encodeURIComponent(id)}`).catch(() => null);
    if (!task) return;
    const latest = task.stages[task.task_name] || {};
    const fresh = row({ ...task, progress: latest.progress, duration_s: latest.duration_s });
    const old = rows.get(id);
    if (state.status && task.status !== state.status) {
      if (old) {
        old.remove();
        rows.delete(id);
      }
      return;
    }
    if (state.task_name && !(state.task_name in task.stages)) return;
    if (!old && FACETS.some((key) => state[key])) return; // a new task may not match: the next load shows it
    if (old) old.replaceWith(fresh);
    else body.prepend(fresh);
    rows.set(id, fresh);
    empty.hidden = true;
  };
  follow("/v1/events?type=stage,progress", (type, data) => {
    if (type === "progress") {
      const r = rows.get(data.task_id);
      if (r) setProgress(r.querySelector(".prog"), data.progress);
    } else if (type === "stage") {
      const r = rows.get(data.task_id);
      if (r && !TERMINAL.has(data.status) && data.status !== "PENDING" && data.status !== "SCHEDULED") {
        r.querySelector(".status").replaceChildren(badge(data.status));
        r.dataset.status = data.status;
        if (state.status && state.status !== data.status) {
          r.remove();
          rows.delete(data.task_id);
        }
      } else {
        refresh(data.task_id);
      }
    } else if (type === "gap" || type === "overflow") {
      load();
    }
  });
  setInterval(() => {
    for (const cell of body.querySelectorAll("td.age")) cell.textContent = ago(cell.dataset.created);
  }, 5000);
}
