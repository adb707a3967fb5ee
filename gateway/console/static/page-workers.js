// Workers and queues: live worker processes and their last report, running stages and their heartbeats,
// and each queue's depth by priority and oldest wait; pause/resume a queue, drain/undrain a worker host.

import { api, follow } from "./api.js";
import { h, notice, seconds, taskLink } from "./dom.js";
import { adminOnly } from "./page-gpus.js";

// A button that POSTs `path` and refreshes the page; what happened (or the error) goes to `message`.
function action(label, path, describe, refresh, message) {
  return h(
    "button",
    {
      type: "button",
      "data-admin": "",
      "aria-label": describe,
      onclick: async () => {
        try {
          await api(path, { method: "POST" });
          message.replaceChildren(notice(`${describe}: done.`));
        } catch (err) {
          message.replaceChildren(notice(err.message, "error"));
        }
        refresh();
      },
    },
    label,
  );
}

function byPriority(q) {
  const p = q.queued_by_priority || {};
  return `high ${p.high ?? 0} · normal ${p.normal ?? 0} · low ${p.low ?? 0} · put back ${p.put_back ?? 0}`;
}

function table(caption, head, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

export async function render(main, who) {
  main.append(h("h1", {}, "Workers and queues"));
  if (adminOnly(main, who, "The workers view")) return;
  const message = h("div", { role: "status" });
  const body = h("div");
  main.append(message, body);
  let timer = null;
  const refresh = async () => {
    clearTimeout(timer);
    const [workers, beats] = await Promise.all([api("/v1/monitor/workers"), api("/v1/monitor/heartbeats")]);
    body.replaceChildren(
      table(
        `Worker processes (seen within ${workers.heartbeat_timeout_s} s)`,
        ["Host", "PID", "Last seen", "State", ""],
        workers.workers.map((w) =>
          h(
            "tr",
            { "data-worker": `${w.host}:${w.pid}` },
            h("td", {}, w.host),
            h("td", {}, w.pid),
            h("td", {}, `${seconds(w.last_seen_age_s)} ago`),
            h("td", {}, w.drained ? "drained (takes nothing new)" : "taking work"),
            h(
              "td",
              {},
              w.drained
                ? action("Undrain", `/v1/workers/${encodeURIComponent(w.host)}/undrain`, `Undrain host ${w.host}`, refresh, message)
                : action("Drain", `/v1/workers/${encodeURIComponent(w.host)}/drain`, `Drain host ${w.host}`, refresh, message),
            ),
          ),
        ),
      ),
      table(
        "Queues",
        ["Queue", "Waiting", "By priority", "Oldest wait", "State", ""],
        workers.queues.map((q) =>
          h(
            "tr",
            { "data-queue": q.queue },
            h("td", {}, q.queue),
            h("td", {}, q.depth),
            h("td", {}, byPriority(q)),
            h("td", {}, seconds(q.oldest_wait_s)),
            h("td", {}, q.paused ? "paused" : "running"),
            h(
              "td",
              {},
              q.paused
                ? action("Resume", `/v1/queues/${encodeURIComponent(q.queue)}/resume`, `Resume queue ${q.queue}`, refresh, message)
                : action("Pause", `/v1/queues/${encodeURIComponent(q.queue)}/pause`, `Pause queue ${q.queue}`, refresh, message),
            ),
          ),
        ),
      ),
      table(
        `Running stages (heartbeat every ${beats.interval_s} s)`,
        ["Task", "Name", "Worker", "Running for", "Last heartbeat", "Progress", "State"],
        [...beats.alive.map((r) => [r, "alive"]), ...beats.dead.map((r) => [r, "no heartbeat"])].map(([r, state]) =>
          h(
            "tr",
            {},
            h("td", {}, taskLink(r.task_id)),
            h("td", {}, r.task_name),
            h("td", {}, `${r.host}:${r.pid}`),
            h("td", {}, seconds(r.run_time_s)),
            h("td", {}, r.last_heartbeat_age_s === null ? "" : `${seconds(r.last_heartbeat_age_s)} ago`),
            h("td", {}, r.progress === null ? "" : `${Math.round(r.progress * 100)}%`),
            h("td", {}, state),
          ),
        ),
      ),
    );
    timer = setTimeout(refresh, 5000);
  };
  await refresh();
  let pending = null;
  follow("/v1/events?type=worker,stage,queue", () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 200);
  });
}
