"use strict";
// Everything below builds the DOM with textContent and attributes, never from HTML strings:
// answers and reasoning are untrusted text.
const PAGE = JSON.parse(document.getElementById("page-data").textContent);
const LABELS = PAGE.labels;

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function chip(verdict, text) {
  return el("span", {class: "chip v-" + LABELS.indexOf(verdict), "data-verdict": verdict},
            text === undefined ? verdict : text);
}

function thumbnail(uri, alt) {
  if (!uri) return el("div", {class: "thumb placeholder"}, "image not available");
  const image = el("img", {class: "thumb", alt: alt});
  image.src = uri;
  return image;
}

function reasoning(text) {
  if (!text) return el("div", {class: "muted"}, "no reasoning");
  return el("details", {}, el("summary", {}, "reasoning (" + text.length + " characters)"),
            el("pre", {}, text));
}

function prediction(view, heading) {
  return el("div", {class: "prediction", "data-verdict": view.verdict},
            heading ? el("h4", {}, heading) : null,
            chip(view.verdict), " ",
            el("span", {class: "answer"}, view.answer === null ? "—" : view.answer),
            el("div", {class: "status"}, "#" + view.index + " · " + view.status),
            reasoning(view.reasoning));
}

function counts(verdicts) {
  const row = el("div", {class: "counts"});
  for (const label of LABELS) {
    if (verdicts[label]) row.append(chip(label, label + " ×" + verdicts[label]));
  }
  return row;
}

// A gallery: the items matching the section's filter (a category) and search box, a page at a
// time. `categories(item)` lists the filter values an item matches, `text(item)` what the
// search box searches, `card(item)` draws it.
function gallery(section, items, categories, text, card, pageSize) {
  const filter = section.querySelector(".filter");
  const search = section.querySelector(".search");
  const cards = section.querySelector(".cards");
  const shown = section.querySelector(".shown");
  const previous = section.querySelector(".previous");
  const next = section.querySelector(".next");
  let page = 0;
  function matching() {
    const wanted = filter.value;
    const query = search.value.trim().toLowerCase();
    return items.filter((item) => (wanted === "" || categories(item).includes(wanted))
      && (query === "" || text(item).toLowerCase().includes(query)));
  }
  function draw() {
    const found = matching();
    const pages = Math.max(1, Math.ceil(found.length / pageSize));
    page = Math.min(page, pages - 1);
    cards.replaceChildren(...found.slice(page * pageSize, (page + 1) * pageSize).map(card));
    shown.textContent = found.length + " of " + items.length + " embedded · page " + (page + 1)
      + " of " + pages;
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  filter.addEventListener("change", () => { page = 0; draw(); });
  search.addEventListener("input", () => { page = 0; draw(); });
  previous.addEventListener("click", () => { page -= 1; draw(); });
  next.addEventListener("click", () => { page += 1; draw(); });
  draw();
}
