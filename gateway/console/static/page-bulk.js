// The task list's bulk bar (admin keys): retry or cancel every task the list's filter matches, after a dry run
// that counts them. POST /v1/tasks/retry and /v1/tasks/cancel with the same filter as the list.

import { api } from "./api.js";
import { h } from "./dom.js";

const VERBS = { retry: ["Retry", "retried"], cancel: ["Cancel", "cancelled"] };

// The list's filter as a bulk body: the query's names, labels as a map.
export function bulkFilter(state) {
  const body = {};
  for (const name of ["status", "task_name", "key", "tenant", "error_type"]) {
    if (state[name]) body[name] = state[name];
  }
  if (state.label) {
    const [name, ...rest] = state.label.split(":");
    body.labels = { [name]: rest.join(":") };
  }
  return body;
}

export function bulkBar(state, reload) {
  const message = h("span", { id: "bulk-message", "aria-live": "polite" });
  const confirm = h("button", { type: "button", id: "bulk-confirm", hidden: true }, "Confirm");
  let pending = null;
  const failed = (err) => {
    message.textContent = err.detail || err.message;
    confirm.hidden = true;
  };
  const dry = async (action) => {
    const body = bulkFilter(state);
    if (!Object.keys(body).length) {
      failed(new Error("Pick a filter first: a bulk action never applies to every task."));
      return;
    }
    const [verb, done] = VERBS[action];
    try {
      const found = await api(`/v1/tasks/${action}`, { method: "POST", body: { ...body, dry_run: true } });
      message.textContent = `${found.count} of ${found.matched} matching tasks would be ${done}.`;
      pending = found.count ? { action, body } : null;
      confirm.textContent = `${verb} ${found.count}`;
      confirm.hidden = !pending;
    } catch (err) {
      failed(err);
    }
  };
  confirm.addEventListener("click", async () => {
    if (!pending) return;
    const { action, body } = pending;
    pending = null;
    confirm.hidden = true;
    try {
      const result = await api(`/v1/tasks/${action}`, { method: "POST", body });
      message.textContent = `${result.count} tasks ${VERBS[action][1]} (${result.skipped} left as they were).`;
      reload();
    } catch (err) {
      failed(err);
    }
  });
  return h(
    "div",
    { class: "filters bulk", role: "group", "aria-label": "Bulk actions on the matching tasks" },
    h("button", { type: "button", id: "bulk-retry", onclick: () => dry("retry") }, "Retry matching…"),
    h("button", { type: "button", id: "bulk-cancel", onclick: () => dry("cancel") }, "Cancel matching…"),
    confirm,
    message,
  );
}
