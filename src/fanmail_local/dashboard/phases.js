// A run in phases (local time, A/B test): the timeline, each phase's counts once it closed,
// the problems found before sending, and the A/B decision with its figures.
import { byId, count, el, fillBody, when } from "./core.js";

export function showPhases(view) {
  const phases = view.phases;
  byId("phases").hidden = !phases;
  if (!phases) return;
  byId("phase-problems").replaceChildren(...phases.problems.map((p) => el("li", p)));
  fillBody(byId("phase-table"), phases.phases.map((phase, index) => {
    const closed = Object.keys(phase.counts).length > 0;
    const state = closed ? "done" : index === phases.current ? "current" : "waiting";
    const row = el("tr");
    row.dataset.kind = phase.kind;
    row.append(
      el("td", String(index + 1)),
      el("td", phase.label),
      el("td", when(phase.instant)),
      el("td", count(phase.planned_recipients)),
      el("td", closed ? count(phase.counts.sent) : ""),
      el("td", phase.fits ? state : `${state} (late: needs ${Math.ceil(phase.required_rate || 0)} a second)`),
    );
    return row;
  }), "No phases");
  const decision = phases.decision;
  byId("decision").hidden = !decision;
  if (!decision) return;
  byId("decision-reason").textContent = decision.reason;
  const caveat = byId("decision-caveat");
  caveat.hidden = !decision.caveat;
  caveat.textContent = decision.caveat || "";
  fillBody(byId("decision-table"), decision.variants.map((v) => {
    const row = el("tr", null, v.name === decision.winner ? "winner" : "");
    row.append(
      el("td", v.name), el("td", count(v.delivered)), el("td", count(v.successes)),
      el("td", v.rate === null ? "" : `${(100 * v.rate).toFixed(2)} %`),
      el("td", `${(100 * v.confidence).toFixed(1)} %`),
    );
    return row;
  }), "No variants");
}
