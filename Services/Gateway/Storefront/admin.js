// The admin view: products (create, edit price and stock, delete), every order, every shipment, payments
// by order id, webhooks (webhooks.js: create, delete, their deliveries), and where the dead-letter queues are
// handled (the bus has no HTTP API: the `bus` command line).
import * as api from './api.js';
import { navigate } from './state.js';
import {
  h, mount, money, dateTime, preciseDateTime, field, showErrors, clearErrors, values, busy, toast, pageTitle, loading, notice,
  statusPill, statusLabel, shipmentLabel, shortId,
} from './ui.js';
import { ordersTable, orderLink } from './orders.js';
import { productPicture } from './pictures.js';
import { webhooksPanel } from './webhooks.js';

const TABS = [
  ['products', 'Products'],
  ['orders', 'Orders'],
  ['shipments', 'Shipments'],
  ['payments', 'Payments'],
  ['webhooks', 'Webhooks'],
  ['dead-letters', 'Dead letters'],
];

export async function adminPage(ctx) {
  const tab = ctx.params.tab || 'products';
  const panel = h('div', { class: 'admin-panel', id: `admin-${tab}` });
  mount(ctx.main,
    pageTitle('Admin'),
    h('nav', { class: 'tabs', 'aria-label': 'Admin sections' },
      h('ul', {}, TABS.map(([id, label]) => h('li', {},
        h('a', { href: `#/admin/${id}`, class: 'tab', 'aria-current': id === tab ? 'page' : null }, label))))),
    panel);
  const pages = {
    products: productsPanel, orders: ordersPanel, shipments: shipmentsPanel, payments: paymentsPanel, webhooks: webhooksPanel, 'dead-letters': deadLettersPanel,
  };
  await (pages[tab] || productsPanel)({ ...ctx, panel });
}

// MARK: products

// The fields an edit sends as typed. The stock is not among them: an edit sends it as a change of units
// (`stockDelta`), so units sold while the admin edits stay sold.
const FIELDS = [['name', 'Name'], ['category', 'Category'], ['price', 'Price'], ['description', 'Description'], ['imageFile', 'Image file']];

/** A product's value as its form field shows it. */
const formValue = (product, name) => (name === 'price' ? Number(product.price).toFixed(2) : String(product[name] ?? ''));

/** The change of units an edit makes (the stock typed − the stock shown), or null when it makes none. */
function stockDelta(typed, shown) {
  if (!/^\d+$/.test(typed ?? '')) return null;
  const delta = Number(typed) - Number(shown);
  return delta === 0 ? null : delta;
}

const signed = (n) => (n > 0 ? `+${n}` : `−${Math.abs(n)}`);

/** The pictures PUT /product/{id}/image takes: these types, at most 2 MiB (checked here too, before sending). */
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
const MAX_IMAGE_BYTES = 2 * 1024 * 1024;

const fileSize = (bytes) => (bytes < 1024 ? `${bytes} bytes` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(2)} MiB`);

/** Why a chosen file cannot be a product's picture, or null when it may be sent. */
function imageProblem(file) {
  if (!IMAGE_TYPES.includes(file.type)) return `${file.name} is not a PNG, JPEG or WebP picture${file.type ? ` (it is ${file.type})` : ''}.`;
  if (file.size > MAX_IMAGE_BYTES) return `${file.name} is larger than 2 MiB (${file.size.toLocaleString('en-US')} bytes): choose a smaller picture.`;
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

/** The API's refusal of an upload as the admin reads it (413 too large, 415 not an image type, 422 a broken image). */
function uploadProblem(error) {
  const fallback = {
    413: 'The picture is too large: at most 2 MiB.',
    415: 'The shop takes PNG, JPEG and WebP pictures only.',
    422: 'The file is not a readable picture (broken, or not what its type says).',
  }[error.status];
  // The service's own words when it says more than its status's title (they name what is wrong with the file).
  const detail = typeof error.body?.detail === 'string' && error.body.detail !== error.body.title ? error.body.detail : null;
  return detail || fallback || error.message;
}

async function productsPanel({ panel }) {
  mount(panel, loading('Loading products…'));
  let products = await api.products();
  // The product being edited as GET /product/{id} answered it, with its ETag: the save goes with
  // `If-Match`, so an edit made on stale values (units sold meanwhile, another admin's save) is refused
  // (412) instead of undoing them. null while the form is for a new product.
  let editing = null; // { product, etag }
  let loads = 0; // the latest Edit click wins over an earlier one still loading

  const form = h('form', { class: 'card form product-form', id: 'product-form', novalidate: true, 'aria-labelledby': 'product-form-title' });
  const title = h('h2', { id: 'product-form-title' });
  const status = h('div', { class: 'product-status' }); // loading, or the changed-meanwhile notice
  const categories = h('datalist', { id: 'categories' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create product');

  /** While the product loads, nothing can be typed that its values would overwrite. */
  const lock = (on) => {
    for (const element of form.elements) if (element !== cancel) element.disabled = on;
    if (on) form.setAttribute('aria-busy', 'true');
    else form.removeAttribute('aria-busy');
  };

  /** Says what saving does with the stock: a new product's number, an edit's change of units. */
  const describeStock = () => {
    const hint = form.querySelector('[data-field="stock"] .hint');
    if (!editing) {
      hint.textContent = 'Units available to order';
      return;
    }
    const delta = stockDelta(form.elements.stock.value, editing.product.stock);
    hint.textContent = delta === null
      ? `${editing.product.stock} in stock when loaded. Change it to add or remove units; sales made meanwhile stay sold.`
      : `Saves ${signed(delta)} units on the stock at the time of saving.`;
  };

  const fill = (product, etag) => {
    editing = product ? { product, etag } : null;
    clearErrors(form);
    mount(status);
    title.textContent = product ? `Edit ${product.name}` : 'New product';
    for (const [name] of FIELDS) form.elements[name].value = product ? formValue(product, name) : '';
    form.elements.stock.value = product ? String(product.stock) : '0';
    submit.textContent = product ? 'Save changes' : 'Create product';
    cancel.hidden = !product;
    form.dataset.productId = product?.id ?? '';
    describeStock();
    showPicture(product);
  };

  // The picture: the product's current one, a file chosen (checked, previewed), uploaded with "Upload picture"
  // (an edit) or right after the product is created or saved.
  const currentPicture = h('div', { class: 'picture-current', id: 'product-picture' });
  const preview = h('div', { class: 'picture-preview', id: 'image-preview', 'aria-live': 'polite' });
  const upload = h('button', { type: 'button', class: 'btn', id: 'upload-image', hidden: true, onclick: () => uploadChosen() }, 'Upload picture');
  const imageField = field('Picture', 'image', { type: 'file', accept: IMAGE_TYPES.join(',') }, { hint: 'PNG, JPEG or WebP, at most 2 MiB.' });
  const imageInput = imageField.querySelector('input');
  const imageError = imageField.querySelector('[data-error-for="image"]');
  const imageHint = imageField.querySelector('.hint');

  /** An error next to the file input (the others stay as they are). */
  const showImageError = (message) => {
    imageError.textContent = message;
    if (message) imageInput.setAttribute('aria-invalid', 'true');
    else imageInput.removeAttribute('aria-invalid');
  };

  /** The file chosen and fit to be sent, or null. */
  const chosenFile = () => {
    const file = imageInput.files?.[0];
    return file && !imageProblem(file) ? file : null;
  };

  /** The product's picture as it is now (the placeholder without one); forgets a chosen file. */
  const showPicture = (product) => {
    imageInput.value = '';
    showImageError('');
    mount(preview);
    upload.hidden = true;
    mount(currentPicture, product
      ? [productPicture(product), h('p', { class: 'hint' }, product.imageUrl ? 'Current picture' : 'No picture yet')]
      : null);
    currentPicture.hidden = !product;
    imageHint.textContent = product ? 'PNG, JPEG or WebP, at most 2 MiB. Choose one to see it, then upload it.'
      : 'PNG, JPEG or WebP, at most 2 MiB: uploaded once the product is created.';
  };

  imageInput.addEventListener('change', () => {
    showImageError('');
    mount(preview);
    upload.hidden = true;
    const file = imageInput.files?.[0];
    if (!file) return;
    const problem = imageProblem(file);
    if (problem) {
      showImageError(problem);
      return;
    }
    const caption = h('p', { class: 'hint' }, `${file.name} · ${fileSize(file.size)} · not uploaded yet`);
    const frame = h('div', { class: 'product-media' });
    mount(preview, frame, caption);
    // A data: URL (the storefront's CSP allows data: images, not blob: ones).
    const reader = new FileReader();
    reader.addEventListener('load', () => {
      if (imageInput.files?.[0] !== file) return; // another file was chosen meanwhile
      frame.append(h('img', {
        src: reader.result, alt: `Preview of ${file.name}`, id: 'image-preview-img',
        onerror: () => { caption.textContent = `${file.name}: this browser cannot show it; it may not be a valid picture.`; frame.remove(); },
      }));
    });
    reader.readAsDataURL(file);
    upload.hidden = !editing;
  });

  /** Uploads the chosen file as the picture of `product`; → true when stored, else shows why next to the input. */
  const sendPicture = async (product, file) => {
    try {
      await api.uploadProductImage(product.id, file);
      return true;
    } catch (error) {
      showImageError(uploadProblem(error));
      imageInput.focus();
      return false;
    }
  };

  /**
   * After an upload: the product as it is now, in the table and (when still edited) the form's picture. An upload
   * changes no field the form shows: when nothing else changed meanwhile, the edit goes on with the new ETag.
   */
  const pictureStored = async (product) => {
    toast(`Uploaded the picture of ${product.name}.`, 'success');
    let now;
    let etag;
    try {
      ({ body: now, etag } = await api.productForEdit(product.id));
    } catch {
      return;
    }
    products = products.map((p) => (p.id === now.id ? now : p));
    renderTable(now.id);
    if (editing?.product.id !== now.id) return;
    const same = ['name', 'category', 'price', 'description', 'imageFile', 'stock'].every((name) => String(editing.product[name] ?? '') === String(now[name] ?? ''));
    if (same) editing = { product: now, etag };
    showPicture(now);
  };

  const uploadChosen = () => {
    const file = chosenFile();
    const was = editing;
    if (!file || !was) return;
    return busy(upload, 'Uploading…', async () => {
      if (await sendPicture(was.product, file)) await pictureStored(was.product);
    });
  };

  const cancel = h('button', {
    type: 'button', class: 'btn btn-ghost', hidden: true,
    onclick: () => { loads += 1; lock(false); fill(null); form.elements.name.focus(); },
  }, 'Cancel edit');

  /** The product left the catalog (another admin deleted it): back to the list. */
  const gone = async (product) => {
    toast(`${product.name} no longer exists.`, 'error');
    products = await api.products();
    fill(null);
    renderTable();
  };

  /** Edits a product as it is now (the table's row may be older): GET /product/{id} with its ETag. */
  const edit = async (product) => {
    const load = ++loads;
    title.textContent = `Edit ${product.name}`;
    submit.textContent = 'Save changes';
    cancel.hidden = false;
    mount(status, loading(`Loading ${product.name}…`));
    lock(true);
    try {
      const { body, etag } = await api.productForEdit(product.id);
      if (load !== loads) return;
      lock(false);
      fill(body, etag);
      form.elements.name.focus();
    } catch (error) {
      if (load !== loads) return;
      lock(false);
      fill(null);
      if (error.status === 404) await gone(product);
      else showErrors(form, error);
    }
  };

  /**
   * 412: the product changed since it was loaded (a sale, another admin) and nothing was saved. Loads it
   * again; the form shows its current values with the admin's own changes on top (the stock as the same
   * change of units) and says what changed, to be checked and saved again.
   */
  const changedMeanwhile = async (was, mine) => {
    mount(status, loading(`Loading ${was.product.name} again…`));
    lock(true);
    let now;
    let etag;
    try {
      ({ body: now, etag } = await api.productForEdit(was.product.id));
    } catch (error) {
      lock(false);
      if (error.status === 404) {
        await gone(was.product);
        return;
      }
      mount(status);
      showErrors(form, error);
      return;
    }
    lock(false);
    products = products.map((p) => (p.id === now.id ? now : p)); // the table shows what changed too
    renderTable(now.id);
    fill(now, etag);
    for (const [name] of FIELDS) {
      if (mine[name] !== formValue(was.product, name)) form.elements[name].value = mine[name];
    }
    const delta = stockDelta(mine.stock, was.product.stock);
    if (delta !== null) form.elements.stock.value = String(Math.max(0, now.stock + delta));
    describeStock();
    const changes = [
      ...FIELDS.filter(([name]) => formValue(was.product, name) !== formValue(now, name)).map(([name, label]) => (
        name === 'price' ? `${label}: ${money(was.product.price)} → ${money(now.price)}`
          : name === 'description' || name === 'imageFile' ? `${label} changed` : `${label}: ${was.product[name]} → ${now[name]}`)),
      was.product.stock !== now.stock ? `Stock: ${was.product.stock} → ${now.stock}` : null,
    ].filter(Boolean);
    const box = h('div', { class: 'notice notice-warning', role: 'alert', id: 'product-changed', tabindex: '-1' },
      h('p', {}, h('strong', {}, `${now.name} changed while you were editing it`), ' (for example, units were sold), so nothing was saved.'),
      changes.length ? h('ul', { class: 'changes' }, changes.map((text) => h('li', {}, text))) : null,
      h('p', {}, `Now: ${money(now.price)}, ${now.stock} in stock. The form shows the current values with your changes on top`,
        delta !== null ? ` (your stock change of ${signed(delta)} units applied to ${now.stock})` : '', '. Check them and save again.'));
    mount(status, box);
    box.focus();
  };

  form.append(
    title,
    status,
    h('div', { class: 'grid-2' },
      field('Name', 'name', { required: true, maxlength: '200' }),
      field('Category', 'category', { required: true, list: 'categories', maxlength: '100' })),
    h('div', { class: 'grid-2' },
      field('Price (USD)', 'price', { type: 'number', min: '0', step: '0.01', inputmode: 'decimal', required: true }),
      field('Stock', 'stock', { type: 'number', min: '0', step: '1', inputmode: 'numeric' }, { hint: 'Units available to order' })),
    field('Description', 'description', {}, { control: (id) => h('textarea', { id, name: 'description', rows: '3', maxlength: '4000' }) }),
    field('Image file', 'imageFile', { maxlength: '500' }, { hint: 'Optional, e.g. product-1.png' }),
    h('div', { class: 'picture-field' }, imageField, h('div', { class: 'picture-row' }, currentPicture, preview), h('div', { class: 'actions' }, upload)),
    categories,
    h('div', { class: 'actions' }, submit, cancel));
  form.elements.stock.addEventListener('input', describeStock);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (form.hasAttribute('aria-busy')) return;
    clearErrors(form);
    const v = values(form);
    const problems = [];
    if (!v.name) problems.push({ field: 'name', detail: 'Enter a name.' });
    if (!v.category) problems.push({ field: 'category', detail: 'Enter a category.' });
    if (!/^\d+(\.\d{1,2})?$/.test(v.price)) problems.push({ field: 'price', detail: 'Enter a price like 19.99 (at most two decimals, not negative).' });
    if (v.stock !== '' && !/^\d+$/.test(v.stock)) problems.push({ field: 'stock', detail: 'Enter a whole number of units (0 or more).' });
    const chosen = imageInput.files?.[0];
    if (chosen && imageProblem(chosen)) problems.push({ field: 'image', detail: imageProblem(chosen) });
    if (problems.length) {
      showErrors(form, { errors: problems });
      return;
    }
    const input = { name: v.name, category: v.category, price: Number(v.price), description: v.description || null, imageFile: v.imageFile || null };
    const was = editing;
    if (!was) {
      input.stock = v.stock === '' ? null : Number(v.stock); // a new product starts with the number typed
    } else {
      // Only a stock the admin changed is sent, as units to add or remove: a price-only edit never touches it.
      const delta = stockDelta(v.stock, was.product.stock);
      if (delta !== null) input.stockDelta = delta;
    }
    const file = chosenFile(); // a picture chosen and not uploaded yet goes up once the product is stored
    const outcome = await busy(submit, was ? 'Saving…' : 'Creating…', async () => {
      let saved;
      try {
        saved = was ? (await api.saveProductEdit(was.product.id, input, was.etag)).body : await api.createProduct(input);
      } catch (error) {
        return { error };
      }
      if (file) {
        try {
          await api.uploadProductImage(saved.id, file);
        } catch (error) {
          return { saved, pictureError: error };
        }
      }
      return { saved };
    });
    // After `busy` has put its label back: the form's mode decides the button's label from here on.
    const { saved, error, pictureError } = outcome;
    if (saved && pictureError) {
      // The product is stored, its picture not: the form goes on with the product, the reason next to the input.
      toast(was ? `Saved ${saved.name}, but not its picture.` : `Created ${saved.name}, but not its picture.`, 'error');
      products = await api.products();
      renderTable(saved.id);
      await edit(saved);
      showImageError(uploadProblem(pictureError));
    } else if (saved) {
      toast(was ? `Saved ${saved.name}: ${money(saved.price)}, ${saved.stock} in stock${file ? ', with its new picture' : ''}.`
        : `Created ${saved.name}${file ? ' with its picture' : ''}.`, 'success');
      products = await api.products();
      fill(null);
      renderTable(saved.id);
    } else if (was && error.status === 404) {
      await gone(was.product);
    } else if (was && error.status === 412) {
      await changedMeanwhile(was, v);
    } else {
      showErrors(form, error, { stockDelta: 'stock' }); // the form's stock field is what the delta came from
    }
  });

  const tableWrap = h('div', { class: 'table-wrap card' });
  const renderTable = (highlight) => {
    mount(categories, [...new Set(products.map((p) => p.category))].sort().map((c) => h('option', { value: c })));
    if (!products.length) {
      mount(tableWrap, h('p', { class: 'empty' }, 'No products yet: create the first one above.'));
      return;
    }
    mount(tableWrap, h('table', { class: 'table products-table' },
      h('caption', {}, `${products.length} products`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Category'), h('th', { scope: 'col', class: 'num' }, 'Price'),
        h('th', { scope: 'col', class: 'num' }, 'Stock'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, products.map((p) => {
        const actions = h('td', { class: 'row-actions' });
        const normal = () => mount(actions,
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Edit ${p.name}`, onclick: () => { form.scrollIntoView({ block: 'start' }); edit(p); } }, 'Edit'),
          h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': `Delete ${p.name}`, onclick: confirmDelete }, 'Delete'));
        function confirmDelete() {
          const yes = h('button', {
            type: 'button', class: 'btn btn-small btn-danger', onclick: async () => {
              await busy(yes, 'Deleting…', async () => {
                try {
                  await api.deleteProduct(p.id);
                  toast(`Deleted ${p.name}.`, 'success');
                } catch (error) {
                  if (error.status !== 404) { toast(error.message, 'error'); return; }
                }
                products = products.filter((x) => x.id !== p.id);
                if (editing?.product.id === p.id) fill(null);
                renderTable();
              });
            },
          }, `Delete ${p.name}`);
          mount(actions, h('span', { class: 'confirm' }, 'Sure? '), yes,
            h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => { normal(); actions.querySelector('button')?.focus(); } }, 'Keep'));
          yes.focus();
        }
        normal();
        return h('tr', { dataset: { productId: p.id, name: p.name }, class: p.id === highlight ? 'highlight' : null },
          h('th', { scope: 'row' }, h('span', { class: 'row-product' }, productPicture(p, { className: 'thumb' }), h('span', {}, p.name))),
          h('td', {}, p.category),
          h('td', { class: 'num price' }, money(p.price)),
          h('td', { class: `num${p.stock <= 0 ? ' stock-out' : ''}` }, String(p.stock)),
          actions);
      }))));
  };

  fill(null);
  renderTable();
  mount(panel, h('div', { class: 'admin-products' }, form, tableWrap));
}

// MARK: orders

async function ordersPanel({ panel }) {
  mount(panel, loading('Loading orders…'));
  let orders = [];
  let cursor;
  const list = h('div');
  const more = h('button', { type: 'button', class: 'btn', onclick: () => busy(more, 'Loading…', load) }, 'Load more');
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => busy(refresh, 'Refreshing…', () => { orders = []; cursor = undefined; return load(); }) }, 'Refresh');
  const counts = h('p', { class: 'muted' });

  async function load() {
    const page = await api.ordersPage(cursor);
    orders = orders.concat(page.items || []);
    cursor = page.nextCursor || undefined;
    more.hidden = !cursor;
    const by = {};
    for (const o of orders) by[o.status] = (by[o.status] || 0) + 1;
    counts.textContent = `${orders.length} orders shown${cursor ? ' (more below)' : ''}: ` + Object.entries(by).map(([s, n]) => `${n} ${statusLabel(s)}`).join(', ');
    mount(list, orders.length ? ordersTable(orders, {
      extra: (o) => h('a', { class: 'btn btn-small btn-ghost', href: `#/admin/payments?order=${encodeURIComponent(o.orderId)}`, 'aria-label': `Payment of order ${o.orderId}` }, 'Payment'),
    }) : h('div', { class: 'card empty' }, h('p', {}, 'No orders yet.')));
  }
  await load();
  mount(panel, h('div', { class: 'toolbar' }, counts, refresh), list, h('p', {}, more));
}

// MARK: shipments

/** One page of `GET /shipment` after another (newest first), like the orders. */
async function shipmentsPanel({ panel }) {
  mount(panel, loading('Loading shipments…'));
  let shipments = [];
  let cursor;
  const list = h('div');
  const more = h('button', { type: 'button', class: 'btn', onclick: () => busy(more, 'Loading…', load) }, 'Load more');
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => busy(refresh, 'Refreshing…', () => { shipments = []; cursor = undefined; return load(); }) }, 'Refresh');
  const counts = h('p', { class: 'muted', id: 'shipment-counts' });
  const when = (iso) => (iso ? h('time', { datetime: iso, title: preciseDateTime(iso) }, dateTime(iso)) : h('span', { class: 'muted' }, '—'));

  async function load() {
    const page = await api.shipmentsPage(cursor);
    shipments = shipments.concat(page.items || []);
    cursor = page.nextCursor || undefined;
    more.hidden = !cursor;
    const by = {};
    for (const s of shipments) by[s.status] = (by[s.status] || 0) + 1;
    counts.textContent = `${shipments.length} shipments shown${cursor ? ' (more below)' : ''}: ` + Object.entries(by).map(([s, n]) => `${n} ${shipmentLabel(s)}`).join(', ');
    mount(list, shipments.length ? h('div', { class: 'table-wrap card' }, h('table', { class: 'table shipments-table' },
      h('caption', { class: 'visually-hidden' }, 'Shipments, newest first'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Order'), h('th', { scope: 'col' }, 'Customer'), h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Carrier'), h('th', { scope: 'col' }, 'Tracking number'),
        h('th', { scope: 'col' }, 'Shipped'), h('th', { scope: 'col' }, 'Delivered'))),
      h('tbody', {}, shipments.map((s) => h('tr', { dataset: { orderId: s.orderId, status: s.status } },
        h('td', {}, h('a', { href: orderLink(s), 'aria-label': `Order ${s.orderId}` }, h('code', {}, shortId(s.orderId)))),
        h('td', {}, s.userName),
        h('td', {}, statusPill(s.status, null, shipmentLabel)),
        h('td', {}, s.carrier || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'tracking-number' }, s.trackingNumber ? h('code', {}, s.trackingNumber) : h('span', { class: 'muted' }, '—')),
        h('td', { class: 'nowrap' }, when(s.shippedAt)),
        h('td', { class: 'nowrap' }, when(s.deliveredAt)))))))
      : h('div', { class: 'card empty' }, h('p', {}, 'No shipments yet: a shipment is made for every completed order.')));
  }
  await load();
  mount(panel, h('div', { class: 'toolbar' }, counts, refresh), list, h('p', {}, more));
}

// MARK: payments

async function paymentsPanel({ panel, query }) {
  const result = h('div', { id: 'payment-result', 'aria-live': 'polite' });
  const form = h('form', {
    class: 'card form inline-form', id: 'payment-form', novalidate: true, 'aria-labelledby': 'payment-title',
    onsubmit: (event) => {
      event.preventDefault();
      const orderId = values(form).orderId;
      if (orderId === (query.get('order') || '')) lookUp(orderId);
      else navigate(`#/admin/payments?order=${encodeURIComponent(orderId)}`);
    },
  },
  h('h2', { id: 'payment-title' }, 'Look up a payment'),
  h('div', { class: 'inline-row' },
    field('Order id', 'orderId', { value: query.get('order') || '', placeholder: 'e.g. 3f2b…-…', autocomplete: 'off', spellcheck: 'false', required: true }),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Look up')));

  async function lookUp(orderId) {
    clearErrors(form);
    mount(result);
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(orderId)) {
      showErrors(form, { field: 'orderId', message: 'An order id is a UUID, like the one on the order page.' });
      return;
    }
    mount(result, loading('Looking up the payment…'));
    try {
      const payment = await api.payment(orderId);
      mount(result, h('section', { class: 'card', 'aria-label': 'Payment' },
        h('div', { class: 'order-status-head' }, h('h2', {}, `Payment of order ${orderId.slice(0, 8).toUpperCase()}`), statusPill(payment.status, null, String)),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Order'), h('dd', {}, h('code', {}, payment.orderId)),
          h('dt', {}, 'Amount'), h('dd', {}, money(payment.amount)),
          h('dt', {}, 'Status'), h('dd', { id: 'payment-status' }, payment.status)),
        h('table', { class: 'table' }, h('caption', {}, 'History'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Reason'))),
          h('tbody', {}, (payment.history || []).map((entry) => h('tr', {},
            h('td', {}, statusPill(entry.status, null, String)), h('td', {}, preciseDateTime(entry.at)), h('td', {}, entry.reason || '—')))))));
    } catch (error) {
      if (error.status === 404) {
        mount(result, notice('info', 'No payment for this order: it was never charged (for example, it was cancelled for stock before the payment step).'));
      } else {
        mount(result);
        showErrors(form, error, { orderId: 'orderId' });
      }
    }
  }

  mount(panel, form, result);
  if (query.get('order')) await lookUp(query.get('order'));
  else form.elements.orderId.focus();
}

// MARK: dead letters

async function deadLettersPanel({ panel }) {
  mount(panel, h('section', { class: 'card prose' },
    h('h2', {}, 'Dead-letter queues'),
    h('p', {}, 'A message that keeps failing moves to its queue\'s dead-letter queue, and an alarm fires (locally: the dead-letter depth on each process\'s ',
      h('code', {}, '/metrics'), ' and an error log line; on AWS: a CloudWatch alarm). The bus has no HTTP API, so this page cannot list or redrive them; use the ',
      h('code', {}, 'bus'), ' command line against the bus database:'),
    h('pre', {}, h('code', {}, [
      'make queue                         # every queue: visible, in flight, dead letters',
      'make queue QUEUE=<name>-dlq        # the messages of one queue, with their reasons',
      'BUS_DATABASE_URL=… swift run bus redrive <name>-dlq   # move them back to the source queue',
    ].join('\n'))),
    h('p', { class: 'hint' }, 'On AWS the queues are Amazon SQS queues: redrive from the SQS console or with ',
      h('code', {}, 'aws sqs start-message-move-task'), '.')));
}
