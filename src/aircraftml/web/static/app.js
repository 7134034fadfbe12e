// The try-a-photo page, live: a picked, dropped or pasted photo goes to /api/recognize and
// the answer is drawn over it. Every string from the answer is set as text, never as HTML.
"use strict";
(function () {
  const form = document.getElementById("upload");
  const input = document.getElementById("photo");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = ["#e6194b", "#0082c8", "#f58230", "#3cb44b", "#911eb4"];

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  function overlay(answer) {
    const svg = svgEl("svg", { viewBox: `0 0 ${answer.width} ${answer.height}`, "aria-hidden": "true" });
    const size = Math.max(answer.width, answer.height) * 0.035;
    answer.aircraft.forEach((found, i) => {
      const [x0, y0, x1, y1] = found.box;
      const colour = COLOURS[i % COLOURS.length];
      svg.appendChild(svgEl("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, stroke: colour, class: "box" }));
      const label = svgEl("text", { x: x0 + size * 0.2, y: Math.max(y0 - size * 0.3, size), "font-size": size, class: "label" });
      label.textContent = answer.bot.aircraft[i].label;
      svg.appendChild(label);
    });
    return svg;
  }

  function show(answer, imageUrl) {
    result.replaceChildren();
    const count = answer.aircraft.length;
    result.appendChild(el("h2", `${count ? count + " aircraft" : "No aircraft found"} in ${answer.image} (${answer.width}×${answer.height})`));
    const figure = el("figure", undefined, "photo");
    const img = el("img");
    img.src = imageUrl;
    img.alt = answer.bot.alt_text;
    figure.append(img, overlay(answer));
    result.appendChild(figure);
    const list = el("ol", undefined, "aircraft");
    answer.aircraft.forEach((found, i) => {
      const item = el("li");
      item.appendChild(el("span", answer.bot.aircraft[i].said, "said"));
      const types = el("ul", undefined, "types");
      for (const t of found.types) {
        const li = el("li", t.label + " ");
        li.appendChild(el("span", Math.round(t.confidence * 100) + "%"));
        types.appendChild(li);
      }
      item.appendChild(types);
      list.appendChild(item);
    });
    result.appendChild(list);
    result.appendChild(el("h3", "The reply on X would say"));
    result.appendChild(el("blockquote", answer.bot.reply, "reply"));
    const timings = Object.entries(answer.timings_ms).map(([k, v]) => `${k} ${Math.round(v)} ms`);
    result.appendChild(el("p", timings.join(" · "), "timings"));
  }

  async function send(file) {
    if (!file) return;
    status.textContent = `Looking at ${file.name || "your photo"}…`;
    const body = new FormData();
    body.append("photo", file, file.name || "pasted.png");
    try {
      const response = await fetch("/api/recognize", { method: "POST", body });
      const answer = await response.json();
      if (!response.ok) {
        result.replaceChildren(el("p", answer.error || `error ${response.status}`, "error"));
        status.textContent = "";
        return;
      }
      show(answer, URL.createObjectURL(file));
      status.textContent = "Done.";
    } catch (err) {
      status.textContent = "";
      result.replaceChildren(el("p", "Could not reach the bot: " + err.message, "error"));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(input.files[0]);
  });
  input.addEventListener("change", () => send(input.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    document.addEventListener(name, (event) => { event.preventDefault(); form.classList.add("dragging"); });
  }
  document.addEventListener("dragleave", () => form.classList.remove("dragging"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    form.classList.remove("dragging");
    send(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const file = [...event.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) send(file);
  });
})();
