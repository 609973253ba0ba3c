/* The municipality page. Public, without a sign-in: the name, whether it is a member this
   year and next (the membership service's public status), the offer for this year's last
   meeting where it applies, and the upcoming meetings. For the municipality's coordinator
   (or KL staff), after signing in: the memberships with contact and EAN, the staff's
   registrations, when KL invited it (its areas on the yearly lists are public), and joining
   a network. Anyone else is asked to sign in for that part. */
"use strict";

(() => {
  const { api, el, clear, forms } = KL;
  const $ = (id) => document.getElementById(id);
  const code = KL.addressId();
  const form = $("join-form");
  let municipality = null;
  let memberships = [];
  let networks = [];
  let ctx = null;
  let meetings = [];

  const STATUS = { active: "Aktivt", cancelled: "Opsagt" };
  const PUBLIC_STATUS = { active: "Medlem", cancelled: "Medlemskabet er opsagt", none: "Ikke medlem" };
  const REG_STATUS = { confirmed: "Bekræftet", waitlisted: "Venteliste", cancelled: "Afmeldt" };
  const FIELD_MESSAGES = {
    contact_name: "Skriv kontaktpersonens navn (højst 200 tegn).",
    contact_email: "Skriv en gyldig e-mailadresse, fx mette.hansen@kk.dk.",
    ean: "EAN-nummeret skal være 13 cifre med et gyldigt kontrolciffer til sidst.",
    year: "Vælg et år, der kan meldes ind for.",
    municipality_code: "Kommunekoden er ukendt.",
  };
  const PROBLEM_FIELD = {
    "urn:kl:problem:invalid-ean": "ean",
    "urn:kl:problem:year-in-past": "year",
    "urn:kl:problem:year-too-far-ahead": "year",
  };

  const networkName = (slug) => (networks.find((n) => n.slug === slug) || { name: slug }).name;

  /** GS1 check digit: weights 1 and 3 from the left on the first 12 digits. */
  function validEan(ean) {
    if (!/^\d{13}$/.test(ean)) return false;
    const digits = [...ean].map(Number);
    const sum = digits.slice(0, 12).reduce((s, d, i) => s + d * (i % 2 === 0 ? 1 : 3), 0);
    return (10 - (sum % 10)) % 10 === digits[12];
  }

  function table(caption, headers, rows, cls = "stack") {
    return el("div", { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
      el("table", { class: cls },
        el("caption", { class: "visually-hidden", text: caption }),
        el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c, i) => el("td", { "data-label": headers[i] }, c)))))));
  }

  function renderMemberships() {
    const box = clear($("memberships"));
    if (memberships.length === 0) {
      box.append(el("p", { text: "Kommunen har ingen medlemskaber endnu." }));
      return;
    }
    const sorted = [...memberships].sort((a, b) => b.year - a.year || a.network_slug.localeCompare(b.network_slug));
    box.append(table("Kommunens medlemskaber pr. år", ["År", "Netværk", "Status", "Kontingent", "Meldt ind"],
      sorted.map((m) => [String(m.year), networkName(m.network_slug),
        el("span", { class: `tag ${m.status === "active" ? "ok" : "danger"}`, text: STATUS[m.status] || m.status }),
        KL.kroner(m.fee_dkk), KL.shortDate(m.joined_at)])));
  }

  function renderRegistrations(result) {
    const box = clear($("registrations"));
    if (!result.ok) { KL.showProblem(box, result.body, "Tilmeldingerne kan ikke vises"); return; }
    if (result.body.length === 0) {
      box.append(el("p", { text: "Ingen af kommunens medarbejdere er tilmeldt et møde." }));
      return;
    }
    box.append(table("Tilmeldinger fra kommunens medarbejdere", ["Møde", "Dato", "Navn", "Stilling", "Status", "Fremmøde"],
      result.body.map((r) => [
        el("a", { href: `/moeder/${r.meeting_id}` }, r.meeting_title),
        KL.shortDate(r.starts_at), r.name, r.job_title || "–",
        r.status === "waitlisted" ? `Venteliste nr. ${r.waiting_position}` : (REG_STATUS[r.status] || r.status),
        r.attended === null ? "–" : (r.attended ? "Mødt" : "Ikke mødt"),
      ])));
  }

  const isMember = (slug, year) => memberships.some((m) => m.network_slug === slug && m.year === year && m.status === "active");

  /** The offer: this year's last meeting is free for those who join for next year. */
  function renderOffer() {
    const box = clear($("offer"));
    for (const m of meetings) {
      if (!m.next_year_members_free || m.year !== ctx.year) continue;
      if (isMember(m.network_slug, m.year)) continue;  // members attend as members anyway
      const when = `${KL.date(m.starts_at)} i ${m.venue_name}`;
      const seats = m.free > 0 ? `Der er ${m.free} ledige pladser lige nu.` : "Mødet er fuldt lige nu; nye tilmeldinger kommer på venteliste.";
      const link = el("p", {}, el("a", { href: `/moeder/${m.meeting_id}` }, `Se mødet og tilmeld medarbejdere: ${m.title}`));
      if (isMember(m.network_slug, m.year + 1)) {
        box.append(KL.noticeAt(2, "ok", `Gratis deltagelse i ${m.title}`,
          `Kommunen er meldt ind i ${networkName(m.network_slug)} for ${m.year + 1} og kan derfor deltage gratis i ${m.title} ${when}, så længe der er ledige pladser.`,
          seats, link));
      } else {
        box.append(KL.noticeAt(2, "info", `Tilbud: deltag gratis i ${m.title}`,
          `Meld kommunen ind i ${networkName(m.network_slug)} for ${m.year + 1} nu, så kan kommunens medarbejdere deltage gratis i årets sidste møde ${when}, så længe der er ledige pladser.`,
          seats, link));
      }
    }
  }

  function fillForm() {
    const network = clear($("network"));
    network.append(...networks.map((n) => el("option", { value: n.slug, text: n.name })));
    const year = clear($("year"));
    for (const y of [ctx.year + 1, ctx.year]) year.append(el("option", { value: String(y), text: String(y) }));
    year.value = String(ctx.year + 1);
    const last = [...memberships].sort((a, b) => b.year - a.year)[0];
    if (last && !form.elements.namedItem("ean").value) form.elements.namedItem("ean").value = last.ean || "";
  }

  function validate() {
    const errors = [];
    const value = (name) => (form.elements.namedItem(name).value || "").trim();
    if (!value("network")) errors.push({ field: "network", message: "Vælg et netværk." });
    if (!value("contact_name")) errors.push({ field: "contact_name", message: "Skriv kontaktpersonens navn." });
    if (!value("contact_email")) errors.push({ field: "contact_email", message: "Skriv kontaktpersonens e-mailadresse." });
    else if (!KL.EMAIL.test(value("contact_email"))) errors.push({ field: "contact_email", message: FIELD_MESSAGES.contact_email });
    if (!value("ean")) errors.push({ field: "ean", message: "Skriv kommunens EAN-nummer (13 cifre)." });
    else if (!validEan(value("ean"))) errors.push({ field: "ean", message: FIELD_MESSAGES.ean });
    return errors;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    forms.clear(form);
    const box = clear($("join-result"));
    const errors = validate();
    if (errors.length) { forms.show(form, errors); return; }
    const value = (name) => form.elements.namedItem(name).value.trim();
    const slug = value("network");
    const year = Number(value("year"));
    const button = $("join-button");
    button.disabled = true;
    const result = await api(`/api/membership/networks/${encodeURIComponent(slug)}/memberships`, {
      method: "POST",
      json: { municipality_code: code, year, contact_name: value("contact_name"), contact_email: value("contact_email"), ean: value("ean") },
      idempotencyKey: KL.newIdempotencyKey(),
    });
    button.disabled = false;
    if (result.ok) {
      const m = result.body;
      memberships = memberships.filter((x) => x.membership_id !== m.membership_id).concat([m]);
      box.append(KL.notice("ok",
        result.status === 201 ? `${municipality.name} er meldt ind for ${m.year}` : `${municipality.name} var allerede medlem for ${m.year}`,
        `Netværk: ${networkName(m.network_slug)}. Kontingent: ${KL.kroner(m.fee_dkk)}, faktureres til EAN ${m.ean}.`,
        `Velkomsten sendes til ${m.contact_email}.`));
      renderMemberships();
      const fresh = await publicMemberships();
      if (!fresh.failed) renderStatus(fresh.rows);
      renderOffer();
    } else if (result.status === 422 && Array.isArray(result.body.errors)) {
      const errs = result.body.errors.map((e) => ({ field: e.field.split(".").pop(), message: FIELD_MESSAGES[e.field.split(".").pop()] })).filter((e) => e.message);
      if (forms.show(form, errs) === 0) KL.showProblem(box, result.body);
    } else if (PROBLEM_FIELD[result.body.type]) {
      forms.show(form, [{ field: PROBLEM_FIELD[result.body.type], message: result.body.detail }]);
    } else {
      KL.showProblem(box, result.body, "Indmeldelsen blev ikke gennemført");
    }
    if (box.firstChild) box.focus();
  });

  /** Member this year and next, per network: from the public status (no personal data). */
  async function publicMemberships() {
    const years = [ctx.year, ctx.year + 1];
    const asks = networks.flatMap((n) => years.map((year) => ({ slug: n.slug, year })));
    const answers = await Promise.all(asks.map((a) =>
      api(`/api/membership/networks/${encodeURIComponent(a.slug)}/memberships/${a.year}/${encodeURIComponent(code)}`)));
    const failed = answers.find((r) => !r.ok && r.status !== 404);
    if (failed) return { failed: failed.body };
    return {
      rows: asks.map((a, i) => ({ network_slug: a.slug, year: a.year, status: answers[i].ok ? answers[i].body.status : "none" })),
    };
  }

  function renderStatus(rows) {
    const box = clear($("membership-status"));
    box.append(table(`${municipality.name}s medlemskab`, ["Netværk", "År", "Status"],
      rows.map((r) => [networkName(r.network_slug), String(r.year),
        el("span", { class: `tag ${r.status === "active" ? "ok" : (r.status === "cancelled" ? "danger" : "")}`.trim(), text: PUBLIC_STATUS[r.status] || r.status })])));
  }

  function renderUpcoming() {
    const box = clear($("upcoming"));
    if (meetings.length === 0) {
      box.append(el("p", { text: "Der er ingen kommende møder lige nu." }));
      return;
    }
    box.append(el("ul", {}, meetings.map((m) => el("li", {},
      el("a", { href: `/moeder/${m.meeting_id}` }, m.title), ` – ${KL.dateTime(m.starts_at)}, ${m.venue_name}. `,
      el("span", { class: "muted" }, `${networkName(m.network_slug)}. ${m.free} ledige pladser af ${m.seats}.`)))));
  }

  /** The municipality's areas on the yearly lists of 1 December (public data). */
  function renderAreas(result) {
    const box = clear($("areas"));
    if (!result.ok) { KL.showProblem(box, result.body, "Områderne kan ikke vises"); return; }
    if (result.body.lists.length === 0) {
      box.append(el("p", { text: "Kommunen har ingen områder på de lister over almene boligområder, der er indlæst." }));
      return;
    }
    for (const list of result.body.lists) {
      const byArea = new Map();
      for (const a of list.items) byArea.set(a.area, [...(byArea.get(a.area) || []), a.category_name]);
      box.append(el("h3", { text: `Listerne fra ${KL.listDate(list.list_date)}` }),
        el("ul", { class: "areas" }, [...byArea].map(([area, names]) => el("li", {}, el("strong", { text: area }), `: ${names.join(", ")}`))));
      if (list.partial) box.append(el("p", { class: "muted", text: "Listen i systemet er delvis: den rummer kun den del af listerne, der kunne bekræftes." }));
    }
  }

  /** When KL invited the municipality (the address it went to is not shown). */
  function renderInvitations(result) {
    const box = clear($("invitations"));
    if (!result.ok) { KL.showProblem(box, result.body, "Invitationerne kan ikke vises"); return; }
    if (result.body.items.length === 0) { box.append(el("p", { text: "KL har ikke sendt kommunen en invitation." })); return; }
    box.append(el("ul", {}, result.body.items.map((i) => el("li", {},
      `KL inviterede kommunen til ${networkName(i.network_slug)} for ${i.year}, fordi den står på listerne over boligområder fra ${KL.listDate(i.list_date)}. `,
      `Sendt ${KL.date(i.invited_at)}`,
      i.reminders ? `; ${i.reminders === 1 ? "1 påmindelse" : `${i.reminders} påmindelser`}, senest ${KL.date(i.last_reminded_at)}. ` : ". ",
      isMember(i.network_slug, i.year) ? el("span", { class: "tag ok", text: "Kommunen er meldt ind" }) : null))));
  }

  /** The part behind the sign-in: shown to those who may see it, else what to do. */
  function askToSignIn(reason) {
    const how = ctx.dev_signin
      ? "Brug udviklings-login øverst på siden: vælg Kommunal koordinator med kommunens kode eller KL-medarbejder."
      : "Log ind med dit login fra kommunen eller KL.";
    clear($("sign-in-text")).append(
      el("p", { text: reason }),
      el("p", { text: "Som kommunens koordinator (eller KL-medarbejder) ser du medlemskabernes kontaktperson, EAN-nummer og kontingent og medarbejdernes tilmeldinger, og du kan melde kommunen ind." }),
      el("p", { text: how }));
    $("sign-in").hidden = false;
  }

  async function loadPrivate() {
    const signedIn = KL.session();
    if (!signedIn) {
      askToSignIn("Du er ikke logget ind.");
      return;
    }
    const [mResult, rResult, iResult] = await Promise.all([
      api(`/api/membership/municipalities/${encodeURIComponent(code)}/memberships`),
      KL.apiAll(`/api/events/municipalities/${encodeURIComponent(code)}/registrations`),
      api(`/api/membership/municipalities/${encodeURIComponent(code)}/invitations`),
    ]);
    if (mResult.status === 401 || mResult.status === 403) {
      askToSignIn(mResult.status === 401
        ? "Dit login gælder ikke længere. Log ind igen."
        : `Du er logget ind, men ikke som ${municipality.name}s koordinator eller som KL-medarbejder.`);
      return;
    }
    if (!mResult.ok) {
      KL.showProblem(clear($("memberships")), mResult.body, "Medlemskaberne kan ikke vises");
      $("private").hidden = false;
      return;
    }
    memberships = mResult.body.items;
    renderMemberships();
    renderInvitations(iResult);
    renderRegistrations(rResult);
    renderOffer();
    fillForm();
    $("private").hidden = false;
    $("join-panel").hidden = false;
  }

  async function load() {
    const [list, context, nResult, meetingsResult, areasResult] = await Promise.all([
      KL.municipalities(), KL.context(), api("/api/membership/networks"), api("/api/events/meetings"),
      api(`/api/membership/municipalities/${encodeURIComponent(code)}/areas`),
    ]);
    ctx = context;
    if (list && !list.some((m) => m.code === code)) {
      $("page-loading").hidden = true;
      KL.pageError($("page-error"), "Ukendt kommune", `Der findes ingen kommune med koden ${code}. Brug kommunens tre-cifrede kode, fx 101 for København.`);
      return;
    }
    if (!nResult.ok) {
      $("page-loading").hidden = true;
      KL.pageError($("page-error"), nResult.body.title || "Kommunen kan ikke vises", nResult.body.detail);
      return;
    }
    municipality = (list || []).find((m) => m.code === code) || { code, name: `Kommune ${code}` };
    document.title = `${municipality.name} · KL`;
    $("municipality-title").textContent = `${municipality.name} (${code})`;
    networks = nResult.body.items;
    meetings = meetingsResult.ok ? meetingsResult.body : [];
    const status = await publicMemberships();
    $("page-loading").hidden = true;
    if (status.failed) {
      KL.showProblem($("membership-status"), status.failed, "Medlemskabet kan ikke vises");
    } else {
      memberships = status.rows.filter((r) => r.status !== "none");
      renderStatus(status.rows);
      renderOffer();
    }
    renderAreas(areasResult);
    if (meetingsResult.ok) renderUpcoming();
    else KL.showProblem($("upcoming"), meetingsResult.body, "Møderne kan ikke vises");
    $("municipality").hidden = false;
    await loadPrivate();
  }

  load();
})();
