// A run in phases (local time, quiet hours, A/B test): the rules that shaped it in words, the
// timeline (each phase opening on its zone's own clock, its counts once it closed), the problems
// found before sending, and the A/B decision with its figures.
import { byId, count, el, fillBody, percent, when } from "./core.js";

const METRIC_WORDS = { clicks: "Clicked", opens: "Opened", manual: "Successes" };
const SIDE_COUNTS = ["held_out", "deferred", "skipped"];

export function showPhases(view) {
  const phases = view.phases;
  byId("phases").hidden = !phases;
  if (!phases) return;
  byId("phase-rules").textContent = rules(view);
  byId("phase-problems").replaceChildren(...phases.problems.map((p) => el("li", p)));
  fillBody(byId("phase-table"), phases.phases.map((phase, index) => phaseRow(view, phase, index)), "No phases");
  showDecision(phases.decision);
}

// What decided the timeline, as the campaign was set up.
function rules(view) {
  const parts = [];
  const local = view.local_time;
  if (local) {
    parts.push(`Each subscriber gets it at ${local.at.slice(11, 16)} on their own clock `
      + `(without a known zone: ${local.fallback_timezone}'s)`);
  }
  const quiet = view.quiet_hours;
  if (quiet) {
    const then = quiet.action === "skip" ? "skipped" : "sent when they end";
    parts.push(`quiet hours ${quiet.start}–${quiet.end} on their clock (${then})`);
  }
  const test = view.ab_test;
  if (test) {
    const holdout = test.holdout_share ? `, ${percent(test.holdout_share, 0)} held out` : "";
    parts.push(`A/B test: ${percent(test.test_share, 0)} split over ${test.variants.length} `
      + `variants${holdout}; the winner is decided ${test.wait} after the test's last send`);
  }
  return parts.length ? `${parts.join("; ")}.` : "";
}

function phaseRow(view, phase, index) {
  const current = view.phases.current;
  const closed = Object.keys(phase.counts).length > 0;
  const state = closed ? "done" : index === current ? "current" : "waiting";
  const zone = phase.zones.length === 1 ? phase.zones[0] : undefined;
  const afterWait = phase.kind === "winner" && phase.groups.includes("rest") && view.ab_test
    ? ` (${view.ab_test.wait} after the test)` : "";
  const quiet = zone ? quietNote(view.quiet_hours, phase.instant, zone) : "";
  const row = el("tr");
  row.dataset.kind = phase.kind;
  row.append(
    el("td", String(index + 1)),
    el("td", phase.label),
    el("td", when(phase.instant, zone) + afterWait + quiet + lateOpening(phase, zone)),
    el("td", count(phase.planned_recipients)),
    el("td", closed ? reached(phase.counts) : ""),
    el("td", phaseState(phase, state)),
  );
  return row;
}

// A phase that could not open at its instant (the run began after it, or the phases before it
// were still sending): when it was planned to send from, on the same clock. The instant alone
// read as when its mail went out.
export function lateOpening(phase, zone) {
  const from = phase.first_send_at;
  if (from === null || from === undefined || from - phase.instant < 60) return "";
  return `; sent from about ${when(from, zone)}`;
}

// Its state, and for a phase that does not fit its window, why: no rate helps once the window
// has ended before the phase could start (the API says required_rate null; it read "needs 0").
export function phaseState(phase, state) {
  if (phase.fits) return state;
  if (phase.required_rate === null || phase.required_rate === undefined) {
    return `${state} (late: its window had ended before it could start)`;
  }
  const rate = Math.ceil(phase.required_rate).toLocaleString();
  return `${state} (late: ${state === "done" ? "it needed" : "it needs"} ${rate} a second)`;
}

// When a phase opens inside the quiet hours on its zone's clock, its sends wait for their end.
function quietNote(quiet, instant, zone) {
  if (!quiet) return "";
  const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone })
    .format(new Date(instant * 1000));
  const inside = quiet.start <= quiet.end
    ? quiet.start <= clock && clock < quiet.end
    : clock >= quiet.start || clock < quiet.end;
  if (!inside) return "";
  return quiet.action === "skip" ? "; inside the quiet hours: skipped"
    : `; inside the quiet hours: sent from ${quiet.end}`;
}

// Sent, and where the rest of the phase's planned recipients went (held out, deferred, skipped).
function reached(counts) {
  const side = SIDE_COUNTS.filter((name) => counts[name])
    .map((name) => `${count(counts[name])} ${name.replace("_", " ")}`);
  return [count(counts.sent || 0), ...side].join(", ");
}

function showDecision(decision) {
  byId("decision").hidden = !decision;
  if (!decision) return;
  byId("decision-reason").textContent = decision.reason;
  const caveat = byId("decision-caveat");
  caveat.hidden = !decision.caveat;
  caveat.textContent = decision.caveat || "";
  byId("decision-successes").textContent = METRIC_WORDS[decision.metric] || "Successes";
  fillBody(byId("decision-table"), decision.variants.map((v) => {
    const row = el("tr", null, v.name === decision.winner ? "winner" : "");
    const leads = v.name === decision.leader;
    row.append(
      el("td", v.name), el("td", count(v.delivered)), el("td", count(v.successes)),
      el("td", v.rate === null ? "" : `${(100 * v.rate).toFixed(2)} %`),
      el("td", leads ? `${percent(v.confidence)} that it beats all`
        : `${percent(v.confidence)} that ${decision.leader} beats it`),
    );
    return row;
  }), "No variants");
}
