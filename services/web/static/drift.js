/* The operators' dashboard: meetings with seats, waiting lists and check-in; notification
   deliveries by status; dead-lettered messages of each service. */
"use strict";

(() => {
  const { api, el, clear, table } = KL;
  const $ = (id) => document.getElementById(id);
  const SERVICES = { membership: "Medlemstjenesten", events: "Møde- og tilmeldingstjenesten", notifications: "Notifikationstjenesten" };
  const DELIVERY = { queued: "I kø", sent: "Sendt", failed: "Fejlet" };
  const DELIVERY_TAG = { queued: "info", sent: "ok", failed: "danger" };
  const open = new Set();

  function say(text) { $("action-status").textContent = text; }

  // --- Meetings -------------------------------------------------------------------------

  function statusText(p) {
    if (p.status === "waitlisted") return el("span", { class: "tag warn", text: `Venteliste nr. ${p.waiting_position}` });
    if (p.status === "cancelled") return el("span", { class: "tag danger", text: "Afmeldt" });
    return el("span", { class: "tag ok", text: "Bekræftet" });
  }

  async function act(meetingId, label, path, json) {
    say(`${label} …`);
    const result = await api(`/api/events/meetings/${encodeURIComponent(meetingId)}/${path}`, { method: "POST", json });
    if (result.ok) {
      const promoted = result.body.promoted && result.body.promoted.length
        ? ` Rykket op fra ventelisten: ${result.body.promoted.join(", ")}.` : "";
      say(`${label}: gennemført.${promoted}`);
    } else {
      say(`${label}: ${result.body.title}. ${result.body.detail || ""}`);
    }
    await loadParticipants(meetingId);
  }

  const participantsSeq = new Map();

  async function loadParticipants(meetingId) {
    const seq = (participantsSeq.get(meetingId) || 0) + 1;
    participantsSeq.set(meetingId, seq);
    const result = await KL.apiAll(`/api/events/meetings/${encodeURIComponent(meetingId)}/registrations`);
    const box = document.querySelector(`[data-participants="${CSS.escape(meetingId)}"]`);
    if (!box || participantsSeq.get(meetingId) !== seq) return;  // a later load answers
    clear(box);
    if (!result.ok) { KL.showProblem(box, result.body, "Deltagerlisten kan ikke vises"); return; }
    if (result.body.length === 0) { box.append(el("p", { text: "Ingen tilmeldinger endnu." })); return; }
    box.append(table("Deltagere", ["Navn", "Kommune", "Stilling", "Status", "Fremmøde", "Handlinger"],
      result.body.map((p) => {
        const actions = el("div", { class: "actions" });
        if (p.status === "confirmed") {
          actions.append(
            el("button", { type: "button", class: "small secondary", onclick: () => act(meetingId, `Fremmøde for ${p.name}`, `registrations/${p.registration_id}/attendance`, { attended: true }) }, "Mødt", el("span", { class: "visually-hidden", text: `: ${p.name}` })),
            el("button", { type: "button", class: "small secondary", onclick: () => act(meetingId, `Udeblivelse for ${p.name}`, `registrations/${p.registration_id}/attendance`, { attended: false }) }, "Ikke mødt", el("span", { class: "visually-hidden", text: `: ${p.name}` })));
        }
        if (p.status !== "cancelled") {
          actions.append(el("button", { type: "button", class: "small danger", onclick: () => act(meetingId, `Afmelding af ${p.name}`, `registrations/${p.registration_id}/cancel`, { cancelled_by: "operator" }) }, "Afmeld", el("span", { class: "visually-hidden", text: `: ${p.name}` })));
        }
        return el("tr", { "data-registration": p.registration_id },
          el("td", { "data-label": "Navn" }, p.name),
          el("td", { "data-label": "Kommune" }, p.municipality_code),
          el("td", { "data-label": "Stilling" }, p.job_title || "–"),
          el("td", { "data-label": "Status", class: "status" }, statusText(p)),
          el("td", { "data-label": "Fremmøde" }, p.attended === null ? "–" : (p.attended ? "Mødt" : "Ikke mødt")),
          el("td", { "data-label": "Handlinger" }, actions));
      })));
  }

  /** Seats and waiting lists of the shown meetings, from the availability projection. */
  const shownSeats = new Map();

  function showAvailability(m) {
    const row = document.querySelector(`tr[data-meeting="${CSS.escape(m.meeting_id)}"]`);
    if (!row) return;
    row.querySelector(".seats").textContent = String(m.seats);
    row.querySelector(".taken").textContent = String(m.seats - m.free);
    row.querySelector(".free").textContent = String(m.free);
    row.querySelector(".waiting").textContent = String(m.waiting);
    const seen = `${m.seats}/${m.free}/${m.waiting}`;
    const before = shownSeats.get(m.meeting_id);
    shownSeats.set(m.meeting_id, seen);
    if (before !== undefined && before !== seen && open.has(m.meeting_id)) loadParticipants(m.meeting_id);
  }

  /** Polled, not streamed: one stream per meeting would use up the browser's six
      connections per host and starve the page's other requests. */
  async function refreshSeats() {
    const result = await api("/api/events/meetings");
    if (!result.ok) return;
    const shown = [...document.querySelectorAll("tr[data-meeting]")].map((r) => r.dataset.meeting);
    const now = result.body.map((m) => m.meeting_id);
    if (shown.join() !== now.join()) { await loadMeetings(); return; }
    result.body.forEach(showAvailability);
  }

  async function loadMeetings() {
    const box = $("meetings");
    const result = await api("/api/events/meetings");
    clear(box);
    if (!result.ok) { KL.showProblem(box, result.body, "Møderne kan ikke vises"); return; }
    if (result.body.length === 0) { box.append(el("p", { text: "Ingen kommende møder." })); return; }
    const rows = [];
    for (const m of result.body) {
      const panelId = `deltagere-${m.meeting_id}`;
      const toggle = el("button", { type: "button", class: "small secondary", "aria-expanded": open.has(m.meeting_id) ? "true" : "false", "aria-controls": panelId },
        "Deltagere", el("span", { class: "visually-hidden", text: `: ${m.title}` }));
      toggle.addEventListener("click", () => {
        const shown = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", shown ? "false" : "true");
        const detail = document.getElementById(panelId);
        detail.hidden = shown;
        if (shown) open.delete(m.meeting_id);
        else { open.add(m.meeting_id); loadParticipants(m.meeting_id); }
      });
      rows.push(el("tr", { "data-meeting": m.meeting_id },
        el("td", { "data-label": "Møde" }, el("a", { href: `/moeder/${m.meeting_id}` }, m.title)),
        el("td", { "data-label": "Dato" }, KL.shortDate(m.starts_at)),
        el("td", { "data-label": "Pladser", class: "num seats" }, String(m.seats)),
        el("td", { "data-label": "Optaget", class: "num taken" }, String(m.seats - m.free)),
        el("td", { "data-label": "Ledige", class: "num free" }, String(m.free)),
        el("td", { "data-label": "Venteliste", class: "num waiting" }, String(m.waiting)),
        el("td", { "data-label": "Deltagere" }, toggle)));
      rows.push(el("tr", { class: "detail", id: panelId, hidden: !open.has(m.meeting_id) },
        el("td", { colspan: "7" }, el("div", { "data-participants": m.meeting_id }))));
    }
    box.append(table("Kommende møder", ["Møde", "Dato", "Pladser", "Optaget", "Ledige", "Venteliste", "Deltagere"], rows, [2, 3, 4, 5]));
    for (const m of result.body) {
      showAvailability(m);
      if (open.has(m.meeting_id)) loadParticipants(m.meeting_id);
    }
  }

  // --- Notifications --------------------------------------------------------------------

  let deliveriesSeq = 0;

  async function loadDeliveries() {
    const seq = ++deliveriesSeq;
    const status = $("delivery-status").value;
    const box = $("deliveries");
    const [list, ...totals] = await Promise.all([
      api(`/api/notifications/deliveries?limit=50${status ? `&status=${status}` : ""}`),
      ...Object.keys(DELIVERY).map((s) => api(`/api/notifications/deliveries?status=${s}&limit=1`)),
    ]);
    if (seq !== deliveriesSeq) return;  // a later load answers
    const counts = clear($("delivery-counts"));
    clear(box);
    if (!list.ok) { KL.showProblem(box, list.body, "Leveringerne kan ikke vises"); return; }
    Object.keys(DELIVERY).forEach((s, i) => {
      counts.append(el("li", {}, el("strong", { text: totals[i].ok ? String(totals[i].body.total) : "?" }), DELIVERY[s]));
    });
    if (list.body.items.length === 0) {
      box.append(el("p", { text: status ? `Ingen leveringer med status "${DELIVERY[status]}".` : "Ingen leveringer endnu." }));
      return;
    }
    box.append(table("Leveringer", ["Emne", "Modtager", "Status", "Forsøg", "Seneste fejl", "Oprettet"],
      list.body.items.map((d) => [d.subject, d.recipient_email || "[slettet]",
        el("span", { class: `tag ${DELIVERY_TAG[d.status]}`, text: DELIVERY[d.status] + (d.permanent ? " (endeligt)" : "") }),
        String(d.attempts), d.last_error || "–", KL.shortDate(d.created_at)]), [3]));
  }

  // --- Dead letters ---------------------------------------------------------------------

  async function loadDeadLetters() {
    const results = await Promise.all(Object.keys(SERVICES).map((s) => api(`/api/${s}/admin/dead-letters`)));
    const box = clear($("dead-letters"));
    Object.entries(SERVICES).forEach(([service, name], i) => {
      const result = results[i];
      const section = el("div", { "data-service": service }, el("h3", { text: name }));
      if (result.status === 404) {
        section.append(el("p", { class: "muted", text: "Oversigten er ikke tilgængelig i denne version af tjenesten." }));
      } else if (!result.ok) {
        section.append(KL.notice("danger", result.body.title || "Ikke tilgængelig", result.body.detail || ""));
      } else if (result.body.length === 0) {
        section.append(el("p", { text: "Ingen døde beskeder." }));
      } else {
        section.append(table(`Døde beskeder: ${name}`, ["Emne (topic)", "Oprindelig placering", "Forbruger", "Fejl"],
          result.body.map((d) => [d.original_topic, `${d.original_offset}`, d.consumer, d.error])));
      }
      box.append(section);
    });
  }

  function loadAll() {
    say("");
    return Promise.all([loadMeetings(), loadDeliveries(), loadDeadLetters()]);
  }

  $("refresh").addEventListener("click", () => loadAll().then(() => say("Opdateret.")));
  $("deliveries-form").addEventListener("submit", (event) => { event.preventDefault(); loadDeliveries(); });
  loadAll();
  // Seats and deliveries change on their own; the dashboard keeps them current.
  setInterval(() => { if (!document.hidden) refreshSeats(); }, 2000);
  setInterval(() => { if (!document.hidden) loadDeliveries(); }, 5000);
})();
