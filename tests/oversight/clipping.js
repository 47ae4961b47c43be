// Measures, in the rendered page, every piece of text a reader needs, against the box it
// lives in. Evaluated by tests/oversight/test_html_report.py in headless Chromium at a
// desktop and a phone width; returns {problems: [...], facts: {...}}. Only what is on
// screen counts (display:none twins of a chart, hidden table columns are skipped).
(() => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const name = (el) => {
    const cls = (el.getAttribute("class") || "").trim().replace(/\s+/g, ".");
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 50);
    return `<${el.tagName.toLowerCase()}${cls ? "." + cls : ""}> "${text}"`;
  };
  const px = (v) => Math.round(v);
  const inside = (r, c, slack = 1) =>
    r.left >= c.left - slack && r.right <= c.right + slack &&
    r.top >= c.top - slack && r.bottom <= c.bottom + slack;
  const overlap = (a, b) =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const textRect = (el) => { const r = document.createRange(); r.selectNodeContents(el); return r.getBoundingClientRect(); };

  // 1. The page itself: nothing sticks out sideways (a phone would scroll or cut it).
  if (document.documentElement.scrollWidth > vw + 1) {
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${vw} px window`);
  }

  // 2. Text that does not fit its own box: cut (overflow hidden, ellipsis) or spilling out.
  const blocks = "h1,h2,h3,h4,p,figcaption,caption,th,td,.kpi,.kpi-n,.kpi-l,.bar-label,.legend,.legend-item,.bars .axis-title,.scroll";
  for (const el of document.querySelectorAll(blocks)) {
    if (!shown(el) || getComputedStyle(el).display === "inline") continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)}: content ${el.scrollWidth} px wide in a ${el.clientWidth} px box`);
    }
  }

  // 3. Labels inside the chart, tile or cell they belong to.
  const within = [
    [".bar-label, .bar-value, .axis .tick, .bars .axis-title, .legend-item, figcaption", "figure"],
    [".kpi-n, .kpi-l", ".kpi"],
    ["td .v", "td"],
    ["figure.chart, table", ".row"],
  ];
  for (const [sel, up] of within) {
    for (const el of document.querySelectorAll(sel)) {
      const box = el.parentElement.closest(up);
      if (!box || !shown(el)) continue;
      const r = el.getBoundingClientRect(), c = box.getBoundingClientRect();
      if (!inside(r, c)) {
        problems.push(`${name(el)} [${px(r.left)}..${px(r.right)}] sticks out of ${up} [${px(c.left)}..${px(c.right)}]`);
      }
    }
  }

  // 4. SVG charts: every text inside its drawing, no two texts on top of each other,
  //    and no text scaled down below 9 px (a wide drawing squeezed onto a phone).
  for (const svg of document.querySelectorAll("svg")) {
    if (!shown(svg)) continue;
    const c = svg.getBoundingClientRect();
    const scale = svg.viewBox.baseVal && svg.viewBox.baseVal.width ? c.width / svg.viewBox.baseVal.width : 1;
    const texts = [...svg.querySelectorAll("text")];
    const rects = texts.map((t) => t.getBoundingClientRect());
    texts.forEach((t, i) => {
      if (!inside(rects[i], c)) {
        problems.push(`svg ${name(t)} [${px(rects[i].left)}..${px(rects[i].right)}] is cut by its chart [${px(c.left)}..${px(c.right)}]`);
      }
      const size = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (size < 9) problems.push(`svg ${name(t)} is drawn at ${size.toFixed(1)} px`);
      for (let j = 0; j < i; j++) {
        if (overlap(rects[i], rects[j])) problems.push(`svg ${name(t)} overlaps ${name(texts[j])}`);
      }
    });
  }

  // 5. Bar labels and bar values do not run into each other.
  for (const fig of document.querySelectorAll("figure[data-kind=bars]")) {
    const labels = [...fig.querySelectorAll(".bar-label, .bar-value, .axis .tick")].filter(shown);
    const rects = labels.map((el) => el.getBoundingClientRect());
    for (let i = 0; i < labels.length; i++) {
      for (let j = 0; j < i; j++) {
        if (overlap(rects[i], rects[j])) problems.push(`${name(labels[i])} overlaps ${name(labels[j])}`);
      }
    }
  }

  // Facts the tests compare (alignment of numbers with their headers, axes).
  const kpis = [...document.querySelectorAll(".kpi")].filter(shown).map((k) => {
    const n = k.querySelector(".kpi-n").getBoundingClientRect();
    const l = k.querySelector(".kpi-l").getBoundingClientRect();
    return { number: k.querySelector(".kpi-n").textContent, label: k.querySelector(".kpi-l").textContent,
             number_left: n.left, label_left: l.left, number_bottom: n.bottom, label_top: l.top };
  });
  const columns = [];
  for (const table of document.querySelectorAll("table")) {
    if (!shown(table)) continue;
    const heads = [...table.querySelectorAll("thead th")];
    heads.forEach((th, i) => {
      if (!shown(th)) return;
      const cells = [...table.querySelectorAll(`tbody tr > td:nth-child(${i + 1}) .v`)]
        .filter((el) => shown(el) && el.textContent.trim());
      const right = (el) => textRect(el).right, left = (el) => textRect(el).left;
      columns.push({
        table: table.caption ? table.caption.textContent : "", header: th.textContent,
        numeric: th.classList.contains("num"),
        header_left: left(th), header_right: right(th),
        cell_lefts: cells.map(left), cell_rights: cells.map(right),
      });
    });
  }
  const charts = [...document.querySelectorAll("figure.chart")].filter(shown).map((f) => ({
    title: f.querySelector("figcaption").textContent,
    kind: f.dataset.kind, scale: f.dataset.scale,
    legend: [...f.querySelectorAll(".legend-item")].map((e) => e.textContent),
    labels: [...f.querySelectorAll(".bar-label")].map((e) => e.textContent),
    values: [...f.querySelectorAll(".bar-label")].map((e) =>
      [...e.nextElementSibling.querySelectorAll(".bar-value")].map((v) => v.textContent)),
    ticks: [...f.querySelectorAll(".axis .tick, svg:not([style*='display: none']) text.tick")]
      .filter(shown).map((e) => e.textContent),
    axis_titles: [...f.querySelectorAll(".axis-title")].filter(shown).map((e) => e.textContent),
    points: [...f.querySelectorAll("polyline")].filter(shown).map((p) => p.points.numberOfItems),
  }));
  return { width: vw, problems, facts: { kpis, columns, charts, text: document.body.innerText } };
})()
