// GPUs: per device its memory as a bar (holders, free, reserve), the holders (task, host, pid, since, TTL left,
// amount, fencing token), the waiters in order with their waits, and a Gantt chart of the last hour's holders
// and waits; the footprints tasks declared and used; force release for admins. Live: lease events refresh the
// view and feed the timeline (replayed from an hour ago on opening); TTLs tick down between them.

import { api, follow } from "./api.js";
import { h, notice, seconds, taskLink, when } from "./dom.js";
import { footprints, gantt, HOUR_MS, memoryBar, Timeline } from "./gpu-memory.js";

export function adminOnly(main, who, what) {
  if (who.admin) return false;
  main.append(notice(`${what} reads the monitor's admin endpoints: this needs a key with the admin scope.`, "info"));
  return true;
}

function holderRow(device, holder, refresh, message) {
  const release = h(
    "button",
    {
      type: "button",
      class: "danger",
      "data-admin": "",
      "aria-label": `Force release the lease of ${holder.task_id} (fencing token ${holder.fencing_token})`,
      onclick: async () => {
        if (!confirm(`Force release device ${device}'s lease held by ${holder.task_id}?`)) return;
        try {
          await api(`/v1/monitor/gpu-locks/${device}/release`, {
            method: "POST",
            body: { fencing_token: holder.fencing_token, reason: "released from the console" },
          });
          message.replaceChildren(notice(`Released fencing token ${holder.fencing_token}.`));
        } catch (err) {
          message.replaceChildren(notice(err.message, "error"));
        }
        refresh();
      },
    },
    "Force release",
  );
  return h(
    "tr",
    { "data-fencing": holder.fencing_token },
    h("td", {}, taskLink(holder.task_id)),
    h("td", {}, holder.task_name),
    h("td", {}, `${holder.host}:${holder.pid}`),
    h("td", {}, when(holder.since)),
    h("td", { class: "ttl" }, seconds(holder.ttl_left_s)),
    h("td", { class: "amount" }, holder.amount),
    h("td", {}, holder.fencing_token),
    h("td", {}, release),
  );
}

function device(d, refresh, message, timeline) {
  const holders = d.holders.length
    ? h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", {}, "Holders"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Task", "Name", "Worker", "Since", "TTL left", d.by_memory ? "MiB" : "Slots", "Fencing token", ""].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            d.holders.map((x) => holderRow(d.device, x, refresh, message)),
          ),
        ),
      )
    : h("p", { class: "muted" }, "Free.");
  const waiting = d.waiting.length
    ? [
        h("h3", {}, "Waiting, in order"),
        h(
          "ol",
          { class: "waiters" },
          d.waiting.map((w) =>
            h(
              "li",
              { "data-task-id": w.task_id },
              taskLink(w.task_id),
              ` ${w.task_name} on ${w.host}:${w.pid}, ` +
                (d.by_memory ? `asking ${w.amount} MiB, ` : "") +
                `waiting ${seconds(w.waited_s)}`,
            ),
          ),
        ),
      ]
    : h("p", { class: "muted" }, "Nobody waiting.");
  return h(
    "section",
    { class: "card device", "data-device": d.device, "aria-labelledby": `dev-${d.device}` },
    h(
      "h2",
      { id: `dev-${d.device}` },
      `GPU ${d.device}`,
      " ",
      h(
        "span",
        { class: "muted" },
        d.by_memory ? `${d.held}/${d.capacity} MiB held` : `${d.holders.length}/${d.capacity} held`,
      ),
    ),
    memoryBar(d),
    holders,
    waiting,
    gantt(timeline, d.device, Date.now()),
  );
}

export async function render(main, who) {
  main.append(h("h1", {}, "GPUs"));
  if (adminOnly(main, who, "The GPU view")) return;
  const message = h("div", { "aria-live": "polite" });
  const list = h("div", { class: "devices" });
  const recent = h("div");
  const used = h("div");
  main.append(message, list, used, recent);
  const timeline = new Timeline();
  let timer = null;
  const refresh = async () => {
    clearTimeout(timer);
    const view = await api("/v1/monitor/gpu-locks");
    list.replaceChildren(...view.devices.map((d) => device(d, refresh, message, timeline)));
    used.replaceChildren(...footprints(view.footprints || []));
    recent.replaceChildren(
      ...(view.force_releases.length
        ? [
            h("h2", {}, "Recent force releases"),
            h(
              "ul",
              {},
              view.force_releases.map((r) =>
                h("li", {}, `GPU ${r.device}, token ${r.fencing_token}, ${r.task_id || ""}: ${r.reason}`),
              ),
            ),
          ]
        : []),
    );
    timer = setTimeout(refresh, 5000);
  };
  await refresh();
  let pending = null;
  follow(`/v1/events?type=lease&last_event_id=${Date.now() - HOUR_MS}-0`, (type, data) => {
    if (type === "lease") timeline.add(data);
    clearTimeout(pending);
    pending = setTimeout(refresh, 50);
  });
}
