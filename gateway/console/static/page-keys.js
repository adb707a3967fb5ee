// API keys: each key's limits (from the settings file or set at run time) and its queued and running stages;
// admins replace a key's limits (PUT /v1/keys/{name}/limits) or go back to the file's (DELETE).

import { api } from "./api.js";
import { h, notice } from "./dom.js";
import { adminOnly } from "./page-gpus.js";

function counts(c) {
  const per = Object.entries(c.per_task).map(([name, n]) => `${name}: ${n.queued} queued, ${n.running} running`);
  const detail = per.length ? h("div", { class: "muted" }, per.join("; ")) : null;
  return h("div", { class: "counts" }, `${c.queued} queued, ${c.running} running`, detail);
}

function keyCard(key, reload) {
  const id = `limits-${key.name}`;
  const message = h("div", { "aria-live": "polite" });
  const area = h("textarea", { id, rows: "5", spellcheck: "false" }, JSON.stringify(key.limits || {}, null, 2));
  const call = async (method, body) => {
    try {
      await api(`/v1/keys/${encodeURIComponent(key.name)}/limits`, { method, body });
      await reload();
    } catch (err) {
      const where = (err.problem?.errors || []).map((x) => x.pointer).join(", ");
      message.replaceChildren(notice(`${err.message}${where ? ` (${where})` : ""}`, "error"));
    }
  };
  const form = h(
    "form",
    {
      class: "config",
      onsubmit: (e) => {
        e.preventDefault();
        let body;
        try {
          body = JSON.parse(area.value || "{}");
        } catch (err) {
          message.replaceChildren(notice(`The limits do not parse: ${err.message}`, "error"));
          return;
        }
        call("PUT", body);
      },
    },
    h("label", { for: id }, `Limits of ${key.name}`),
    area,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Save limits"),
      h("button", { type: "button", onclick: () => call("DELETE") }, "Use the settings file's"),
    ),
  );
  const from = key.limits_source === "runtime" ? "run time" : "the settings file";
  const source = key.limits_source ? `limits from ${from}` : "no limits";
  return h(
    "section",
    { class: "card", "data-key": key.name, "aria-labelledby": `key-${key.name}` },
    h(
      "h2",
      { id: `key-${key.name}` },
      key.name,
      " ",
      h("span", { class: "muted" }, `(${key.scopes.join(", ")}; ${source})`),
    ),
    counts(key.counts),
    message,
    form,
  );
}

export async function render(main, who) {
  main.append(h("h1", {}, "API keys"));
  if (adminOnly(main, who, "The keys page")) return;
  const list = h("div", { id: "key-cards" });
  const reload = async () => {
    const data = await api("/v1/keys");
    const none = [notice("No API keys are configured: nothing is limited.")];
    list.replaceChildren(...(data.keys.length ? data.keys.map((k) => keyCard(k, reload)) : none));
  };
  main.append(
    h(
      "p",
      { class: "muted" },
      'Limits: {"max_queued": 100, "max_running": 10, "submits_per_minute": 600, "per_task": {"TASK_NAME": ' +
        "{...}}}; a submit past one gets 429 with Retry-After. A change applies to the next submit.",
    ),
    list,
  );
  await reload();
}
