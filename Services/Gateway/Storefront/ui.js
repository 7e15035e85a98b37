// Small DOM helpers shared by the pages: an element builder, formatting, form fields with their
// error slots, toasts. No framework: every page builds its DOM with `h` and replaces <main>'s children.
import { ORDER_STATUSES, CANCELLATION_REASONS, SHIPMENT_STATUSES } from './lifecycle.js';

/** h('button', {class: 'btn', onclick}, 'Text', child, ...) → an element. */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'vars') for (const [name, v] of Object.entries(value)) el.style.setProperty(name, v);
    else if (key === 'value' && !svg) el.value = value;
    else if ((key === 'checked' || key === 'selected' || key === 'disabled') && !svg) el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const currency = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
export const money = (amount) => currency.format(Number(amount || 0));

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const preciseFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export const dateTime = (iso) => (iso ? dateFormat.format(new Date(iso)) : '');
export const preciseDateTime = (iso) => (iso ? preciseFormat.format(new Date(iso)) : '');
export const time = (iso) => (iso ? timeFormat.format(new Date(iso)) : '');
export const shortId = (id) => String(id || '').slice(0, 8).toUpperCase();

/** A random UUID, also where crypto.randomUUID is missing (pages served over plain http to another host). */
export function uuid() {
  if (globalThis.crypto?.randomUUID) {
    try { return crypto.randomUUID(); } catch { /* not a secure context */ }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

let fieldCounter = 0;

/**
 * A labelled form field with a hint and an error slot: `field('Email', 'email', {type: 'email'})`.
 * The error slot is found by the API's problem `field` name (see showErrors).
 */
export function field(label, name, attrs = {}, { hint, control } = {}) {
  const id = `f-${name.replace(/[^a-zA-Z0-9]/g, '-')}-${++fieldCounter}`;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = control
    ? control(id)
    : h('input', { id, name, type: 'text', ...attrs, 'aria-describedby': [hintId, errorId].filter(Boolean).join(' ') });
  if (control) input.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  return h('div', { class: 'field', dataset: { field: name } },
    h('label', { for: id }, label, attrs.required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errorId, role: 'alert', dataset: { errorFor: name } }));
}

/** A <select> control for `field(..., {control: select(options, value)})`. */
export function select(name, options, value) {
  return (id) => h('select', { id, name },
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, text);
    }));
}

/** Clears a form's field errors and its general error. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll('.field-error, .form-error')) slot.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  form.querySelector('.form-error')?.classList.remove('visible');
}

/**
 * Shows an error next to the field it names (problem+json `field`, or each of `errors`), or at the
 * top of the form when it names no field of this form. `aliases` maps API field names to the
 * form's (`{'items[0].quantity': 'quantity'}`, or a function). Focuses the first field at fault.
 */
export function showErrors(form, error, aliases = {}) {
  clearErrors(form);
  const problems = error?.errors?.length ? error.errors : [{ field: error?.field, detail: error?.message || String(error) }];
  let first = null;
  const general = [];
  for (const problem of problems) {
    const name = typeof aliases === 'function' ? aliases(problem.field) : (aliases[problem.field] ?? problem.field);
    const slot = name && form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) {
      slot.textContent = problem.detail || problem.title || 'This value is not valid.';
      const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
      input?.setAttribute('aria-invalid', 'true');
      first ??= input;
    } else {
      general.push(problem.detail || problem.title || String(error));
    }
  }
  if (general.length) {
    let box = form.querySelector('.form-error');
    if (!box) {
      box = h('div', { class: 'form-error', role: 'alert' });
      form.prepend(box);
    }
    box.textContent = general.join(' ');
    box.classList.add('visible');
  }
  (first || form.querySelector('.form-error'))?.focus?.();
  if (!first) form.querySelector('.form-error')?.scrollIntoView({ block: 'nearest' });
}

/** The form's values as an object (trimmed strings). */
export function values(form) {
  const out = {};
  for (const [key, value] of new FormData(form)) out[key] = typeof value === 'string' ? value.trim() : value;
  return out;
}

/** Disables a form's submit button while `work` runs, with a busy label. */
export async function busy(button, label, work) {
  const children = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.replaceChildren(...children);
  }
}

/** Text for screen readers only (which product a button or field is about). */
export const hidden = (text) => h('span', { class: 'visually-hidden' }, text);

/** The document's title: the page, then the shop. */
export function setTitle(text) {
  document.title = text ? `${text} · SWN Shop` : 'SWN Shop';
}

/** A short message in the toast region (announced politely to screen readers). */
export function toast(message, kind = 'info', action) {
  const region = document.getElementById('toasts');
  const item = h('div', { class: `toast toast-${kind}` }, h('span', {}, message), action || null,
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
  region.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 5000);
}

const ORDER_LABELS = Object.fromEntries(ORDER_STATUSES.map(({ status, label }) => [status, label]));

/** An order status as people read it (`StockReserved` → "Stock reserved"), from the rendered lifecycle. */
export const statusLabel = (status) => ORDER_LABELS[status] || status;
/** A shipment's status as people read it. */
export const shipmentLabel = (status) => SHIPMENT_STATUSES[status] || status;
/** A cancellation reason as people read it (`PaymentDeclined` → "Payment declined"). */
export const reasonLabel = (reason) => CANCELLATION_REASONS[reason] || reason;

/**
 * A status badge: an order's status (with its cancellation reason), or, with `label`, any other status
 * (a payment's, a shipment's: `statusPill(s.status, null, shipmentLabel)`).
 */
export function statusPill(status, reason, label = statusLabel) {
  return h('span', { class: `pill pill-${String(status).toLowerCase()}`, dataset: { status } }, label(status), reason ? ` · ${reasonLabel(reason)}` : '');
}

/** A page heading that receives focus after navigation. */
export function pageTitle(text, ...extra) {
  setTitle(text);
  return h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, text), ...extra);
}

export function notice(kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** Sleeps, or rejects early when the page is left (`signal`). */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(new DOMException('left the page', 'AbortError')); }, { once: true });
  });
}

/** Line-art pictures for products (the catalog has no image files): by category, tinted by a hue. */
export function productArt(product) {
  const category = String(product.category || '').toLowerCase();
  const hue = [...String(product.category || product.name || '')].reduce((a, c) => (a * 31 + c.codePointAt(0)) % 360, 200);
  const kind = /phone|mobile/.test(category) ? 'phone'
    : /appliance|fridge|washer/.test(category) ? 'appliance'
      : /kitchen|home|cook/.test(category) ? 'kitchen'
        : /laptop|computer|tablet/.test(category) ? 'laptop' : 'box';
  const paths = {
    phone: ['M38 12h24a6 6 0 0 1 6 6v64a6 6 0 0 1-6 6H38a6 6 0 0 1-6-6V18a6 6 0 0 1 6-6z', 'M45 18h10', 'M47 80h6'],
    appliance: ['M30 10h40a4 4 0 0 1 4 4v72a4 4 0 0 1-4 4H30a4 4 0 0 1-4-4V14a4 4 0 0 1 4-4z', 'M26 40h48', 'M34 20v10', 'M34 50v14'],
    kitchen: ['M22 44h56v26a14 14 0 0 1-14 14H36a14 14 0 0 1-14-14z', 'M14 48h8', 'M78 48h8', 'M40 30c0-6 6-6 6-12', 'M54 30c0-6 6-6 6-12'],
    laptop: ['M24 24h52v36H24z', 'M14 70h72l-6 8H20z'],
    box: ['M50 14l32 16v40L50 86 18 70V30z', 'M18 30l32 16 32-16', 'M50 46v40'],
  }[kind];
  return h('div', { class: 'product-art', 'aria-hidden': 'true', vars: { '--hue': String(hue) } },
    h('svg:svg', { viewBox: '0 0 100 100', width: '96', height: '96', fill: 'none', stroke: 'currentColor', 'stroke-width': '3', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' },
      paths.map((d) => h('svg:path', { d }))));
}
