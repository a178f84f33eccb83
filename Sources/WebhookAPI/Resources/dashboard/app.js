// Donutwork Webhooks dashboard: plain JavaScript, no framework, no build step.
//
// Every piece of data from the API is put on the page with textContent or as an attribute value through
// createElement, never parsed as HTML, so a hostile webhook name or response body stays text.
"use strict";

(function () {
  const API = "/2026-02-01";
  const KEY_STORAGE = "donutwork.apiKey";
  const STATUSES = ["succeeded", "failed", "pending", "cancelled"];
  const CHART_COLORS = { succeeded: "#1f9d55", failed: "#d64545", pending: "#e0a100", cancelled: "#8a94a6" };
  const CHART_MAX_PAGES = 50; // 5,000 deliveries at most are read for the chart
  const REFRESH_MS = 4000;

  const state = {
    key: sessionStorage.getItem(KEY_STORAGE) || "",
    types: [],
    webhooksPage: 1,
    deliveriesPage: 1,
    webhook: null,
    expanded: new Set(),
    timer: null,
    loading: false,
    chartDeliveries: null,
  };

  // ---- small DOM helpers ---------------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** Makes an element with attributes, then children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function badge(status) {
    return el("span", { class: "badge badge-" + status, text: status });
  }

  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (isNaN(date)) return iso;
    return date.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function ago(iso) {
    const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (!isFinite(seconds)) return "";
    if (seconds < 5) return "just now";
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function timeEl(iso) {
    return el("time", { datetime: iso, title: formatTime(iso), text: ago(iso) });
  }

  // ---- messages --------------------------------------------------------------------------------------------

  function showError(message) {
    $("error-text").textContent = message;
    show($("error"), true);
    show($("info"), false);
    $("error").scrollIntoView({ block: "nearest" });
  }

  function clearError() {
    show($("error"), false);
  }

  let infoTimer = null;
  function showInfo(message) {
    const info = $("info");
    info.textContent = message;
    show(info, true);
    clearTimeout(infoTimer);
    infoTimer = setTimeout(() => show(info, false), 5000);
  }

  // ---- the API ------------------------------------------------------------------------------------------

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Calls the API with the key; resolves to the parsed JSON, rejects with the API's own sentence. */
  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + state.key, Accept: "application/json" };
    const options = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, options);
    } catch (error) {
      throw new APIError(0, "The service did not answer: " + (error && error.message ? error.message : error) + ".");
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch (error) {
      payload = null;
    }
    if (!response.ok) {
      let message = payload && typeof payload.error === "string"
        ? payload.error
        : "The service answered " + response.status + " " + response.statusText + ".";
      if (payload && Array.isArray(payload.unavailable_events) && payload.unavailable_events.length) {
        message += ": " + payload.unavailable_events.join(", ");
      }
      if (response.status === 401) {
        forgetKey();
      }
      throw new APIError(response.status, message);
    }
    return payload;
  }

  /** Runs an action, showing its failure as the API's sentence; returns undefined on failure. */
  async function attempt(action) {
    try {
      const result = await action();
      return result;
    } catch (error) {
      showError(error instanceof APIError ? error.message : String(error));
      return undefined;
    }
  }

  // ---- key ------------------------------------------------------------------------------------------------

  function forgetKey() {
    state.key = "";
    sessionStorage.removeItem(KEY_STORAGE);
    stopTimer();
    render();
  }

  async function useKey(key) {
    state.key = key;
    clearError();
    const types = await attempt(() => api("GET", "/webhooks/types.json"));
    if (types === undefined) {
      state.key = "";
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    state.types = types;
    $("key-input").value = "";
    if (!location.hash || location.hash === "#/" || location.hash === "#/key") location.hash = "#/webhooks";
    render();
  }

  // ---- routing --------------------------------------------------------------------------------------------

  function route() {
    const hash = location.hash.replace(/^#/, "");
    const match = hash.match(/^\/webhooks\/([^/]+)\/deliveries$/);
    if (match) return { view: "deliveries", id: decodeURIComponent(match[1]) };
    if (hash === "/types") return { view: "types" };
    return { view: "webhooks" };
  }

  function render() {
    const signedIn = Boolean(state.key);
    show($("tabs"), signedIn);
    show($("session"), signedIn);
    $("key-label").textContent = signedIn ? "Key " + state.key.slice(0, 12) + "\u2026" : "";
    const current = signedIn ? route() : { view: "key" };
    for (const view of ["key", "webhooks", "types", "deliveries"]) {
      show($("view-" + view), current.view === view);
    }
    for (const link of document.querySelectorAll("#tabs a")) {
      const active = link.dataset.view === current.view
        || (current.view === "deliveries" && link.dataset.view === "webhooks");
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    stopTimer();
    if (!signedIn) {
      document.title = "Sign in \u2013 Donutwork Webhooks";
      $("key-input").focus();
      return;
    }
    if (current.view === "webhooks") {
      document.title = "Webhooks \u2013 Donutwork Webhooks";
      loadWebhooks();
      loadTypes();
    } else if (current.view === "types") {
      document.title = "Event types \u2013 Donutwork Webhooks";
      loadTypes();
    } else {
      document.title = "Deliveries \u2013 Donutwork Webhooks";
      if (!state.webhook || state.webhook.id !== current.id) {
        state.webhook = null;
        state.deliveriesPage = 1;
        state.expanded.clear();
        state.chartDeliveries = null;
        for (const id of ["delivery-list", "chart", "chart-legend", "hook-actions", "deliveries-pager"]) clear($(id));
        $("hook-name").textContent = "Loading\u2026";
        $("hook-url").textContent = "";
        $("chart-note").textContent = "";
        $("delivery-count").textContent = "";
        show($("hook-disabled"), false);
        show($("deliveries-empty"), false);
      }
      loadDeliveryView(current.id);
      startTimer();
    }
  }

  function startTimer() {
    stopTimer();
    state.timer = setInterval(() => {
      if (document.hidden || !$("auto-refresh").checked || state.loading) return;
      if (route().view === "deliveries" && state.webhook) refreshDeliveries();
    }, REFRESH_MS);
  }

  function stopTimer() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  // ---- pager ----------------------------------------------------------------------------------------------

  function renderPager(container, pages, onPage) {
    clear(container);
    if (!pages || pages.max <= 1) return;
    container.append(
      el("button", {
        type: "button", class: "button ghost small", disabled: pages.current <= 1,
        onclick: () => onPage(pages.current - 1),
      }, "\u2190 Previous"),
      el("span", { class: "muted small-text", text: "Page " + pages.current + " of " + pages.max }),
      el("button", {
        type: "button", class: "button ghost small", disabled: pages.current >= pages.max,
        onclick: () => onPage(pages.current + 1),
      }, "Next \u2192"),
    );
  }

  // ---- event types ----------------------------------------------------------------------------------------

  async function loadTypes() {
    const types = await attempt(() => api("GET", "/webhooks/types.json"));
    if (types === undefined) return;
    state.types = types;
    const list = $("type-list");
    clear(list);
    for (const name of types) list.append(el("li", {}, el("code", { text: name })));
    show($("types-empty"), types.length === 0);
    renderEventChecks();
  }

  function renderEventChecks() {
    const box = $("create-events");
    const checked = new Set(
      Array.from(box.querySelectorAll("input:checked")).map((input) => input.value));
    clear(box);
    if (state.types.length === 0) {
      box.append(el("p", { class: "muted small-text", text: "No event types are available." }));
      return;
    }
    state.types.forEach((name, index) => {
      const id = "event-" + index;
      box.append(el("label", { class: "check", for: id },
        el("input", { type: "checkbox", id, name: "events", value: name, checked: checked.has(name) }),
        el("code", { text: name })));
    });
  }

  // ---- webhooks -------------------------------------------------------------------------------------------

  async function loadWebhooks() {
    const page = await attempt(() => api("GET", "/webhooks.json?size=20&page=" + state.webhooksPage));
    if (page === undefined) return;
    $("webhook-count").textContent = String(page.count);
    const list = $("webhook-list");
    clear(list);
    for (const webhook of page.elements) list.append(webhookCard(webhook));
    show($("webhooks-empty"), page.count === 0);
    renderPager($("webhooks-pager"), page.pages, (next) => {
      state.webhooksPage = next;
      loadWebhooks();
    });
  }

  function webhookCard(webhook) {
    const actions = el("div", { class: "actions" });
    const card = el("li", { class: "card webhook", "data-id": webhook.id },
      el("div", { class: "card-head" },
        el("h3", {}, el("a", {
          href: "#/webhooks/" + encodeURIComponent(webhook.id) + "/deliveries", class: "webhook-name",
          text: webhook.name,
        })),
        badge(webhook.status)),
      webhook.description ? el("p", { class: "muted", text: webhook.description }) : null,
      el("p", { class: "url break" }, el("code", { text: webhook.url })),
      el("p", { class: "events" }, webhook.events.map((name) => el("span", { class: "chip", text: name }))),
      webhook.status === "disabled" && webhook.disabled_reason
        ? el("p", { class: "notice warn small-text", text: "Disabled: " + webhook.disabled_reason }) : null,
      el("p", { class: "muted small-text" }, el("code", { text: webhook.id }), " \u00b7 created ",
        timeEl(webhook.created_at)),
      actions);
    fillWebhookActions(actions, webhook, { deliveriesLink: true });
    return card;
  }

  /** The buttons of one webhook: deliveries, enable, rotate the token, delete (each confirmed inline). */
  function fillWebhookActions(actions, webhook, options) {
    clear(actions);
    if (options.deliveriesLink) {
      actions.append(el("a", {
        class: "button small", href: "#/webhooks/" + encodeURIComponent(webhook.id) + "/deliveries",
        text: "Deliveries",
      }));
    }
    if (webhook.status === "disabled") {
      actions.append(el("button", {
        type: "button", class: "button primary small", "data-action": "enable",
        onclick: () => enableWebhook(webhook),
      }, "Re-enable"));
    }
    actions.append(el("button", {
      type: "button", class: "button small", "data-action": "rotate",
      onclick: () => confirmInline(actions, "Replace the signing secret? The old one keeps signing for 24 hours.",
        "Rotate", () => rotateToken(webhook), () => fillWebhookActions(actions, webhook, options)),
    }, "Rotate token"));
    actions.append(el("button", {
      type: "button", class: "button danger small", "data-action": "delete",
      onclick: () => confirmInline(actions, "Delete \u201c" + webhook.name + "\u201d and cancel its pending deliveries?",
        "Delete", () => deleteWebhook(webhook), () => fillWebhookActions(actions, webhook, options)),
    }, "Delete"));
  }

  function confirmInline(container, question, verb, onConfirm, onCancel) {
    clear(container);
    container.append(
      el("span", { class: "confirm-text", text: question }),
      el("button", {
        type: "button", class: "button danger small", "data-action": "confirm",
        onclick: (event) => {
          event.target.disabled = true;
          onConfirm();
        },
      }, verb),
      el("button", { type: "button", class: "button ghost small", "data-action": "cancel", onclick: onCancel },
        "Cancel"));
  }

  function showToken(webhook, title) {
    $("token-title").textContent = title + ": \u201c" + webhook.name + "\u201d";
    $("token-value").textContent = webhook.token;
    $("token-copied").textContent = "";
    show($("token-box"), true);
    $("token-box").scrollIntoView({ block: "nearest" });
  }

  async function copyToken() {
    const token = $("token-value").textContent;
    let copied = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(token);
        copied = true;
      }
    } catch (error) {
      copied = false;
    }
    if (!copied) {
      const range = document.createRange();
      range.selectNodeContents($("token-value"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try {
        copied = document.execCommand("copy");
      } catch (error) {
        copied = false;
      }
    }
    $("token-copied").textContent = copied ? "Copied to the clipboard." : "Selected: copy it with Ctrl+C / \u2318C.";
  }

  async function createWebhook(event) {
    event.preventDefault();
    clearError();
    const form = event.target;
    const events = Array.from(form.querySelectorAll("input[name=events]:checked")).map((input) => input.value);
    const webhook = { name: $("create-name").value, url: $("create-url").value, events };
    const description = $("create-description").value;
    if (description.trim()) webhook.description = description;
    const submit = $("create-submit");
    submit.disabled = true;
    submit.textContent = "Checking the endpoint\u2026";
    const created = await attempt(() => api("POST", "/webhooks.json", { webhook }));
    submit.disabled = false;
    submit.textContent = "Create webhook";
    if (created === undefined) return;
    form.reset();
    showToken(created, "Created");
    showInfo("Webhook \u201c" + created.name + "\u201d created.");
    state.webhooksPage = 1;
    loadWebhooks();
  }

  async function deleteWebhook(webhook) {
    clearError();
    const result = await attempt(() => api("DELETE", "/webhooks/" + encodeURIComponent(webhook.id) + ".json"));
    if (result === undefined) {
      render();
      return;
    }
    showInfo("Webhook \u201c" + webhook.name + "\u201d deleted.");
    if (route().view === "deliveries") location.hash = "#/webhooks";
    else loadWebhooks();
  }

  async function enableWebhook(webhook) {
    clearError();
    const enabled = await attempt(() => api("POST", "/webhooks/" + encodeURIComponent(webhook.id) + "/enable.json"));
    if (enabled === undefined) return;
    showInfo("Webhook \u201c" + enabled.name + "\u201d is enabled again.");
    if (route().view === "deliveries") loadDeliveryView(enabled.id);
    else loadWebhooks();
  }

  async function rotateToken(webhook) {
    clearError();
    const rotated = await attempt(() => api("POST", "/webhooks/" + encodeURIComponent(webhook.id) + "/token.json"));
    if (rotated === undefined) {
      render();
      return;
    }
    if (route().view !== "webhooks") location.hash = "#/webhooks";
    showToken(rotated, "New secret");
    showInfo("The old secret keeps signing beside the new one for 24 hours.");
  }

  // ---- deliveries -----------------------------------------------------------------------------------------

  async function loadDeliveryView(id) {
    const webhook = await attempt(() => api("GET", "/webhooks/" + encodeURIComponent(id) + ".json"));
    if (webhook === undefined) return;
    state.webhook = webhook;
    $("hook-name").textContent = webhook.name;
    $("hook-name").append(" ", badge(webhook.status));
    $("hook-url").textContent = webhook.url;
    const disabled = $("hook-disabled");
    disabled.textContent = webhook.status === "disabled"
      ? "This webhook is disabled" + (webhook.disabled_reason ? ": " + webhook.disabled_reason : ".")
        + " Nothing is sent to it until it is enabled again."
      : "";
    show(disabled, webhook.status === "disabled");
    fillWebhookActions($("hook-actions"), webhook, { deliveriesLink: false });
    await refreshDeliveries();
  }

  async function refreshDeliveries() {
    if (!state.webhook) return;
    state.loading = true;
    try {
      await Promise.all([loadDeliveries(), loadChart()]);
    } finally {
      state.loading = false;
    }
  }

  async function loadDeliveries() {
    const webhook = state.webhook;
    const status = $("status-filter").value;
    let path = "/webhooks/" + encodeURIComponent(webhook.id) + "/deliveries.json?size=20&page=" + state.deliveriesPage;
    if (status) path += "&status=" + encodeURIComponent(status);
    const page = await attempt(() => api("GET", path));
    if (page === undefined || state.webhook !== webhook) return;
    // Newest first on the page: the API pages in creation order.
    const deliveries = page.elements.slice().reverse();
    const details = await Promise.all(deliveries.map((delivery) => state.expanded.has(delivery.id)
      ? api("GET", "/deliveries/" + encodeURIComponent(delivery.id) + ".json").catch(() => null)
      : Promise.resolve(null)));
    const list = $("delivery-list");
    clear(list);
    deliveries.forEach((delivery, index) => list.append(deliveryRow(delivery, details[index])));
    $("delivery-count").textContent = String(page.count);
    show($("deliveries-empty"), page.elements.length === 0);
    renderPager($("deliveries-pager"), page.pages, (next) => {
      state.deliveriesPage = next;
      loadDeliveries();
    });
  }

  function deliveryRow(delivery, detail) {
    const attemptsBox = el("div", { class: "attempts" });
    const toggle = el("button", {
      type: "button", class: "button ghost small", "data-action": "attempts", "aria-expanded": "false",
    }, "Attempts (" + delivery.attempts_count + ")");
    const row = el("li", { class: "delivery", "data-id": delivery.id, "data-status": delivery.status },
      el("div", { class: "delivery-main" },
        el("div", { class: "delivery-what" },
          badge(delivery.status),
          el("code", { class: "event-type", text: delivery.event_type })),
        el("div", { class: "delivery-meta muted small-text" },
          el("code", { text: delivery.id }), " \u00b7 event ", el("code", { text: delivery.event_id })),
        el("div", { class: "delivery-meta muted small-text" },
          "created ", timeEl(delivery.created_at), " \u00b7 updated ", timeEl(delivery.updated_at),
          delivery.next_attempt_at ? [" \u00b7 next attempt ", el("span", { text: formatTime(delivery.next_attempt_at) })]
            : null),
        el("div", { class: "actions" },
          toggle,
          el("button", {
            type: "button", class: "button small", "data-action": "resend",
            onclick: (event) => resend(delivery, event.target),
          }, "Resend"))),
      attemptsBox);
    const open = (data) => {
      clear(attemptsBox);
      attemptsBox.append(attemptList(data.attempts));
      toggle.setAttribute("aria-expanded", "true");
      row.classList.add("open");
    };
    toggle.addEventListener("click", async () => {
      if (state.expanded.has(delivery.id)) {
        state.expanded.delete(delivery.id);
        clear(attemptsBox);
        toggle.setAttribute("aria-expanded", "false");
        row.classList.remove("open");
        return;
      }
      const data = await attempt(() => api("GET", "/deliveries/" + encodeURIComponent(delivery.id) + ".json"));
      if (data === undefined) return;
      state.expanded.add(delivery.id);
      open(data);
    });
    if (detail) open(detail);
    return row;
  }

  function attemptList(attempts) {
    if (!attempts.length) return el("p", { class: "muted small-text", text: "No attempt yet." });
    const list = el("ol", { class: "attempt-list" });
    for (const item of attempts.slice().reverse()) {
      const ok = item.status_code !== null && item.status_code >= 200 && item.status_code < 300;
      const outcome = item.status_code !== null ? "HTTP " + item.status_code : (item.error_kind || "error");
      list.append(el("li", { class: "attempt " + (ok ? "ok" : "bad"), "data-number": item.number },
        el("div", { class: "attempt-head" },
          el("strong", { text: "#" + item.number }),
          el("span", { class: "attempt-status " + (ok ? "ok" : "bad"), text: outcome }),
          el("span", { class: "muted", text: item.latency_ms + " ms" }),
          el("span", { class: "muted", text: formatTime(item.attempted_at) })),
        item.error ? el("p", { class: "attempt-error", text: (item.error_kind ? item.error_kind + ": " : "") + item.error })
          : null,
        item.response_body
          ? el("pre", { class: "excerpt", text: item.response_body })
          : el("p", { class: "muted small-text", text: "Empty response body." })));
    }
    return list;
  }

  async function resend(delivery, button) {
    clearError();
    button.disabled = true;
    const result = await attempt(() => api("POST", "/deliveries/" + encodeURIComponent(delivery.id) + "/retry.json"));
    button.disabled = false;
    if (result === undefined) return;
    state.expanded.add(delivery.id);
    showInfo("Delivery " + delivery.id + " queued to be sent again.");
    setTimeout(refreshDeliveries, 1200);
    refreshDeliveries();
  }

  // ---- chart ----------------------------------------------------------------------------------------------

  /** Every delivery of the webhook created in the last hour, paging through deliveries.json?size=100. */
  async function recentDeliveries(webhook) {
    const since = Date.now() - 3600 * 1000;
    const found = [];
    let page = 1;
    let max = 1;
    let truncated = false;
    do {
      const result = await api("GET", "/webhooks/" + encodeURIComponent(webhook.id)
        + "/deliveries.json?size=100&page=" + page);
      for (const delivery of result.elements) {
        if (new Date(delivery.created_at).getTime() >= since) found.push(delivery);
      }
      max = result.pages.max;
      page += 1;
      if (page > CHART_MAX_PAGES && page <= max) {
        truncated = true;
        break;
      }
    } while (page <= max);
    return { deliveries: found, truncated };
  }

  async function loadChart() {
    const webhook = state.webhook;
    let result;
    try {
      result = await recentDeliveries(webhook);
    } catch (error) {
      showError(error.message);
      return;
    }
    if (state.webhook !== webhook) return;
    state.chartDeliveries = result.deliveries;
    drawChart(result.deliveries);
    $("chart-note").textContent = result.deliveries.length + " in the last hour"
      + (result.truncated ? " (only the first " + CHART_MAX_PAGES * 100 + " deliveries read)" : "");
  }

  function drawChart(deliveries) {
    const minute = 60 * 1000;
    const end = Math.floor(Date.now() / minute) * minute + minute;
    const start = end - 60 * minute;
    const buckets = Array.from({ length: 60 }, () => ({ succeeded: 0, failed: 0, pending: 0, cancelled: 0 }));
    for (const delivery of deliveries) {
      const index = Math.floor((new Date(delivery.created_at).getTime() - start) / minute);
      if (index >= 0 && index < 60 && delivery.status in buckets[index]) buckets[index][delivery.status] += 1;
    }
    const highest = Math.max(1, ...buckets.map((b) => STATUSES.reduce((sum, s) => sum + b[s], 0)));
    const top = niceCeiling(highest);

    // Drawn at the box's own pixel width, so text and bars stay crisp and readable at any width.
    const box = $("chart");
    const width = Math.max(280, Math.round(box.clientWidth || 640));
    const height = width < 480 ? 160 : 200;
    const left = 34;
    const right = 8;
    const topPad = 10;
    const bottom = 24;
    const plotWidth = width - left - right;
    const plotHeight = height - topPad - bottom;
    const slot = plotWidth / 60;
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height, class: "chart-svg", role: "img",
      "aria-label": "Deliveries per minute by outcome over the last hour",
    });

    for (const fraction of [0, 0.5, 1]) {
      const y = topPad + plotHeight - fraction * plotHeight;
      chart.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
      chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis" },
        String(Math.round(top * fraction))));
    }
    buckets.forEach((bucket, index) => {
      let y = topPad + plotHeight;
      const x = left + index * slot + slot * 0.12;
      const minuteStart = new Date(start + index * minute);
      for (const status of STATUSES) {
        const count = bucket[status];
        if (!count) continue;
        const h = (count / top) * plotHeight;
        y -= h;
        const bar = svg("rect", {
          x: x.toFixed(2), y: y.toFixed(2), width: (slot * 0.76).toFixed(2), height: h.toFixed(2),
          fill: CHART_COLORS[status], "data-status": status,
        });
        bar.append(svg("title", {}, minuteStart.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
          + " \u2013 " + count + " " + status));
        chart.append(bar);
      }
    });
    for (const minutesAgo of width < 480 ? [60, 30, 0] : [60, 45, 30, 15, 0]) {
      const x = left + (60 - minutesAgo) * slot;
      chart.append(svg("text", {
        x, y: height - 6, class: "axis",
        "text-anchor": minutesAgo === 60 ? "start" : minutesAgo === 0 ? "end" : "middle",
      }, minutesAgo === 0 ? "now" : "\u2212" + minutesAgo + " min"));
    }

    clear(box);
    box.append(chart);
    const legend = $("chart-legend");
    clear(legend);
    for (const status of STATUSES) {
      const total = buckets.reduce((sum, b) => sum + b[status], 0);
      const swatch = el("span", { class: "swatch swatch-" + status, "aria-hidden": "true" });
      legend.append(el("li", { "data-status": status }, swatch, status + " " + total));
    }
  }

  function niceCeiling(value) {
    // Even, so the middle grid line is a whole number too.
    for (const step of [2, 4, 6, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000]) {
      if (value <= step) return step;
    }
    return Math.ceil(value / 10000) * 10000;
  }

  // ---- wiring ---------------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      if (key) useKey(key);
    });
    $("forget-key").addEventListener("click", () => {
      forgetKey();
      clearError();
      showInfo("The key was removed from this tab.");
    });
    $("error-close").addEventListener("click", clearError);
    $("create-form").addEventListener("submit", createWebhook);
    $("token-copy").addEventListener("click", copyToken);
    $("token-dismiss").addEventListener("click", () => {
      $("token-value").textContent = "";
      show($("token-box"), false);
    });
    $("webhooks-refresh").addEventListener("click", loadWebhooks);
    $("deliveries-refresh").addEventListener("click", refreshDeliveries);
    $("status-filter").addEventListener("change", () => {
      state.deliveriesPage = 1;
      loadDeliveries();
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (state.chartDeliveries && route().view === "deliveries") drawChart(state.chartDeliveries);
      }, 150);
    });
    window.addEventListener("hashchange", () => {
      clearError();
      render();
    });
    render();
  });
})();
