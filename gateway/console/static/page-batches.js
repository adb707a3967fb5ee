// Batches: the recent ones with their counts, and one batch with its items, live; cancel the rest of a batch.

import { api, follow } from "./api.js";
import { STATUSES, ago, badge, h, notice, progressBar, taskLink, when } from "./dom.js";

const PAGE = 100;

function counts(batch) {
  return h(
    "ul",
    { class: "counts", "aria-label": "Items by status" },
    STATUSES.map((s) => h("li", { "data-count": s }, badge(s), " ", String(batch.counts[s] || 0))),
  );
}

function batchLink(id) {
  return h("a", { href: `/ui/batches/${encodeURIComponent(id)}` }, id);
}

function listRow(batch) {
  return h(
    "tr",
    { "data-batch-id": batch.batch_id, "data-status": batch.status },
    h("td", { class: "id" }, batchLink(batch.batch_id)),
    h("td", {}, batch.task_name),
    h("td", {}, badge(batch.status)),
    h("td", { class: "prog" }, progressBar(batch.ended / batch.size, `Items ended in ${batch.batch_id}`)),
    h("td", {}, `${batch.ended} / ${batch.size}`),
    h("td", {}, ago(batch.created_at)),
  );
}

export async function renderList(main) {
  const body = h("tbody");
  const table = h(
    "table",
    { class: "list", id: "batches" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Batch", "Task", "Status", "Progress", "Ended", "Created"].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    body,
  );
  main.append(h("h1", {}, "Batches"), h("div", { class: "table-wrap" }, table));
  const load = async () => {
    const found = await api("/v1/batches?limit=100");
    body.replaceChildren(...found.batches.map(listRow));
    if (!found.batches.length) body.append(h("tr", {}, h("td", { colspan: "6", class: "muted" }, "No batches yet.")));
  };
  await load();
  let pending = null;
  follow("/v1/events?type=batch,stage", () => {
    clearTimeout(pending);
    pending = setTimeout(load, 300);
  });
}

function itemRow(item) {
  return h(
    "tr",
    { "data-task-id": item.task_id, "data-status": item.status },
    h("td", {}, String(item.index)),
    h("td", { class: "id" }, taskLink(item.task_id)),
    h("td", {}, badge(item.status)),
  );
}

export async function renderOne(main, who, id) {
  const head = h("div", { class: "task-head" });
  const message = h("div", { "aria-live": "polite" });
  const items = h("tbody");
  const more = h("button", { type: "button", id: "more-items" }, "More items");
  let shown = PAGE;
  main.append(
    h("h1", {}, "Batch ", h("code", {}, id)),
    head,
    message,
    h(
      "section",
      { class: "card", "aria-labelledby": "items-title" },
      h("h2", { id: "items-title" }, "Items"),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "list", id: "items" },
          h("thead", {}, h("tr", {}, ["#", "Task", "Status"].map((t) => h("th", { scope: "col" }, t)))),
          items,
        ),
      ),
      more,
    ),
  );
  const url = () => `/v1/batches/${encodeURIComponent(id)}?limit=${Math.min(shown, 500)}`;
  const paint = (batch) => {
    const cancel = h(
      "button",
      {
        type: "button",
        id: "cancel",
        class: "danger",
        onclick: async () => {
          cancel.disabled = true;
          try {
            paint(await api(`/v1/batches/${encodeURIComponent(id)}/cancel`, { method: "POST" }));
            message.replaceChildren(notice("Asked every item not yet ended to stop."));
          } catch (err) {
            message.replaceChildren(notice(err.message, "error"));
            cancel.disabled = false;
          }
        },
      },
      "Cancel the batch",
    );
    const callback = batch.callback_status;
    head.replaceChildren(
      h("p", {}, badge(batch.status), " ", h("span", { class: "muted" }, `${batch.task_name}, ${batch.size} items`)),
      progressBar(batch.ended / batch.size, "Items ended"),
      counts(batch),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Created"),
        h("dd", {}, when(batch.created_at)),
        batch.completed_at ? [h("dt", {}, "Completed"), h("dd", {}, when(batch.completed_at))] : null,
        batch.callback ? [h("dt", {}, "Callback"), h("dd", {}, callback ? callback.state : "not sent yet")] : null,
      ),
      h("div", { class: "actions" }, batch.status === "COMPLETED" ? null : cancel),
    );
    items.replaceChildren(...batch.items.map(itemRow));
    more.hidden = batch.next_offset === null || shown >= 500;
  };
  more.addEventListener("click", async () => {
    shown += PAGE;
    paint(await api(url()));
  });
  try {
    paint(await api(url()));
  } catch (err) {
    main.append(notice(err.status === 404 ? `No batch ${id}.` : err.message, "error"));
    return;
  }
  let pending = null;
  const prefix = `${id}-`;
  follow("/v1/events?type=batch,stage", (type, data) => {
    if (type === "batch" ? data.batch_id !== id : !String(data.task_id || "").startsWith(prefix)) return;
    clearTimeout(pending);
    pending = setTimeout(async () => paint(await api(url())), 200);
  });
}
