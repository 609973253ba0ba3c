/* The front page: upcoming meetings, and the way to a municipality's page. */
"use strict";

(async () => {
  const { api, el, clear, forms } = KL;
  const box = document.getElementById("meetings");
  const form = document.getElementById("kommune-form");
  let list = null;

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    forms.clear(form);
    const typed = form.elements.namedItem("kommune").value.trim();
    const found = list ? KL.findMunicipality(list, typed) : (/^\d{3}$/.test(typed) ? { code: typed } : null);
    if (!found) {
      forms.show(form, [{ field: "kommune", message: "Ukendt kommune. Skriv kommunens navn eller tre-cifrede kode, fx 751 for Aarhus." }]);
      return;
    }
    location.href = `/kommuner/${found.code}`;
  });

  const result = await api("/api/events/meetings");
  clear(box);
  if (!result.ok) {
    KL.showProblem(box, result.body, "Møderne kan ikke vises");
  } else if (result.body.length === 0) {
    box.append(el("p", { text: "Der er ingen kommende møder lige nu." }));
  } else {
    box.append(el("ul", {}, result.body.map((m) => el("li", {},
      el("a", { href: `/moeder/${m.meeting_id}` }, m.title), ` – ${KL.dateTime(m.starts_at)}, ${m.venue_name}. `,
      el("span", { class: "muted" }, `${m.free} ledige pladser af ${m.seats}`)))));
  }
  list = await KL.municipalities();
  if (list) {
    document.getElementById("kommune-list").append(...list.map((m) => el("option", { value: `${m.name} (${m.code})` })));
  }
})();
