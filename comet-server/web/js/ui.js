// Small DOM and formatting helpers. Everything from the server goes into the page as text
// (textContent, attributes), never as HTML.

/**
 * Makes an element. `props`: `class`, `text`, `on` ({event: handler}), `dataset`, `hidden`,
 * `checked`, `disabled`, `value`, and any other key as an attribute. Children are nodes or
 * strings (added as text); null and false are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'on') for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'hidden' || key === 'checked' || key === 'disabled' || key === 'selected' || key === 'required') {
      node[key] = Boolean(value);
    } else if (key === 'value') node.value = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let uniqueCounter = 0;
/** A fresh element id with `prefix`. */
export function uid(prefix = 'f') {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** A label and its control; `control` gets an id if it has none. */
export function field(text, control, help) {
  if (!control.id) control.id = uid();
  const parts = [el('label', { for: control.id, text }), control];
  if (help) {
    const helpId = `${control.id}-help`;
    control.setAttribute('aria-describedby', helpId);
    parts.push(el('p', { class: 'help', id: helpId, text: help }));
  }
  return el('div', { class: 'field' }, parts);
}

export function checkbox(text, props = {}) {
  const input = el('input', { type: 'checkbox', ...props });
  return el('label', { class: 'inline' }, input, text);
}

/** A `<select>` of [value, label] pairs, with an optional first "choose" entry. */
export function select(props, options, { placeholder, selected } = {}) {
  const node = el('select', props);
  fillSelect(node, options, { placeholder, selected });
  return node;
}

/** Replaces a select's options, keeping the current choice when it is still offered. */
export function fillSelect(node, options, { placeholder, selected } = {}) {
  const keep = selected ?? node.value;
  node.replaceChildren();
  if (placeholder !== undefined) node.append(el('option', { value: '', text: placeholder }));
  for (const [value, label] of options) node.append(el('option', { value, text: label }));
  if (keep !== undefined && options.some(([value]) => value === keep)) node.value = keep;
}

// ---- Formatting ----

const STATUS = {
  5000: ['Success', 's-ok'],
  6001: ['Running', 's-run'],
  7000: ['Timeout', 's-bad'],
  7001: ['Warning', 's-warn'],
  7002: ['Error', 's-bad'],
  7003: ['Quota exceeded', 's-bad'],
  7004: ['Missed', 's-odd'],
  7005: ['Cancelled', 's-none'],
  7006: ['Skipped', 's-none'],
  7007: ['Abandoned', 's-odd'],
};

export const STATUS_CODES = Object.keys(STATUS).map(Number);

export function statusName(code) {
  return STATUS[code]?.[0] ?? `Status ${code}`;
}

export function statusClass(code) {
  return STATUS[code]?.[1] ?? 's-none';
}

export function statusBadge(code) {
  return el('span', { class: `badge ${statusClass(code)}`, text: statusName(code) });
}

/** How bad a status is, to pick the worst of a day: higher is worse. */
export function severity(code) {
  return { 5000: 1, 7006: 2, 7005: 3, 6001: 4, 7001: 5, 7004: 6, 7007: 7, 7000: 8, 7003: 8, 7002: 9 }[code] ?? 0;
}

export const CLASSIFICATION = { 4001: 'Backup', 4002: 'Restore', 4003: 'Retention pass' };

export function jobKind(code) {
  return CLASSIFICATION[code] ?? `Type ${code}`;
}

export function zone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const dayLabel = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric' });

/** A time (seconds since the epoch) in the viewer's time zone; "" for 0. */
export function fmtTime(secs) {
  return secs ? dateTime.format(new Date(secs * 1000)) : '';
}

export function fmtDate(secs) {
  return secs ? dateOnly.format(new Date(secs * 1000)) : '';
}

export function fmtDay(date) {
  return dayLabel.format(date);
}

/** A `<time>` element with the machine-readable instant. */
export function timeEl(secs) {
  if (!secs) return el('span', { class: 'muted', text: '—' });
  return el('time', { datetime: new Date(secs * 1000).toISOString(), text: fmtTime(secs) });
}

export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function fmtCount(n) {
  return Number(n ?? 0).toLocaleString();
}

export function fmtDuration(secs) {
  if (secs === null || secs === undefined || secs < 0) return '—';
  const s = Math.round(secs);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A job's duration: to its end, or to now while it runs. */
export function jobDuration(job) {
  const end = job.EndTime || (job.Status === 6001 ? Date.now() / 1000 : job.StartTime);
  return fmtDuration(end - job.StartTime);
}

/** Seconds of the local midnight starting `date`'s day. */
export function localMidnight(date) {
  const d = new Date(date);
  d.setHours(0, 0, 0, 0);
  return Math.floor(d.getTime() / 1000);
}

/** "HH:MM" of seconds after midnight. */
export function clock(secs) {
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** Seconds after midnight of "HH:MM". */
export function parseClock(text) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new Error(`${text || 'an empty time'} is not a time (HH:MM)`);
  return Number(m[1]) * 3600 + Number(m[2]) * 60;
}

/** Compares dotted versions numerically: negative if a < b. */
export function compareVersions(a, b) {
  const pa = String(a).split(/[.+-]/).map((x) => parseInt(x, 10) || 0);
  const pb = String(b).split(/[.+-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** Bytes as lowercase hexadecimal. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A new profile object id: 32 random hexadecimal characters. */
export function newId() {
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

export function lines(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

// ---- Tables ----

/**
 * A table: `columns` = [{title, class?}], `rows` = [{cells: [node|string], dataset?, class?}].
 * An empty list shows `empty`. With `stack`, a phone shows each row as a card of labelled lines.
 */
export function table(columns, rows, { empty = 'Nothing here yet.', id, caption, stack = false } = {}) {
  if (!rows.length) return el('div', { class: 'table-wrap' }, el('p', { class: 'empty', text: empty }));
  const head = el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.class, text: c.title })));
  const body = el(
    'tbody',
    {},
    rows.map((r) =>
      el(
        'tr',
        { dataset: r.dataset, class: r.class },
        r.cells.map((cell, i) => {
          // data-label: the column's title, shown beside the cell when a phone stacks the row.
          const props = { class: columns[i]?.class, 'data-label': columns[i]?.title || null };
          if (cell && typeof cell === 'object' && !(cell instanceof Node) && 'node' in cell) {
            return el('td', { ...props, class: [props.class, cell.class].filter(Boolean).join(' ') }, cell.node);
          }
          return el('td', props, cell);
        }),
      ),
    ),
  );
  return el(
    'div',
    { class: 'table-wrap' },
    el('table', { id, class: stack ? 'stack' : null }, caption ? el('caption', { class: 'sr-only', text: caption }) : null, el('thead', {}, head), body),
  );
}

/** Paging of `items` by `size`: renders into `into` with `renderPage(slice)`. */
export function pager(items, size, renderPage) {
  let page = 0;
  const wrap = el('div');
  const draw = () => {
    const pages = Math.max(1, Math.ceil(items.length / size));
    page = Math.min(page, pages - 1);
    const start = page * size;
    const slice = items.slice(start, start + size);
    const nav =
      items.length > size
        ? el(
            'div',
            { class: 'pager' },
            el('button', { type: 'button', text: 'Previous', disabled: page === 0, on: { click: () => ((page -= 1), draw()) } }),
            el('span', { text: `${start + 1}–${start + slice.length} of ${items.length}` }),
            el('button', { type: 'button', text: 'Next', disabled: page >= pages - 1, on: { click: () => ((page += 1), draw()) } }),
          )
        : null;
    clear(wrap, renderPage(slice), nav);
  };
  draw();
  return wrap;
}

// ---- Dialogs ----

/**
 * Opens a modal `<dialog id=id>` with a form of `body` nodes. `submit` (async) runs on submit;
 * its error shows in the dialog and keeps it open; success closes it. Returns the dialog.
 */
export function dialog({ id, title, body, submitText = 'Save', submit, danger = false, cancelText = 'Cancel' }) {
  document.getElementById(id)?.remove();
  const error = el('p', { class: 'error-text dlg-error', role: 'alert' });
  const submitButton = el('button', { type: 'submit', class: danger ? 'danger' : 'primary', text: submitText });
  const headingId = `${id}-title`;
  const form = el(
    'form',
    { novalidate: true },
    el('h2', { id: headingId, text: title }),
    body,
    error,
    el(
      'div',
      { class: 'form-end' },
      el('button', { type: 'button', text: cancelText, on: { click: () => close() } }),
      submit ? submitButton : null,
    ),
  );
  const dlg = el('dialog', { id, 'aria-labelledby': headingId }, form);
  const close = () => {
    if (dlg.open) dlg.close();
    dlg.remove();
  };
  dlg.addEventListener('close', () => dlg.remove());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!submit) return close();
    error.textContent = '';
    submitButton.disabled = true;
    try {
      const keepOpen = await submit(dlg);
      if (!keepOpen) close();
    } catch (e) {
      error.textContent = e.message || String(e);
    } finally {
      submitButton.disabled = false;
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  dlg.closeDialog = close;
  dlg.errorBox = error;
  return dlg;
}

/** Asks to confirm `text`; resolves after `action` ran (its error shows in the dialog). */
export function confirmAction({ id = 'dlg-confirm', title, text, action, submitText = 'Confirm', danger = false, extra }) {
  return dialog({ id, title, body: [el('p', { text }), extra], submitText, danger, submit: action });
}

/** A small "Delete" button (or `label`) that asks first, with `title` and `text`, then runs `action`. */
export function deleteButton({ title, text, action, label = 'Delete' }) {
  return el('button', {
    type: 'button',
    class: 'small danger',
    text: 'Delete',
    on: { click: () => confirmAction({ title, text, submitText: label, danger: true, action }) },
  });
}

/** Closes every open dialog (on navigation). */
export function closeDialogs() {
  for (const d of document.querySelectorAll('dialog')) {
    if (d.open) d.close();
    d.remove();
  }
}

let toastTimer = null;
/** A short message at the corner, read by screen readers. */
export function toast(text) {
  document.getElementById('toast')?.remove();
  const node = el('div', { id: 'toast', class: 'toast', role: 'status', text });
  document.body.append(node);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.remove(), 6000);
}

/** Downloads `text` as a file. */
export function download(name, text, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A CSV field, quoted when needed; cells that a spreadsheet would run as formulas are defused. */
export function csvField(value) {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
