// The vasgd operator dashboard. Plain JavaScript, no build step: the daemon serves these files as
// they are (compiled into its binary).
//
// The admin token is typed into a password field, kept in this tab's sessionStorage and sent only
// as "Authorization: Bearer" to this origin; it never goes into a URL, the page or a message.
// While signed in and visible, the page polls: /v1/admin/status every 2 s; /v1/admin/history
// (only the samples it has not seen) every history interval (5 s), every poll while a retraining
// runs on the Training panel; the Models list every 15 s on its panel and whenever a job ends;
// the rejections every 5 s on the Ingestion panel. A hidden tab polls nothing.
"use strict";

(() => {
  const TOKEN_KEY = "vasgd.admin_token";
  const POLL_MS = 2000;
  const MODELS_EVERY_MS = 15000;
  const REJECTIONS_EVERY_MS = 5000;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: "",
    signedIn: false,
    tab: "models",
    status: null,
    interval: 5,
    hist: { t: [], series: {} },   // the charts' samples, oldest first
    histCap: 720,
    train: null,                   // the training curve of the latest job seen
    lastHistoryFetch: 0,
    lastModelsFetch: 0,
    lastRejectionsFetch: 0,
    mapVersion: null,
    timer: null,
    polling: false,
  };

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // ---- HTTP: same origin only, the token as a bearer header ----
  async function api(path, options = {}) {
    const headers = {};
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method: options.method || "GET", headers, body: options.body,
                                         cache: "no-store", credentials: "omit", redirect: "error" });
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error && body.error.message ? body.error.message : `HTTP ${response.status}`;
      if (response.status === 401 && state.signedIn) signOut("The admin token is no longer accepted: sign in again.");
      throw new ApiError(response.status, message);
    }
    return body;
  }

  // ---- formatting ----
  const fmt = {
    num(v, digits = 3) {
      if (v == null || !isFinite(v)) return "\u2014";
      if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en");
      return String(+Number(v).toPrecision(digits));
    },
    int(v) { return v == null ? "\u2014" : Number(v).toLocaleString("en"); },
    mib(bytes) { return bytes == null || !isFinite(bytes) ? "\u2014" : (bytes / 1048576).toFixed(1) + " MiB"; },
    seconds(s) {
      if (s == null || !isFinite(s) || s < 0) return "\u2014";
      if (s < 90) return Math.round(s) + " s";
      if (s < 5400) return Math.round(s / 60) + " min";
      return (s / 3600).toFixed(1) + " h";
    },
    time(epochSeconds) {
      return new Date(epochSeconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
    },
  };

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function cell(text, cls) { return el("td", cls ? { class: cls, text } : { text }); }

  function setMessage(id, text, kind) {
    const m = $(id);
    m.textContent = text;
    m.className = "message" + (kind ? " " + kind : "");
  }

  // ---- sign-in ----
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = $("token");
    const token = field.value.trim();
    if (!token) {
      $("login-error").textContent = "Enter the admin token.";
      field.focus();
      return;
    }
    state.token = token;
    try {
      await api("/v1/admin/status");
    } catch (err) {
      state.token = "";
      $("login-error").textContent = err.status === 401 ? "That token was not accepted."
        : err.status === 403 ? "Admin endpoints are disabled: the daemon has no admin token configured."
        : "Cannot reach the daemon (" + err.message + ").";
      field.select();
      return;
    }
    field.value = "";
    sessionStorage.setItem(TOKEN_KEY, token);
    signIn();
  });

  $("logout").addEventListener("click", () => signOut(""));

  function signIn() {
    state.signedIn = true;
    $("login-error").textContent = "";
    $("login").hidden = true;
    $("session").hidden = false;
    for (const p of document.querySelectorAll(".needs-login")) p.hidden = true;
    for (const c of document.querySelectorAll("[role=tabpanel] .content")) c.hidden = false;
    state.lastHistoryFetch = state.lastModelsFetch = state.lastRejectionsFetch = 0;
    poll();
  }

  function signOut(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = "";
    state.signedIn = false;
    clearTimeout(state.timer);
    state.hist = { t: [], series: {} };
    state.train = null;
    state.mapVersion = null;
    $("login").hidden = false;
    $("session").hidden = true;
    $("login-error").textContent = why;
    for (const p of document.querySelectorAll(".needs-login")) p.hidden = false;
    for (const c of document.querySelectorAll("[role=tabpanel] .content")) c.hidden = true;
    // Nothing an admin saw stays in the page.
    for (const tbody of document.querySelectorAll("tbody")) tbody.replaceChildren();
    $("served-version").textContent = "\u2014";
    $("training-badge").hidden = true;
  }

  // ---- tabs (WAI-ARIA tabs pattern: arrows, Home and End move between tabs) ----
  const tabs = Array.from(document.querySelectorAll("[role=tab]"));
  function selectTab(tab, focus) {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    state.tab = tab.id.replace("tab-", "");
    if (state.signedIn) {
      renderAll();
      poll();
    }
  }
  for (const t of tabs) t.addEventListener("click", () => selectTab(t, false));
  $("tablist").addEventListener("keydown", (event) => {
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    selectTab(tabs[(next + tabs.length) % tabs.length], true);
  });

  // ---- polling ----
  document.addEventListener("visibilitychange", () => { if (!document.hidden && state.signedIn) poll(); });

  async function poll() {
    clearTimeout(state.timer);
    if (!state.signedIn || document.hidden) return;
    if (state.polling) {  // one poll at a time; come back soon
      state.timer = setTimeout(poll, 200);
      return;
    }
    state.polling = true;
    try {
      await pollOnce();
    } catch (err) {
      if (err instanceof ApiError || err instanceof TypeError) {
        setMessage("models-message", "Cannot reach the daemon: " + err.message, "bad");
      } else {
        throw err;
      }
    } finally {
      state.polling = false;
      if (state.signedIn) state.timer = setTimeout(poll, POLL_MS);
    }
  }

  async function pollOnce() {
    const now = Date.now();
    const before = state.status;
    const status = await api("/v1/admin/status");
    if (!state.signedIn) return;
    state.status = status;
    renderHeader();
    const wasRunning = before && before.training.running;
    const jobEnded = wasRunning && (!status.training.running || status.training.job_id !== before.training.job_id);
    const chartsShown = ["training", "ingestion", "serving"].includes(state.tab);
    const trainingLive = state.tab === "training" && status.training.running;
    if (chartsShown && (trainingLive || jobEnded || now - state.lastHistoryFetch >= state.interval * 1000)) {
      await fetchHistory();
    }
    if (jobEnded) onJobEnded(before.training.job_id, status);
    if (state.tab === "models" && (jobEnded || now - state.lastModelsFetch >= MODELS_EVERY_MS)) await fetchModels();
    if (state.tab === "ingestion" && now - state.lastRejectionsFetch >= REJECTIONS_EVERY_MS) await fetchRejections();
    if (state.tab === "explore" && status.model_version && status.model_version !== state.mapVersion) await fetchMap();
    renderTab();
  }

  // ---- data ----
  async function fetchModels() {
    state.lastModelsFetch = Date.now();
    renderModels(await api("/v1/admin/models"));
  }

  async function fetchRejections() {
    state.lastRejectionsFetch = Date.now();
    renderRejections(await api("/v1/admin/rejections"));
  }

  async function fetchHistory() {
    state.lastHistoryFetch = Date.now();
    const histLast = state.hist.t.length ? state.hist.t[state.hist.t.length - 1] : 0;
    const job = state.status && state.status.training.job_id;
    const trainLast = state.train && state.train.job === job && state.train.points.t.length
      ? state.train.points.t[state.train.points.t.length - 1] : 0;
    const since = Math.min(histLast, trainLast);
    const h = await api("/v1/admin/history?since=" + since);
    state.interval = h.interval_s;
    state.histCap = Math.max(1, Math.round(3600 / h.interval_s));
    mergeHistory(h.history);
    mergeTraining(h.training);
  }

  function mergeHistory(h) {
    const H = state.hist;
    const last = H.t.length ? H.t[H.t.length - 1] : -Infinity;
    let first = 0;
    while (first < h.t.length && h.t[first] <= last) first++;
    const added = h.t.length - first;
    if (added <= 0) return;
    const n0 = H.t.length;
    H.t.push(...h.t.slice(first));
    for (const name of new Set([...Object.keys(H.series), ...Object.keys(h.series)])) {
      const values = H.series[name] || (H.series[name] = new Array(n0).fill(null));
      const incoming = h.series[name];
      for (let i = first; i < h.t.length; i++) values.push(incoming ? incoming[i] : null);
    }
    const drop = H.t.length - state.histCap;
    if (drop > 0) {
      H.t.splice(0, drop);
      for (const name of Object.keys(H.series)) H.series[name].splice(0, drop);
    }
  }

  function mergeTraining(tr) {
    if (!tr || tr.job == null) return;
    if (!state.train || state.train.job !== tr.job) {
      state.train = tr;
      return;
    }
    state.train.running = tr.running;
    state.train.stages = tr.stages;
    const P = state.train.points;
    const last = P.t.length ? P.t[P.t.length - 1] : -Infinity;
    for (let i = 0; i < tr.points.t.length; i++) {
      if (tr.points.t[i] <= last) continue;
      for (const key of Object.keys(P)) P[key].push(tr.points[key][i]);
    }
  }

  async function fetchMap() {
    const map = await api("/v1/admin/embedding_map");
    state.mapVersion = map.version;
    $("map-version").textContent = map.version;
    mapView.set(map);
  }

  // ---- actions ----
  function confirmAction(title, text, ok) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  $("retrain").addEventListener("click", async () => {
    if (!await confirmAction("Retrain now?", "A new model is trained from a snapshot of the store beside serving. " +
        "It is served only if it passes its checks and its holdout AUC reaches retrain.min_holdout_auc.", "Retrain")) {
      return;
    }
    try {
      const r = await api("/v1/admin/retrain", { method: "POST" });
      setMessage("models-message", `Retraining ${r.job_id} started: its progress shows here and on the Training panel.`, "ok");
      state.train = null;
      poll();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      setMessage("models-message", (err.status === 409 ? "Not started: " : "Retrain failed: ") + err.message, "bad");
    }
  });

  $("rollback").addEventListener("click", async () => {
    const models = state.models;
    const target = models && models.previous ? models.previous : "the previous version";
    if (!await confirmAction("Roll back?", `Serve ${target} instead of ${models && models.current ? models.current : "the current version"}.`,
                             "Roll back")) {
      return;
    }
    try {
      const r = await api("/v1/admin/rollback", { method: "POST" });
      setMessage("models-message", `Rolled back: ${r.model_version} is served now.`, "ok");
      await fetchModels();
      poll();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      setMessage("models-message", "Rollback refused: " + err.message, "bad");
    }
  });

  function onJobEnded(job, status) {
    state.lastModelsFetch = 0;
    if (status.last_error && status.last_error.startsWith(job + ":")) {
      setMessage("models-message", `Retraining ${job} failed: ${status.last_error.slice(job.length + 1).trim()}`, "bad");
    } else {
      setMessage("models-message", `Retraining ${job} finished: ${status.model_version} is served now.`, "ok");
    }
  }

  // ---- rendering ----
  function renderAll() { renderHeader(); renderTab(); }

  function renderTab() {
    if (!state.signedIn) return;
    if (state.tab === "training") renderTraining();
    if (state.tab === "ingestion") renderIngestion();
    if (state.tab === "serving") renderServing();
  }

  function renderHeader() {
    const s = state.status;
    if (!s) return;
    $("served-version").textContent = s.model_version || "no model yet";
    // Which role this daemon plays and how old what it serves is: a replica whose trainer is down
    // keeps serving an ageing version, and its retrain button would only be refused.
    const age = s.model_age_seconds != null ? `, trained ${fmt.seconds(s.model_age_seconds)} ago` : "";
    $("served-role").textContent = s.role ? `(${s.role}${age})` : age;
    const badge = $("training-badge");
    badge.hidden = !s.training.running;
    badge.textContent = s.training.running ? `retraining ${s.training.job_id}: ${s.training.stage}` : "";
    const progress = s.training.running
      ? `Retraining ${s.training.job_id}: ${s.training.stage}` +
        (s.training.epochs ? `, epoch ${s.training.epoch}/${s.training.epochs}` : "") +
        (s.training.eta_seconds != null ? `, about ${fmt.seconds(s.training.eta_seconds)} left` : "")
      : "";
    const running = $("retrain");
    running.disabled = s.training.running || s.role === "replica";  // a replica never trains (409)
    if (progress) setMessage("models-message", progress + ".", "");
  }

  function renderModels(models) {
    state.models = models;
    $("rollback").disabled = !models.previous;
    const body = $("models-table").querySelector("tbody");
    const details = [];
    body.replaceChildren(...models.versions.map((v) => {
      const tags = el("td");
      if (v.current) tags.append(el("span", { class: "tag current", text: "current" }));
      if (v.previous) tags.append(el("span", { class: "tag previous", text: "previous" }));
      if (v.error) {
        return el("tr", {}, el("th", { scope: "row", text: v.version }), cell(v.error), tags);
      }
      const d = v.data || {};
      const holdout = (v.hybrid && v.hybrid.holdout && v.hybrid.holdout.chosen) || {};
      const w = (v.hybrid && v.hybrid.weights) || null;
      const t = v.training || {};
      details.push(el("details", {}, el("summary", { text: `Settings and figures of ${v.version}` }),
                      el("pre", { text: JSON.stringify(v, null, 2) })));
      return el("tr", v.current ? { class: "current", "data-version": v.version } : { "data-version": v.version },
        el("th", { scope: "row", text: v.version }),
        cell(v.trained_at || "\u2014"),
        tags,
        cell(fmt.int(d.users), "num"),
        cell(d.products == null ? "\u2014" : `${fmt.int(d.products)} (${fmt.int(d.warm_products)} / ${fmt.int(d.cold_embedded)})`, "num"),
        cell(fmt.int(d.edges), "num"),
        cell(fmt.num(v.validation && v.validation.holdout_auc), "num"),
        cell(fmt.num(holdout["recall@20"]), "num"),
        cell(fmt.num(holdout["ndcg@20"]), "num"),
        cell(w ? Object.entries(w).map(([k, x]) => `${k} ${fmt.num(x)}`).join(", ") : "\u2014", "weights"),
        cell([t.seconds != null ? fmt.seconds(t.seconds) : null, t.pairs_per_second ? fmt.num(t.pairs_per_second) + " pairs/s" : null,
              t.device].filter(Boolean).join(", ") || "\u2014"));
    }));
    $("models-details").replaceChildren(...details);
  }

  function renderTraining() {
    const s = state.status;
    if (!s) return;
    const t = s.training;
    $("t-job").textContent = t.job_id ? `${t.job_id} (${t.running ? "running" : "not running"})` : "none since start";
    $("t-stage").textContent = t.stage || "\u2014";
    $("t-epoch").textContent = t.epochs ? `${t.epoch} of ${t.epochs}` : "\u2014";
    const bar = $("t-progress");
    bar.max = Math.max(1, t.epochs || 1);
    bar.value = t.epochs ? t.epoch : 0;
    $("t-eta").textContent = t.running ? fmt.seconds(t.eta_seconds) : "\u2014";
    $("t-loss").textContent = fmt.num(t.loss);
    $("t-error").textContent = s.last_error || "none";
    const tr = state.train && state.train.job === t.job_id ? state.train : null;
    const pairs = tr ? tr.points.pairs_per_second.filter((v) => v != null) : [];
    $("t-pairs").textContent = pairs.length ? fmt.num(pairs[pairs.length - 1]) : "not reported";
    $("t-stages").textContent = tr && tr.stages.length ? tr.stages.map((x) => x.stage).join(" \u2192 ") : "\u2014";
    const P = tr ? tr.points : { elapsed: [], skipgram: [], reconstruction: [], encoder: [] };
    $("chart-loss").dataset.points = String(P.elapsed.length);
    charts.loss.update(P.elapsed, [
      { name: "skip-gram", values: P.skipgram },
      { name: "reconstruction", values: P.reconstruction },
      { name: "encoder", values: P.encoder },
    ]);
  }

  function seriesWith(prefix, suffix = "") {
    return Object.keys(state.hist.series).filter((n) => n.startsWith(prefix) && n.endsWith(suffix)).sort();
  }

  // The newest known value of a series (gauges: the last sample that had one).
  function latest(name) {
    const v = state.hist.series[name];
    if (!v) return null;
    for (let i = v.length - 1; i >= 0; i--) if (v[i] != null) return v[i];
    return null;
  }

  // The value of the newest sample (rates and quantiles: null when nothing happened in it).
  function lastSample(name) {
    const v = state.hist.series[name];
    return v && v.length ? v[v.length - 1] : null;
  }

  function renderIngestion() {
    const H = state.hist;
    const pick = (names, strip) => names.map((n) => ({ name: n.slice(strip.length), values: H.series[n] }));
    charts.events.update(H.t, pick(seriesWith("events."), "events."));
    // Only the reasons that occurred in the window: every reason is registered at 0 from the start.
    const occurred = seriesWith("rejected.").filter((n) => H.series[n].some((v) => v > 0));
    charts.rejected.update(H.t, pick(occurred, "rejected."));
    const lag = seriesWith("lag.").filter((n) => H.series[n].some((v) => v != null));
    charts.lag.update(H.t, pick(lag, "lag."));
    const kafka = state.status && state.status.assigned_partitions !== undefined;
    $("lag-note").textContent = kafka || lag.length ? ""
      : "No Kafka consumer: this daemon ingests over HTTP only (POST /v1/events).";
  }

  function renderRejections(r) {
    $("rejections-total").textContent = fmt.int(r.total);
    $("rejections-table").querySelector("tbody").replaceChildren(...r.events.map((e) => el("tr", {},
      cell(fmt.time(e.time)), cell(e.source || "HTTP or import"), cell(e.reason), cell(e.message),
      el("td", { class: "excerpt", text: e.excerpt || "\u2014" }))));
    if (!r.events.length) {
      $("rejections-table").querySelector("tbody").append(el("tr", {}, el("td", { colspan: "5", text: "None kept." })));
    }
  }

  function renderServing() {
    const H = state.hist;
    const routes = seriesWith("http.", ".rps").map((n) => n.slice(5, -4));
    $("routes-window").textContent = String(state.interval);
    $("routes-table").querySelector("tbody").replaceChildren(...routes.map((r) => el("tr", {},
      el("th", { scope: "row", text: r }),
      cell(fmt.num(lastSample(`http.${r}.rps`)), "num"),
      cell(fmt.num(lastSample(`http.${r}.p50_ms`)), "num"),
      cell(fmt.num(lastSample(`http.${r}.p99_ms`)), "num"))));
    charts.rps.update(H.t, routes.map((r) => ({ name: r, values: H.series[`http.${r}.rps`] })));
    charts.p99.update(H.t, routes.filter((r) => H.series[`http.${r}.p99_ms`])
      .map((r) => ({ name: r, values: H.series[`http.${r}.p99_ms`] })));
    const mib = (name) => (H.series[name] || []).map((v) => (v == null ? null : v / 1048576));
    const memory = ["memory.rss", ...seriesWith("memory.store.")];
    charts.memory.update(H.t, memory.filter((n) => H.series[n]).map((n) => ({ name: n.replace("memory.", ""), values: mib(n) })));
    $("s-index").textContent = latest("index.products") == null ? "\u2014" : fmt.int(latest("index.products")) + " products";
    $("s-rss").textContent = fmt.mib(latest("memory.rss"));
    const store = seriesWith("memory.store.").map(latest).filter((v) => v != null);
    $("s-store").textContent = store.length ? fmt.mib(store.reduce((a, b) => a + b, 0)) : "\u2014";
    const g = state.status && state.status.graph;
    $("s-graph").textContent = g ? `${fmt.int(g.users)} users, ${fmt.int(g.products)} products, ${fmt.int(g.edges)} purchases` : "\u2014";
  }

  // ---- explore ----
  function productButton(product) {
    return el("button", { type: "button", class: "link", text: product, onclick: () => showSimilar(product),
                          "aria-label": `Products similar to ${product}` });
  }

  function itemRows(items) {
    return items.map((item, i) => el("tr", {}, cell(String(i + 1), "num"), el("td", {}, productButton(item.product)),
                                       cell(fmt.num(item.score, 4), "num"), cell(item.reason || "\u2014")));
  }

  $("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = $("user-id").value.trim();
    if (!user) return;
    setMessage("explore-message", "", "");
    const id = encodeURIComponent(user);
    const [purchases, recs] = await Promise.allSettled([api(`/v1/admin/users/${id}`),
                                                        api(`/v1/users/${id}/recommendations?k=10`)]);
    $("purchases-user").textContent = user;
    $("recs-user").textContent = user;
    const pBody = $("purchases-table").querySelector("tbody");
    if (purchases.status === "fulfilled") {
      const p = purchases.value;
      pBody.replaceChildren(...p.purchases.map((x) => el("tr", {}, el("td", {}, productButton(x.product)),
                                                        cell(fmt.num(x.weight), "num"), cell(x.categories.join(", ") || "\u2014"))));
      if (p.total > p.purchases.length) pBody.append(el("tr", {}, el("td", { colspan: "3", text: `\u2026 and ${p.total - p.purchases.length} more` })));
    } else {
      pBody.replaceChildren(el("tr", {}, el("td", { colspan: "3", text: purchases.reason.message })));
    }
    const rBody = $("recs-table").querySelector("tbody");
    if (recs.status === "fulfilled") {
      $("recs-strategy").textContent = `(${recs.value.strategy}, model ${recs.value.model_version})`;
      rBody.replaceChildren(...itemRows(recs.value.items));
    } else {
      $("recs-strategy").textContent = "";
      rBody.replaceChildren(el("tr", {}, el("td", { colspan: "4", text: recs.reason.message })));
    }
  });

  $("product-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const product = $("product-id").value.trim();
    if (product) showSimilar(product);
  });

  async function showSimilar(product) {
    $("similar-product").textContent = product;
    const body = $("similar-table").querySelector("tbody");
    try {
      const r = await api(`/v1/products/${encodeURIComponent(product)}/similar?k=10`);
      body.replaceChildren(...itemRows(r.items));
      setMessage("explore-message", `Similar products of ${product} shown.`, "");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      body.replaceChildren(el("tr", {}, el("td", { colspan: "4", text: err.message })));
    }
  }

  // ---- start ----
  const charts = {
    loss: new Charts.LineChart($("chart-loss"), { time: false, yLabel: "loss" }),
    events: new Charts.LineChart($("chart-events"), { yLabel: "events/s" }),
    rejected: new Charts.LineChart($("chart-rejected"), { yLabel: "events/s" }),
    lag: new Charts.LineChart($("chart-lag"), { yLabel: "events" }),
    rps: new Charts.LineChart($("chart-rps"), { yLabel: "requests/s" }),
    p99: new Charts.LineChart($("chart-p99"), { yLabel: "ms" }),
    memory: new Charts.LineChart($("chart-memory"), { yLabel: "MiB" }),
  };
  const mapView = new EmbeddingMap.MapView($("map"), $("map-legend"), $("map-hover"), (product) => {
    $("product-id").value = product;
    showSimilar(product);
  });

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    state.token = saved;
    signIn();
  }
})();
