// graphmem view: the page. It asks the viewer's JSON API (or, in a page written
// by `graphmem view --html`, the data embedded in it) and draws with cytoscape.js.
// Text from the memory is only ever set as textContent, never parsed as HTML.
(function () {
  "use strict";

  const STATIC = window.GRAPHMEM_DATA || null; // set by --html pages
  const $ = (id) => document.getElementById(id);
  const state = { centre: null, asOf: null, pathMode: false, pathPick: [], overview: null, relations: new Map() };
  const PALETTE = ["#3056d3", "#e07a1f", "#2f9e68", "#c2255c", "#7048e8", "#0c8599", "#a07a00", "#5c677d"];
  const typeColour = new Map();

  function colourOf(type) {
    if (!typeColour.has(type)) typeColour.set(type, PALETTE[typeColour.size % PALETTE.length]);
    return typeColour.get(type);
  }

  // -- talking to the API -------------------------------------------------------------

  let busy = 0;
  let done = 0;
  function setBusy(delta) {
    busy += delta;
    if (delta < 0) done += 1;
    document.body.dataset.busy = String(busy);
    document.body.dataset.done = String(done);
  }

  function status(text, isError) {
    const footer = $("status");
    footer.textContent = text;
    footer.className = isError ? "error" : "";
  }

  async function api(endpoint, params) {
    setBusy(1);
    try {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(params || {})) {
        if (value !== null && value !== undefined) query.set(key, String(value));
      }
      if (STATIC) return localApi(endpoint, query);
      const response = await fetch("/api/" + endpoint + "?" + query.toString(), { credentials: "same-origin" });
      const body = await response.json();
      if (!response.ok) {
        const error = new Error(body.error ? body.error.message : response.statusText);
        error.kind = body.error ? body.error.type : "http";
        throw error;
      }
      return body;
    } finally {
      setBusy(-1);
    }
  }

  // -- the embedded data of a --html page ------------------------------------------------

  function localApi(endpoint, query) {
    const nodes = STATIC.nodes;
    const edges = STATIC.edges;
    const notFound = (what) => { const e = new Error(what); e.kind = "not_found"; throw e; };
    const adjacent = (name) => {
      const out = [];
      for (const e of edges) {
        if (e.source === name) out.push({ name: e.target, relation: e.type, direction: "out" });
        if (e.target === name && e.source !== name) out.push({ name: e.source, relation: e.type, direction: "in" });
      }
      return out;
    };
    if (endpoint === "overview") return STATIC.overview;
    if (endpoint === "type") {
      const type = query.get("type");
      return { type: type, names: Object.keys(nodes).filter((n) => nodes[n].type === type).sort(), truncated: false };
    }
    if (endpoint === "search") {
      const q = (query.get("q") || "").toLowerCase();
      const prefix = Object.keys(nodes).filter((n) => n.toLowerCase().startsWith(q)).sort().slice(0, 10)
        .map((n) => ({ name: n, type: nodes[n].type }));
      return { q: q, prefix: prefix, meaning: [] };
    }
    if (endpoint === "entity") {
      const name = query.get("name");
      if (!nodes[name]) notFound("no entity named " + JSON.stringify(name) + " in this page");
      return { entity: nodes[name], history: { versions: [], versions_truncated: false, relations: [], older: null,
                                               truncated: false } };
    }
    if (endpoint === "neighbors") {
      const name = query.get("name");
      if (!nodes[name]) notFound("no entity named " + JSON.stringify(name) + " in this page");
      const found = adjacent(name).map((n) => Object.assign(n, { type: nodes[n.name] ? nodes[n.name].type : null }));
      const limit = Number(query.get("limit") || 25);
      return { name: name, type: nodes[name].type, total: found.length, truncated: found.length > limit,
               neighbors: found.slice(0, limit) };
    }
    if (endpoint === "relation") {
      const found = edges.find((e) => e.source === query.get("source") && e.type === query.get("type")
                                      && e.target === query.get("target"));
      if (!found) notFound("no such relation in this page");
      return { relation: found };
    }
    if (endpoint === "paths") return localPaths(query.get("source"), query.get("target"), adjacent, nodes);
    notFound("no endpoint " + endpoint);
  }

  function localPaths(source, target, adjacent, nodes) {
    // Breadth-first from the source, keeping every shortest predecessor; then walk back.
    for (const n of [source, target]) {
      if (!nodes[n]) { const e = new Error("no entity named " + JSON.stringify(n) + " in this page"); e.kind = "not_found"; throw e; }
    }
    const dist = new Map([[source, 0]]);
    const preds = new Map([[source, []]]);
    let frontier = [source];
    while (frontier.length && !dist.has(target)) {
      const next = [];
      for (const u of frontier) {
        for (const nb of adjacent(u)) {
          if (!dist.has(nb.name)) { dist.set(nb.name, dist.get(u) + 1); preds.set(nb.name, []); next.push(nb.name); }
          if (dist.get(nb.name) === dist.get(u) + 1) preds.get(nb.name).push([u, nb.relation]);
        }
      }
      frontier = next;
    }
    const paths = [];
    const walk = (node, nodesRev, relsRev) => {
      if (paths.length >= 5) return;
      if (node === source) { paths.push({ nodes: [source].concat(nodesRev.slice().reverse()), relations: relsRev.slice().reverse() }); return; }
      for (const [p, rel] of preds.get(node)) walk(p, nodesRev.concat([node]), relsRev.concat([rel]));
    };
    if (dist.has(target)) walk(target, [], []);
    const types = {};
    for (const p of paths) for (const n of p.nodes) types[n] = nodes[n].type;
    return { source: source, target: target, paths: paths, types: types, truncated: false };
  }

  // -- the graph --------------------------------------------------------------------------

  const cy = cytoscape({
    container: $("graph"),
    minZoom: 0.1,
    maxZoom: 4,
    style: [
      { selector: "node", style: {
        "background-color": "data(colour)", label: "data(label)", "font-size": 11, color: "#1d2330",
        "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22, "text-max-width": 140, "text-wrap": "ellipsis" } },
      { selector: "node.type-node", style: { width: "mapData(weight, 0, 1, 30, 70)", height: "mapData(weight, 0, 1, 30, 70)",
        "text-valign": "center", color: "#fff", "text-outline-color": "data(colour)", "text-outline-width": 2, "font-size": 12 } },
      { selector: "node.centre", style: { "border-width": 3, "border-color": "#1d2330" } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#f59f00" } },
      { selector: "node.picked", style: { "border-width": 4, "border-color": "#c2255c" } },
      { selector: "edge", style: {
        width: 1.5, "line-color": "#b8c0cc", "target-arrow-color": "#b8c0cc", "target-arrow-shape": "triangle",
        "curve-style": "bezier", label: "data(label)", "font-size": 9, color: "#6a7282", "text-rotation": "autorotate",
        "text-background-color": "#fff", "text-background-opacity": 0.8 } },
      { selector: "edge.type-edge", style: { width: "mapData(weight, 0, 1, 1, 8)" } },
      { selector: "node.path", style: { "border-width": 4, "border-color": "#c2255c" } },
      { selector: "edge.path", style: { "line-color": "#c2255c", "target-arrow-color": "#c2255c", width: 3, "z-index": 10 } },
      { selector: ".faded", style: { opacity: 0.25 } },
    ],
  });

  function layout(fit) {
    const running = cy.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: 9000, idealEdgeLength: 90,
                                numIter: 400, fit: fit !== false, padding: 40 });
    running.run();
  }

  function addNode(name, type) {
    const existing = cy.getElementById(name);
    if (existing.nonempty()) {
      if (type && !existing.data("type")) existing.data({ type: type, colour: colourOf(type) });
      return existing;
    }
    return cy.add({ group: "nodes", data: { id: name, label: name, type: type, colour: colourOf(type || "?") } });
  }

  function addEdge(source, type, target) {
    const id = source + "\u001f" + type + "\u001f" + target;
    if (cy.getElementById(id).nonempty()) return;
    cy.add({ group: "edges", data: { id: id, source: source, target: target, type: type, label: type } });
  }

  // -- what the page does -------------------------------------------------------------------

  async function showOverview() {
    state.centre = null;
    const o = state.overview || (state.overview = await api("overview"));
    cy.elements().remove();
    const counts = Object.values(o.entity_types);
    const most = Math.max(1, ...counts);
    for (const [type, n] of Object.entries(o.entity_types)) {
      cy.add({ group: "nodes", classes: "type-node",
               data: { id: "type:" + type, label: type + " (" + n + ")", type: type, colour: colourOf(type), weight: n / most, count: n } });
    }
    const mostLinks = Math.max(1, ...o.type_links.map((l) => l.count));
    for (const l of o.type_links) {
      const s = "type:" + l.source_type, t = "type:" + l.target_type;
      if (cy.getElementById(s).empty() || cy.getElementById(t).empty()) continue;
      cy.add({ group: "edges", classes: "type-edge", data: { id: "tl:" + s + ":" + l.relation + ":" + t, source: s, target: t,
               label: l.relation + " (" + l.count + ")", weight: l.count / mostLinks } });
    }
    layout();
    renderOverviewPanel(o);
    status(o.entities + " entities, " + o.relations + " relations in namespace " + o.namespace
           + ". Click a type to list its entities, or search.");
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function renderOverviewPanel(o) {
    const panel = $("panel");
    panel.replaceChildren(el("h2", "Namespace " + o.namespace),
      el("p", o.entities + " entities, " + o.relations + " relations", "muted"));
    const table = (title, counts) => {
      panel.append(el("h3", title));
      const t = el("table");
      for (const [k, n] of Object.entries(counts).sort((a, b) => b[1] - a[1])) {
        const row = el("tr");
        row.append(el("td", k), el("td", n));
        t.append(row);
      }
      panel.append(t);
    };
    table("Entity types", o.entity_types);
    table("Relation types", o.relation_types);
  }

  async function showType(type) {
    const found = await api("type", { type: type, limit: 100 });
    const panel = $("panel");
    panel.replaceChildren(el("h2", type), el("p", found.truncated ? "the first " + found.names.length + " by name" : found.names.length + " entities", "muted"));
    const list = el("ul");
    for (const name of found.names) {
      const item = el("li", name, "link");
      item.addEventListener("click", () => centre(name));
      list.append(item);
    }
    panel.append(list);
  }

  async function centre(name) {
    state.centre = name;
    cy.elements().remove();
    addNode(name, null).addClass("centre");
    await expand(name, true);
    await showEntity(name);
  }

  async function expand(name, fit) {
    let found;
    try {
      found = await api("neighbors", { name: name, limit: 25, as_of: state.asOf });
    } catch (error) {
      status(error.message, true);
      return;
    }
    const before = cy.nodes().length;
    addNode(name, found.type);
    for (const n of found.neighbors) {
      addNode(n.name, n.type);
      if (n.direction === "out") addEdge(name, n.relation, n.name); else addEdge(n.name, n.relation, name);
    }
    const added = cy.nodes().length - before;
    layout(fit !== false);
    status(name + ": " + found.total + " neighbours" + (found.truncated ? " (showing " + found.neighbors.length + ")" : "")
           + (added ? ", " + added + " new" : "") + (state.asOf ? " as of " + state.asOf : ""));
  }

  async function showEntity(name) {
    let found;
    try {
      found = await api("entity", { name: name, as_of: state.asOf });
    } catch (error) {
      status(error.message, true);
      return;
    }
    const e = found.entity;
    const panel = $("panel");
    panel.replaceChildren(el("h2", e.name), el("span", e.type, "type"));
    if (e.text) panel.append(el("h3", "Text"), el("p", e.text));
    if (e.observations.length) {
      panel.append(el("h3", "Observations"));
      const list = el("ul");
      for (const o of e.observations) list.append(el("li", o));
      panel.append(list);
    }
    const props = Object.entries(e.properties || {});
    if (props.length) {
      panel.append(el("h3", "Properties"));
      const t = el("table");
      for (const [k, v] of props) { const r = el("tr"); r.append(el("td", k), el("td", JSON.stringify(v))); t.append(r); }
      panel.append(t);
    }
    panel.append(el("h3", "Time"));
    const t = el("table");
    for (const key of ["created_at", "updated_at", "valid_from", "valid_to"]) {
      if (e[key]) { const r = el("tr"); r.append(el("td", key.replace("_", " ")), el("td", e[key])); t.append(r); }
    }
    panel.append(t);
    const h = found.history;
    if (h.versions.length > 1) {
      panel.append(el("h3", "History"));
      const list = el("ul");
      for (const v of h.versions) {
        list.append(el("li", (v.updated_at || "?") + ": " + v.type + (v.text ? ", " + v.text : "") + (v.expired_at ? " (until " + v.expired_at + ")" : " (current)")));
      }
      panel.append(list);
      if (h.versions_truncated) panel.append(el("p", "older versions not shown", "muted"));
    }
    if (h.relations.length) {
      // A page at a time, newest first: a hub has thousands (each page is one bounded request).
      panel.append(el("h3", "Relations, newest first"));
      const list = el("ul");
      list.id = "relation-history";
      panel.append(list);
      appendRelations(name, list, h.relations, h.older);
    }
  }

  function appendRelations(name, list, relations, older) {
    for (const r of relations) {
      list.append(el("li", (r.created_at || "?") + ": " + r.source + " " + r.type + " " + r.target + (r.expired_at ? " (retired " + r.expired_at + ")" : "")));
    }
    if (!older) return;
    const more = el("button", "older relations");
    more.type = "button";
    more.id = "older-relations";
    more.addEventListener("click", async () => {
      more.disabled = true;
      let page;
      try {
        page = await api("relations", { name: name, before: older });
      } catch (error) {
        more.disabled = false;
        status(error.message, true);
        return;
      }
      more.remove();
      appendRelations(name, list, page.relations, page.older);
    });
    list.after(more);
  }

  async function showPaths(source, target) {
    let found;
    try {
      found = await api("paths", { source: source, target: target, limit: 5, as_of: state.asOf });
    } catch (error) {
      status(error.message, true);
      return;
    }
    cy.elements().removeClass("path");
    if (!found.paths.length) {
      status("no path between " + source + " and " + target + (state.asOf ? " as of " + state.asOf : ""));
      return;
    }
    for (const p of found.paths) {
      p.nodes.forEach((n) => addNode(n, found.types[n]).addClass("path"));
      p.relations.forEach((rel, i) => {
        const a = p.nodes[i], b = p.nodes[i + 1];
        // A path may follow a relation backwards: draw it the way it points.
        const forward = cy.getElementById(a + "\u001f" + rel + "\u001f" + b);
        const backward = cy.getElementById(b + "\u001f" + rel + "\u001f" + a);
        if (forward.empty() && backward.empty()) addEdge(a, rel, b);
        const edge = cy.getElementById(a + "\u001f" + rel + "\u001f" + b).nonempty() ? cy.getElementById(a + "\u001f" + rel + "\u001f" + b) : backward;
        edge.addClass("path");
      });
    }
    layout();
    status(found.paths.length + " shortest path" + (found.paths.length > 1 ? "s" : "") + " of "
           + found.paths[0].relations.length + " hops: " + source + " → " + target + (found.truncated ? " (more exist)" : ""));
  }

  function setPathMode(on) {
    state.pathMode = on;
    state.pathPick = [];
    cy.nodes().removeClass("picked");
    $("path-button").setAttribute("aria-pressed", on ? "true" : "false");
    status(on ? "Path mode: pick two entities" : "");
  }

  // -- events -------------------------------------------------------------------------------------

  cy.on("tap", "node", (evt) => {
    const node = evt.target;
    if (node.hasClass("type-node")) { showType(node.data("type")); return; }
    const name = node.id();
    if (state.pathMode) {
      node.addClass("picked");
      state.pathPick.push(name);
      if (state.pathPick.length === 2) {
        const [a, b] = state.pathPick;
        state.pathPick = [];
        cy.nodes().removeClass("picked");
        showPaths(a, b);
      } else {
        status("Path mode: " + name + " → pick a second entity");
      }
      return;
    }
    showEntity(name);
    expand(name, false);
  });

  const tooltip = $("tooltip");
  cy.on("mouseover", "edge", async (evt) => {
    const edge = evt.target;
    const pos = evt.renderedPosition || { x: 0, y: 0 };
    const box = $("graph").getBoundingClientRect();
    tooltip.style.left = (box.left + pos.x + 12) + "px";
    tooltip.style.top = (box.top + pos.y + 12) + "px";
    if (edge.hasClass("type-edge")) { tooltip.textContent = edge.data("label"); tooltip.hidden = false; return; }
    tooltip.textContent = edge.data("type");
    tooltip.hidden = false;
    const key = edge.id();
    try {
      if (!state.relations.has(key)) {
        const r = await api("relation", { source: edge.data("source"), type: edge.data("type"), target: edge.data("target") });
        state.relations.set(key, r.relation);
      }
      const r = state.relations.get(key);
      const lines = [r.source + " —" + r.type + "→ " + r.target];
      for (const [k, v] of Object.entries(r.properties || {})) lines.push(k + ": " + JSON.stringify(v));
      if (r.valid_from || r.valid_to) lines.push("valid " + (r.valid_from || "…") + " to " + (r.valid_to || "…"));
      if (!tooltip.hidden) tooltip.textContent = lines.join("\n");
    } catch (error) {
      tooltip.textContent = edge.data("type") + " (" + error.message + ")";
    }
  });
  cy.on("mouseout", "edge", () => { tooltip.hidden = true; });

  let searchSeq = 0;
  async function runSearch(q) {
    const results = $("results");
    if (!q.trim()) { results.hidden = true; return null; }
    const seq = ++searchSeq;
    let found;
    try {
      found = await api("search", { q: q, k: 10 });
    } catch (error) {
      status(error.message, true);
      return null;
    }
    if (seq !== searchSeq) return null;
    results.replaceChildren();
    const seen = new Set();
    const add = (hit, kind) => {
      if (seen.has(hit.name)) return;
      seen.add(hit.name);
      const item = el("li", hit.name);
      item.append(el("span", (hit.type || "") + (kind ? " · " + kind : ""), "kind"));
      item.addEventListener("mousedown", (e) => { e.preventDefault(); results.hidden = true; centre(hit.name); });
      results.append(item);
    };
    found.prefix.forEach((h) => add(h, ""));
    found.meaning.forEach((h) => add(h, "meaning " + h.score));
    results.hidden = !results.children.length;
    if (!results.children.length) status("nothing matches " + JSON.stringify(q));
    return found;
  }

  let searchTimer = null;
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(e.target.value), 200);
  });
  $("search").addEventListener("blur", () => { setTimeout(() => { $("results").hidden = true; }, 150); });
  $("search-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    clearTimeout(searchTimer);
    const q = $("search").value;
    const found = await runSearch(q);
    if (!found) return;
    const exact = found.prefix.find((h) => h.name.toLowerCase() === q.toLowerCase());
    const first = exact || found.prefix[0] || found.meaning[0];
    if (first) { $("results").hidden = true; await centre(first.name); }
  });
  $("overview-button").addEventListener("click", () => { setPathMode(false); showOverview(); });
  $("path-button").addEventListener("click", () => setPathMode(!state.pathMode));

  // The slider maps 0..1000 onto the store's time span; its right end is now (no as_of).
  let span = null;
  function sliderTime(value) {
    if (Number(value) >= 1000) return null;
    return new Date(span.start + (span.end - span.start) * Number(value) / 1000).toISOString();
  }
  async function setTime(iso) {
    state.asOf = iso;
    $("time-label").textContent = iso ? iso.slice(0, 19).replace("T", " ") + "Z" : "now";
    if (state.centre) {
      const name = state.centre;
      cy.elements().remove();
      addNode(name, null).addClass("centre");
      await expand(name, true);
      await showEntity(name);
    }
  }
  $("time-slider").addEventListener("change", (e) => setTime(sliderTime(e.target.value)));
  $("time-now").addEventListener("click", () => { $("time-slider").value = 1000; setTime(null); });

  async function start() {
    try {
      const o = state.overview = await api("overview");
      $("where").textContent = "namespace " + o.namespace + " · " + o.entities + " entities";
      if (o.time.has_history && o.time.start && !STATIC) {
        span = { start: Date.parse(o.time.start), end: Math.max(Date.parse(o.time.end), Date.now()) };
        $("time").hidden = false;
      }
      if (STATIC && STATIC.centre) await centre(STATIC.centre); else await showOverview();
    } catch (error) {
      status(error.message, true);
      $("panel").replaceChildren(el("p", error.message, "hint"));
    }
  }

  // For tests and for people poking at the page from the console.
  window.graphmemView = { cy: cy, centre: centre, expand: expand, showPaths: showPaths, setTime: setTime,
                          setPathMode: setPathMode, showOverview: showOverview, state: state };
  start();
})();
