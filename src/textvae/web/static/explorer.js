// The explorer page: each form posts its fields (with the decoding panel's) as JSON to /api/runs/RUN/ACTION and
// shows the result. Text from the server is only ever set with textContent, never parsed as HTML.
(function () {
  const root = document.getElementById("explorer");
  const run = root.dataset.run;
  const runPath = run.split("/").map(encodeURIComponent).join("/"); // a run named "a#1" or "b?x" is still one path
  const NUMBERS = new Set(["n", "samples", "steps", "width", "temperature", "top_k", "top_p", "seed", "scale", "max_len"]);
  const LISTS = new Set(["source", "target", "apply"]);

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function list(items, ordered) {
    const l = el(ordered ? "ol" : "ul");
    items.forEach((x) => l.appendChild(typeof x === "string" ? el("li", x) : x));
    return l;
  }
  function note(reading) {
    if (!reading || !reading.unknown) return null;
    return el("p", `${reading.unknown} of ${reading.words} words not in the vocabulary, read as <unk>: ` +
      reading.unknown_words.join(", "), "muted");
  }
  function fields(form) {
    const body = {};
    for (const e of form.elements) {
      if (!e.name || e.type === "file" || e.type === "submit") continue;
      let v = e.value;
      if (LISTS.has(e.name)) v = v.split("\n").map((s) => s.trim()).filter((s) => s);
      else if (NUMBERS.has(e.name)) {
        if (v.trim() === "") continue; // a cleared field: the server's default, not 0
        v = Number(v);
      }
      else if (v === "" && (e.name === "from_label" || e.name === "to_label" || e.name === "sentence")) continue;
      body[e.name] = v;
    }
    return body;
  }

  const render = {
    sample: (r) => [list(r.sentences, true)],
    reconstruct: (r) => {
      const ex = r.examples[0];
      const out = [el("p", "read as: " + ex.read_as), el("p", "from the posterior mean: " + ex.mean)];
      if (ex.samples.length) out.push(el("p", "from posterior samples:"), list(ex.samples, true));
      return [...out, note(r.reading)];
    },
    interpolate: (r) => [list(r.steps.map((s) => `t = ${s.t.toFixed(2)}: ${s.sentence}`), false), note(r.reading)],
    attribute: (r) => {
      const t = el("table");
      const head = el("tr");
      ["input", "decoded", "edited"].forEach((h) => head.appendChild(el("th", h)));
      t.appendChild(head);
      r.rows.forEach((row) => {
        const tr = el("tr");
        [row.read_as, row.decoded, row.edited].forEach((x) => tr.appendChild(el("td", x)));
        t.appendChild(tr);
      });
      return [el("p", `attribute vector norm ${r.vector_norm.toFixed(3)}, scale ${r.scale}`, "muted"), t,
        note(r.reading)];
    },
    impute: (r) => {
      const row = r.sentences[0];
      return [el("p", row.output), el("p", `filled: ${row.filled.join(", ")} · ${r.method} · ` +
        `score ${row.score.toFixed(2)} nats`, "muted"), note(r.reading)];
    },
    canvas: (r) => {
      const reads = list(r.reads.map((x) => `after step ${x.step}: ${x.sentence}`), false);
      const heat = el("table", undefined, "heat");
      r.attention.forEach((row) => {
        const tr = el("tr");
        row.forEach((v) => {
          const td = el("td");
          td.style.background = `rgba(20, 40, 60, ${v})`;
          td.title = v.toFixed(3);
          tr.appendChild(td);
        });
        heat.appendChild(tr);
      });
      return [reads, el("p", `cumulative attention per slot (columns, ${r.slots}) after steps 0 to ${r.steps} (rows)`,
        "muted"), heat];
    },
  };

  async function submit(form) {
    const action = form.dataset.action;
    const out = document.getElementById("out-" + action);
    const body = Object.assign(fields(document.getElementById("decoding")), fields(form));
    if (action === "impute" || action === "canvas") {
      for (const k of ["method", "temperature", "top_k", "top_p"]) delete body[k];
      if (action === "impute") { delete body.width; delete body.seed; }
      delete body.max_len;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    out.replaceChildren(el("p", "working...", "muted"));
    try {
      const resp = await fetch(`/api/runs/${runPath}/${action}`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await resp.json();
      if (!resp.ok) throw new Error(data.detail || resp.statusText);
      out.replaceChildren(...render[action](data).filter((x) => x));
    } catch (err) {
      out.replaceChildren(el("p", String(err.message || err), "error"));
    } finally {
      button.disabled = false;
    }
  }

  document.querySelectorAll("form[data-action]").forEach((form) => {
    form.addEventListener("submit", (ev) => { ev.preventDefault(); submit(form); });
  });
  document.querySelectorAll("input[data-fill]").forEach((input) => {
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (file) input.form.elements[input.dataset.fill].value = await file.text();
    });
  });
})();
