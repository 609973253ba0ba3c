/* The operators' dashboard, outreach and statistics: the municipalities on the yearly lists
   of housing areas, with filters (not invited / invited / joined) and an invitation form per
   municipality (the operator types the address; nothing is guessed); the network's
   statistics as tables with small charts (inline SVG, drawn here) and as CSV downloads. */
"use strict";

(() => {
  const { api, el, clear, table } = KL;
  const $ = (id) => document.getElementById(id);
  const NETWORK = "knub";
  const STATUS = { not_invited: "Ikke inviteret", invited: "Inviteret", joined: "Meldt ind" };
  const STATUS_TAG = { not_invited: "", invited: "info", joined: "ok" };
  const COLOURS = { new: "#003b73", renewed: "#5b6b7a", through_offer: "#a34a00", listYear: "#5b6b7a", comingYear: "#003b73" };
  const SVG = "http://www.w3.org/2000/svg";
  const CATEGORY = { udsat: "udsat boligområde", parallelsamfund: "parallelsamfund", omdannelsesomraade: "omdannelsesområde", forebyggelsesomraade: "forebyggelsesområde", alle: "alle kategorier" };
  const category = (code) => CATEGORY[code] || code;

  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function say(text) { $("outreach-action").textContent = text; }

  // --- Outreach -------------------------------------------------------------------------

  let listYears = [];
  let outreachSeq = 0;

  async function loadYears() {
    const result = await api("/api/membership/area-lists");
    const select = clear($("outreach-year"));
    listYears = result.ok ? [...new Set(result.body.items.map((l) => Number(l.list_date.slice(0, 4))))].sort((a, b) => b - a) : [];
    select.append(...listYears.map((y) => el("option", { value: String(y), text: `1. december ${y}` })));
    return result;
  }

  function inviteForm(row, listDate, year) {
    if (row.status === "joined" || row.membership === "cancelled") return "–";
    const id = `invite-${row.municipality_code}`;
    const reminder = row.status === "invited";
    const input = el("input", { id, name: "contact_email", type: "email", autocomplete: "off", "aria-describedby": `${id}-error` });
    const error = el("p", { class: "field-error", id: `${id}-error`, hidden: true });
    const form = el("form", { class: "invite", novalidate: true, "data-invite": row.municipality_code },
      el("label", { class: "visually-hidden", for: id, text: `Kontaktadresse i ${row.municipality_name}` }),
      error, input,
      el("button", { type: "submit", class: "small" }, reminder ? "Send påmindelse" : "Invitér",
        el("span", { class: "visually-hidden", text: `: ${row.municipality_name}` })));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const email = input.value.trim();
      if (!KL.EMAIL.test(email)) {
        error.textContent = "Skriv kontaktens e-mailadresse, fx boligsocial@odense.dk.";
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      error.hidden = true;
      input.removeAttribute("aria-invalid");
      say(`${row.municipality_name}: sender …`);
      const result = await api(`/api/membership/networks/${NETWORK}/invitations`, {
        method: "POST",
        json: { list_date: listDate, reminder, invitations: [{ municipality_code: row.municipality_code, contact_email: email }] },
        idempotencyKey: KL.newIdempotencyKey(),
      });
      if (!result.ok) { say(`${row.municipality_name}: ${result.body.title}. ${result.body.detail || ""}`); return; }
      const outcome = result.body.results[0].outcome;
      say({
        invited: `${row.municipality_name}: invitationen til ${year} er sendt.`,
        reminded: `${row.municipality_name}: påmindelsen er sendt.`,
        already_invited: `${row.municipality_name}: var allerede inviteret; intet sendt.`,
        member: `${row.municipality_name}: er medlem for ${year}; ikke inviteret.`,
        cancelled_member: `${row.municipality_name}: medlemskabet for ${year} er opsagt; ikke inviteret.`,
      }[outcome] || outcome);
      input.value = "";
      await loadOutreach();
    });
    return form;
  }

  function yesNo(value) { return value === null || value === undefined ? "–" : (value ? "Ja" : "Nej"); }

  async function loadOutreach() {
    const seq = ++outreachSeq;
    const year = $("outreach-year").value;
    const box = $("outreach");
    if (!year) {
      clear(box).append(el("p", { text: "Der er ikke indlæst nogen lister over boligområder endnu (python -m services.operator areas import FIL)." }));
      return;
    }
    const status = $("outreach-status").value;
    const result = await api(`/api/membership/networks/${NETWORK}/outreach/${year}${status ? `?status=${status}` : ""}`);
    if (seq !== outreachSeq) return;  // a later load answers
    clear(box);
    const counts = clear($("outreach-counts"));
    const offer = clear($("outreach-offer"));
    if (!result.ok) { KL.showProblem(box, result.body, "Listen kan ikke vises"); return; }
    const o = result.body;
    const t = o.totals;
    for (const [label, n] of [["på listen", t.listed], ["ikke inviteret", t.not_invited], ["inviteret", t.invited], [`meldt ind for ${o.year}`, t.joined], ["meldt ind efter invitation", t.converted], ["meldt ind mens tilbuddet var åbent", t.joined_while_offer_open]]) {
      counts.append(el("li", {}, el("strong", { text: String(n) }), label));
    }
    if (o.partial) offer.append(KL.notice("warn", "Listen er delvis", `Listen fra ${KL.listDate(o.list_date)} i systemet rummer kun den del af listerne, der kunne bekræftes.`));
    if (o.offer_meeting) {
      const m = o.offer_meeting;
      offer.append(el("p", {}, "Tilbuddet i invitationen: ", el("a", { href: `/moeder/${m.meeting_id}` }, m.title),
        `, ${KL.date(m.starts_at)}: ${m.free} ledige pladser af ${m.seats}${m.offer ? "" : " (tilbuddet er taget af mødet)"}.`));
    } else {
      offer.append(el("p", { class: "muted", text: "Intet møde har tilbuddet til næste års medlemmer lige nu: invitationen nævner intet tilbud." }));
    }
    if (o.items.length === 0) {
      box.append(el("p", { text: status ? `Ingen kommuner med status "${STATUS[status]}".` : "Ingen kommuner på listen." }));
      return;
    }
    const listYear = Number(year);
    const headers = ["Kommune", "Områder", `Medlem ${listYear}`, `Status for ${o.year}`, "Inviteret", "Meldt ind", "Under tilbuddet", "Deltog", "Invitation"];
    box.append(table(`Kommuner på listen fra ${KL.listDate(o.list_date)}`, headers, o.items.map((r) => {
      const areas = [...new Set(r.areas.map((a) => a.area))].join(", ");
      const statusTag = el("span", { class: `tag ${STATUS_TAG[r.status]}`.trim(), text: STATUS[r.status] + (r.converted ? " efter invitation" : "") });
      return el("tr", { "data-municipality": r.municipality_code },
        el("td", { "data-label": headers[0] }, el("a", { href: `/kommuner/${r.municipality_code}` }, `${r.municipality_name} (${r.municipality_code})`)),
        el("td", { "data-label": headers[1] }, areas, el("br"), el("span", { class: "muted", text: r.categories.map(category).join(", ") })),
        el("td", { "data-label": headers[2] }, r.member_in_list_year ? "Ja" : "Nej"),
        el("td", { "data-label": headers[3], class: "status" }, statusTag),
        el("td", { "data-label": headers[4] }, r.invited_at ? KL.shortDate(r.invited_at) + (r.reminders ? ` (+${r.reminders} påmindelse${r.reminders > 1 ? "r" : ""})` : "") : "–"),
        el("td", { "data-label": headers[5] }, r.joined_at ? KL.shortDate(r.joined_at) : "–"),
        el("td", { "data-label": headers[6] }, r.joined_while_offer_open ? "Ja" : "Nej"),
        el("td", { "data-label": headers[7] }, yesNo(r.staff_came), r.staff_registered ? el("span", { class: "muted", text: ` (${r.staff_registered} tilmeldt)` }) : null),
        el("td", { "data-label": headers[8] }, inviteForm(r, o.list_date, o.year)));
    })));
  }

  // --- Statistics -----------------------------------------------------------------------

  /** Members per year as stacked bars: new, renewed, joined under the offer. */
  function membersChart(years) {
    const max = Math.max(1, ...years.map((y) => y.members));
    const rowHeight = 34;
    const width = 520;
    const left = 60;
    const scale = (width - left - 60) / max;
    const parts = [["new", "Nye"], ["renewed", "Fornyede"], ["through_offer", "Via tilbuddet"]];
    const summary = years.map((y) => `${y.year}: ${y.members} medlemmer (${y.new} nye, ${y.renewed} fornyede, ${y.through_offer} via tilbuddet)`).join("; ");
    const height = years.length * rowHeight + 40;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "members-chart-title", class: "chart" },
      svg("title", { id: "members-chart-title" }, `Medlemmer pr. år. ${summary}`));
    years.forEach((y, i) => {
      const top = i * rowHeight + 4;
      chart.append(svg("text", { x: 0, y: top + 18, class: "chart-label" }, String(y.year)));
      let x = left;
      for (const [key] of parts) {
        if (y[key] > 0) chart.append(svg("rect", { x, y: top, width: y[key] * scale, height: 24, fill: COLOURS[key] }));
        x += y[key] * scale;
      }
      chart.append(svg("text", { x: x + 6, y: top + 18, class: "chart-label" }, String(y.members)));
    });
    parts.forEach(([key, label], i) => {
      const x = left + i * 150;
      chart.append(svg("rect", { x, y: height - 24, width: 14, height: 14, fill: COLOURS[key] }),
        svg("text", { x: x + 20, y: height - 12, class: "chart-label" }, label));
    });
    return chart;
  }

  /** The share of the listed municipalities that are members, per category (latest list). */
  function coverageChart(rows) {
    const latest = rows.reduce((d, r) => (r.list_date > d ? r.list_date : d), "");
    const listYear = Number(latest.slice(0, 4));
    const categories = [...new Set(rows.filter((r) => r.list_date === latest).map((r) => r.category))];
    const share = (code, year) => rows.find((r) => r.list_date === latest && r.category === code && r.year === year);
    const width = 520;
    const left = 170;
    const rowHeight = 44;
    const height = categories.length * rowHeight + 40;
    const summary = categories.map((c) => `${category(c)}: ${KL.percent(share(c, listYear).share)} i ${listYear}, ${KL.percent(share(c, listYear + 1).share)} i ${listYear + 1}`).join("; ");
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "coverage-chart-title", class: "chart" },
      svg("title", { id: "coverage-chart-title" }, `Andel medlemmer blandt kommunerne på listen fra ${KL.listDate(latest)}. ${summary}`));
    categories.forEach((code, i) => {
      const top = i * rowHeight + 4;
      chart.append(svg("text", { x: 0, y: top + 22, class: "chart-label" }, category(code)));
      [[listYear, "listYear", 0], [listYear + 1, "comingYear", 18]].forEach(([year, colour, offset]) => {
        const r = share(code, year);
        const w = (width - left - 70) * (r.share || 0);
        chart.append(svg("rect", { x: left, y: top + offset, width: width - left - 70, height: 14, fill: "#eef1f5", stroke: "#5c6670" }));
        if (w > 0) chart.append(svg("rect", { x: left, y: top + offset, width: w, height: 14, fill: COLOURS[colour] }));
        chart.append(svg("text", { x: width - 64, y: top + offset + 12, class: "chart-label" }, `${r.members}/${r.listed}`));
      });
    });
    [[`Medlem ${listYear}`, "listYear"], [`Medlem ${listYear + 1}`, "comingYear"]].forEach(([label, colour], i) => {
      const x = left + i * 150;
      chart.append(svg("rect", { x, y: height - 24, width: 14, height: 14, fill: COLOURS[colour] }),
        svg("text", { x: x + 20, y: height - 12, class: "chart-label" }, label));
    });
    return chart;
  }

  async function download(table) {
    const signedIn = KL.session();
    const response = await fetch(`/api/membership/networks/${NETWORK}/statistics.csv?table=${table}`, {
      headers: signedIn ? { Authorization: `Bearer ${signedIn.token}` } : {},
    }).catch(() => null);
    if (!response || !response.ok) { say("CSV-filen kunne ikke hentes. Prøv igen."); return; }
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `${NETWORK}-${table}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(link.href);
  }

  async function loadStatistics() {
    const result = await api(`/api/membership/networks/${NETWORK}/statistics`);
    const members = clear($("stats-members"));
    const coverage = clear($("stats-coverage"));
    const meetings = clear($("stats-meetings"));
    if (!result.ok) { KL.showProblem(members, result.body, "Statistikken kan ikke vises"); return; }
    const s = result.body;
    const downloads = clear($("statistics-downloads"));
    for (const [table, label] of [["members", "medlemmer"], ["coverage", "dækning"], ["meetings", "møder"]]) {
      downloads.append(el("button", { type: "button", class: "secondary small", onclick: () => download(table) }, `Hent ${label} som CSV`));
    }
    if (s.members.length) {
      members.append(membersChart(s.members),
        table("Medlemmer pr. år", ["År", "Medlemmer", "Nye", "Fornyede", "Via tilbuddet", "Opsagte"],
          s.members.map((m) => [String(m.year), String(m.members), String(m.new), String(m.renewed), String(m.through_offer), String(m.cancelled)]), [1, 2, 3, 4, 5]));
    } else {
      members.append(el("p", { text: "Netværket har ingen medlemmer endnu." }));
    }
    if (s.coverage.length) {
      coverage.append(coverageChart(s.coverage),
        table("Dækning af listerne", ["Liste", "År", "Kategori", "Kommuner på listen", "Medlemmer", "Andel"],
          s.coverage.map((c) => [KL.listDate(c.list_date), String(c.year), category(c.category), String(c.listed), String(c.members), KL.percent(c.share)]), [3, 4, 5]));
    } else {
      coverage.append(el("p", { text: "Der er ikke indlæst nogen lister." }));
    }
    if (s.meetings.length) {
      meetings.append(table("Møder", ["Møde", "Dato", "Pladser", "Bekræftede", "Venteliste", "Rykket op", "Afmeldte", "På tilbuddet", "Mødt", "Udeblevet", "Udeblivelse"],
        s.meetings.map((m) => [el("a", { href: `/moeder/${m.meeting_id}` }, m.title), KL.shortDate(m.starts_at), String(m.seats), String(m.confirmed),
          String(m.waiting), String(m.promoted), String(m.cancelled), String(m.with_offer), String(m.attended), String(m.no_shows), KL.percent(m.no_show_rate)]),
        [2, 3, 4, 5, 6, 7, 8, 9, 10]));
    } else {
      meetings.append(el("p", { text: "Netværket har ingen møder endnu." }));
    }
  }

  async function loadAll() {
    await loadYears();
    await Promise.all([loadOutreach(), loadStatistics()]);
  }

  $("outreach-form").addEventListener("submit", (event) => { event.preventDefault(); loadOutreach(); });
  $("refresh").addEventListener("click", () => loadAll());
  loadAll();
  // Invitations and joins arrive through Kafka; the dashboard keeps the list current, but
  // never while someone is typing an address into it.
  setInterval(() => {
    const typing = document.activeElement && document.activeElement.closest("form.invite");
    if (!document.hidden && !typing) loadOutreach();
  }, 5000);
  setInterval(() => { if (!document.hidden) loadStatistics(); }, 30000);
})();
