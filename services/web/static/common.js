/* Shared helpers of the pages: calling the services through /api, Danish formatting,
   building the DOM without innerHTML, and showing form errors next to their fields. */
"use strict";

const KL = (() => {
  const TZ = "Europe/Copenhagen";
  const NO_CONNECTION = {
    title: "Ingen forbindelse",
    detail: "Siden kunne ikke få forbindelse til serveren. Tjek din internetforbindelse og prøv igen.",
  };

  /** Call a service through the proxy: {ok, status, body}; never throws. */
  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: { Accept: "application/json" } };
    if (options.json !== undefined) {
      init.body = JSON.stringify(options.json);
      init.headers["Content-Type"] = "application/json";
    }
    if (options.idempotencyKey) init.headers["Idempotency-Key"] = options.idempotencyKey;
    const signedIn = session();
    if (signedIn && path.startsWith("/api/") && !options.anonymous) {
      init.headers.Authorization = `Bearer ${signedIn.token}`;
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      return { ok: false, status: 0, body: { ...NO_CONNECTION } };
    }
    let body = null;
    const text = await response.text().catch(() => "");
    if (text) {
      try { body = JSON.parse(text); } catch (_) { body = null; }
    }
    if (!response.ok && (body === null || typeof body !== "object" || Array.isArray(body))) {
      body = {
        title: "Uventet svar",
        detail: `Tjenesten svarede med fejl ${response.status}. Prøv igen om lidt.`,
      };
    }
    return { ok: response.ok, status: response.status, body, next: nextPage(path, response) };
  }

  /** The address of the next page of a list (its Link: <...>; rel="next"), or null. */
  function nextPage(path, response) {
    const link = response.headers.get("Link") || "";
    const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
    if (!match) return null;
    const next = new URL(match[1], new URL(path, location.origin));
    return next.pathname + next.search;
  }

  /** Every page of a list (the services give at most a few hundred rows a page), joined:
      {ok, status, body: [...]}; the first refusal if a page is refused. */
  async function apiAll(path, maxPages = 50) {
    const sep = path.includes("?") ? "&" : "?";
    let result = await api(`${path}${sep}limit=500`);
    if (!result.ok || !Array.isArray(result.body)) return result;
    const rows = [...result.body];
    for (let n = 1; result.next && n < maxPages; n += 1) {
      result = await api(result.next);
      if (!result.ok) return result;
      rows.push(...result.body);
    }
    return { ok: true, status: 200, body: rows };
  }

  /** A fresh Idempotency-Key: a random UUID (v4). crypto.randomUUID needs a secure context
      (https, or loopback); getRandomValues does not, so a page served over plain http
      still sends a key nobody else can have (never a timestamp, which two people share). */
  function newIdempotencyKey() {
    if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** The id in the page's address, decoded: {id} of /moeder/{id}, {code} of /kommuner/{code}; "" if none. */
  function addressId() {
    const segment = location.pathname.split("/").filter(Boolean)[1] || "";
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment; // a malformed %-code: asked for as it stands, the service says it is unknown
    }
  }

  /** The development sign-in of this tab: {token, role, municipality_code, email} or null. */
  const SESSION_KEY = "kl.devsignin";
  function session() {
    try { return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"); } catch (_) { return null; }
  }

  const ROLE_NAMES = { participant: "Deltager", coordinator: "Kommunal koordinator", operator: "KL-medarbejder" };

  function signedInAs(s) {
    const who = [ROLE_NAMES[s.role] || s.role, s.municipality_code, s.email].filter(Boolean);
    return `Logget ind som ${who.join(", ")}`;
  }

  /** A small form in the header: sign in as a role through the development issuer. */
  async function devSignIn() {
    const header = document.querySelector("header.site .inner");
    const ctx = await context();
    if (!header || !ctx.dev_signin) return;
    const status = el("p", { class: "devsignin-status", role: "status" });
    const current = session();
    status.textContent = current ? signedInAs(current) : "Ikke logget ind";
    const role = el("select", { id: "devsignin-role", name: "role" },
      Object.entries(ROLE_NAMES).map(([value, label]) => el("option", { value }, label)));
    const code = el("input", { id: "devsignin-code", name: "municipality_code", inputmode: "numeric", maxlength: "3", autocomplete: "off" });
    const email = el("input", { id: "devsignin-email", name: "email", type: "email", autocomplete: "email" });
    const message = el("p", { class: "devsignin-message", role: "alert" });
    const form = el("form", { class: "devsignin-form", novalidate: true },
      el("div", { class: "field" }, el("label", { for: "devsignin-role", text: "Rolle" }), role),
      el("div", { class: "field" }, el("label", { for: "devsignin-code", text: "Kode (tre cifre)" }), code),
      el("div", { class: "field" }, el("label", { for: "devsignin-email", text: "Login-adresse" }), email),
      el("button", { type: "submit" }, "Log ind (udvikling)"),
      el("button", { type: "button", class: "secondary", onclick: () => { sessionStorage.removeItem(SESSION_KEY); location.reload(); } }, "Log ud"),
      message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const wanted = { role: role.value, municipality_code: code.value.trim() || null, email: email.value.trim() || null };
      const r = await api("/api/dev-signin", { method: "POST", json: wanted, anonymous: true });
      if (!r.ok) { message.textContent = (r.body && (r.body.detail || r.body.title)) || "Login mislykkedes."; return; }
      sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: r.body.access_token, ...wanted }));
      location.reload();
    });
    header.append(el("details", { class: "devsignin" },
      el("summary", {}, "Udviklings-login: ", status),
      el("p", { class: "hint", text: "Kun til udvikling: vælg en rolle og få et token fra udviklingens login-tjeneste." }),
      form));
  }
  document.addEventListener("DOMContentLoaded", () => { devSignIn(); });

  /** Build an element: el("p", {class: "x"}, "text", child). Text is never parsed as HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  const dateFmt = new Intl.DateTimeFormat("da-DK", { timeZone: TZ, weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const shortDateFmt = new Intl.DateTimeFormat("da-DK", { timeZone: TZ, day: "numeric", month: "short", year: "numeric" });
  const timeFmt = new Intl.DateTimeFormat("da-DK", { timeZone: TZ, hour: "2-digit", minute: "2-digit" });

  const date = (iso) => dateFmt.format(new Date(iso));
  const shortDate = (iso) => shortDateFmt.format(new Date(iso));
  const time = (iso) => timeFmt.format(new Date(iso));
  const dateTime = (iso) => `${date(iso)} kl. ${time(iso)}`;
  const kroner = (n) => `${new Intl.NumberFormat("da-DK").format(n)} kr.`;
  const listDateFmt = new Intl.DateTimeFormat("da-DK", { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" });
  /** A date without a time ("2021-12-01"): "1. december 2021". */
  const listDate = (isoDate) => listDateFmt.format(new Date(`${isoDate}T00:00:00Z`));
  const percent = (share) => (share === null || share === undefined ? "–" : `${new Intl.NumberFormat("da-DK", { maximumFractionDigits: 0 }).format(share * 100)} %`);

  /** A table in a scrollable region (cards on a phone): ``rows`` of cells, or ready rows;
      the columns whose index is in ``numeric`` are right-aligned. */
  function table(caption, headers, rows, numeric = []) {
    return el("div", { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
      el("table", { class: "stack" },
        el("caption", { class: "visually-hidden", text: caption }),
        el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null, text: h })))),
        el("tbody", {}, rows.map((row) => (row instanceof Node ? row
          : el("tr", {}, row.map((c, i) => el("td", { "data-label": headers[i], class: numeric.includes(i) ? "num" : null }, c))))))));
  }

  /** A notice box (kind: ok, danger, warn or info) with a heading and paragraphs. */
  function notice(kind, title, ...paragraphs) {
    return noticeAt(3, kind, title, ...paragraphs);
  }

  /** A notice whose heading is at ``level`` (2 where it stands right under the h1). */
  function noticeAt(level, kind, title, ...paragraphs) {
    return el("div", { class: `notice ${kind}` },
      el(`h${level}`, { text: title }),
      ...paragraphs.filter(Boolean).map((p) => (p instanceof Node ? p : el("p", { text: p }))));
  }

  /** Show a problem+json answer (or a connection failure) in a container. */
  function showProblem(container, problem, fallbackTitle = "Noget gik galt") {
    const signIn = ["urn:kl:problem:invalid-token", "urn:kl:problem:forbidden"].includes(problem.type)
      ? "Log ind med en rolle, der har adgang (udviklings-login øverst på siden)." : null;
    clear(container).append(notice("danger", problem.title || fallbackTitle, problem.detail || "", signIn));
  }

  /** A whole page could not load: an h1 with the reason and a button to try again. */
  function pageError(container, title, detail) {
    clear(container).append(el("div", { class: "notice danger" },
      el("h1", { text: title }),
      el("p", { text: detail || "" }),
      el("p", {}, el("button", { type: "button", class: "secondary", onclick: () => location.reload() }, "Prøv igen"))));
  }

  /** The page's "today" (the services may run as of another date, e.g. the demo). */
  let contextPromise = null;
  function context() {
    if (!contextPromise) {
      contextPromise = api("/api/context").then((r) => {
        if (r.ok) return r.body;
        const now = new Date();
        return { now: now.toISOString(), year: now.getFullYear() };
      });
    }
    return contextPromise;
  }

  /** Denmark's 98 municipalities from the membership service, or null if it does not answer. */
  let municipalitiesPromise = null;
  function municipalities() {
    if (!municipalitiesPromise) {
      municipalitiesPromise = api("/api/membership/municipalities").then((r) => (r.ok ? r.body.items : null));
    }
    return municipalitiesPromise;
  }

  /** Find a municipality from what a person typed: "101", "København" or "København (101)". */
  function findMunicipality(list, typed) {
    const value = (typed || "").trim();
    const code = (value.match(/\b(\d{3})\b/) || [])[1];
    if (code) return list.find((m) => m.code === code) || null;
    const lower = value.toLocaleLowerCase("da-DK");
    return list.find((m) => m.name.toLocaleLowerCase("da-DK") === lower) || null;
  }

  /** Form errors: each next to its field (aria-invalid + aria-describedby), and a summary. */
  const forms = {
    clear(form) {
      form.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
      form.querySelectorAll(".field.has-error").forEach((f) => f.classList.remove("has-error"));
      const summary = form.querySelector(".error-summary");
      if (summary) { summary.hidden = true; clear(summary); }
    },
    /** errors: [{field, message}] where field is the input's name. Focuses the summary. */
    show(form, errors) {
      const shown = [];
      for (const { field, message } of errors) {
        const input = form.elements.namedItem(field);
        const slot = form.querySelector(`#${field}-error`);
        if (!input || !slot) continue;
        if (shown.some((s) => s.field === field)) continue;
        slot.textContent = message;
        slot.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.closest(".field")?.classList.add("has-error");
        shown.push({ field, message, id: input.id });
      }
      const summary = form.querySelector(".error-summary");
      if (summary && shown.length) {
        clear(summary).append(
          el("h3", { text: shown.length === 1 ? "Ret denne fejl" : `Ret disse ${shown.length} fejl` }),
          el("ul", {}, shown.map((s) => el("li", {}, el("a", { href: `#${s.id}` }, s.message)))),
        );
        summary.hidden = false;
        summary.querySelectorAll("a").forEach((a) => a.addEventListener("click", (event) => {
          event.preventDefault();
          document.getElementById(a.getAttribute("href").slice(1))?.focus();
        }));
        summary.focus();
      }
      return shown.length;
    },
  };

  const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;

  return { api, apiAll, newIdempotencyKey, addressId, session, el, clear, date, shortDate, time, dateTime, kroner, listDate, percent, table, notice, noticeAt, showProblem, pageError, context, municipalities, findMunicipality, forms, EMAIL };
})();
