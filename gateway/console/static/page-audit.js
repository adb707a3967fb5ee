// Audit log: who did which admin action, when, from where; filtered by key and action, paged back in time.

import { api } from "./api.js";
import { h, taskLink, when } from "./dom.js";
import { adminOnly } from "./page-gpus.js";

function row(e) {
  const target = e.target.task_id ? taskLink(e.target.task_id) : Object.values(e.target).join(" ");
  return h(
    "tr",
    { "data-audit-id": e.id },
    h("td", {}, when(new Date(e.at_ms).toISOString())),
    h("td", {}, e.actor),
    h("td", {}, e.action),
    h("td", {}, target),
    h("td", {}, e.status),
    h("td", {}, e.remote),
    h("td", { class: "mono" }, e.request_id),
  );
}

function field(label, name) {
  return h("label", {}, label, " ", h("input", { name, type: "text", autocomplete: "off", size: 16 }));
}

export async function render(main, who) {
  main.append(h("h1", {}, "Audit log"));
  if (adminOnly(main, who, "The audit log")) return;
  const form = h(
    "form",
    { class: "filters", role: "search" },
    field("Key", "actor"),
    field("Action", "action"),
    h("button", { type: "submit" }, "Filter"),
  );
  const rows = h("tbody", { id: "audit-rows" });
  const more = h("button", { type: "button", hidden: true }, "Older");
  let cursor = null;
  const load = async (reset) => {
    const query = new URLSearchParams({ limit: "50" });
    for (const name of ["actor", "action"]) {
      const value = form.elements[name].value.trim();
      if (value) query.set(name, value);
    }
    if (!reset && cursor) query.set("cursor", cursor);
    const page = await api(`/v1/audit?${query}`);
    if (reset) rows.replaceChildren();
    rows.append(...page.entries.map(row));
    cursor = page.next_cursor;
    more.hidden = cursor === null;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  const head = ["When", "Key", "Action", "Target", "Status", "From", "Request id"];
  main.append(
    form,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("caption", {}, "Admin actions, newest first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            head.map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        rows,
      ),
    ),
    more,
  );
  await load(true);
}
