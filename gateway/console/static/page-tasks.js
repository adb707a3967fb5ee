// Tasks: newest first, live, with filters by status and task_name and a search by task_id.

import { api, follow } from "./api.js";
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
    go,
  );
}

export async function render(main, who) {
  const params = new URLSearchParams(location.search);
  const state = { status: params.get("status") || "", task_name: params.get("task_name") || "" };
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
  const load = async () => {
    const query = new URLSearchParams({
      limit: String(LIMIT),
      ...Object.fromEntries(Object.entries(state).filter(([, v]) => v)),
    });
    const found = await api(`/v1/tasks?${query}`);
    rows.clear();
    body.replaceChildren(
      ...found.tasks.map((t) => {
        const r = row(t);
        rows.set(t.task_id, r);
        return r;
      }),
    );
    empty.hidden = found.tasks.length > 0;
  };
  main.append(
    h("h1", {}, "Tasks"),
    filters(types.task_types.map((t) => t.task_name).sort(), state, load),
    empty,
    table,
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
