// The dashboard's buttons: JSON API calls with the session cookie and the UI's CSRF header.
"use strict";

async function api(method, url, body, { form = false } = {}) {
  const headers = { "X-Formwright-UI": "1", Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (form) init.body = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { ok: response.ok, status: response.status, data };
}

function showResult(el, ok, text, errors) {
  if (!el) return;
  el.className = "result " + (ok ? "ok" : "bad");
  el.textContent = text;
  if (errors && errors.length) {
    const list = document.createElement("ul");
    list.className = "errors";
    for (const e of errors.slice(0, 20)) {
      const li = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = (e.index !== undefined ? "#" + e.index + " " : "") + (e.path || "(root)");
      li.append(code, " " + (e.message || ""));
      list.append(li);
    }
    el.append(list);
  }
}

function failure(res) {
  const d = res.data || {};
  return [d.detail || "Request failed (" + res.status + ").", d.errors || []];
}

function parseJSON(text, resultEl) {
  try { return { ok: true, value: JSON.parse(text) }; }
  catch (err) { showResult(resultEl, false, "The output is not valid JSON: " + err.message); return { ok: false }; }
}

const schemaUrl = (name) => "/v1/schemas/" + encodeURIComponent(name);

const handlers = {
  async "add-example"(form) {
    const out = form.querySelector(".result");
    const row = { input: form.elements.input.value };
    const raw = form.elements.output.value.trim();
    if (raw) { const p = parseJSON(raw, out); if (!p.ok) return; row.output = p.value; }
    const res = await api("POST", schemaUrl(form.dataset.name) + "/examples", row);
    if (res.ok) { showResult(out, true, res.data.added ? "Added." : "Already there."); setTimeout(() => location.reload(), 600); }
    else showResult(out, false, ...failure(res));
  },
  async "import-examples"(form) {
    const out = form.querySelector(".result");
    const body = new FormData();
    body.append("file", form.elements.file.files[0]);
    const res = await api("POST", schemaUrl(form.dataset.name) + "/examples", body, { form: true });
    if (res.ok) { showResult(out, true, `Imported ${res.data.added}, ${res.data.duplicates} duplicates.`); setTimeout(() => location.reload(), 900); }
    else showResult(out, false, ...failure(res));
  },
  async generate(form) {
    const f = form.elements;
    const body = { input: f.input.value, mode: f.mode.value, version: Number(f.version.value) };
    if (f.max_tokens.value) body.max_tokens = Number(f.max_tokens.value);
    const $ = (id) => document.getElementById(id);
    $("pg-output").textContent = "Generating…";
    $("pg-errors").replaceChildren();
    const started = performance.now();
    const res = await api("POST", schemaUrl(form.dataset.name) + "/generate", body);
    const d = res.data || {};
    const valid = $("pg-valid");
    if (res.ok) {
      $("pg-output").textContent = JSON.stringify(d.output, null, 2);
      valid.textContent = d.valid ? "valid" : "invalid";
      valid.className = "badge " + (d.valid ? "ok" : "bad");
      $("pg-decoding").textContent = d.decoding + (d.attempts && d.attempts.length > 1 ? " (after fallback)" : "");
      $("pg-latency").textContent = Math.round(d.latency_ms) + " ms";
      $("pg-tokens").textContent = d.usage ? d.usage.completion_tokens : "–";
      showErrors($("pg-errors"), d.errors || []);
    } else {
      valid.textContent = "error " + res.status;
      valid.className = "badge bad";
      $("pg-output").textContent = d.detail || "Request failed.";
      $("pg-decoding").textContent = "–";
      $("pg-latency").textContent = Math.round(performance.now() - started) + " ms";
      showErrors($("pg-errors"), (d.errors || []).filter((e) => !e.raw));
    }
  },
  async accept(form) {
    const out = form.querySelector(".result");
    const raw = form.elements.output.value.trim();
    const body = {};
    if (raw) { const p = parseJSON(raw, out); if (!p.ok) return; body.output = p.value; }
    const res = await api("POST", "/v1/requests/" + form.dataset.id + "/accept", body);
    if (res.ok) showResult(out, true, res.data.added ? `Stored as example #${res.data.ids[0]} of v${res.data.version}.` : "Already an example.");
    else showResult(out, false, ...failure(res));
  },
};

function showErrors(list, errors) {
  list.replaceChildren();
  for (const e of errors) {
    const li = document.createElement("li");
    const code = document.createElement("code");
    code.textContent = e.path || "(root)";
    li.append(code, " " + e.message);
    list.append(li);
  }
}

const buttons = {
  async promote(btn) { await adapterAction(btn, "promote"); },
  async rollback(btn) { await adapterAction(btn, "rollback"); },
  async train(btn) {
    const out = btn.parentElement.querySelector(".result");
    const res = await api("POST", schemaUrl(btn.dataset.name) + "/jobs", {});
    if (res.ok) { showResult(out, true, `Job #${res.data.id} queued.`); setTimeout(() => location.reload(), 600); }
    else showResult(out, false, ...failure(res));
  },
  async carry(btn) {
    const out = btn.parentElement.querySelector(".result");
    const body = { from: Number(btn.dataset.from), to: Number(btn.dataset.to) };
    const res = await api("POST", schemaUrl(btn.dataset.name) + "/examples/carry", body);
    if (!res.ok) { showResult(out, false, ...failure(res)); return; }
    const r = res.data;
    const errors = r.errors.map((e) => ({ ...e, message: `example ${e.example_id}: ${e.message}` }));
    showResult(out, r.rejected === 0,
      `Carried ${r.carried} of ${r.examined} examples to v${r.to_version} (${r.already_present} already there, ${r.rejected} do not validate).`,
      errors);
  },
  async "cancel-job"(btn) {
    const res = await api("POST", "/v1/jobs/" + btn.dataset.id + "/cancel");
    if (res.ok) refreshJobs(); else alert(failure(res)[0]);
  },
  review(btn) {
    const row = document.getElementById("review-" + btn.dataset.id);
    row.hidden = !row.hidden;
    btn.textContent = row.hidden ? "Review" : "Close";
  },
};

async function adapterAction(btn, action) {
  const card = btn.closest("[data-adapter]");
  const out = card && card.querySelector(".result");
  const res = await api("POST", "/v1/adapters/" + btn.dataset.id + "/" + action);
  if (res.ok) location.reload();
  else showResult(out, false, ...failure(res));
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const handler = handlers[form.dataset.action];
  if (!handler) return;
  event.preventDefault();
  const submit = form.querySelector("button[type=submit]");
  if (submit) submit.disabled = true;
  try { await handler(form); } finally { if (submit) submit.disabled = false; }
});

document.addEventListener("click", async (event) => {
  const btn = event.target.closest("button[data-action]");
  if (!btn || btn.type === "submit") return;
  const handler = buttons[btn.dataset.action];
  if (!handler) return;
  btn.disabled = true;
  try { await handler(btn); } finally { btn.disabled = false; }
});

// Jobs: while one runs, refresh the panel (progress bar, loss curve) every two seconds.
async function refreshJobs() {
  const panel = document.getElementById("jobs-panel");
  if (!panel) return;
  const response = await fetch(panel.dataset.src, { credentials: "same-origin" });
  if (!response.ok) return;
  panel.innerHTML = await response.text();
  panel.dataset.live = panel.querySelector('[data-active="true"]') ? "true" : "false";
}

setInterval(() => {
  const panel = document.getElementById("jobs-panel");
  if (panel && panel.dataset.live === "true" && !document.hidden) refreshJobs();
}, 2000);
