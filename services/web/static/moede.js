/* The meeting page: program, time and place, free seats live (Server-Sent Events through
   the proxy), and the registration form with Danish messages next to each field. */
"use strict";

(() => {
  const { api, el, clear, forms } = KL;
  const $ = (id) => document.getElementById(id);
  const meetingRef = KL.addressId();
  const form = $("register-form");
  let meeting = null;
  let municipalityList = null;

  const FIELD_MESSAGES = {
    name: "Skriv dit navn (højst 200 tegn).",
    email: "Skriv en gyldig e-mailadresse, fx anne.jensen@aarhus.dk.",
    job_title: "Skriv din stilling (højst 200 tegn), fx boligsocial koordinator.",
    municipality_code: "Ukendt kommune. Skriv kommunens navn eller tre-cifrede kode, fx 101 for København.",
    note: "Bemærkningen må højst være 1000 tegn.",
  };

  const BASIS = {
    member: "som medlem af netværket",
    next_year_offer: "på tilbuddet til kommuner, der er meldt ind for næste år",
    guest: "som gæst",
  };

  function showSeats(free, seats, waiting) {
    $("free-seats").textContent = String(free);
    $("total-seats").textContent = String(seats);
    $("waiting-count").textContent = waiting === 0 ? "ingen" : String(waiting);
  }

  function render(m, now) {
    document.title = `${m.title} · KL`;
    $("meeting-title").textContent = m.title;
    $("meeting-date").textContent = KL.date(m.starts_at);
    $("meeting-time").textContent = `kl. ${KL.time(m.starts_at)}–${KL.time(m.ends_at)}`;
    $("meeting-place").textContent = `${m.venue_name}, ${m.venue_address}`;
    $("meeting-deadline").textContent = KL.dateTime(m.registration_deadline);
    $("meeting-price").textContent = m.guest_price_dkk === null
      ? "Gratis for netværkets medlemskommuner"
      : `Gratis for medlemskommuner; ${KL.kroner(m.guest_price_dkk)} for andre`;
    $("meeting-description").textContent = m.description || "";
    if (m.next_year_members_free) {
      clear($("meeting-offer")).append(KL.noticeAt(2, "info", "Tilbud",
        `Kommuner, der melder sig ind i netværket for ${m.year + 1}, kan deltage gratis i dette møde, så længe der er ledige pladser.`));
    }
    const program = clear($("program"));
    if (m.program.length === 0) program.append(el("li", {}, el("span"), el("span", { class: "muted", text: "Programmet er ikke offentliggjort endnu." })));
    for (const item of m.program) {
      program.append(el("li", {},
        el("time", { datetime: item.starts_at, text: KL.time(item.starts_at) }),
        el("span", {}, item.title, item.speaker ? el("span", { class: "speaker", text: item.speaker }) : null)));
    }
    showSeats(m.free_seats, m.seats, m.waiting);
    if (m.cancelled) {
      clear($("meeting-cancelled")).append(KL.noticeAt(2, "danger", "Mødet er aflyst", m.cancel_reason || ""));
      form.hidden = true;
    } else if (new Date(now) > new Date(m.registration_deadline)) {
      clear($("register-result")).append(KL.notice("warn", "Tilmeldingen er lukket",
        `Fristen var ${KL.dateTime(m.registration_deadline)}. Kontakt KL, hvis du stadig vil deltage.`));
      form.hidden = true;
    }
    $("meeting").hidden = false;
  }

  /** Live seats: the events service's availability stream; reconnects with a growing pause. */
  function follow(meetingId) {
    let pause = 1000;
    const connect = () => {
      const source = new EventSource(`/api/events/meetings/${encodeURIComponent(meetingId)}/availability/stream`);
      source.addEventListener("open", () => {
        pause = 1000;
        $("live-status").textContent = "Tallene opdateres automatisk.";
      });
      source.addEventListener("availability", (event) => {
        const a = JSON.parse(event.data);
        showSeats(a.free, a.seats, a.waiting);
        if (a.cancelled && !$("meeting-cancelled").firstChild) {
          $("meeting-cancelled").append(KL.noticeAt(2, "danger", "Mødet er aflyst", "Mødet er netop aflyst. Alle tilmeldte får besked på e-mail."));
          form.hidden = true;
        }
      });
      source.addEventListener("error", () => {
        source.close();
        $("live-status").textContent = "Forbindelsen til de levende tal er afbrudt. Vi prøver igen om lidt.";
        setTimeout(connect, pause);  // the browser's reconnect, with back-off; not a test wait
        pause = Math.min(pause * 2, 30000);
      });
    };
    connect();
  }

  function validate() {
    const errors = [];
    const value = (name) => (form.elements.namedItem(name).value || "").trim();
    if (!value("name")) errors.push({ field: "name", message: "Skriv dit navn." });
    if (!value("email")) errors.push({ field: "email", message: "Skriv din e-mailadresse." });
    else if (!KL.EMAIL.test(value("email"))) errors.push({ field: "email", message: FIELD_MESSAGES.email });
    if (!value("job_title")) errors.push({ field: "job_title", message: "Skriv din stilling, fx boligsocial koordinator." });
    const typed = value("municipality_code");
    let code = null;
    if (!typed) errors.push({ field: "municipality_code", message: "Skriv din kommune." });
    else if (municipalityList) {
      const found = KL.findMunicipality(municipalityList, typed);
      if (found) code = found.code;
      else errors.push({ field: "municipality_code", message: FIELD_MESSAGES.municipality_code });
    } else if (/^\d{3}$/.test(typed)) code = typed;
    else errors.push({ field: "municipality_code", message: "Skriv kommunens tre-cifrede kode, fx 101 for København." });
    if (value("note").length > 1000) errors.push({ field: "note", message: FIELD_MESSAGES.note });
    return { errors, code };
  }

  function answer(result, payload) {
    const box = clear($("register-result"));
    const body = result.body;
    if (result.status === 201) {
      box.append(KL.notice("ok", "Du har fået en plads",
        `${payload.name} er tilmeldt ${meeting.title} ${KL.date(meeting.starts_at)} ${BASIS[body.basis] || ""}.`,
        `Pris: ${body.price_dkk === 0 ? "gratis" : KL.kroner(body.price_dkk)}.`,
        `Du får en bekræftelse med kalenderinvitation på ${payload.email}.`,
        el("p", { class: "muted" }, `Tilmeldingsnummer: ${body.registration_id}`)));
    } else if (result.status === 202) {
      box.append(KL.notice("warn", `Du er nr. ${body.waiting_position} på ventelisten`,
        "Mødet er fuldt lige nu. Bliver en plads ledig, går den automatisk til den første på ventelisten, og du får besked på e-mail.",
        el("p", { class: "muted" }, `Tilmeldingsnummer: ${body.registration_id}`)));
    } else if (result.status === 422 && Array.isArray(body.errors)) {
      const errors = body.errors.map((e) => ({ field: e.field.split(".").pop(), message: FIELD_MESSAGES[e.field.split(".").pop()] }))
        .filter((e) => e.message);
      if (forms.show(form, errors) === 0) KL.showProblem(box, body);
      return;
    } else if (body.type === "urn:kl:problem:not-a-member") {
      const detail = (body.detail || "").split(" Indmeldelse i ")[0];
      const code = payload.municipality_code;
      box.append(KL.notice("danger", body.title, detail,
        el("p", {}, "Hvad kan I gøre: kommunens kontaktperson kan melde kommunen ind for ",
          String(body.join_year), " på ", el("a", { href: `/kommuner/${code}` }, "kommunens side"), ".")));
    } else if (result.status === 401 || result.status === 403) {
      box.append(KL.notice("danger", body.title || "Ingen adgang", body.detail || "",
        "Tilmelding kræver login: en deltager tilmelder sig selv, en kommunal koordinator "
        + "sin kommunes medarbejdere. Brug login øverst på siden."));
    } else {
      KL.showProblem(box, body, "Tilmeldingen blev ikke gennemført");
    }
    box.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    forms.clear(form);
    clear($("register-result"));
    const { errors, code } = validate();
    if (errors.length) { forms.show(form, errors); return; }
    const value = (name) => form.elements.namedItem(name).value.trim();
    const payload = {
      name: value("name"),
      email: value("email"),
      job_title: value("job_title"),
      municipality_code: code,
      note: value("note") || null,
    };
    const button = $("register-button");
    button.disabled = true;
    button.textContent = "Tilmelder …";
    const result = await api(`/api/events/meetings/${encodeURIComponent(meeting.meeting_id)}/registrations`, {
      method: "POST", json: payload, idempotencyKey: KL.newIdempotencyKey(),
    });
    button.disabled = false;
    button.textContent = "Tilmeld";
    answer(result, payload);
    if (result.status === 201 || result.status === 202) form.reset();
  });

  async function load() {
    const [result, ctx] = await Promise.all([api(`/api/events/meetings/${encodeURIComponent(meetingRef)}`), KL.context()]);
    $("page-loading").hidden = true;
    if (!result.ok) {
      const box = $("page-error");
      const title = result.status === 404 ? "Mødet findes ikke" : (result.body.title || "Mødet kan ikke vises");
      const detail = result.status === 404
        ? "Tjek adressen, eller find mødet på forsiden."
        : result.body.detail;
      KL.pageError(box, title, detail);
      return;
    }
    meeting = result.body;
    render(meeting, ctx.now);
    follow(meeting.meeting_id);
    municipalityList = await KL.municipalities();
    if (municipalityList) {
      $("municipality-list").append(...municipalityList.map((m) => el("option", { value: `${m.name} (${m.code})` })));
    }
  }

  load();
})();
