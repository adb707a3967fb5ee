// Workers and queues: live worker processes and their last report, running stages and their heartbeats,
// and each queue's depth and oldest wait.

import { api, follow } from "./api.js";
import { h, seconds, taskLink } from "./dom.js";
import { adminOnly } from "./page-gpus.js";

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
  const body = h("div");
  main.append(body);
  let timer = null;
  const refresh = async () => {
    clearTimeout(timer);
    const [workers, beats] = await Promise.all([api("/v1/monitor/workers"), api("/v1/monitor/heartbeats")]);
    body.replaceChildren(
      table(
        `Worker processes (seen within ${workers.heartbeat_timeout_s} s)`,
        ["Host", "PID", "Last seen"],
        workers.workers.map((w) =>
          h(
            "tr",
            { "data-worker": `${w.host}:${w.pid}` },
            h("td", {}, w.host),
            h("td", {}, w.pid),
            h("td", {}, `${seconds(w.last_seen_age_s)} ago`),
          ),
        ),
      ),
      table(
        "Queues",
        ["Queue", "Waiting", "Oldest wait"],
        workers.queues.map((q) =>
          h(
            "tr",
            { "data-queue": q.queue },
            h("td", {}, q.queue),
            h("td", {}, q.depth),
            h("td", {}, seconds(q.oldest_wait_s)),
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
  follow("/v1/events?type=worker,stage", () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 200);
  });
}
