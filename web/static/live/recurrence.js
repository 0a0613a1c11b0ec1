// Program form: the recurrence editor shows only the fields of the chosen kind, writes the RRULE as you
// choose (the server builds it the same way from the same fields) and says the rule in Japanese.
// A module (strict, deferred) like every page script; it needs nothing shared.
const root = document.querySelector("[data-recurrence]");
if (root) start(root);

function start(root) {
  const form = root.closest("form");
  const repeat = document.getElementById("f-repeat");
  const rrule = document.getElementById("f-rrule");
  const summary = root.querySelector("[data-recurrence-summary]");
  const CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
  const LABELS = { MO: "月", TU: "火", WE: "水", TH: "木", FR: "金", SA: "土", SU: "日" };
  const NTH = { "1": "第1", "2": "第2", "3": "第3", "4": "第4", "-1": "最終" };

  function value(name) { let el = form.elements[name]; return el ? el.value : ""; }

  function build() {
    const kind = repeat.value;
    const n = parseInt(value("interval"), 10) || 1;
    const every = n > 1 ? ";INTERVAL=" + n : "";
    if (kind === "once") return { rule: "", text: "1回だけ" };
    if (kind === "daily") return { rule: "FREQ=DAILY" + every, text: n > 1 ? n + "日ごと" : "毎日" };
    if (kind === "weekly") {
      const days = CODES.filter(function (c) { let box = form.elements["day_" + c]; return box && box.checked; });
      if (!days.length) return { rule: null, text: "曜日を1つ以上選んでください。" };
      const names = days.map(function (c) { return LABELS[c]; }).join("・");
      return { rule: "FREQ=WEEKLY" + every + ";BYDAY=" + days.join(","), text: (n > 1 ? n + "週ごと " : "毎週 ") + names + "曜日" };
    }
    if (kind === "monthly") {
      const nth = value("nth"), day = value("nth_day");
      return { rule: "FREQ=MONTHLY" + every + ";BYDAY=" + nth + day, text: (n > 1 ? n + "か月ごと " : "毎月 ") + NTH[nth] + LABELS[day] + "曜日" };
    }
    return { rule: null, text: "RRULE をそのまま使います。" };
  }

  function update() {
    const kind = repeat.value;
    root.querySelectorAll("[data-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-for").split(" ").indexOf(kind) === -1;
    });
    const built = build();
    if (built.rule !== null) rrule.value = built.rule;
    summary.textContent = built.text;
  }

  root.addEventListener("change", function (event) { if (event.target !== rrule) update(); });
  root.addEventListener("input", function (event) { if (event.target.name === "interval") update(); });
  // Typing a rule by hand means the expert's rule is what is saved.
  rrule.addEventListener("input", function () {
    if (repeat.value !== "custom") { repeat.value = "custom"; update(); }
  });
  update();
}
