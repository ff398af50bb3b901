// The operator page: refreshes its tables from the admin JSON endpoints every few seconds
// (?refresh=<ms> to change it), and sends the test publish. No framework, no build step.
(() => {
  "use strict";
  const words = JSON.parse(document.getElementById("admin-words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const lang = document.documentElement.lang || "fr";
  const asked = Number(new URLSearchParams(location.search).get("refresh"));
  const every = Number.isFinite(asked) && asked >= 200 ? Math.min(asked, 60000) : 3000;
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  }

  function when(iso, options) {
    if (!iso) return "";
    const date = new Date(iso);
    const text = options ? date.toLocaleTimeString(lang, options) : date.toLocaleString(lang);
    return el("time", { datetime: iso }, text);
  }

  function fill(body, rows, columns) {
    body.replaceChildren(...(rows.length ? rows : [
      el("tr", { class: "empty" }, el("td", { colspan: columns }, words.none)),
    ]));
  }

  function showConnections(data) {
    fill($("connections-body"), data.tenants.map((row) =>
      el("tr", { "data-testid": "tenant-row", "data-tenant": row.tenantId },
        el("td", {}, row.tenantId),
        el("td", { class: "num", "data-testid": "tenant-count" }, row.connections))), 2);
    document.querySelector('[data-testid="connections-total"]').textContent = data.total;
    $("nodes-list").replaceChildren(...data.nodes.map((node) =>
      el("li", { "data-testid": "node-row", "data-node": node.id }, el("code", {}, node.id),
        node.self ? ` (${words.this_node})` : "", ` — ${node.connections}`)));
  }

  function showPublishes(data) {
    const prefix = data.capped ? `${words.capped} ` : "";
    document.querySelector('[data-testid="publishes-last-minute"]').textContent =
      prefix + data.lastMinute;
    fill($("publishes-body"), data.minutes.map((row) =>
      el("tr", {}, el("td", {}, when(row.minute, { hour: "2-digit", minute: "2-digit" })), el("td", { class: "num" }, row.count))), 2);
  }

  function showNotifications(data) {
    fill($("notifications-body"), data.items.map((item) =>
      el("tr", { "data-testid": "notification-row", "data-id": item.id },
        el("td", {}, when(item.acceptedAt)),
        el("td", {}, item.event),
        el("td", {}, `${item.tenantId || "*"} / ${item.userId || words.everyone}`),
        el("td", {}, item.summary),
        el("td", {}, ...(item.deliveries.length ? item.deliveries.map((d) =>
          el("div", { class: "delivery" },
            `${d.channel} → ${d.userId}: ${d.status}${d.detail ? ` (${d.detail})` : ""}`))
          : [el("span", { class: "muted" }, words.no_deliveries)])))), 5);
  }

  function showJobs(data) {
    for (const status of ["pending", "failed"]) {
      fill($(`jobs-${status}-body`), data[status].map((job) =>
        el("tr", { "data-testid": "job-row" },
          el("td", {}, when(job.runAt)), el("td", {}, job.kind), el("td", {}, job.tenantId || ""),
          el("td", { class: "num" }, job.attempts), el("td", {}, job.lastError || ""),
          el("td", {}, el("code", {}, job.key)))), 6);
    }
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (response.status === 401) {
      location.assign(`/admin?lang=${lang}`); // the session ended: sign in again
      throw new Error("signed out");
    }
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  let running = false;
  async function refresh() {
    if (running) return;
    running = true;
    try {
      const [connections, publishes, notifications, jobs] = await Promise.all([
        getJson("/admin/api/connections"), getJson("/admin/api/publishes"),
        getJson("/admin/api/notifications"), getJson("/admin/api/jobs"),
      ]);
      showConnections(connections);
      showPublishes(publishes);
      showNotifications(notifications);
      showJobs(jobs);
      $("refresh-status").textContent = `${words.refreshed} ${new Date().toLocaleTimeString(lang)}`;
      document.body.dataset.refreshed = String(Date.now());
    } catch (error) {
      $("refresh-status").textContent = `${words.refresh_failed}: ${error.message}`;
    } finally {
      running = false;
    }
  }

  $("publish-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = Object.fromEntries([...form.entries()].filter(([, v]) => v !== ""));
    const result = $("publish-result");
    result.className = "";
    result.textContent = "…";
    try {
      const response = await fetch("/admin/api/publish", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.message || response.status);
      result.className = "ok";
      result.textContent = `${words.published}: ${answer.id}`;
      result.dataset.id = answer.id;
      refresh();
    } catch (error) {
      result.className = "error";
      result.textContent = error.message;
    }
  });

  refresh();
  setInterval(refresh, every);
})();
