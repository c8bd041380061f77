// The operators' insight page: asks for the operators' token (kept for this tab only),
// reads /ops/insights.json from the service and shows it: two uPlot charts per day and
// channel (delivered; open rate) and the tables of `notifications stats`. Text goes on
// the page with textContent only.

const CHANNELS = ["in_app", "push", "email"];
const LABELS = { in_app: "In the app", push: "Push", email: "Email digest" };
const COLOURS = { in_app: "#1a66d9", push: "#d9480f", email: "#2b8a3e" };
const TOKEN_KEY = "notifications-ops-token";
const charts = [];

const $ = (id) => document.getElementById(id);

function cell(text, number = false) {
  const td = document.createElement("td");
  td.textContent = text;
  if (number) td.className = "number";
  return td;
}

const percent = (value) => (value === null || value === undefined ? "—" : `${(100 * value).toFixed(1)}%`);

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function fillChannels(rows) {
  const body = $("channels").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.append(cell(r.kind), cell(LABELS[r.channel] || r.channel), cell(String(r.delivered), true),
      cell(String(r.opened), true), cell(percent(r.open_rate), true),
      cell(duration(r.median_seconds_to_open), true), cell(duration(r.median_seconds_to_read), true));
    body.append(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("No notifications in this period.");
    td.colSpan = 7;
    tr.append(td);
    body.append(tr);
  }
}

function fillVariants(report) {
  $("ab").hidden = report.variants.length === 0;
  $("ab-name").textContent = report.experiment ? `Experiment “${report.experiment}”; the first variant is the control.` : "";
  const body = $("variants").tBodies[0];
  body.replaceChildren();
  for (const v of report.variants) {
    const tr = document.createElement("tr");
    const interval = v.open_rate_low === null ? "" : ` (${percent(v.open_rate_low)}–${percent(v.open_rate_high)})`;
    const points = (x) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
    const versus = v.difference === null ? "control"
      : `${points(v.difference)} pts (${points(v.difference_low)} to ${points(v.difference_high)})`;
    tr.append(cell(v.variant), cell(LABELS[v.channel] || v.channel), cell(String(v.delivered), true),
      cell(String(v.opened), true), cell(`${percent(v.open_rate)}${interval}`, true), cell(versus));
    body.append(tr);
  }
}

/** Per channel, one value per day of the period (0 delivered on a quiet day; no rate then). */
function series(report) {
  const days = [];
  const start = Date.parse(report.since.slice(0, 10) + "T00:00:00Z");
  for (let t = start; t <= Date.parse(report.until); t += 86400000) days.push(t / 1000);
  const byKey = new Map(report.daily.map((d) => [`${d.day}|${d.channel}`, d]));
  const delivered = {};
  const rate = {};
  for (const channel of CHANNELS) {
    delivered[channel] = days.map((t) => byKey.get(`${new Date(t * 1000).toISOString().slice(0, 10)}|${channel}`)?.delivered ?? 0);
    rate[channel] = days.map((t) => {
      const d = byKey.get(`${new Date(t * 1000).toISOString().slice(0, 10)}|${channel}`);
      return d && d.delivered ? (100 * d.opened) / d.delivered : null;
    });
  }
  return { days, delivered, rate };
}

function chart(target, days, values, unit) {
  const width = Math.max(320, target.clientWidth || 480);
  const options = {
    width, height: 240,
    scales: { x: { time: true }, y: { range: unit === "%" ? [0, 100] : undefined } },
    axes: [{}, { values: (u, ticks) => ticks.map((v) => `${v}${unit}`) }],
    series: [{}, ...CHANNELS.map((c) => ({ label: LABELS[c], stroke: COLOURS[c], width: 2,
      points: { show: true }, spanGaps: false, value: (u, v) => (v === null ? "—" : `${Math.round(v * 10) / 10}${unit}`) }))],
  };
  return new globalThis.uPlot(options, [days, ...CHANNELS.map((c) => values[c])], target);
}

function draw(report) {
  for (const old of charts.splice(0)) old.destroy();
  const { days, delivered, rate } = series(report);
  charts.push(chart($("delivered-chart"), days, delivered, ""), chart($("rate-chart"), days, rate, "%"));
}

async function show(event) {
  event?.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("status").textContent = "Loading…";
  try {
    const response = await fetch(`/ops/insights.json?days=${encodeURIComponent($("days").value)}`, {
      headers: { Authorization: `Bearer ${token}` }, credentials: "omit", cache: "no-store",
    });
    if (!response.ok) {
      $("status").textContent = response.status === 401 ? "That token is not the operators' token." : `The service answered ${response.status}.`;
      $("report").hidden = true;
      return;
    }
    const report = await response.json();
    $("report").hidden = false;
    fillChannels(report.channels);
    fillVariants(report);
    draw(report);
    const total = report.channels.filter((c) => c.channel === "in_app").reduce((n, c) => n + c.delivered, 0);
    $("status").textContent = `${total} notifications from ${report.since.slice(0, 10)} to ${report.until.slice(0, 10)} (UTC).`;
    document.body.dataset.ready = "true";
  } catch {
    $("status").textContent = "Couldn't reach the service.";
  }
}

$("ask").addEventListener("submit", show);
$("days").addEventListener("change", () => show());
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  $("token").value = saved;
  show();
}
