// Monitor: health and its issues, recent tier events (live), and the live settings (editable by admins,
// validated by the gateway as PUT /v1/monitor/config validates them).

import { api, follow } from "./api.js";
import { h, notice, taskLink } from "./dom.js";
import { adminOnly } from "./page-gpus.js";

function eventItem(e) {
  return h(
    "li",
    { class: `tier t-${e.kind}` },
    h("strong", {}, e.kind),
    " ",
    e.task_id ? taskLink(e.task_id) : "",
    e.task_name ? ` ${e.task_name}` : "",
    `: ${e.detail}`,
  );
}

function settingsForm(config, message) {
  const area = h(
    "textarea",
    { id: "config-patch", rows: "12", spellcheck: "false", "aria-describedby": "config-help" },
    JSON.stringify(config.overrides || {}, null, 2),
  );
  const form = h(
    "form",
    {
      class: "config",
      "data-admin": "",
      onsubmit: async (e) => {
        e.preventDefault();
        let patch;
        try {
          patch = JSON.parse(area.value || "{}");
        } catch (err) {
          message.replaceChildren(notice(`Not JSON: ${err.message}`, "error"));
          return;
        }
        try {
          const saved = await api("/v1/monitor/config", { method: "PUT", body: patch });
          message.replaceChildren(notice(`Saved: version ${saved.version}.`));
          current.replaceChildren(
            JSON.stringify({ gpu_lock: saved.gpu_lock, gpu_lock_monitor: saved.gpu_lock_monitor }, null, 2),
          );
        } catch (err) {
          message.replaceChildren(notice(err.message, "error"));
        }
      },
    },
    h("label", { for: "config-patch" }, "Overrides (JSON patch of gpu_lock, gpu_lock_monitor and queueing)"),
    h(
      "p",
      { id: "config-help", class: "muted" },
      'For example {"gpu_lock_monitor": {"timeout_levels": {"warning": 900}}}. Every process picks a change up without a restart.',
    ),
    area,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save settings")),
  );
  const current = h(
    "pre",
    { class: "json" },
    JSON.stringify({ gpu_lock: config.gpu_lock, gpu_lock_monitor: config.gpu_lock_monitor, queueing: config.queueing }, null, 2),
  );
  return [form, h("details", {}, h("summary", {}, `Live settings (version ${config.version})`), current)];
}

export async function render(main, who) {
  main.append(h("h1", {}, "Monitor"));
  if (adminOnly(main, who, "The monitor view")) return;
  const [health, timeouts, config] = await Promise.all([
    api("/v1/monitor/health", { accept: [503] }),
    api("/v1/monitor/timeouts"),
    api("/v1/monitor/config"),
  ]);
  const events = h("ul", { class: "events", id: "tier-events" }, timeouts.events.map(eventItem));
  const message = h("div", { "aria-live": "polite" });
  main.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "health-h" },
      h("h2", { id: "health-h" }, "Health: ", h("span", { class: `health h-${health.status}` }, health.status)),
      h("p", {}, `${health.workers_alive} worker process(es) alive.`),
      health.issues.length
        ? h(
            "ul",
            {},
            health.issues.map((i) => h("li", { class: `issue ${i.severity}` }, `${i.severity}: ${i.detail}`)),
          )
        : h("p", { class: "muted" }, "No issues."),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "events-h" },
      h("h2", { id: "events-h" }, "Recent tier events"),
      timeouts.events.length ? null : h("p", { class: "muted", id: "no-events" }, "None yet."),
      events,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "settings-h" },
      h("h2", { id: "settings-h" }, "Settings"),
      message,
      settingsForm(config, message),
    ),
  );
  follow("/v1/events?type=tier", (type, data) => {
    if (type !== "tier") return;
    document.getElementById("no-events")?.remove();
    events.prepend(eventItem(data));
  });
}
