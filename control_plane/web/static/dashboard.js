// The Costory dashboard: each page reads the JSON API with the session cookie and shows what it answers.
// Money stays the API's decimal strings: sums and differences use BigInt on the digits, never floats
// (floats only feed the chart's bar heights). Text is set with textContent, never parsed as HTML.
"use strict";

(() => {
  const page = document.body.dataset.page;
  const content = document.getElementById("content");
  const CHART_COLORS = ["#3559e0", "#f79009", "#12b76a", "#ee46bc", "#7a5af8", "#06aed4", "#f04438", "#667085",
    "#a15c07", "#0e9384"];
  const PRESETS = [["LAST_30_DAYS", "Last 30 days"], ["LAST_7_DAYS", "Last 7 days"], ["LAST_90_DAYS", "Last 90 days"],
    ["MONTH_TO_DATE", "Month to date"], ["LAST_MONTH", "Last month"], ["QUARTER_TO_DATE", "Quarter to date"],
    ["YEAR_TO_DATE", "Year to date"]];

  class Stop extends Error {}

  // -- elements -------------------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function table(testid, headers, rows) {
    // headers: [label, numeric?]; rows: arrays of cells (strings or nodes); a cell {text, cls} sets a class.
    return el("table", {"data-testid": testid},
      el("thead", {}, el("tr", {}, headers.map(([label, numeric]) => el("th", {class: numeric ? "num" : null,
        text: label})))),
      el("tbody", {}, rows.length ? rows.map((cells) => el("tr", {}, cells.map((cell, i) => {
        const numeric = headers[i] && headers[i][1];
        if (cell && typeof cell === "object" && !(cell instanceof Node)) {
          return el("td", {class: [numeric ? "num" : "", cell.cls || ""].join(" ").trim() || null}, cell.text);
        }
        return el("td", {class: numeric ? "num" : null}, cell);
      }))) : el("tr", {}, el("td", {colspan: headers.length, class: "muted", text: "Nothing to show."}))));
  }

  function card(testid, label, value, note) {
    return el("div", {class: "card", "data-testid": testid},
      el("div", {class: "label", text: label}), el("div", {class: "value", text: value}),
      note ? el("div", {class: "muted", text: note}) : null);
  }

  function select(name, label, options, current, onChange) {
    const node = el("select", {name, on: {change: () => onChange(node.value)}},
      options.map(([value, text]) => el("option", {value, selected: value === current, text})));
    return el("label", {}, label, node);
  }

  function showError(message) {
    const box = document.getElementById("error");
    box.textContent = message;
    box.hidden = !message;
  }

  // -- the API --------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function describe(body, status) {
    const detail = body && body.detail;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    return typeof detail === "string" ? detail : `the server answered ${status}`;
  }

  // Requests go one at a time: the page's calls share one admission slot allowance with the tenant's others.
  async function api(path, options = {}) {
    const method = options.method || "GET";
    const headers = {"Accept": "application/json"};
    if (method !== "GET") {
      headers["X-Costory-Csrf"] = "1";
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, {method, headers, credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body)});
    const body = await response.json().catch(() => ({}));
    if (response.status === 401 && page !== "signin") {
      location.assign("/signin");
      throw new Stop();
    }
    if (!response.ok) throw new ApiError(response.status, describe(body, response.status));
    return body;
  }

  // A cost query (the CostQuery message of proto/costory/v1/query.proto) and its answer, as the page uses it:
  // {start, end, total, previousTotal, rows: [{period, group, cost, quantity, previousCost}]}.
  async function queryCosts(query) {
    const pages = [];
    let token = "";
    do {
      const body = await api("/v1/costs:query", {method: "POST", body: {query, page_size: 1000, page_token: token}});
      pages.push(body);
      token = body.next_page_token || "";
    } while (token);
    const result = costResult(pages[0]);
    for (const more of pages.slice(1)) result.rows.push(...costResult(more).rows);
    return result;
  }

  function costResult(body) {
    return {
      start: body.start_date || "",
      end: body.end_date || "",
      total: body.total_cost || "0.00",
      previousTotal: body.previous_total_cost,
      rows: (body.rows || []).map((row) => ({
        period: row.period || "",
        group: row.group || {},
        cost: row.cost || "0.00",
        quantity: row.quantity || 0,
        previousCost: row.previous_cost,
      })),
    };
  }

  async function listAll(path, key) {
    const items = [];
    let token = "";
    do {
      const sep = path.includes("?") ? "&" : "?";
      const body = await api(`${path}${sep}page_size=100${token ? `&page_token=${encodeURIComponent(token)}` : ""}`);
      items.push(...(body[key] || []));
      token = body.next_page_token || "";
    } while (token);
    return items;
  }

  // -- exact decimals -------------------------------------------------------------------------------------

  function dec(text) {
    const match = /^(-?)(\d*)(?:\.(\d+))?$/.exec(String(text === undefined || text === null ? "0" : text).trim());
    if (!match) throw new Error(`not a decimal: ${text}`);
    const fraction = match[3] || "";
    return {n: BigInt(`${match[1]}${match[2] || "0"}${fraction}`), scale: fraction.length};
  }

  function align(a, b) {
    const scale = Math.max(a.scale, b.scale);
    return [a.n * 10n ** BigInt(scale - a.scale), b.n * 10n ** BigInt(scale - b.scale), scale];
  }

  function decString({n, scale}) {
    const negative = n < 0n;
    let digits = (negative ? -n : n).toString().padStart(scale + 1, "0");
    if (scale) digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    return (negative ? "-" : "") + digits;
  }

  const add = (x, y) => { const [a, b, scale] = align(dec(x), dec(y)); return decString({n: a + b, scale}); };
  const sub = (x, y) => { const [a, b, scale] = align(dec(x), dec(y)); return decString({n: a - b, scale}); };
  const cmp = (x, y) => { const [a, b] = align(dec(x), dec(y)); return a < b ? -1 : a > b ? 1 : 0; };
  const abs = (x) => (String(x).startsWith("-") ? String(x).slice(1) : String(x));
  const sum = (values) => values.reduce((total, value) => add(total, value), "0.00");

  // x / y with `places` decimals, rounded half away from zero; null when y is zero.
  function ratio(x, y, places, times = 1n) {
    const [a, b] = align(dec(x), dec(y));
    if (b === 0n) return null;
    const scaled = a * times * 10n ** BigInt(places);
    let q = scaled / b;
    const r = scaled % b;
    const twice = (r < 0n ? -r : r) * 2n;
    if (twice >= (b < 0n ? -b : b)) q += (scaled < 0n) !== (b < 0n) ? -1n : 1n;
    return decString({n: q, scale: places});
  }

  function grouped(text) {
    const [whole, fraction] = String(text).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + digits + (fraction === undefined ? "" : `.${fraction}`);
  }

  // An amount as the API wrote it, zeros past the cents dropped (79.000000000000 -> 79.00): exact, never rounded.
  function money(text) {
    const [whole, fraction] = String(text === undefined || text === null ? "0.00" : text).split(".");
    if (fraction === undefined || fraction.length <= 2) return grouped(String(text ?? "0.00"));
    return grouped(`${whole}.${fraction.replace(/0+$/, "").padEnd(2, "0")}`);
  }
  const percent = (text) => (text === null ? "—" : `${text}%`);
  const tokens = (value) => grouped(String(Math.round(Number(value || 0))));

  // -- charts ---------------------------------------------------------------------------------------------

  const charts = {};

  // A chart element must be in the document before Chart.js measures it.
  function mountChart(parent, testid, config) {
    const holder = el("div");
    parent.append(holder);
    if (charts[testid]) charts[testid].destroy();
    const canvas = el("canvas", {"data-testid": testid});
    holder.append(el("div", {class: "chart"}, canvas));
    config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false}, config.options);
    charts[testid] = new Chart(canvas, config);
  }

  // Stacked series: one dataset per group label, one point per period; tooltips show the API's strings.
  function stackedSeries(rows, label) {
    const periods = [...new Set(rows.map((r) => r.period))].sort();
    const groups = [...new Set(rows.map(label))];
    const cells = new Map(rows.map((r) => [`${r.period}\u0000${label(r)}`, r.cost]));
    const datasets = groups.map((group, i) => ({
      label: group,
      backgroundColor: CHART_COLORS[i % CHART_COLORS.length],
      borderColor: CHART_COLORS[i % CHART_COLORS.length],
      costs: periods.map((p) => cells.get(`${p}\u0000${group}`) || "0.00"),
      data: periods.map((p) => Number(cells.get(`${p}\u0000${group}`) || 0)),
    }));
    return {labels: periods, datasets};
  }

  const exactTooltip = {callbacks: {label: (item) => `${item.dataset.label}: ${money(
    (item.dataset.costs || [])[item.dataIndex] ?? String(item.raw))}`}};

  function groupLabel(fields) {
    return (row) => fields.map((f) => (row.group[f] === undefined || row.group[f] === null ? "(none)" : row.group[f]))
      .join(" · ");
  }

  // -- page state in the address (never the token) ----------------------------------------------------------

  const params = new URLSearchParams(location.search);

  function setParam(name, value) {
    if (value) params.set(name, value); else params.delete(name);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  function range() {
    const start = params.get("start");
    const end = params.get("end");
    if (start && end) return {start_date: start, end_date: end};
    return {preset: params.get("preset") || "LAST_30_DAYS"};
  }

  function rangeControl(render) {
    const options = [...PRESETS];
    const current = params.get("start") && params.get("end") ? "CUSTOM" : (params.get("preset") || "LAST_30_DAYS");
    if (current === "CUSTOM") options.unshift(["CUSTOM", `${params.get("start")} to ${params.get("end")}`]);
    return select("preset", "Range", options, current, (value) => {
      if (value !== "CUSTOM") { setParam("start", ""); setParam("end", ""); setParam("preset", value); }
      render();
    });
  }

  async function dimensions() {
    return listAll("/v1/virtual-dimensions", "virtual_dimensions");
  }

  // -- pages ----------------------------------------------------------------------------------------------

  async function overview() {
    const dims = await dimensions();
    const groupOptions = [["Provider", "Provider"], ["ServiceName", "Service"], ["x_Model", "Model"],
      ...dims.map((d) => [`dimension:${d.id}`, d.name])];
    const groupBy = params.get("group") || "Provider";
    const granularity = params.get("granularity") || "DAY";
    const rerun = () => run(overview);
    content.replaceChildren(el("div", {class: "controls"},
      rangeControl(rerun),
      select("group", "Split by", groupOptions, groupBy, (v) => { setParam("group", v); rerun(); }),
      select("granularity", "Granularity", [["DAY", "Day"], ["WEEK", "Week"], ["MONTH", "Month"]], granularity,
        (v) => { setParam("granularity", v); rerun(); })));

    const mtd = await queryCosts({preset: "MONTH_TO_DATE", granularity: "TOTAL", compare: true});
    const lastMonth = await queryCosts({preset: "LAST_MONTH", granularity: "TOTAL"});
    const change = mtd.previousTotal === undefined ? null : ratio(sub(mtd.total, mtd.previousTotal), mtd.previousTotal, 1, 100n);
    content.append(el("div", {class: "cards"},
      card("mtd", "Month to date", money(mtd.total), `${mtd.start} to ${mtd.end}`),
      card("mtd-previous", "Same days last month", money(mtd.previousTotal || "0.00"), `change ${percent(change)}`),
      card("last-month", "Last month", money(lastMonth.total), `${lastMonth.start} to ${lastMonth.end}`)));

    const series = await queryCosts({...range(), group_by: [groupBy], granularity, top_n: 8});
    const label = groupLabel([groupBy]);
    content.append(el("h2", {text: `Spend over time, ${series.start} to ${series.end}: ${money(series.total)}`,
      "data-testid": "series-heading"}));
    mountChart(content, "spend-chart", {type: "bar", data: stackedSeries(series.rows, label),
      options: {scales: {x: {stacked: true}, y: {stacked: true}}, plugins: {tooltip: exactTooltip}}});

    const movers = await queryCosts({...range(), group_by: [groupBy], granularity: "TOTAL", compare: true});
    const rows = movers.rows.map((r) => ({name: label(r), cost: r.cost, previous: r.previousCost || "0.00",
      delta: sub(r.cost, r.previousCost || "0.00")}));
    rows.sort((a, b) => cmp(abs(b.delta), abs(a.delta)) || a.name.localeCompare(b.name));
    content.append(el("h2", {text: "Top movers against the previous period"}),
      table("movers", [["Group"], ["Cost", true], ["Previous period", true], ["Change", true], ["Change %", true]],
        rows.slice(0, 10).map((r) => [r.name, money(r.cost), money(r.previous),
          {text: (cmp(r.delta, "0") > 0 ? "+" : "") + money(r.delta), cls: cmp(r.delta, "0") > 0 ? "up" : "down"},
          percent(ratio(r.delta, r.previous, 1, 100n))])));
  }

  async function ai() {
    const dims = await dimensions();
    const preferred = dims.find((d) => /team/i.test(d.name)) || dims[0];
    const team = params.get("dimension") || (preferred ? preferred.id : "");
    const rerun = () => run(ai);
    content.replaceChildren(el("div", {class: "controls"}, rangeControl(rerun),
      select("dimension", "Team dimension", [["-", "(none)"], ...dims.map((d) => [d.id, d.name])], team,
        (v) => { setParam("dimension", v); rerun(); })));
    const fields = ["Provider", "x_Model", ...(team && team !== "-" ? [`dimension:${team}`] : [])];
    const result = await queryCosts({...range(), group_by: fields, granularity: "TOTAL", with_quantity: true});
    const rows = result.rows.filter((r) => r.group.x_Model !== undefined && r.group.x_Model !== null);
    rows.sort((a, b) => cmp(b.cost, a.cost) || groupLabel(fields)(a).localeCompare(groupLabel(fields)(b)));
    const value = (r, f) => (r.group[f] === undefined || r.group[f] === null ? "(unallocated)" : r.group[f]);
    content.append(el("div", {class: "cards"},
      card("ai-total", "AI spend", money(sum(rows.map((r) => r.cost))), `${result.start} to ${result.end}`),
      card("ai-tokens", "Tokens", tokens(rows.reduce((t, r) => t + Number(r.quantity || 0), 0)))));
    const teamField = fields[2];
    mountChart(content, "ai-chart", {type: "bar",
      data: stackedSeries(rows.map((r) => ({period: `${r.group.Provider} · ${r.group.x_Model}`,
        cost: r.cost, group: r.group})), (r) => (teamField ? value(r, teamField) : "cost")),
      options: {indexAxis: "y", scales: {x: {stacked: true}, y: {stacked: true}}, plugins: {tooltip: exactTooltip}}});
    content.append(el("h2", {text: "Provider × model × team"}),
      table("ai-table", [["Provider"], ["Model"], ["Team"], ["Tokens", true], ["Cost", true],
        ["Cost per 1M tokens", true]],
      rows.map((r) => {
        const count = BigInt(Math.round(Number(r.quantity || 0)));
        const per = count === 0n ? null : ratio(r.cost, count.toString(), 4, 1000000n);
        return [value(r, "Provider"), value(r, "x_Model"), teamField ? value(r, teamField) : "—",
          tokens(r.quantity), money(r.cost), per === null ? "—" : grouped(per)];
      })));
  }

  async function dimension() {
    const dims = await dimensions();
    const id = params.get("id") || (dims[0] ? dims[0].id : "");
    content.replaceChildren(el("div", {class: "controls"},
      select("id", "Virtual dimension", dims.map((d) => [d.id, d.name]), id,
        (v) => { setParam("id", v); run(dimension); })));
    if (!id) {
      content.append(el("p", {class: "muted", text: "No virtual dimension yet: create one with Terraform (costory_virtual_dimension)."}));
      return;
    }
    const state = await api(`/v1/virtual-dimensions/${encodeURIComponent(id)}/allocation`);
    content.append(el("div", {class: "cards"},
      card("dimension-total", "Allocated cost", money(state.total_cost || "0.00"),
        state.start_date ? `${state.start_date} to ${state.end_date}` : "no cost data"),
      card("dimension-leftover", `Left over (${state.leftover_value || "no leftover value"})`,
        money(state.leftover_cost || "0.00"), `${state.leftover_percent || "0.00"}% of the total`),
      card("dimension-status", "Status", state.status || "—",
        state.computed_at ? `computed ${state.computed_at}` : null)));
    if (state.status_message) content.append(el("p", {class: "muted", "data-testid": "dimension-message", text: state.status_message}));
    const values = state.values || [];
    if (values.length) {
      mountChart(content, "dimension-chart", {type: "doughnut", data: {labels: values.map((v) => v.value),
        datasets: [{data: values.map((v) => Number(v.cost || 0)), costs: values.map((v) => v.cost || "0.00"),
          label: "cost", backgroundColor: values.map((_, i) => CHART_COLORS[i % CHART_COLORS.length])}]},
        options: {plugins: {tooltip: {callbacks: {label: (item) => `${item.label}: ${money(item.dataset.costs[item.dataIndex])}`}}}}});
    }
    content.append(el("h2", {text: "Per value"}),
      table("dimension-values", [["Value"], ["Cost", true], ["Share", true]],
        values.map((v) => [v.value, money(v.cost || "0.00"), `${v.percent || "0.00"}%`])));
    const rules = state.rules || [];
    content.append(el("h2", {text: "Per rule"}),
      table("dimension-rules", [["Rule"], ["Cost", true], ["Cost rows", true]],
        rules.map((r) => [r.rule || "(no rule matched)", money(r.cost || "0.00"), grouped(String(r.cost_rows || 0))])));
    const unmatched = rules.filter((r) => !r.rule);
    content.append(el("h2", {text: "Unallocated, and why"}), el("p", {"data-testid": "dimension-unallocated",
      text: unmatched.length
        ? `${money(unmatched[0].cost || "0.00")} on ${unmatched[0].cost_rows || 0} cost rows matched no rule and went to the leftover value ` +
          `“${state.leftover_value || ""}”. Add a rule whose conditions match them to allocate it.`
        : `Every cost row matched a rule; the leftover value “${state.leftover_value || ""}” holds ${money(state.leftover_cost || "0.00")} (what rules left over: usage without an owner, or an owner missing from a mapping).`}));
  }

  async function budgets() {
    let list;
    try {
      list = await listAll("/v1/budgets", "budgets");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        content.replaceChildren(el("p", {class: "muted", text: "This control plane does not serve budgets."}));
        return;
      }
      throw error;
    }
    const rows = [];
    for (const budget of list) {
      rows.push({budget, status: await api(`/v1/budgets/${encodeURIComponent(budget.id)}/status`)});
    }
    content.replaceChildren();
    if (rows.length) {
      mountChart(content, "budget-chart", {type: "bar", data: {labels: rows.map((r) => r.budget.name),
        datasets: [["Actual", "actual"], ["Forecast", "forecast"], ["Budget", "amount"]].map(([label, key], i) => ({
          label, backgroundColor: CHART_COLORS[i], costs: rows.map((r) => r.status[key] || "0.00"),
          data: rows.map((r) => Number(r.status[key] || 0))}))},
        options: {plugins: {tooltip: exactTooltip}}});
    }
    content.append(table("budgets", [["Budget"], ["Period"], ["Budget", true], ["Actual", true], ["Burn", true],
      ["Forecast", true], ["Forecast %", true], ["Thresholds crossed"], ["As of"]],
    rows.map(({budget, status}) => {
      const burn = ratio(status.actual || "0", status.amount || "0", 1, 100n);
      const bar = el("span", {class: burn !== null && cmp(burn, "100") >= 0 ? "over" : null});
      bar.style.width = `${Math.min(100, Number(burn || 0))}%`;
      return [budget.name, `${status.period_start || ""} to ${status.period_end || ""}`, money(status.amount),
        money(status.actual || "0.00"), el("div", {}, percent(burn), el("div", {class: "bar"}, bar)),
        money(status.forecast || "0.00"), percent(ratio(status.forecast || "0", status.amount || "0", 1, 100n)),
        (status.crossed || []).map((c) => `${c.percent}% of ${(c.of || "").toLowerCase()}`).join(", ") || "none",
        status.as_of || "no cost data"];
    })));
  }

  function when(stamp) {
    return stamp ? stamp.replace("T", " ").replace(/\.\d+Z$/, "Z") : "never";
  }

  async function health() {
    const billing = await listAll("/v1/billing-datasources", "billing_datasources");
    content.replaceChildren(el("h2", {text: "Billing datasources"}),
      table("billing-datasources", [["Name"], ["Status"], ["Last import"], ["Message"]],
        billing.map((d) => [d.name, d.status || "PENDING", when(d.last_import_at), d.status_message || ""])));
    for (const datasource of billing) {
      const periods = (await api(`/v1/billing-datasources/${encodeURIComponent(datasource.id)}/billing-periods`))
        .billing_periods || [];
      content.append(el("h2", {text: `Billing months of ${datasource.name}`}),
        table(`periods-${datasource.id}`, [["Month"], ["Rows", true], ["Billed cost", true], ["Imported"]],
          periods.map((p) => [p.billing_period, grouped(String(p.rows || 0)), money(p.billed_cost || "0.00"),
            when(p.imported_at)])));
    }
    const metrics = await listAll("/v1/metrics-datasources", "metrics_datasources");
    content.append(el("h2", {text: "Metrics datasources"}));
    const rows = [];
    const quarantined = [];
    for (const datasource of metrics) {
      const base = `/v1/metrics-datasources/${encodeURIComponent(datasource.id)}`;
      const imports = (await api(`${base}/imports?page_size=20`)).imports || [];
      const succeeded = imports.find((i) => i.status === "SUCCEEDED");
      const last = imports[0];
      rows.push([datasource.name, datasource.status || "PENDING",
        last ? `${last.status} (${last.files_imported || 0} imported, ${last.files_quarantined || 0} quarantined)` : "none",
        when(succeeded && (succeeded.finished_at || succeeded.started_at)), datasource.status_message || ""]);
      for (const file of (await api(`${base}/files?status=QUARANTINED`)).files || []) {
        quarantined.push([datasource.name, file.key, file.reason || "", when(file.last_modified)]);
      }
    }
    content.append(table("metrics-datasources", [["Name"], ["Status"], ["Last import"], ["Last success"], ["Message"]], rows),
      el("h2", {text: "Quarantined files"}),
      table("quarantined", [["Datasource"], ["File"], ["Why"], ["Modified"]], quarantined));
  }

  async function saved() {
    const list = await listAll("/v1/dashboards", "dashboards");
    const id = params.get("id") || (list[0] ? list[0].id : "");
    content.replaceChildren(el("div", {class: "controls"},
      select("id", "Dashboard", list.map((d) => [d.id, d.name]), id, (v) => { setParam("id", v); run(saved); })));
    if (!id) {
      content.append(el("p", {class: "muted", text: "No saved dashboard yet: create one with Terraform (costory_dashboard), the API or MCP."}));
      return;
    }
    const data = await api(`/v1/dashboards/${encodeURIComponent(id)}/data`);
    (data.widgets || []).forEach((widget, index) => {
      const testid = `widget-${index}`;
      content.append(el("h2", {text: widget.title}));
      if (widget.error) {
        content.append(el("p", {class: "error", "data-testid": testid, text: widget.error}));
        return;
      }
      const result = costResult(widget.result || {});
      const fields = (widget.query && widget.query.group_by) || [];
      const label = groupLabel(fields);
      if (widget.kind === "NUMBER") {
        content.append(card(testid, widget.title, money(result.total)));
        return;
      }
      if (widget.kind === "PIE") {
        mountChart(content, `${testid}-chart`, {type: "pie", data: {labels: result.rows.map(label), datasets: [{
          label: widget.title, data: result.rows.map((r) => Number(r.cost)), costs: result.rows.map((r) => r.cost),
          backgroundColor: result.rows.map((_, i) => CHART_COLORS[i % CHART_COLORS.length])}]}});
      } else if (widget.kind === "LINE" || widget.kind === "STACKED_BAR") {
        const stacked = widget.kind === "STACKED_BAR";
        mountChart(content, `${testid}-chart`, {type: stacked ? "bar" : "line", data: stackedSeries(result.rows, label),
          options: {scales: {x: {stacked}, y: {stacked}}, plugins: {tooltip: exactTooltip}}});
      }
      content.append(table(testid, [["Period"], ...fields.map((f) => [f]), ["Cost", true]],
        result.rows.map((r) => [r.period, ...fields.map((f) => (r.group[f] === undefined || r.group[f] === null ? "(none)" : r.group[f])), money(r.cost)])));
    });
  }

  function signin() {
    const input = el("input", {type: "password", name: "token", id: "token", autocomplete: "off",
      placeholder: "cst_…", required: true});
    const form = el("form", {class: "signin-box", on: {submit: async (event) => {
      event.preventDefault();
      showError("");
      try {
        const body = await api("/signin", {method: "POST", body: {token: input.value}});
        input.value = "";
        location.assign(body.next || "/dashboard");
      } catch (error) {
        showError(error.message);
      }
    }}}, el("label", {for: "token", text: "Tenant API token"}), input,
    el("button", {type: "submit", text: "Sign in"}),
    el("p", {class: "muted", text: "The token the control plane's operator gave you (costory-control-plane tenants create). It is kept in an encrypted, HttpOnly cookie for this browser only."}));
    content.replaceChildren(form);
  }

  const PAGES = {overview, ai, dimension, budgets, health, saved, signin};

  async function run(render) {
    content.setAttribute("aria-busy", "true");
    showError("");
    try {
      await render();
    } catch (error) {
      if (!(error instanceof Stop)) showError(error.message || String(error));
    } finally {
      content.setAttribute("aria-busy", "false");
    }
  }

  document.getElementById("signout").addEventListener("click", async () => {
    await api("/signout", {method: "POST"}).catch(() => null);
    location.assign("/signin");
  });
  run(PAGES[page]);
})();
